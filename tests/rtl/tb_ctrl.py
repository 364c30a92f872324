"""cocotb testbench of edgec_ctrl inside a network top (OUT/rtl/edgec_top): the Vitis HLS
control map as the driver and an interrupt handler see it. Parameters come from
$EDGEC_CTRL_SPEC (in_beats, out_beats per frame, in/out beat bytes)."""
import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

from edgec.cosim.axi import AxiLiteMaster

CTRL, GIE, IER, ISR, FRAMES = 0x00, 0x04, 0x08, 0x0C, 0x10
START, DONE, IDLE, READY, AUTO = 0x1, 0x2, 0x4, 0x8, 0x80


async def cycles(dut, n):
    for _ in range(n):
        await RisingEdge(dut.ap_clk)


async def feed(dut, beats, limit):
    """Offer ``beats`` input beats (valid held high); return how many were taken in
    ``limit`` cycles."""
    taken = 0
    dut.s_axis_TVALID.value = 1
    for _ in range(limit):
        await RisingEdge(dut.ap_clk)
        if int(dut.s_axis_TREADY.value):
            taken += 1
            if taken == beats:
                break
    dut.s_axis_TVALID.value = 0
    return taken


async def both(dut, beats, limit_in, limit_out):
    """Feed and drain at once: (input beats taken, output beats, TLAST indices)."""
    d = cocotb.start_soon(drain(dut, limit_in + limit_out))
    taken = await feed(dut, beats, limit_in)
    got, lasts = await d
    return taken, got, lasts


async def drain(dut, limit):
    """Take output beats for ``limit`` cycles: (beats, the indices that carried TLAST)."""
    got, lasts = 0, []
    dut.m_axis_TREADY.value = 1
    for _ in range(limit):
        await RisingEdge(dut.ap_clk)
        if int(dut.m_axis_TVALID.value):
            if int(dut.m_axis_TLAST.value):
                lasts.append(got)
            got += 1
    dut.m_axis_TREADY.value = 0
    return got, lasts


@cocotb.test()
async def control_map(dut):
    with open(os.environ["EDGEC_CTRL_SPEC"]) as f:
        spec = json.load(f)
    ib, ob = spec["in_beats"], spec["out_beats"]
    cocotb.start_soon(Clock(dut.ap_clk, 10, unit="ns").start())
    dut.s_axis_TVALID.value = 0
    dut.s_axis_TDATA.value = 0
    dut.s_axis_TLAST.value = 0
    dut.s_axis_TKEEP.value = 0
    dut.s_axis_TSTRB.value = 0
    dut.m_axis_TREADY.value = 0
    m = AxiLiteMaster(dut, "s_axi_control", dut.ap_clk)
    dut.ap_rst_n.value = 0
    await cycles(dut, 4)
    dut.ap_rst_n.value = 1
    await cycles(dut, 2)

    assert await m.read(CTRL) == IDLE, "after reset: idle, nothing started"
    assert int(dut.s_axis_TREADY.value) == 0, "no input is taken before a start"
    await m.write(FRAMES, 0x12345678)
    assert await m.read(FRAMES) == 0x12345678

    # a run of 0 frames finishes at once; ap_done and ap_ready clear on read
    await m.write(FRAMES, 0)
    await m.write(CTRL, START)
    await cycles(dut, 3)
    v = await m.read(CTRL)
    assert v & DONE and v & IDLE and v & READY and not v & START, hex(v)
    assert (await m.read(CTRL)) & (DONE | READY) == 0

    # interrupts: ISR bits set by done and ready when enabled, toggled off by writing 1
    await m.write(IER, 0x3)
    await m.write(GIE, 1)
    await m.write(CTRL, START)
    await cycles(dut, 3)
    assert await m.read(ISR) == 0x3 and int(dut.interrupt.value) == 1
    await m.write(ISR, 0x1)
    assert await m.read(ISR) == 0x2 and int(dut.interrupt.value) == 1
    await m.write(ISR, 0x2)
    assert await m.read(ISR) == 0 and int(dut.interrupt.value) == 0
    await m.write(GIE, 0)
    await m.write(IER, 0)
    await m.read(CTRL)

    # a run of 3 frames takes exactly 3 frames of input and gives one TLAST, at its end
    await m.write(FRAMES, 3)
    await m.write(CTRL, START)
    v = await m.read(CTRL)
    assert not v & IDLE, hex(v)
    taken, got, lasts = await both(dut, 3 * ib + 5, 40 * (3 * ib + 5) + 200, 4000 + 400 * ob)
    assert taken == 3 * ib, f"took {taken} input beats for a run of 3 frames of {ib}"
    assert got == 3 * ob and lasts == [3 * ob - 1], (got, lasts)
    v = await m.read(CTRL)
    assert v & DONE and v & IDLE, hex(v)
    assert int(dut.s_axis_TREADY.value) == 0

    # auto_restart: the next run starts by itself when one ends. As in Vitis HLS, ap_start
    # is set by writing 1 and becomes auto_restart at each start, so once auto_restart is
    # cleared, the run under way and one more follow, then the accelerator stops
    await m.write(FRAMES, 1)
    await m.write(CTRL, START | AUTO)
    taken, got, lasts = await both(dut, 2 * ib, 40 * 2 * ib + 400, 4000 + 400 * ob)
    assert taken == 2 * ib and got == 2 * ob and lasts == [ob - 1, 2 * ob - 1], (taken, got, lasts)
    await m.write(CTRL, 0)
    taken, got, lasts = await both(dut, 3 * ib, 40 * 3 * ib + 400, 4000 + 400 * ob)
    assert taken == 2 * ib and got == 2 * ob and lasts == [ob - 1, 2 * ob - 1], (taken, got, lasts)
    await cycles(dut, 10)
    assert (await m.read(CTRL)) & (IDLE | START) == IDLE
