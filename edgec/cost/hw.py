"""Resource model of the dataflow stages (LUT, FF, BRAM36, DSP) and the frame rate.

Cycles are exact (the stage's loop trip count per frame, see edgec/dataflow.py). The
resources model the hw/rtl kernels as yosys `synth_xilinx -family xc7` maps them
(`edgec synth` sets the two side by side). Each kernel's rule is structural (its lanes,
adder trees, accumulators, comparators and memories, at the widths the RTL uses); the
coefficients were fitted to yosys 0.23 on the seven designs of benchmarks/synth.py: of
their 99 stage and FIFO rows 93 come within 25% of yosys and 97 within 30% (the others:
a depthwise window, -31%, and an 8-LUT threshold stage estimated at 16). The concat and
upsample rules were fitted to yosys 0.23 on 7 and 9 instances of their own (PE 1-16,
2-8 bits, line buffers of 8 to 4,096 words): concat within 5% of its LUTs and 10% of its
FFs, upsample within 18% and 10%, and the same block RAMs.

Memories follow yosys's own choice for the xc7 (memory_libmap): a written memory goes to
LUTRAM (RAM32M: 6 bits x 32 in 4 LUTs; RAM64M: 3 bits x 64) unless its block RAMs cost
less, at 2 per LUTRAM LUT against 129 per RAMB18; a constant table (weights,
thresholds) stays in logic, folded into the arithmetic it feeds, unless it is deep
(ROM_BRAM_DEPTH words and ROM_BRAM_BITS bits), then it takes block RAM.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..dataflow import LutAct, Plan, RqAct, Stage, StageKind, index_bits
from ..errors import EdgecError
from ..ir.types import Bipolar

LUTRAM_COST, BRAM18_COST = 2, 129  # yosys memory_libmap (xc7): per LUTRAM LUT, per RAMB18
ROM_BRAM_DEPTH, ROM_BRAM_BITS = 512, 8192
# edgec_mul: yosys 0.23 (synth_xilinx, DSP_Y_MINWIDTH 9) puts a lane whose operand bits sum to at least
# MUL_DSP_BITS on a DSP48E1 (its output register too), a narrower one in logic, MUL_LUT LUTs per bit
# product, 2 LUTs per DSP lane; fitted on the six instances of benchmarks/stage_fits.py (LUTs within 20% of
# yosys's but for a 7-LUT instance estimated at 12; DSPs equal)
MUL_DSP_BITS, MUL_LUT = 9, 1.4
BUDGET = 0.85  # share of each board resource a design may use (routing headroom)
# the Zynq side of the design: AXI DMA, interconnect, reset (Vivado utilisation figures)
PLATFORM = {"LUT": 2200, "FF": 3000, "BRAM36": 2.0, "DSP": 0}
BRAM18_ASPECTS = [(512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1)]  # (depth, width)


@dataclass
class Res:
    LUT: float = 0
    FF: float = 0
    BRAM36: float = 0
    DSP: float = 0

    def __add__(self, o: "Res") -> "Res":
        return Res(self.LUT + o.LUT, self.FF + o.FF, self.BRAM36 + o.BRAM36, self.DSP + o.DSP)

    def as_dict(self) -> dict:
        return {"LUT": int(round(self.LUT)), "FF": int(round(self.FF)), "BRAM36": round(self.BRAM36 * 2) / 2,
                "DSP": int(self.DSP)}


def bram18s(depth: int, width: int) -> int:
    return min(math.ceil(width / w) * math.ceil(depth / d) for d, w in BRAM18_ASPECTS)


def _lutram_cells(depth: int, width: int, single_port: bool = False) -> int:
    """LUTs in RAM32M/RAM64M cells of a depth x width memory (one write, one read port);
    with ``single_port`` (one address for both) RAM64X1S/RAM128X1S/RAM256X1S, a bit each."""
    if depth <= 32:
        return 4 * math.ceil(width / 6)
    if single_port:
        return width * (math.ceil(depth / 64) if depth <= 256 else 4 * math.ceil(depth / 256))
    return 4 * math.ceil(depth / 64) * math.ceil(width / 3)


def lutram_luts(depth: int, width: int, single_port: bool = False) -> int:
    """With the read multiplexer of a memory deeper than 64 (256 single-port)."""
    blocks = math.ceil(depth / (256 if single_port else 64))
    return _lutram_cells(depth, width, single_port) + (width * (blocks - 1) if blocks > 1 else 0)


def memory(depth: int, width: int, banks: int = 1, single_port: bool = False) -> Res:
    """``banks`` written memories of depth x width bits each: LUTRAM or block RAM,
    whichever yosys's costs favour; ``single_port``: read at the address written."""
    if depth <= 0 or width <= 0:
        return Res()
    if depth == 1:
        return Res(FF=banks * width)
    b18 = bram18s(depth, width)
    if LUTRAM_COST * _lutram_cells(depth, width, single_port) <= BRAM18_COST * b18:
        return Res(LUT=banks * lutram_luts(depth, width, single_port))
    return Res(BRAM36=banks * b18 / 2)


