"""Dataflow plan -> typed HLS render context -> templates/hls/*.j2 (+ the hw/hls library).

OUT/hls/ holds: top.h, top.cpp (one stage per dataflow stage, AXI4-Stream in and out,
s_axilite control), weights.h (packed constant arrays), tb.cpp (the C++ testbench),
build_hls.tcl (Vitis HLS), edgec/ (a copy of hw/hls/edgec), compat/ (a stand-in for the
vendor's ap_axi_sdata.h, for g++ only) and data/ (test vectors).
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__, resources
from ..dataflow import Plan, Stage, Stream, fifo_depth, index_bits, sparse_steps
from ..ir.types import Bipolar, IntType, int_type_for
from .render import render

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
class HArray:
    """A constant array: C++ element type, dims, and its initializer (nested braces)."""
    name: str
    elem: str
    dims: list[int]
    init: str


@dataclass
class HAct:
    """A Thresholds<> activation (or PassAct when nt is None)."""
    pe: int
    nf: int
    nt: int | None = None
    cb: int = 0
    out_lo: int = 0
    bipolar: bool = False
    init: str = ""
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
    weights: HArray | None = None
    partition: list[tuple[str, int]] = field(default_factory=list)  # (constant array, dim) split completely


@dataclass
class HlsContext:
    top: str
    version: str
    part: str
    clock_ns: float
    in_type: CType
    out_type: CType
    in_per_word: int
    out_per_word: int
    in_beat_bits: int
    out_beat_bits: int
    in_words: int  # beats per frame
    out_words: int
    streams: list[HStream]
    stages: list[HStage]
    arrays: list[HArray]
    tb_frames: int
    max_width: int  # AP_INT_MAX_W: the widest ap_int/ap_uint any kernel declares, in bits


def _literal(v: int, width: int) -> str:
    if width <= 64:
        return f"0x{v:x}ULL"
    return f'ap_uint<{width}>("0x{v:x}", 16)'


def _braces(a, fmt) -> str:
    if isinstance(a, np.ndarray) and a.ndim > 1 or isinstance(a, list) and a and isinstance(a[0], (list, np.ndarray)):
        return "{" + ", ".join(_braces(x, fmt) for x in a) + "}"
    return "{" + ", ".join(fmt(x) for x in a) + "}"


def pack_words(w: np.ndarray, bits: int, bipolar: bool) -> list[int]:
    """Rows of elements -> one integer per row, element i at bits [i*bits, (i+1)*bits)."""
    mask = (1 << bits) - 1
    out = []
    for row in np.asarray(w, np.int64).reshape(-1, w.shape[-1]):
        v = 0
        for i, e in enumerate(row.tolist()):
            v |= ((1 if e > 0 else 0) if bipolar else (e & mask)) << (i * bits)
        out.append(v)
    return out


def mvau_weights(weight: np.ndarray, pe: int, simd: int, wt: CType, name: str) -> HArray:
    """W[pe][nf * SF + sf]: SIMD weights of output channel nf*PE + pe, inputs sf*SIMD + s."""
    mh, mw = weight.shape
    nf, sf = mh // pe, mw // simd
    w = weight.reshape(nf, pe, sf, simd).transpose(1, 0, 2, 3).reshape(pe, nf * sf, simd)
    width = simd * wt.bits
    words = np.array(pack_words(w, wt.bits, wt.bipolar), dtype=object).reshape(pe, nf * sf)
    return HArray(name, f"edgec::rom_word<{width}>::type", [pe, nf * sf],
                  _braces(words, lambda v: _literal(int(v), width)))


def sparse_stream(weight: np.ndarray, pe: int, simd: int, wbits: int) -> tuple[list[int], np.ndarray]:
    """The compressed weight stream of a sparse MVAU: (words, steps (groups,)).

    ``weight`` (G*PE, MW), G groups of PE rows (a set's neuron folds, sets one after
    another). Group k takes steps[k] words (dataflow.sparse_steps); in step t, lane pe holds the non-zeros t*SIMD .. t*SIMD + SIMD-1 of row
    k*PE + pe (ascending input index), padded with (value 0, index 0). Entry (pe, s) sits
    at bits [(pe*SIMD + s)*E, +E), E = WB + IXB: value in the low WB bits (two's
    complement), input index in the high IXB bits (index_bits(MW)); the top bit,
    PE*SIMD*E, marks a group's last step."""
    e = wbits + index_bits(weight.shape[1])
    steps = sparse_steps(weight, pe, simd)
    words = []
    for k in range(len(steps)):
        nz = [np.flatnonzero(weight[k * pe + p]) for p in range(pe)]
        for t in range(steps[k]):
            v = 0
            for p in range(pe):
                for j in range(simd):
                    q = t * simd + j
                    if q < len(nz[p]):
                        idx = int(nz[p][q])
                        ent = (int(weight[k * pe + p, idx]) & ((1 << wbits) - 1)) | (idx << wbits)
                        v |= ent << ((p * simd + j) * e)
            if t == steps[k] - 1:
                v |= 1 << (pe * simd * e)
            words.append(v)
    return words, steps


