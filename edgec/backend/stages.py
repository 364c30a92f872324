"""The typed per-stage render context of a dataflow plan, shared by the HLS and RTL
backends (neither imports the other): element types, streams, activations and each
stage's kernel parameters."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..ir.types import Bipolar
from ..dataflow import (Act, AddP, LutAct, RqAct, AxisP, ConcatP, DupP, DwcP, MulP, MvauP, PadP, Plan, SliceP,
                        SmvauP, Stage,
                        StageKind, Stream, SwgP, ThresholdP, UpsampleP, WindowP, WinoInP, WinoOutP, index_bits,
                        step_table, threshold_table)
from ..errors import EdgecError
from .words import sparse_stream

TOP = "edgec_top"
IN_PORT, OUT_PORT = "s_axis", "m_axis"  # AXI4-Stream ports of the top (RTL: s_axis_TDATA, ...)
KIND_ENUM = {"xnor-popcount": "XNOR_POPCOUNT", "binary-addsub": "BINARY_ADDSUB", "lut-mac": "LUT_MAC",
             "dsp-mac": "DSP_MAC"}


@dataclass
class CType:
    """An element type: edgec::IntT<bits, signed> or edgec::Bip."""
    bits: int
    signed: bool
    bipolar: bool = False

    @staticmethod
    def of(t) -> "CType":
        return CType(1, True, True) if isinstance(t, Bipolar) else CType(t.bits, t.signed)


@dataclass
class HStream:
    var: str
    label: str
    type: CType
    width: int
    depth: int = 2

@dataclass
class HAct:
    """A Thresholds<> activation (or PassAct when nt is None)."""
    form = "thresholds"  # HRq: "requant" (the templates choose the activation by it)
    pe: int
    nf: int
    nt: int | None = None
    cb: int = 0
    out_lo: int = 0
    bipolar: bool = False
    init: str = ""  # the HLS backend's C++ initializer
    table: np.ndarray | None = None  # (C, nt) thresholds as held (threshold_table)
    sign: np.ndarray | None = None  # (C,) +-1 per channel
    steps: np.ndarray | None = None  # (C, nt) +-1 signed steps (step_table), None: every step +1


@dataclass
class HRq:
    """A Requant<> activation (hw/hls/edgec/mvau.h, hw/rtl/edgec_requant.v) of channels nf*PE
    + pe: per channel its multiplier, bias and shift (RqAct), clip to [lo, hi]; xw, mb, bb,
    shb the widths, smin the least shift (dataflow.RqAct): the kernels hold shift - smin."""
    pe: int
    nf: int
    xw: int
    mb: int
    bb: int
    shb: int
    smin: int
    lo: int
    hi: int
    mult: np.ndarray
    bias: np.ndarray
    shift: np.ndarray
    init: str = ""  # the HLS backend's C++ initializer
    form = "requant"
    nt = None  # no thresholds


@dataclass
class HLut:
    """A Lookup<> activation (hw/hls/edgec/mvau.h, hw/rtl/edgec_lookup.v) of channels nf*PE +
    pe: lane pe holds its NF channels' tables, entry nf * 2^ib + (x - xlo) the code of
    input x (dataflow.LutAct); ib the input's bits, signed its signedness (then x - xlo is x
    with its top bit flipped), ob the codes' bits (bipolar: one, 1 for +1)."""
    pe: int
    nf: int
    ib: int
    signed: bool
    ob: int
    bipolar: bool
    table: np.ndarray  # (C, 2^ib) codes
    init: str = ""  # the HLS backend's C++ initializer
    form = "lookup"
    nt = None  # no thresholds

    def lanes(self) -> np.ndarray:
        """(PE, NF * 2^ib): lane pe's entries in address order, the codes as unsigned ob-bit words."""
        words = np.where(self.table > 0, 1, 0) if self.bipolar else self.table & ((1 << self.ob) - 1)
        return words.reshape(self.nf, self.pe, -1).transpose(1, 0, 2).reshape(self.pe, -1)


@dataclass
class HStage:
    id: int
    kind: str
    name: str
    ins: list[HStream]
    outs: list[HStream]
    p: dict = field(default_factory=dict)  # kernel template parameters (integers, CTypes)
    act: HAct | HRq | HLut | None = None
    weights: object | None = None  # the HLS backend's constant array (backend/hls.py: HArray)
    partition: list[tuple[str, int]] = field(default_factory=list)  # HLS: (constant array, dim) split completely
    macro: str = ""  # HLS: the kernel call's macro (templates/hls/calls.j2)