def rom_bram(depth: int, width: int, banks: int = 1) -> float:
    """BRAM36 of a constant table, 0 when it stays in logic."""
    if depth >= ROM_BRAM_DEPTH and depth * width >= ROM_BRAM_BITS:
        return banks * bram18s(depth, width) / 2
    return 0.0


def rom_luts(depth: int, width: int) -> float:
    """LUTs of a constant table read at a varying address that stays in logic (rom_bram 0):
    a LUT6 per 64 words and bit, the MUXF7/F8 behind them free up to 256 words, about a
    quarter more beyond (yosys 0.23 on ROMs of 32 to 4,096 words, 1 to 8 bits, random
    contents)."""
    return width * math.ceil(depth / 64) * (1.0 if depth <= 256 else 1.25)


def lookup_res(a: LutAct, pe: int, ob: int) -> Res:
    """edgec_lookup: per lane a ROM of its C/PE channels' 2^ib codes (ob bits; a bipolar code
    one bit), read into the output register (a block RAM's own register when deep), and the
    channel counter and handshake. The ROM is priced as random contents (rom_luts): an
    activation's table is a step function, which yosys 0.23 maps smaller (the six lookups
    of the affine-stage test net at int4 and int8: 12 to 25 LUTs against estimates of 8 to
    48; block RAMs equal), so the estimate errs on the side of the comparators."""
    depth, width = (a.c // pe) << a.ib, 1 if a.bipolar else ob
    bram = rom_bram(depth, width, pe)
    return Res(LUT=8 + (0 if bram else pe * rom_luts(depth, width)), FF=3 + (0 if bram else pe * width),
               BRAM36=bram)


def _datapath_bits(acc_bits: int, xb: int, wb: int, cb: int) -> int:
    """DW of edgec_mvau / edgec_window: holds the accumulator, a product and the compared value."""
    dw0 = acc_bits + 1 if acc_bits > xb + wb + 2 else xb + wb + 3
    return max(dw0, cb)


def _thresholds(act) -> tuple[int, int]:
    """(thresholds per channel, comparison bits) as the hardware holds them; (0, 2) without."""
    if act is None:
        return 0, 2
    return act.nt, act.cb


def _signed(act) -> bool:
    """Whether the activation has signed steps (edgec_act SIGNED_STEPS)."""
    return act is not None and act.steps is not None


def _activation(pe: int, nf: int, nt: int, cb: int, steps: bool = False) -> Res:
    """edgec_act's comparators for ``pe`` channels of ``nt`` thresholds of ``cb`` bits, and
    the table of ``nf`` rows they read (constants when nf = 1). The table's logic grows
    with its rows up to 16, then with its depth in 64-row blocks. Signed steps add their
    falling-step flags (a bit per threshold) to the table; yosys folds the add-or-subtract
    into the count's adder chain (on a SiLU build of the conv test net, every stage with
    signed steps came within 2% of its LUTs and exactly its FFs without them)."""
    cmp_bits = pe * nt * cb
    row = cmp_bits + (pe * nt if steps else 0)
    table = row * min(nf / 16, 1) * math.ceil(nf / 64) if nf > 1 else 0
    return Res(LUT=0.283 * cmp_bits + 0.97 * table, FF=0.57 * cmp_bits if nf > 1 else 0,
               BRAM36=rom_bram(nf, row) if nt else 0)


# edgec_requant, fitted to yosys 0.23 on the 14 instances of benchmarks/stage_fits.py (requant)
RQ_LUT = (43.6, 0.54, 1.64)  # base, per lane and sum bit, per table bit that varies between rows
RQ_FF = (29.0, 1.02, 0.91)  # base, per output bit, per varying table bit
DSP_A_BITS = 25  # a DSP48E1 multiplies 25 x 18 bits: a wider input takes two


def _varying_bits(a: RqAct, pe: int) -> int:
    """Bits of the multiplier, bias and shift tables that differ between the rows a lane
    reads (the others are constants, which yosys folds into the logic)."""
    total = 0
    for v, bits in ((a.mult, a.mb), (a.bias, a.bb), (np.asarray(a.shift) - a.smin, a.shb)):
        w = np.asarray(v, np.int64).reshape(-1, pe) & ((1 << bits) - 1)
        col = (w[:, :, None] >> np.arange(bits)) & 1  # (rows, lanes, bits)
        total += int((col.min(axis=0) != col.max(axis=0)).sum())
    return total


def requant_dsps(a: RqAct, pe: int) -> int:
    """DSP48E1 of a requantizer's products: one per lane up to a 25-bit input, two beyond
    (yosys splits the multiply); none where the operands are too narrow for a DSP."""
    if a.xw + a.mb < MUL_DSP_BITS:
        return 0
    return pe * (1 if a.xw <= DSP_A_BITS else 2)


def _requant(a: RqAct, pe: int, ob: int) -> Res:
    """edgec_requant: per lane the product (requant_dsps, or LUTs), the bias add, the shift
    by SMIN (wiring) and by the rest (a multiplexer), the clip; the per-channel tables
    (constants in logic, their varying bits costing like a threshold table; block RAM when
    deep) and the output register."""
    cf = a.c // pe
    aw = max(a.xw + a.mb, a.bb) + 1
    fac = min(cf / 16, 1) * math.ceil(cf / 64) if cf > 1 else 0
    vb = _varying_bits(a, pe) * fac
    dsp = requant_dsps(a, pe)
    mul = 0 if dsp else pe * a.xw * a.mb * MUL_LUT
    k0, k1, k2 = RQ_LUT
    f0, f1, f2 = RQ_FF
    return Res(LUT=k0 + k1 * pe * aw + k2 * vb + mul, FF=f0 + f1 * pe * ob + f2 * vb, DSP=dsp,
               BRAM36=rom_bram(cf, pe * (a.mb + a.bb + a.shb)))


def _mvau(st: Stage) -> Res:
    a = st.p
    pe, simd = a.pe, a.simd
    nf, sf = a.mh // pe, a.mw // simd
    kind = a.kernel_kind
    xt, wb = a.xt, a.wt.bits
    xb, xbip = xt.bits, int(isinstance(xt, Bipolar))
    acc_bits = a.acc.bits
    sf = sf * a.sets  # the weight sets of a Winograd unit deepen its table
    rq = isinstance(a.act, RqAct)
    nt, cb = _thresholds(None if rq else a.act)
    dw = _datapath_bits(acc_bits, xb, wb, cb)
    # one product's bits (as edgec_mvau's PW), and its multiply in LUT-units (DSP: none)
    pw = 2 if kind == "xnor-popcount" else (xb + 2 if kind == "binary-addsub" or wb == 1 else xb + wb + xbip)
    prod = {"xnor-popcount": 1, "binary-addsub": xb + 1, "lut-mac": xb * wb, "dsp-mac": 0}[kind]
    dsp = pe * simd if kind == "dsp-mac" else 0
    tree = pe * (simd - 1) * (pw + math.log2(simd) / 2 + 0.5)  # adder-tree bits
    depth = nf * sf
    deep_rom = pe * simd * wb * depth / 64 if depth > 64 else 0
    xbuf = memory(sf, simd * xb) if nf > 1 else Res()
    lut = 92 + 1.6 * pe * simd * prod + 1.23 * tree + 1.37 * pe * dw + 0.084 * deep_rom + 0.74 * xbuf.LUT
    ff = (40 + 0.82 * pe * dw + 0.09 * pe * st.outs[0].type.bits + (0.39 * pe * simd * wb if depth > 1 else 0)
          + 6.4 * dsp)
    core = Res(LUT=lut, FF=ff, BRAM36=rom_bram(depth, pe * simd * wb) + xbuf.BRAM36, DSP=dsp)
    if rq:  # edgec_mvau RQ = 1: the accumulators into an edgec_requant
        return core + _requant(a.act, pe, st.outs[0].type.bits)
    return core + _activation(pe, nf, nt, cb, _signed(a.act))


def _smvau(st: Stage) -> Res:
    """edgec_smvau: PE x SIMD multipliers, each reading its input through an MW:1
    multiplexer of the double-buffered input vector (registers), the compressed weight
    table (values, indices and a group-end bit), the accumulators and the activation.
    Structural, with the dense MVAU's coefficients; not yet fitted to yosys."""
    a = st.p
    pe, simd, mw = a.pe, a.simd, a.mw
    kind = a.kernel_kind
    xt, wb = a.xt, a.wt.bits
    xb = xt.bits
    acc_bits = a.acc.bits
    nt, cb = _thresholds(a.act)
    dw = _datapath_bits(acc_bits, xb, wb, cb)
    lanes = pe * simd
    dsp = lanes if kind == "dsp-mac" else 0
    prod = 0 if dsp else xb * wb
    entry = wb + index_bits(mw)
    depth = int(sum(a.steps))
    width = lanes * entry + 1
    mux = lanes * xb * mw / 4  # an MW:1 multiplexer per lane and input bit (LUT6 = 4:1)
    tree = pe * (simd - 1) * (xb + wb + math.log2(max(simd, 1)) / 2 + 0.5)
    deep_rom = width * depth / 64 if depth > 64 else 0
    lut = 120 + 1.6 * lanes * prod + mux + 1.23 * tree + 1.37 * pe * dw + 0.084 * deep_rom
    ff = 60 + 2 * mw * xb + 0.82 * pe * dw + (0.39 * width if depth > 1 else 0) + 6.4 * dsp
    core = Res(LUT=lut, FF=ff, BRAM36=rom_bram(depth, width), DSP=dsp)
    return core + _activation(pe, a.mh // pe, nt, cb, _signed(a.act))


def _swg(st: Stage) -> Res:
    a = st.p
    x, y = st.ins[0], st.outs[0]
    simd = x.per_word
    cf = a.c // simd
    buf = memory(a.kernel[0] * a.iw * cf, x.width)
    counters = sum(math.ceil(math.log2(v + 1)) for v in (a.ih, a.iw, cf, a.kernel[0], a.kernel[1]))
    return buf + Res(LUT=68 + 0.95 * y.width, FF=10.4 + 0.87 * y.width + 2.33 * counters)


def _window(st: Stage) -> Res:
    a = st.p
    pe, c = a.pe, a.c
    ib = a.it.bits
    acc_bits, wb = a.acc.bits, (a.wt.bits if a.op == "depthwise" else 2)
    nt, cb = _thresholds(a.act) if a.op == "depthwise" else (0, 10)
    dw = _datapath_bits(acc_bits, ib, wb, cb)
    cf = c // pe
    acc = memory(cf, pe * dw) if cf > 1 else Res(FF=pe * dw)
    lut = 27 + 1.45 * pe * dw + (1.6 * pe * ib * wb if a.op == "depthwise" else 0)
    return acc + Res(LUT=lut, FF=17) + _activation(pe, cf, nt, cb, a.op == "depthwise" and _signed(a.act))


def _winograd(st: Stage) -> Res:
    """edgec_wino_in / edgec_wino_out: a tile (or a row of tiles) held as one memory bank
    per tile position (every position is read at once), and per output element the
    constant-coefficient sum of its nonzero terms. Structural, not yet fitted to yosys."""
    from ..ir import winograd as W

    a = st.p
    m, x, y = a.m, st.ins[0], st.outs[0]
    p = (m + 2) ** 2
    if st.kind == StageKind.WINO_IN:
        k = W.input_coefficients(m)
        held = memory(a.c // x.per_word, x.width, banks=p)
    else:
        k = W.output_coefficients(m).reshape(m * m, -1)
        held = memory(a.tw * a.mh // x.per_word, x.width, banks=p)
    terms = float((k.reshape(k.shape[0], -1) != 0).sum(axis=1).max())
    return held + Res(LUT=60 + y.per_word * terms * y.type.bits * 1.5, FF=y.width + 40)


def _add(st: Stage) -> Res:
    w = st.outs[0].width
    return Res(LUT=4 + 1.5 * w, FF=2 + w)


def _bits(n: int) -> int:
    """Bits of a counter over ``n`` values."""
    return max(1, (n - 1).bit_length())


def _mul(st: Stage) -> Res:
    """edgec_mul: PE lane multipliers of the inputs' widths (LUT logic, or a DSP48E1 per
    lane, which also holds the output register, where the operand bits sum to at least
    MUL_DSP_BITS), the output register and, for a gate, its C/PE words in LUTRAM and the
    fold counter."""
    a = st.p
    dsp = a.at.bits + a.bt.bits >= MUL_DSP_BITS
    w = st.outs[0].width
    lanes = Res(DSP=a.pe, LUT=2 * a.pe) if dsp else Res(LUT=a.pe * a.at.bits * a.bt.bits * MUL_LUT)
    gate = memory(a.c // a.pe, a.pe * a.bt.bits) + Res(LUT=2 * _bits(a.c // a.pe), FF=_bits(a.c // a.pe) + 1) \
        if a.gate else Res()
    return lanes + gate + Res(LUT=4, FF=2 + (0 if dsp else w))


def _concat(st: Stage) -> Res:
    """edgec_concat: the output register, fed from either input (each lane widened), and
    the fold counter that picks the input."""
    a = st.p
    w = st.outs[0].width
    cnt = _bits((a.c1 + a.c2) // a.pe)
    return Res(LUT=9 + w + 2 * cnt, FF=2 + w + cnt)


def _upsample(st: Stage) -> Res:
    """edgec_upsample: the one-row line buffer (W*C/PE words, read and written at one
    address: single-port LUTRAM or block RAM; none for zero fill), the output register fed
    from the input or the buffer (or the zero code), and the counters of row, column,
    fold, the repeats and the address."""
    a = st.p
    w = st.outs[0].width
    cf = a.c // a.pe
    cnt = sum(_bits(v) for v in (a.h, a.w, cf, *a.factor)) + _bits(a.w * cf)
    if a.fill == "zero":  # no buffer: fitted on its own six instances (benchmarks/stage_fits.py)
        return Res(LUT=max(10.0, 0.95 * w + 3.25 * cnt - 21), FF=1 + w + 0.9 * cnt)
    return memory(a.w * cf, w, single_port=True) + Res(LUT=10 + 0.8 * w + 2 * cnt, FF=1 + w + 0.9 * cnt)


def _slice(st: Stage) -> Res:
    """edgec_slice: the output register (flip-flops with an enable: no LUTs per bit) and the
    fold and pixel counters with the compare that keeps the range; fitted to yosys on six
    instances (benchmarks/stage_fits.py)."""
    a = st.p
    w = st.outs[0].width
    cnt = _bits(a.c // a.pe) + _bits(a.pixels)
    return Res(LUT=5 + 2.8 * cnt, FF=2 + w + cnt)


def _pad(st: Stage) -> Res:
    """edgec_pad: the output register fed from the input (each lane widened) or the
    constant, and the row, column and fold counters with the border compares; fitted to
    yosys on six instances (benchmarks/stage_fits.py)."""
    a = st.p
    w = st.outs[0].width
    t, lf, b, r = a.pad
    cnt = _bits(a.h + t + b) + _bits(a.w + lf + r) + _bits(a.c // a.pe)
    return Res(LUT=3 + w + 3 * cnt, FF=2 + w + cnt)


def _threshold(st: Stage) -> Res:
    a = st.p
    if isinstance(a.act, RqAct):
        return _requant(a.act, a.pe, st.outs[0].type.bits)
    if isinstance(a.act, LutAct):
        return lookup_res(a.act, a.pe, st.outs[0].type.bits)
    nt, cb = _thresholds(a.act)
    return Res(LUT=4, FF=2 + st.outs[0].width) + _activation(a.pe, a.c // a.pe, nt, cb, _signed(a.act))


def _dwc(st: Stage) -> Res:
    b, i, o = st.p.bits, st.p.in_e, st.p.out_e
    return Res(LUT=18.7 + 1.19 * b * (2 * i + o), FF=7.2 + b * (i + 2 * o))


def _dup(st: Stage) -> Res:
    return Res(LUT=5, FF=2)


def _axis(st: Stage) -> Res:
    return Res()  # the RTL top wires the AXI stream to the first and last FIFO


def _fifo_stage(st: Stage) -> Res:
    raise AssertionError("FIFOs belong to streams: fifo_resources")


# one rule per stage kind (tests/test_tables.py: every kind has one)
RESOURCES = {
    StageKind.AXIS_IN: _axis, StageKind.AXIS_OUT: _axis, StageKind.DWC: _dwc, StageKind.DUP: _dup,
    StageKind.SWG: _swg, StageKind.MVAU: _mvau, StageKind.SMVAU: _smvau, StageKind.WINDOW: _window,
    StageKind.ADD: _add, StageKind.MUL: _mul, StageKind.CONCAT: _concat, StageKind.UPSAMPLE: _upsample,
    StageKind.SLICE: _slice, StageKind.PAD: _pad, StageKind.THRESHOLD: _threshold,
    StageKind.WINO_IN: _winograd,
    StageKind.WINO_OUT: _winograd, StageKind.FIFO: _fifo_stage,
}


def stage_resources(st: Stage) -> Res:
    rule = RESOURCES.get(st.kind)
    if rule is None:
        raise EdgecError(f"stage '{st.name}': the cost model has no resource rule for stage kind '{st.kind}'")
    return rule(st)


def fifo(depth: int, width: int) -> Res:
    """One edgec_fifo of depth x width data bits (with tlast): its memory, pointers and count."""
    mem = memory(depth, width + 1)
    lg = max((depth - 1).bit_length(), 1)
    ctl = Res(LUT=7 * lg + 10, FF=4 * lg + 1)
    if mem.BRAM36:  # block RAM read through a bypass for a write to the address being read
        ctl = ctl + Res(LUT=20 + width + 1, FF=width + 1)
    return mem + ctl


def fifo_resources(plan: Plan) -> Res:
    """The FIFO on every internal stream (Stream.depth words: dataflow.fifo_depth)."""
    total = Res()
    for s in plan.streams:
        total = total + fifo(s.depth, s.width)
    return total


@dataclass
class Estimate:
    stages: list[tuple[Stage, Res]]
    total: Res
    bottleneck: Stage
    cycles: int
    fps: float
    fits: bool
    over: list[str]  # resources above the budget
    fifos: Res  # the stream FIFOs (included in total)


def estimate(plan: Plan, board) -> Estimate:
    rows = [(st, stage_resources(st)) for st in plan.stages]
    fifos = fifo_resources(plan)
    total = Res(**PLATFORM) + fifos
    for _, r in rows:
        total = total + r
    bott = max(plan.stages, key=lambda s: s.cycles)
    cap = board.capacity
    over = [k for k, v in cap.items() if getattr(total, k) > BUDGET * v]
    return Estimate(rows, total, bott, bott.cycles, board.clock_mhz * 1e6 / bott.cycles, not over, over, fifos)