def threshold_table(thr: np.ndarray, acc_bits: int) -> tuple[np.ndarray, int]:
    """(thresholds, comparison bits) as the hardware holds them: wide enough for the
    thresholds and for +-acc (|acc| < 2^acc_bits); a channel row without thresholds gets
    one sentinel above every value, which keeps its count at 0."""
    c, nt = thr.shape
    lim = 2 ** acc_bits
    hi = max(int(thr.max()) if nt else 0, lim)
    cb = int_type_for(min(int(thr.min()) if nt else 0, -lim), hi).bits
    if nt == 0:
        thr = np.full((c, 1), hi, np.int64)
    return thr, cb


def thresholds_act(thr: np.ndarray, sign: np.ndarray, pe: int, acc_bits: int, out_lo: int, bipolar: bool) -> HAct:
    """Thresholds<PE, NF, NT, CB, ...>: t[pe][nf][i] of channel nf*PE + pe."""
    thr, cb = threshold_table(thr, acc_bits)
    c, nt = thr.shape
    nf = c // pe
    t = thr.reshape(nf, pe, nt).transpose(1, 0, 2)
    neg = (sign < 0).astype(np.int64).reshape(nf, pe).T
    init = "{" + _braces(t, str) + ", " + _braces(neg, str) + "}"
    return HAct(pe, nf, nt, cb, out_lo, bipolar, init, thr, sign)


