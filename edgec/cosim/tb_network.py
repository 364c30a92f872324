"""cocotb testbench of a whole network (OUT/rtl's edgec_top, or any Verilog with the
same ports, such as the Vitis HLS export): streams the input frames in with random idle
cycles, drains the output with random backpressure, and writes what arrived, with the
cycle of each beat, for `edgec cosim` to compare with the simulator. The run is described
by the JSON file in $EDGEC_COSIM_SPEC; with "reset_after": N it first sends N beats of a
frame and resets the design in the middle of it."""
import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

from edgec.cosim.axis import Sink, Source


async def reset(dut):
    dut.ap_rst_n.value = 0
    for _ in range(4):
        await RisingEdge(dut.ap_clk)
    dut.ap_rst_n.value = 1


@cocotb.test()
async def network(dut):
    with open(os.environ["EDGEC_COSIM_SPEC"]) as f:
        spec = json.load(f)
    cocotb.start_soon(Clock(dut.ap_clk, 10, unit="ns").start())
    src = Source(dut, "s_axis", dut.ap_clk, spec["idle"], seed=spec["seed"], upper=True)
    snk = Sink(dut, "m_axis", dut.ap_clk, spec["backpressure"], seed=spec["seed"] + 1, upper=True)
    beats = [int(w, 16) for w in spec["beats"]]
    per = spec["in_beats_per_frame"]
    lasts = [int((i + 1) % per == 0) for i in range(len(beats))]
    await reset(dut)
    if spec.get("reset_after"):
        # a frame cut short by a reset: its beats and whatever it produced are dropped
        await src.send(beats[: spec["reset_after"]], [0] * spec["reset_after"])
        for _ in range(spec["reset_after"] % 7 + 3):
            await RisingEdge(dut.ap_clk)
        await reset(dut)
    send = cocotb.start_soon(src.send(beats, lasts))
    await snk.receive(spec["out_beats"], spec["max_cycles"])
    await send
    await snk.assert_empty(50)
    with open(spec["result"], "w") as f:
        json.dump({"words": [f"{w:x}" for w in snk.words], "lasts": snk.lasts, "cycles": snk.cycles}, f)
