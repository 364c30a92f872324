"""The typed per-stage render context of a dataflow plan, shared by the HLS and RTL
backends (neither imports the other): element types, streams, activations and each
stage's kernel parameters."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..ir.types import Bipolar
from ..dataflow import Plan, Stage, Stream, fifo_depth, index_bits, stage_weight, threshold_table
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
    pe: int
    nf: int
    nt: int | None = None
    cb: int = 0
    out_lo: int = 0
    bipolar: bool = False
    init: str = ""  # the HLS backend's C++ initializer
    table: np.ndarray | None = None  # (C, nt) thresholds as held (threshold_table)
    sign: np.ndarray | None = None  # (C,) +-1 per channel


@dataclass
class HStage:
    id: int
    kind: str
    name: str
    ins: list[HStream]
    outs: list[HStream]
    p: dict = field(default_factory=dict)  # kernel template parameters (integers, CTypes)
    act: HAct | None = None
    weights: object | None = None  # the HLS backend's constant array (backend/hls.py: HArray)
    partition: list[tuple[str, int]] = field(default_factory=list)  # HLS: (constant array, dim) split completely

def activation(thr: np.ndarray, sign: np.ndarray, pe: int, acc_bits: int, out_lo: int, bipolar: bool) -> HAct:
    """A multi-threshold activation folded by PE (channel nf*PE + pe): its thresholds as
    the hardware holds them and their comparison width."""
    thr, cb = threshold_table(thr, acc_bits)
    c, nt = thr.shape
    nf = c // pe
    return HAct(pe, nf, nt, cb, out_lo, bipolar, "", thr, sign)


def _acc_type(n) -> CType:
    return CType.of(n.type)


class Stages:
    """The typed per-stage render context of a plan, shared by the HLS and RTL backends."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.vars: dict[str, HStream] = {}
        for i, s in enumerate([plan.in_stream, *plan.streams, plan.out_stream]):
            self.vars[s.name] = HStream(IN_PORT if s is plan.in_stream else OUT_PORT if s is plan.out_stream else f"st{i}",
                                        s.name, CType.of(s.type), s.width, fifo_depth(s.words))

    def s(self, st: Stream) -> HStream:
        return self.vars[st.name]

    def act(self, st: Stage, pe: int, nf: int) -> HAct:
        a = st.act
        if a is None:
            return HAct(pe, nf)
        src_bits = st.node.type.bits if st.kind != "threshold" else st.ins[0].type.bits
        return activation(a.params["thresholds"], a.params["sign"], pe, src_bits, int(a.attrs["out_lo"]),
                              bool(a.attrs["bipolar"]))

    def stage(self, st: Stage) -> HStage:
        h = HStage(st.id, st.kind, st.name, [self.s(x) for x in st.ins], [self.s(x) for x in st.outs])
        a = st.attrs
        if st.kind == "mvau":
            wt = CType.of(a["wtype"])
            acc = CType.of(a["acc"]) if "acc" in a else _acc_type(st.node)
            h.p = dict(mw=a["mw"], mh=a["mh"], pe=a["pe"], simd=a["simd"], kind=KIND_ENUM[st.node.attrs["kernel_kind"]],
                       xt=CType.of(st.ins[0].type), wt=wt, acc=acc, ot=CType.of(st.outs[0].type),
                       vectors=a["vectors"], sets=a.get("sets", 1))
            h.act = self.act(st, a["pe"], a["mh"] // a["pe"])
        elif st.kind == "smvau":
            wt = CType.of(a["wtype"])
            acc = CType.of(a["acc"]) if "acc" in a else _acc_type(st.node)
            words, _ = sparse_stream(stage_weight(st), a["pe"], a["simd"], wt.bits)
            ixb = index_bits(a["mw"])
            width = a["pe"] * a["simd"] * (wt.bits + ixb) + 1
            h.p = dict(mw=a["mw"], mh=a["mh"], pe=a["pe"], simd=a["simd"], in_e=a["in_e"], xt=CType.of(st.ins[0].type),
                       wb=wt.bits, ixb=ixb, acc=acc, ot=CType.of(st.outs[0].type), sets=a["sets"], steps=len(words),
                       vectors=a["vectors"], words=words, width=width)
            h.act = self.act(st, a["pe"], a["mh"] // a["pe"])
        elif st.kind == "wino_in":
            h.p = dict(m=a["m"], c=a["c"], simd=st.ins[0].per_word, it=CType.of(st.ins[0].type),
                       vt=CType.of(st.outs[0].type), tiles=a["tiles"])
        elif st.kind == "wino_out":
            h.p = dict(m=a["m"], mh=a["mh"], pe=st.ins[0].per_word, oh=a["oh"], ow=a["ow"],
                       mt=CType.of(st.ins[0].type), yt=CType.of(st.outs[0].type))
        elif st.kind == "swg":
            h.p = dict(ih=a["ih"], iw=a["iw"], c=a["c"], kh=a["kernel"][0], kw=a["kernel"][1], sh=a["stride"][0],
                       sw=a["stride"][1], pad=list(a["pad"]), simd=st.ins[0].per_word, it=CType.of(st.ins[0].type),
                       ot=CType.of(st.outs[0].type), pad_value=a["pad_value"])
        elif st.kind == "window":
            it = st.ins[0].type
            k, c, pe = a["k"], a["c"], a["pe"]
            h.p = dict(op=a["op"], k=k, c=c, pe=pe, it=CType.of(it), ot=CType.of(st.outs[0].type),
                       pixels=st.outs[0].elems // c)
            if a["op"] == "max":
                h.p.update(acc=CType(it.bits + 1, True), lowest=int(it.lo))
            elif a["op"] == "avg":
                h.p.update(acc=CType(it.bits + (k - 1).bit_length() + 1, True))
            else:
                w = st.node.params["weight"]  # (C, K)
                wt = CType.of(a["wtype"])
                cf = c // pe
                h.p.update(acc=_acc_type(st.node), wt=wt, cf=cf)
                h.act = self.act(st, pe, cf)
                h.p.update(dw=w.reshape(cf, pe, k).transpose(1, 0, 2))  # W[pe][cf][k]
        elif st.kind == "add":
            h.p = dict(pe=st.outs[0].per_word, at=CType.of(st.ins[0].type), bt=CType.of(st.ins[1].type),
                       ot=CType.of(st.outs[0].type), words=st.outs[0].words)
        elif st.kind == "threshold":
            pe = a["pe"]
            h.p = dict(c=a["c"], pe=pe, it=CType.of(st.ins[0].type), ot=CType.of(st.outs[0].type), vectors=a["vectors"])
            h.act = self.act(st, pe, a["c"] // pe)
        elif st.kind == "dwc":
            h.p = dict(in_e=st.ins[0].per_word, out_e=st.outs[0].per_word, bits=st.ins[0].type.bits,
                       elems=st.ins[0].elems)
        elif st.kind == "dup":
            h.p = dict(words=st.ins[0].words)
        elif st.kind == "axis_in":
            h.p = dict(words=st.outs[0].words, beat=a["beat_bits"])
        elif st.kind == "axis_out":
            h.p = dict(words=st.ins[0].words, beat=a["beat_bits"])
        return h


__all__ = ["TOP", "IN_PORT", "OUT_PORT", "KIND_ENUM", "CType", "HStream", "HAct", "HStage", "Stages", "activation",
           "stage_weight"]
