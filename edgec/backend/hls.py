"""Dataflow plan -> typed HLS render context -> templates/hls/*.j2 (+ the hw/hls library).

OUT/hls/ holds: top.h, top.cpp (one stage per dataflow stage, AXI4-Stream in and out,
s_axilite control), weights.h (packed constant arrays), tb.cpp (the C++ testbench),
build_hls.tcl (Vitis HLS), edgec/ (a copy of hw/hls/edgec), compat/ (a stand-in for the
vendor's ap_axi_sdata.h, for g++ only) and data/ (test vectors).
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import resources
from ..version import __version__
from ..dataflow import Plan, Stage, StageKind
from ..errors import EdgecError
from ..ir.types import Bipolar, IntType
from .render import render
from .stages import TOP, CType, HAct, HLut, HRq, HStage, HStream, Stages, activation
from .words import pack_words


@dataclass
class HArray:
    """A constant array: C++ element type, dims, and its initializer (nested braces)."""
    name: str
    elem: str
    dims: list[int]
    init: str


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


def _literals(width: int):
    """_literal for words of ``width`` bits, as one function (the fast form when they fit 64 bits)."""
    return "0x{:x}ULL".format if width <= 64 else lambda v: _literal(int(v), width)


def _braces(a, fmt) -> str:
    """A C initializer of nested braces, one level per axis; ``fmt`` formats each element."""
    if isinstance(a, np.ndarray) and a.ndim >= 1 and a.size:  # the leaves formatted at once, then grouped by axis
        parts = [fmt(x) for x in a.ravel().tolist()]
        for k in reversed(a.shape):
            parts = ["{" + ", ".join(parts[i : i + k]) + "}" for i in range(0, len(parts), k)]
        return parts[0]
    if isinstance(a, np.ndarray) and a.ndim > 1 or isinstance(a, list) and a and isinstance(a[0], (list, np.ndarray)):
        return "{" + ", ".join(_braces(x, fmt) for x in a) + "}"
    return "{" + ", ".join(fmt(x) for x in a) + "}"


def mvau_weights(weight: np.ndarray, pe: int, simd: int, wt: CType, name: str) -> HArray:
    """W[pe][nf * SF + sf]: SIMD weights of output channel nf*PE + pe, inputs sf*SIMD + s."""
    mh, mw = weight.shape
    nf, sf = mh // pe, mw // simd
    w = weight.reshape(nf, pe, sf, simd).transpose(1, 0, 2, 3).reshape(pe, nf * sf, simd)
    width = simd * wt.bits
    words = np.array(pack_words(w, wt.bits, wt.bipolar), dtype=object).reshape(pe, nf * sf)
    return HArray(name, f"edgec::rom_word<{width}>::type", [pe, nf * sf], _braces(words, _literals(width)))


def _partitions(h: HStage) -> list[tuple[str, int]]:
    """The constant arrays of a stage that the top splits completely: the thresholds of its
    activation by PE lane (dim 1) and threshold (dim 3), the negation flags by lane, the
    falling-step flags of signed steps like the thresholds, a depthwise stage's weights by
    lane. (The mvau partitions its own weights by PE.)"""
    acts = []
    if h.kind in ("mvau", "smvau", "threshold") and isinstance(h.act, HRq):
        return [(f"act_{h.id}.{k}", 1) for k in ("m", "b", "s")]
    if isinstance(h.act, HLut):
        return [(f"act_{h.id}.l", 1)]
    if h.kind in ("mvau", "smvau", "threshold") and h.act is not None and h.act.nt is not None:
        acts.append(f"act_{h.id}")
    out = []
    if h.kind == "window" and h.p["op"] == "depthwise":
        out.append((f"op_{h.id}.w", 1))
        if h.act.nt is not None:
            acts.append(f"op_{h.id}.act")
    for a in acts:
        out += [(f"{a}.t", 1), (f"{a}.t", 3), (f"{a}.neg", 1)]
        if h.act.steps is not None:
            out += [(f"{a}.dn", 1), (f"{a}.dn", 3)]
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


def thresholds_act(thr: np.ndarray, sign: np.ndarray, pe: int, acc_bits: int, out_lo: int, bipolar: bool,
                   steps: np.ndarray | None = None) -> HAct:
    """Thresholds<PE, NF, NT, CB, ...>: t[pe][nf][i] of channel nf*PE + pe (with signed
    steps: dn[pe][nf][i], set where the step falls), with its C++ initializer."""
    return _with_init(activation(thr, sign, pe, acc_bits, out_lo, bipolar, steps))


def requant_init(a: HRq) -> HRq:
    """Requant<...>'s initializer: m, b, s [pe][nf] of channel nf*PE + pe (s: the shift
    beyond SMIN)."""
    a.init = "{" + ", ".join(_braces(np.asarray(v, np.int64).reshape(a.nf, a.pe).T, str)
                             for v in (a.mult, a.bias, np.asarray(a.shift) - a.smin)) + "}"
    return a


def lookup_init(a: HLut) -> HLut:
    """Lookup<...>'s initializer: l[pe][nf * 2^ib + j], the code of channel nf*PE + pe at
    the input's j-th value (bipolar: +-1)."""
    t = np.asarray(a.table, np.int64)
    a.init = "{" + _braces(t.reshape(a.nf, a.pe, -1).transpose(1, 0, 2).reshape(a.pe, -1), str) + "}"
    return a