def activation(thr: np.ndarray, sign: np.ndarray, pe: int, acc_bits: int, out_lo: int, bipolar: bool,
               steps: np.ndarray | None = None) -> HAct:
    """A multi-threshold activation folded by PE (channel nf*PE + pe): its thresholds (and
    signed steps, if any) as the hardware holds them and their comparison width."""
    thr, cb = threshold_table(thr, acc_bits)
    c, nt = thr.shape
    nf = c // pe
    return HAct(pe, nf, nt, cb, out_lo, bipolar, "", thr, sign, step_table(steps, thr))


class Stages:
    """The typed per-stage render context of a plan, shared by the HLS and RTL backends."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.vars: dict[str, HStream] = {}
        for i, s in enumerate([plan.in_stream, *plan.streams, plan.out_stream]):
            port = IN_PORT if s is plan.in_stream else OUT_PORT if s is plan.out_stream else f"st{i}"
            self.vars[s.name] = HStream(port, s.name, CType.of(s.type), s.width, s.depth)

    def s(self, st: Stream) -> HStream:
        return self.vars[st.name]

    def stage(self, st: Stage) -> HStage:
        """The stage's kernel parameters (``p``, integers and CTypes, as the templates name
        them) and its activation, by the table of its kind."""
        rule = PARAMS.get(st.kind)
        if rule is None:
            raise EdgecError(f"stage '{st.name}': the backends have no rendering for stage kind '{st.kind}'")
        h = HStage(st.id, st.kind, st.name, [self.s(x) for x in st.ins], [self.s(x) for x in st.outs])
        h.p, h.act = rule(st, st.p)
        return h


def _hact(a: Act | RqAct | LutAct | None, pe: int, nf: int, ob: int = 0) -> HAct | HRq | HLut:
    if a is None:
        return HAct(pe, nf)
    if isinstance(a, LutAct):
        return HLut(pe, nf, a.ib, a.signed, 1 if a.bipolar else ob, a.bipolar, a.table)
    if isinstance(a, RqAct):
        return HRq(pe, nf, a.xw, a.mb, a.bb, a.shb, a.smin, a.lo, a.hi, a.mult, a.bias, a.shift)
    return HAct(pe, nf, a.nt, a.cb, a.out_lo, a.bipolar, "", a.table, a.sign, a.steps)


def _mvau(st, r: MvauP):
    return dict(mw=r.mw, mh=r.mh, pe=r.pe, simd=r.simd, kind=KIND_ENUM[r.kernel_kind], xt=CType.of(r.xt),
                wt=CType.of(r.wt), acc=CType.of(r.acc), ot=CType.of(r.ot), vectors=r.vectors, sets=r.sets), \
        _hact(r.act, r.pe, r.mh // r.pe)


def _smvau(st, r: SmvauP):
    wt = CType.of(r.wt)
    words, _ = sparse_stream(r.weight, r.pe, r.simd, wt.bits)
    ixb = index_bits(r.mw)
    width = r.pe * r.simd * (wt.bits + ixb) + 1
    return dict(mw=r.mw, mh=r.mh, pe=r.pe, simd=r.simd, in_e=r.in_e, xt=CType.of(r.xt), wb=wt.bits, ixb=ixb,
                acc=CType.of(r.acc), ot=CType.of(r.ot), sets=r.sets, steps=len(words), vectors=r.vectors, words=words,
                width=width), _hact(r.act, r.pe, r.mh // r.pe)


def _wino_in(st, r: WinoInP):
    return dict(m=r.m, c=r.c, simd=r.simd, it=CType.of(r.it), vt=CType.of(r.vt), tiles=r.tiles), None


def _wino_out(st, r: WinoOutP):
    return dict(m=r.m, mh=r.mh, pe=r.pe, oh=r.oh, ow=r.ow, mt=CType.of(r.mt), yt=CType.of(r.yt)), None


def _swg(st, r: SwgP):
    return dict(ih=r.ih, iw=r.iw, c=r.c, kh=r.kernel[0], kw=r.kernel[1], sh=r.stride[0], sw=r.stride[1],
                pad=list(r.pad), simd=r.simd, it=CType.of(r.it), ot=CType.of(r.ot), pad_value=r.pad_value), None


def _window(st, r: WindowP):
    p = dict(op=r.op, k=r.k, c=r.c, pe=r.pe, it=CType.of(r.it), ot=CType.of(r.ot), pixels=r.pixels, acc=CType.of(r.acc))
    if r.op == "max":
        p.update(lowest=r.lowest)
    if r.op != "depthwise":
        return p, None
    cf = r.c // r.pe
    p.update(wt=CType.of(r.wt), cf=cf, dw=r.weight.reshape(cf, r.pe, r.k).transpose(1, 0, 2))  # W[pe][cf][k]
    return p, _hact(r.act, r.pe, cf)


def _add(st, r: AddP):
    return dict(pe=r.pe, at=CType.of(r.at), bt=CType.of(r.bt), ot=CType.of(r.ot), words=r.words,
                sa=r.shift[0], sb=r.shift[1]), None


def _mul(st, r: MulP):
    return dict(c=r.c, pe=r.pe, pixels=r.pixels, gate=r.gate, at=CType.of(r.at), bt=CType.of(r.bt),
                ot=CType.of(r.ot)), None


def _concat(st, r: ConcatP):
    return dict(c1=r.c1, c2=r.c2, pe=r.pe, at=CType.of(r.at), bt=CType.of(r.bt), ot=CType.of(r.ot),
                pixels=r.pixels), None


def _upsample(st, r: UpsampleP):
    return dict(h=r.h, w=r.w, c=r.c, fh=r.factor[0], fw=r.factor[1], pe=r.pe, t=CType.of(r.t),
                zero=int(r.fill == "zero"), value=r.value), None


def _slice(st, r: SliceP):
    return dict(c=r.c, lo=r.lo, hi=r.hi, pe=r.pe, pixels=r.pixels, t=CType.of(r.t)), None


def _pad(st, r: PadP):
    ot = CType.of(r.ot)
    # the border's code as an element of the output word (bipolar: 1 for +1)
    word = int(r.value > 0) if ot.bipolar else r.value & ((1 << ot.bits) - 1)
    return dict(h=r.h, w=r.w, c=r.c, pad=list(r.pad), value=r.value, word=word, pe=r.pe, it=CType.of(r.it),
                ot=ot), None


def _threshold(st, r: ThresholdP):
    ot = CType.of(r.ot)
    return dict(c=r.c, pe=r.pe, it=CType.of(r.it), ot=ot, vectors=r.vectors), _hact(r.act, r.pe, r.c // r.pe, ot.bits)


def _dwc(st, r: DwcP):
    return dict(in_e=r.in_e, out_e=r.out_e, bits=r.bits, elems=r.elems), None


def _dup(st, r: DupP):
    return dict(words=r.words), None


def _axis_in(st, r: AxisP):
    return dict(words=st.outs[0].words, beat=r.beat_bits), None


def _axis_out(st, r: AxisP):
    return dict(words=st.ins[0].words, beat=r.beat_bits), None


def _fifo(st, r):
    raise AssertionError("FIFOs belong to streams (HStream.depth)")


# the template parameters of each stage kind (tests/test_tables.py: every kind has one)
PARAMS = {
    StageKind.AXIS_IN: _axis_in, StageKind.AXIS_OUT: _axis_out, StageKind.DWC: _dwc, StageKind.DUP: _dup,
    StageKind.SWG: _swg, StageKind.MVAU: _mvau, StageKind.SMVAU: _smvau, StageKind.WINDOW: _window,
    StageKind.ADD: _add, StageKind.MUL: _mul, StageKind.CONCAT: _concat, StageKind.UPSAMPLE: _upsample,
    StageKind.SLICE: _slice, StageKind.PAD: _pad, StageKind.THRESHOLD: _threshold,
    StageKind.WINO_IN: _wino_in, StageKind.WINO_OUT: _wino_out, StageKind.FIFO: _fifo,
}


__all__ = ["TOP", "IN_PORT", "OUT_PORT", "KIND_ENUM", "PARAMS", "CType", "HStream", "HAct", "HRq", "HLut", "HStage",
           "Stages",
           "activation"]
