"""cocotb testbench: every kernel instance of a generated sweep top at once, each fed by
its own AXI4-Stream source with random idle cycles and drained by a sink with random
backpressure; every output word and tlast must equal the expected ones, and nothing
more may arrive. The cases come from the JSON file in $EDGEC_SWEEP_SPEC."""
import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

from edgec.cosim.axis import Sink, Source


@cocotb.test()
async def sweep(dut):
    spec = json.loads(open(os.environ["EDGEC_SWEEP_SPEC"]).read())
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    srcs = [Source(dut, f"{c['prefix']}_s", dut.clk, spec["idle"], seed=2 * i) for i, c in enumerate(spec["cases"])]
    sinks = [Sink(dut, f"{c['prefix']}_m", dut.clk, spec["backpressure"], seed=2 * i + 1)
             for i, c in enumerate(spec["cases"])]
    dut.rst_n.value = 0
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst_n.value = 1
    tasks = []
    for c, src, snk in zip(spec["cases"], srcs, sinks):
        tasks.append(cocotb.start_soon(src.send([int(w, 16) for w in c["in"]], c["in_last"])))
        tasks.append(cocotb.start_soon(snk.receive(len(c["out"]), spec["max_cycles"])))
    for t in tasks:
        await t
    for snk in sinks:
        await snk.assert_empty(10)
    bad = []
    for c, snk in zip(spec["cases"], sinks):
        want = [int(w, 16) for w in c["out"]]
        if snk.words != want or snk.lasts != c["out_last"]:
            bad.append(f"{c['prefix']} {c['name']}: got {snk.words[:8]}.. lasts {snk.lasts[:8]}.., "
                       f"want {want[:8]}.. lasts {c['out_last'][:8]}..")
    assert not bad, "\n".join(bad)
