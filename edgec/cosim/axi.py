"""The board around the accelerator, for cocotb: an AXI4-Lite master on its control port
and a model of the AXI DMA in simple mode (PG021) on its streams, with the surface of
pynq's Overlay (``axi_dma_0.sendchannel/recvchannel.transfer(buffer, start, nbytes)``,
``.wait()``, ``axi_dma_0.read(S2MM_LENGTH)``, ``<top>_0.read/write``), so the generated
PYNQ driver runs unchanged against the RTL: its blocking calls run in a cocotb bridge
thread and each resumes a coroutine here.

DMA semantics modelled (simple mode, PG021):
- MM2S: a transfer of nbytes sends nbytes / beat_bytes beats from the buffer, TLAST on
  the last one, with random idle cycles.
- S2MM: a transfer of nbytes accepts beats into the buffer until a beat with TLAST or
  until nbytes are written, whichever is first, under random backpressure; S2MM_LENGTH
  then holds the bytes written. Beats beyond the length stay in the stream (TREADY low)
  and are counted as an overrun when they are there at the end.
- transfer() on a busy channel is an error, as in pynq; wait() has a cycle limit here
  (on a board it would hang) and raises TimeoutError.
Imported only inside a cocotb simulation."""
from __future__ import annotations

import random

import cocotb
from cocotb.task import resume
from cocotb.triggers import RisingEdge

S2MM_LENGTH = 0x58


class Clock:
    """Counts rising edges: the cycle number every model stamps its beats with."""

    def __init__(self, clk):
        self.clk, self.cycle = clk, 0
        cocotb.start_soon(self._count())

    async def _count(self):
        while True:
            await RisingEdge(self.clk)
            self.cycle += 1


class AxiLiteMaster:
    """Single-beat AXI4-Lite reads and writes on <prefix>_AWADDR ... (Vitis HLS names)."""

    def __init__(self, dut, prefix: str, clk):
        self.s = {n: getattr(dut, f"{prefix}_{n}") for n in (
            "AWADDR", "AWVALID", "AWREADY", "WDATA", "WSTRB", "WVALID", "WREADY", "BVALID", "BREADY",
            "ARADDR", "ARVALID", "ARREADY", "RDATA", "RVALID", "RREADY")}
        self.clk = clk
        for n in ("AWVALID", "WVALID", "BREADY", "ARVALID", "RREADY", "AWADDR", "WDATA", "WSTRB", "ARADDR"):
            self.s[n].value = 0

    async def write(self, addr: int, value: int) -> None:
        s = self.s
        s["AWADDR"].value, s["WDATA"].value, s["WSTRB"].value = addr, value & 0xFFFFFFFF, 0xF
        s["AWVALID"].value = s["WVALID"].value = 1
        aw = w = False
        while not (aw and w):
            await RisingEdge(self.clk)
            aw = aw or bool(int(s["AWREADY"].value))
            w = w or bool(int(s["WREADY"].value))
            if aw:
                s["AWVALID"].value = 0
            if w:
                s["WVALID"].value = 0
        s["BREADY"].value = 1
        await RisingEdge(self.clk)
        while not int(s["BVALID"].value):
            await RisingEdge(self.clk)
        s["BREADY"].value = 0

    async def read(self, addr: int) -> int:
        s = self.s
        s["ARADDR"].value, s["ARVALID"].value = addr, 1
        await RisingEdge(self.clk)
        while not int(s["ARREADY"].value):
            await RisingEdge(self.clk)
        s["ARVALID"].value = 0
        s["RREADY"].value = 1
        await RisingEdge(self.clk)
        while not int(s["RVALID"].value):
            await RisingEdge(self.clk)
        v = int(s["RDATA"].value)
        s["RREADY"].value = 0
        return v


class RegisterIP:
    """``<top>_0`` of the overlay: read/write on the control port, blocking (bridge thread)."""

    def __init__(self, master: AxiLiteMaster):
        self.master = master

    def read(self, offset: int) -> int:
        return resume(self.master.read)(offset)

    def write(self, offset: int, value: int) -> None:
        resume(self.master.write)(offset, value)