def _with_init(a: HAct | HRq | HLut) -> HAct | HRq | HLut:
    if isinstance(a, HRq):
        return requant_init(a)
    if isinstance(a, HLut):
        return lookup_init(a)
    if a.nt is not None:
        t = a.table.reshape(a.nf, a.pe, a.nt).transpose(1, 0, 2)
        neg = (a.sign < 0).astype(np.int64).reshape(a.nf, a.pe).T
        dn = ""
        if a.steps is not None:
            dn = ", " + _braces((a.steps < 0).astype(np.int64).reshape(a.nf, a.pe, a.nt).transpose(1, 0, 2), str)
        a.init = "{" + _braces(t, str) + ", " + _braces(neg, str) + dn + "}"
    return a


def _mvau_rom(st: Stage, p: dict) -> HArray:
    return mvau_weights(st.p.weight, p["pe"], p["simd"], p["wt"], f"w_{st.id}")


def _smvau_rom(st: Stage, p: dict) -> HArray:
    width = p["width"]
    return HArray(f"w_{st.id}", f"edgec::rom_word<{width}>::type", [len(p["words"])],
                  _braces(p["words"], _literals(width)))


def _window_rom(st: Stage, p: dict) -> HArray | None:
    return (HArray(f"dw_{st.id}", "", [p["pe"], p["cf"], p["k"]], _braces(p["dw"], str))
            if p["op"] == "depthwise" else None)


def _none(st: Stage, p: dict) -> None:
    return None


# per stage kind: its macro in templates/hls/calls.j2 (None: not a call in the dataflow
# region) and its constant array (tests/test_tables.py: every kind has an entry)
HLS = {
    StageKind.AXIS_IN: ("axis_in", _none), StageKind.AXIS_OUT: ("axis_out", _none), StageKind.DWC: ("dwc", _none),
    StageKind.DUP: ("dup", _none), StageKind.SWG: ("swg", _none), StageKind.MVAU: ("mvau", _mvau_rom),
    StageKind.SMVAU: ("smvau", _smvau_rom), StageKind.WINDOW: ("window", _window_rom), StageKind.ADD: ("add", _none),
    StageKind.CONCAT: ("concat", _none), StageKind.UPSAMPLE: ("upsample", _none), StageKind.MUL: ("mul", _none),
    StageKind.SLICE: ("slice", _none), StageKind.PAD: ("pad", _none),
    StageKind.THRESHOLD: ("threshold", _none), StageKind.WINO_IN: ("wino_in", _none),
    StageKind.WINO_OUT: ("wino_out", _none), StageKind.FIFO: (None, _none),  # FIFOs: the STREAM pragma of a stream
}


def hls_stage(c: Stages, st: Stage) -> HStage:
    """A stage's render context with its C++: constant arrays, activation initializer and
    the arrays the top partitions."""
    if HLS.get(st.kind, (None,))[0] is None:
        raise EdgecError(f"stage '{st.name}': the HLS backend has no kernel call for stage kind '{st.kind}'")
    h = c.stage(st)
    if h.act is not None:
        _with_init(h.act)
    h.macro, rom = HLS[st.kind]
    h.weights = rom(st, h.p)
    h.partition = _partitions(h)
    return h


def context(plan: Plan, board, tb_frames: int) -> HlsContext:
    c = Stages(plan)
    stages = [hls_stage(c, st) for st in plan.stages]
    internal = [c.s(s) for s in plan.streams]
    first, last = plan.stages[0], plan.stages[-1]
    return HlsContext(TOP, __version__, board.part, 1000.0 / board.clock_mhz, CType.of(plan.in_stream.type),
                      CType.of(plan.out_stream.type), plan.in_stream.per_word, plan.out_stream.per_word,
                      first.p.beat_bits, last.p.beat_bits, plan.in_stream.words, plan.out_stream.words,
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
            "per_word": s.per_word, "beat_bytes": st.p.beat_bits // 8, "elems": s.elems}


def pack_frames(plan: Plan, codes: np.ndarray, which: str, K) -> bytes:
    lay = stream_layout(plan, which)
    return K.pack_beats(np.asarray(codes).reshape(len(codes), -1), lay["bits"], lay["bipolar"], lay["per_word"],
                        lay["beat_bytes"]).tobytes()


__all__ = ["emit", "context", "hls_stage", "stream_layout", "mvau_weights", "thresholds_act", "TOP", "CType", "HStream",
           "IntType"]
