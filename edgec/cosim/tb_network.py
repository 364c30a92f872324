"""cocotb testbench of a whole accelerator (OUT/rtl's edgec_top, or any Verilog with the
same ports, such as the Vitis HLS export): the generated PYNQ driver (OUT/driver/driver.py)
runs unchanged in a bridge thread against a model of the board — an AXI4-Lite master on
s_axi_control and the AXI DMA in simple mode on the streams (edgec.cosim.axi), with
random idle cycles on MM2S and random backpressure on S2MM. The driver packs the frames,
plans its transfers, checks ap_idle, starts each run and checks the bytes received; this
testbench writes what arrived, per transfer, for `edgec cosim` to compare with the
simulator. The run is described by the JSON file in $EDGEC_COSIM_SPEC; with
"reset_after": N it first starts a run of one frame, sends N beats of it and resets the
design in the middle of it. With "streams": [names] it also counts, per internal stream of
edgec's top (the wires NAME_p into and NAME_c out of each FIFO), the cycles of the batch in
which the producer offered a word the full FIFO refused and those in which the consumer
waited on the empty FIFO."""
import importlib.util
import json
import os
from types import SimpleNamespace

import cocotb
import numpy as np
from cocotb.clock import Clock as SimClock
from cocotb.task import bridge
from cocotb.triggers import ReadOnly, RisingEdge

from edgec.cosim.axi import DMA, AxiLiteMaster, Clock, RegisterIP


async def reset(dut):
    dut.ap_rst_n.value = 0
    for _ in range(4):
        await RisingEdge(dut.ap_clk)
    dut.ap_rst_n.value = 1
    await RisingEdge(dut.ap_clk)


async def count_stalls(dut, names, counts):
    """counts[name] = [producer waits on a full FIFO, consumer waits on an empty one, words]."""
    sigs = [(counts[n], getattr(dut, f"{n}_p_tvalid"), getattr(dut, f"{n}_p_tready"), getattr(dut, f"{n}_c_tvalid"),
             getattr(dut, f"{n}_c_tready")) for n in names]
    while True:
        await RisingEdge(dut.ap_clk)
        await ReadOnly()
        for k, pv, pr, cv, cr in sigs:
            offered, taken = int(pv.value), int(pr.value)
            k[0] += offered and not taken
            k[1] += int(cr.value) and not int(cv.value)
            k[2] += offered and taken


def load_driver(path):
    spec = importlib.util.spec_from_file_location("edgec_cosim_driver", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@cocotb.test()
async def network(dut):
    with open(os.environ["EDGEC_COSIM_SPEC"]) as f:
        spec = json.load(f)
    drv = load_driver(spec["driver"])
    if spec.get("max_transfer"):  # a smaller DMA limit: the batch takes several runs
        drv.MAX_TRANSFER = spec["max_transfer"]
    cocotb.start_soon(SimClock(dut.ap_clk, 10, unit="ns").start())
    clock = Clock(dut.ap_clk)
    master = AxiLiteMaster(dut, "s_axi_control", dut.ap_clk)
    dma = DMA(dut, clock, drv.IN["beat_bytes"], drv.OUT["beat_bytes"], spec["idle"], spec["backpressure"],
              spec["seed"], spec["max_cycles"])
    overlay = SimpleNamespace(axi_dma_0=dma, **{f"{spec['top']}_0": RegisterIP(master)})
    acc = drv.Accelerator(overlay=overlay, allocate=lambda shape, dtype: np.zeros(shape, dtype))
    x = np.load(spec["inputs"], allow_pickle=False)
    await reset(dut)
    if spec.get("reset_after"):
        # a frame cut short by a reset: its beats and whatever it produced are dropped
        n = spec["reset_after"]
        await master.write(drv.FRAMES_REG, 1)
        await master.write(drv.CTRL, drv.AP_START)
        part = drv.pack(x[:1]).ravel()[: n * drv.IN["beat_bytes"]]
        await bridge(dma.sendchannel.transfer)(part)
        for _ in range(n * 3 + 10):
            await RisingEdge(dut.ap_clk)
        if not dma.sendchannel.idle:  # the reset aborts the transfer: its driver must not outlive it
            dma.sendchannel.task.cancel()
            dut.s_axis_TVALID.value = 0
        await reset(dut)
        dma = DMA(dut, clock, drv.IN["beat_bytes"], drv.OUT["beat_bytes"], spec["idle"], spec["backpressure"],
                  spec["seed"] + 2, spec["max_cycles"])  # the DMA is reset with the design
        overlay.axi_dma_0 = dma
        acc = drv.Accelerator(overlay=overlay, allocate=lambda shape, dtype: np.zeros(shape, dtype))
    began = clock.cycle
    data = drv.pack(x)
    counts = {n: [0, 0, 0] for n in spec.get("streams", [])}
    counter = cocotb.start_soon(count_stalls(dut, list(counts), counts)) if counts else None
    raw = await bridge(acc.transfer)(data)
    if counter:
        counter.cancel()
    for _ in range(50):  # nothing more comes out
        await RisingEdge(dut.ap_clk)
    idle = bool((await master.read(drv.CTRL)) & drv.AP_IDLE)
    with open(spec["result"], "w") as f:
        json.dump({"raw": bytes(raw).hex(), "plan": drv.transfer_plan(len(data)), "idle_after": idle,
                   "overrun": dma.recvchannel.overrun(),
                   "transfers": [{k: t[k] for k in ("start", "nbytes", "length", "lasts", "partial_beats")}
                                 | {"cycles": [c - began for c in t["cycles"]]} for t in dma.recvchannel.transfers],
                   "streams": counts,
                   "sent": [{k: t[k] for k in ("start", "nbytes", "length")} for t in dma.sendchannel.transfers]}, f)
