"""AXI4-Stream source and sink for cocotb testbenches, with random idle cycles on the
source and random backpressure on the sink. Signals are <prefix>_tdata, _tvalid,
_tready and _tlast (upper case — _TDATA ... — as Vitis HLS names them, with upper=True).
Imported only inside a cocotb simulation."""
from __future__ import annotations

import random

from cocotb.triggers import RisingEdge


def _signals(dut, prefix: str, upper: bool):
    return [getattr(dut, f"{prefix}_{n.upper() if upper else n}") for n in ("tdata", "tvalid", "tready", "tlast")]


class Source:
    def __init__(self, dut, prefix: str, clk, idle: float = 0.0, seed: int = 0, upper: bool = False):
        self.data, self.valid, self.ready, self.last = _signals(dut, prefix, upper)
        self.clk, self.idle, self.rng = clk, idle, random.Random(seed)
        self.valid.value = 0
        self.last.value = 0
        self.sent = 0

    async def send(self, words, lasts) -> None:
        for w, last in zip(words, lasts):
            while self.idle and self.rng.random() < self.idle:
                self.valid.value = 0
                await RisingEdge(self.clk)
            self.data.value = int(w)
            self.last.value = int(last)
            self.valid.value = 1
            await RisingEdge(self.clk)
            while not int(self.ready.value):
                await RisingEdge(self.clk)
            self.sent += 1
        self.valid.value = 0
        self.last.value = 0


class Sink:
    def __init__(self, dut, prefix: str, clk, backpressure: float = 0.0, seed: int = 1, upper: bool = False):
        self.data, self.valid, self.ready, self.last = _signals(dut, prefix, upper)
        self.clk, self.bp, self.rng = clk, backpressure, random.Random(seed)
        self.ready.value = 0
        self.words: list[int] = []
        self.lasts: list[int] = []
        self.cycles: list[int] = []  # cycle of each beat, counted from the sink's start

    async def receive(self, n: int, max_cycles: int) -> None:
        cycle = 0
        while len(self.words) < n and cycle < max_cycles:
            ready = not (self.bp and self.rng.random() < self.bp)
            self.ready.value = int(ready)
            await RisingEdge(self.clk)
            cycle += 1
            if ready and int(self.valid.value):
                self.words.append(int(self.data.value))
                self.lasts.append(int(self.last.value))
                self.cycles.append(cycle)
        self.ready.value = 0

    async def assert_empty(self, cycles: int = 20) -> None:
        """Nothing more arrives: hold tready high and watch tvalid."""
        self.ready.value = 1
        for _ in range(cycles):
            await RisingEdge(self.clk)
            assert not int(self.valid.value), "the sink received a word beyond the expected ones"
        self.ready.value = 0