class _Channel:
    def __init__(self, dut, prefix: str, clock: Clock, beat_bytes: int, p: float, seed: int, max_cycles: int):
        self.data, self.valid, self.ready, self.last = (getattr(dut, f"{prefix}_{n}")
                                                        for n in ("TDATA", "TVALID", "TREADY", "TLAST"))
        self.side = [getattr(dut, f"{prefix}_{n}") for n in ("TKEEP", "TSTRB") if hasattr(dut, f"{prefix}_{n}")]
        self.clock, self.bb, self.p, self.rng = clock, beat_bytes, p, random.Random(seed)
        self.max_cycles = max_cycles
        self.task = None
        self.transfers: list[dict] = []  # one record per transfer

    @property
    def idle(self) -> bool:
        return self.task is None or self.task.done()

    def transfer(self, array, start: int = 0, nbytes: int = 0) -> None:
        if not self.idle:
            raise RuntimeError("DMA channel not idle")
        nbytes = nbytes or len(array) - start
        if nbytes <= 0 or nbytes % self.bb or start + nbytes > len(array) or nbytes >= 1 << 26:
            raise ValueError(f"transfer of {nbytes} bytes at {start}: a multiple of {self.bb} within the buffer, "
                             "under 2**26")
        resume(self._start)(array, start, nbytes)

    async def _start(self, array, start, nbytes):
        rec = {"start": start, "nbytes": nbytes, "length": 0, "lasts": [], "cycles": [], "began": self.clock.cycle,
               "partial_beats": 0}
        self.transfers.append(rec)
        self.task = cocotb.start_soon(self._run(array, start, nbytes, rec))

    def wait(self) -> None:
        resume(self._wait)()

    async def _wait(self):
        limit = self.clock.cycle + self.max_cycles
        while not self.idle:
            if self.clock.cycle > limit:
                raise TimeoutError(f"DMA wait: the transfer did not end in {self.max_cycles} cycles "
                                   f"({self.transfers[-1]['length']} of {self.transfers[-1]['nbytes']} bytes)")
            await RisingEdge(self.clock.clk)


class MM2S(_Channel):
    """Memory to stream: drives the accelerator's s_axis."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.valid.value = 0
        self.last.value = 0
        for sig in self.side:
            sig.value = (1 << self.bb) - 1

    async def _run(self, array, start, nbytes, rec):
        beats = nbytes // self.bb
        for b in range(beats):
            while self.p and self.rng.random() < self.p:
                self.valid.value = 0
                await RisingEdge(self.clock.clk)
            chunk = bytes(array[start + b * self.bb: start + (b + 1) * self.bb])
            self.data.value = int.from_bytes(chunk, "little")
            self.last.value = int(b == beats - 1)
            self.valid.value = 1
            await RisingEdge(self.clock.clk)
            while not int(self.ready.value):
                await RisingEdge(self.clock.clk)
            rec["length"] += self.bb
        self.valid.value = 0
        self.last.value = 0


class S2MM(_Channel):
    """Stream to memory: drains the accelerator's m_axis."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.ready.value = 0

    async def _run(self, array, start, nbytes, rec):
        while rec["length"] < nbytes:
            ready = not (self.p and self.rng.random() < self.p)
            self.ready.value = int(ready)
            await RisingEdge(self.clock.clk)
            if ready and int(self.valid.value):
                word = int(self.data.value)
                pos = start + rec["length"]
                array[pos: pos + self.bb] = list(word.to_bytes(self.bb, "little"))
                rec["length"] += self.bb
                last = int(self.last.value)
                rec["partial_beats"] += any(int(sig.value) != (1 << self.bb) - 1 for sig in self.side)
                rec["lasts"].append(last)
                rec["cycles"].append(self.clock.cycle)
                if last:
                    break
        self.ready.value = 0

    def overrun(self) -> bool:
        """A beat is waiting that no transfer took."""
        return bool(int(self.valid.value))


class DMA:
    """``axi_dma_0``: the two channels and the register the driver reads."""

    def __init__(self, dut, clock: Clock, in_bytes: int, out_bytes: int, idle: float, backpressure: float,
                 seed: int, max_cycles: int):
        self.sendchannel = MM2S(dut, "s_axis", clock, in_bytes, idle, seed, max_cycles)
        self.recvchannel = S2MM(dut, "m_axis", clock, out_bytes, backpressure, seed + 1, max_cycles)

    def read(self, offset: int) -> int:
        if offset != S2MM_LENGTH:
            raise NotImplementedError(f"DMA register {offset:#x} is not modelled")
        t = self.recvchannel.transfers
        return t[-1]["length"] if t else 0
