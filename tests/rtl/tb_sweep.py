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
    ins = [(p, Source(dut, p["prefix"], dut.clk, spec["idle"], seed=n)) for n, p in
           enumerate(q for c in spec["cases"] for q in c["ins"])]
    outs = [(c["name"], p, Sink(dut, p["prefix"], dut.clk, spec["backpressure"], seed=1000 + n)) for n, (c, p) in
            enumerate((c, q) for c in spec["cases"] for q in c["outs"])]
    dut.rst_n.value = 0
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst_n.value = 1
    tasks = [cocotb.start_soon(src.send([int(w, 16) for w in p["words"]], p["lasts"])) for p, src in ins]
    tasks += [cocotb.start_soon(snk.receive(len(p["words"]), spec["max_cycles"])) for _, p, snk in outs]
    for t in tasks:
        await t
    for _, _, snk in outs:
        await snk.assert_empty(10)
    bad = []
    for name, p, snk in outs:
        want = [int(w, 16) for w in p["words"]]
        if snk.words != want or snk.lasts != p["lasts"]:
            bad.append(f"{p['prefix']} {name}: got {snk.words[:8]}.. lasts {snk.lasts[:8]}.., "
                       f"want {want[:8]}.. lasts {p['lasts'][:8]}..")
    assert not bad, "\n".join(bad)
