"""First resource model of the dataflow stages (LUT, FF, BRAM36, DSP) and the frame rate.

Cycles are exact (the stage's loop trip count per frame, see edgec/dataflow.py). The
resource figures are estimates from simple per-kernel rules; issue 4 checks them against
yosys. Memories: a bank of depth D and width W goes to LUTRAM (W * ceil(D / 64) LUTs)
when it holds at most LUTRAM_BITS bits or costs fewer than LUTS_PER_BRAM36 LUTs per BRAM36
it would take, else to BRAM18 halves in the best aspect ratio.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..dataflow import Plan, Stage, fifo_depth

LUTRAM_BITS = 2048
LUTS_PER_BRAM36 = 380  # a wide, shallow memory goes to LUTRAM when that costs less of a Zynq-7020 (53200 / 140)
BUDGET = 0.85  # share of each board resource a design may use (routing headroom)
STAGE_LUT, STAGE_FF = 40, 60  # loop control and stream handshakes of any stage
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


def memory(depth: int, width: int, banks: int = 1) -> Res:
    """``banks`` memories of depth x width bits each."""
    if depth <= 0 or width <= 0:
        return Res()
    lutram = width * math.ceil(depth / 64)
    bram36 = min(math.ceil(width / w) * math.ceil(depth / d) for d, w in BRAM18_ASPECTS) / 2
    if depth * width <= LUTRAM_BITS or lutram <= LUTS_PER_BRAM36 * bram36:
        return Res(LUT=banks * lutram)
    return Res(BRAM36=banks * bram36)


def _lane(kind: str, wbits: int, abits: int) -> Res:
    """One multiply (or xnor) lane of a matrix unit, with its share of the adder tree."""
    prod = wbits + abits
    if kind == "xnor-popcount":
        return Res(LUT=1.5, FF=1)
    if kind == "binary-addsub":
        return Res(LUT=abits + 1 + prod, FF=prod)
    if kind == "lut-mac":
        return Res(LUT=wbits * abits + prod, FF=prod)
    return Res(LUT=prod, FF=prod, DSP=1)  # dsp-mac


def _activation(act, pe: int, nf: int, acc_bits: int) -> Res:
    if act is None:
        return Res()
    nt = max(act.params["thresholds"].shape[1], 1)
    cb = acc_bits + 1
    cmp = Res(LUT=pe * nt * cb / 2, FF=pe * nt.bit_length())
    store = memory(nf, nt * cb, banks=pe) if nf > 1 else Res(LUT=0)  # a single fold is constants
    return cmp + store


def stage_resources(st: Stage) -> Res:
    base = Res(LUT=STAGE_LUT, FF=STAGE_FF)
    a = st.attrs
    if st.kind == "mvau":
        n = st.node
        pe, simd = a["pe"], a["simd"]
        nf, sf = a["mh"] // pe, a["mw"] // simd
        wbits, abits = a["wtype"].bits, st.ins[0].type.bits
        acc_bits = n.type.bits
        lanes = _lane(n.attrs["kernel_kind"], wbits, abits)
        compute = Res(lanes.LUT * pe * simd, lanes.FF * pe * simd, 0, lanes.DSP * pe * simd)
        accum = Res(LUT=pe * acc_bits, FF=pe * acc_bits)
        weights = memory(nf * sf, simd * wbits, banks=pe)
        inbuf = memory(sf, simd * abits) if nf > 1 else Res()
        return base + compute + accum + weights + inbuf + _activation(st.act, pe, nf, acc_bits)
    if st.kind == "swg":
        x = st.ins[0]
        kh = a["kernel"][0]
        buf = memory(kh * a["iw"] * a["c"] // x.per_word, x.width)
        return base + buf + Res(LUT=60 + x.width, FF=x.width + 64)
    if st.kind == "window":
        pe, c, k = a["pe"], a["c"], a["k"]
        ib = st.ins[0].type.bits
        acc_bits = ib + max(k - 1, 1).bit_length() + 1
        mem = memory(c // pe, acc_bits, banks=pe) if c // pe > 1 else Res(FF=pe * acc_bits)
        ops = Res(LUT=pe * acc_bits * 2, FF=pe * acc_bits)
        if a["op"] == "depthwise":
            wb = a["wtype"].bits
            ops = ops + Res(LUT=pe * (wb * ib + acc_bits)) + memory(c // pe * k, wb, banks=pe)
            ops = ops + _activation(st.act, pe, c // pe, st.node.type.bits)
        return base + mem + ops
    if st.kind == "add":
        return base + Res(LUT=st.outs[0].width, FF=st.outs[0].width)
    if st.kind == "threshold":
        pe = a["pe"]
        return base + _activation(st.act, pe, a["c"] // pe, st.ins[0].type.bits)
    if st.kind == "dwc":
        w = st.ins[0].width + st.outs[0].width
        return base + Res(LUT=w, FF=w)
    if st.kind == "dup":
        return base + Res(FF=st.ins[0].width)
    return base + Res(FF=st.outs[0].width)  # axis_in / axis_out


def fifo_resources(plan: Plan) -> Res:
    """The FIFO on every internal stream (dataflow.fifo_depth words): its memory plus
    pointers and a counter."""
    total = Res()
    for s in plan.streams:
        d = fifo_depth(s.words)
        total = total + memory(d, s.width + 1) + Res(LUT=3 * d.bit_length(), FF=3 * d.bit_length())
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
    cap = {"LUT": board.lut, "FF": board.ff, "BRAM36": board.bram36, "DSP": board.dsp}
    over = [k for k, v in cap.items() if getattr(total, k) > BUDGET * v]
    return Estimate(rows, total, bott, bott.cycles, board.clock_mhz * 1e6 / bott.cycles, not over, over, fifos)