def stage_weight(st: Stage) -> np.ndarray:
    """The matrix an mvau stage multiplies by: its node's weight, or (Winograd) the
    per-position matrices stacked (SETS*MH, MW)."""
    return st.attrs["weight"] if "weight" in st.attrs else st.node.params["weight"]


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
        self.arrays: list[HArray] = []

    def s(self, st: Stream) -> HStream:
        return self.vars[st.name]

    def act(self, st: Stage, pe: int, nf: int) -> HAct:
        a = st.act
        if a is None:
            return HAct(pe, nf)
        src_bits = st.node.type.bits if st.kind != "threshold" else st.ins[0].type.bits
        return thresholds_act(a.params["thresholds"], a.params["sign"], pe, src_bits, int(a.attrs["out_lo"]),
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
            h.weights = mvau_weights(stage_weight(st), a["pe"], a["simd"], wt, f"w_{st.id}")
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
            h.weights = HArray(f"w_{st.id}", f"edgec::rom_word<{width}>::type", [len(words)],
                               _braces(words, lambda v: _literal(int(v), width)))
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
                h.weights = HArray(f"dw_{st.id}", "", [pe, cf, k],
                                   _braces(w.reshape(cf, pe, k).transpose(1, 0, 2), str))
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
        h.partition = _partitions(h)
        return h


def _partitions(h: HStage) -> list[tuple[str, int]]:
    """The constant arrays of a stage that the top splits completely: the thresholds of its
    activation by PE lane (dim 1) and threshold (dim 3), the negation flags by lane, a
    depthwise stage's weights by lane. (The mvau partitions its own weights by PE.)"""
    acts = []
    if h.kind in ("mvau", "smvau", "threshold") and h.act is not None and h.act.nt is not None:
        acts.append(f"act_{h.id}")
    out = []
    if h.kind == "window" and h.p["op"] == "depthwise":
        out.append((f"op_{h.id}.w", 1))
        if h.act.nt is not None:
            acts.append(f"op_{h.id}.act")
    for a in acts:
        out += [(f"{a}.t", 1), (f"{a}.t", 3), (f"{a}.neg", 1)]
    return out


def max_word_bits(stages: list[HStage]) -> int:
    """AP_INT_MAX_W for the top: a multiple of 1024 at least as wide as every stream word,
    packed weight word and data-width converter buffer of the stages."""
    w = 64
    for h in stages:
        w = max([w, *(x.width for x in h.ins + h.outs)])
        p = h.p
        if h.kind == "mvau":
            w = max(w, p["simd"] * p["wt"].bits, p["simd"] * p["xt"].bits, p["pe"] * p["ot"].bits)
        elif h.kind == "smvau":
            w = max(w, p["width"])
        elif h.kind == "dwc":
            w = max(w, (p["in_e"] + p["out_e"]) * p["bits"])
        elif h.kind in ("axis_in", "axis_out"):
            w = max(w, p["beat"])
    return max(1024, -(-w // 1024) * 1024)


def context(plan: Plan, board, tb_frames: int) -> HlsContext:
    c = Stages(plan)
    stages = [c.stage(st) for st in plan.stages]
    internal = [c.s(s) for s in plan.streams]
    first, last = plan.stages[0], plan.stages[-1]
    return HlsContext(TOP, __version__, board.part, 1000.0 / board.clock_mhz, CType.of(plan.in_stream.type),
                      CType.of(plan.out_stream.type), plan.in_stream.per_word, plan.out_stream.per_word,
                      first.attrs["beat_bits"], last.attrs["beat_bits"], plan.in_stream.words, plan.out_stream.words,
                      internal, stages, [s.weights for s in stages if s.weights is not None], tb_frames,
                      max_word_bits(stages))


def emit(plan: Plan, board, out: Path, vectors_in: np.ndarray, vectors_out: np.ndarray) -> None:
    """Write OUT/hls/. ``vectors_in``/``vectors_out``: a few frames of input codes and the
    simulator's outputs (channels last) for the testbench data the Vitis flow runs."""
    from ..sim import kernels as K

    out.mkdir(parents=True, exist_ok=True)
    ctx = context(plan, board, len(vectors_in))
    for t in ("top.h", "top.cpp", "weights.h", "tb.cpp", "build_hls.tcl"):
        render(f"hls/{t}.j2", out / t, ctx=ctx)
    shutil.copytree(resources.path("hw") / "hls" / "edgec", out / "edgec")
    # g++ only (edgec csim): UG1399's hls::axis for want of the vendor's header; not on the
    # Vitis project's include path
    shutil.copytree(resources.path("hw") / "hls" / "compat", out / "compat")
    (out / "data").mkdir()
    (out / "data" / "in.bin").write_bytes(pack_frames(plan, vectors_in, "in", K))
    (out / "data" / "expected.bin").write_bytes(pack_frames(plan, vectors_out, "out", K))


def stream_layout(plan: Plan, which: str) -> dict:
    s = plan.in_stream if which == "in" else plan.out_stream
    st = plan.stages[0] if which == "in" else plan.stages[-1]
    return {"bits": s.type.bits, "signed": bool(s.type.signed), "bipolar": isinstance(s.type, Bipolar),
            "per_word": s.per_word, "beat_bytes": st.attrs["beat_bits"] // 8, "elems": s.elems}


def pack_frames(plan: Plan, codes: np.ndarray, which: str, K) -> bytes:
    lay = stream_layout(plan, which)
    return K.pack_beats(np.asarray(codes).reshape(len(codes), -1), lay["bits"], lay["bipolar"], lay["per_word"],
                        lay["beat_bytes"]).tobytes()


__all__ = ["emit", "context", "stream_layout", "pack_words", "IntType"]
