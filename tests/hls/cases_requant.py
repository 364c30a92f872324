"""Random cases of the requantizer activation (the IR's Requant, edgec::Requant): fused
into an mvau of every kernel kind, and stand-alone (edgec::threshold with a Requant<>
activation) over inputs up to 36 bits, so that the product takes one DSP48 or two. The
parameters come from edgec.ir.requant.params on random ratios and offsets (some of them
tiny, so that the shift reaches 40, one of them 0, some negative); ``expected`` is
ir/ref.py's requant."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgec import dataflow as D
from edgec.backend.hls import requant_init
from edgec.backend.stages import HRq, _hact
from edgec.ir import ref
from edgec.ir.graph import Node
from edgec.ir.ops import Op
from edgec.ir.requant import params as requant_params
from edgec.ir.types import IntType

from .kernel_cases import Case, _io, et, mvau_problem, rand_codes, vt


@dataclass
class RequantProblem:
    act: D.RqAct
    mult: np.ndarray
    bias: np.ndarray
    shift: np.ndarray
    lo: int
    hi: int
    ot: IntType


def requant_problem(rng, in_type: IntType, c: int, values: np.ndarray | None = None) -> RequantProblem:
    """A Requant of ``c`` channels over ``in_type`` mapping most of the values' range onto a
    random output type of 2 to 8 bits (signed or not), as the lowering would make it."""
    bits = int(rng.integers(2, 9))
    ot = IntType(bits, bool(rng.integers(0, 2)))
    lo, hi = int(ot.lo), int(ot.hi)
    vlo, vhi = (int(values.min()), int(values.max())) if values is not None and values.size else (in_type.lo,
                                                                                                 in_type.hi)
    span = max(vhi - vlo, 1)
    a = (hi - lo + 1) / span * rng.uniform(0.3, 3.0, size=c) * rng.choice([-1, 1], size=c, p=[0.3, 0.7])
    k = rng.random(c)
    a = np.where(k < 0.1, rng.uniform(1e-12, 1e-9, size=c), a)  # a shift of 40
    if c > 1:
        a[int(rng.integers(0, c))] = 0.0
    c0 = rng.uniform(-(hi - lo) / 2, (hi - lo) / 2, size=c) - a * (vlo + vhi) / 2
    p = requant_params(a, c0, 1.0, lo, hi)
    assert p is not None
    node = Node("rq", Op.REQUANT, ["x"], (c,), ot, {"lo": p["lo"], "hi": p["hi"]},
                {k: p[k] for k in ("mult", "bias", "shift")})
    return RequantProblem(D.requant_act(node, in_type), p["mult"], p["bias"], p["shift"], p["lo"], p["hi"], ot)


def expected(q: RequantProblem, x: np.ndarray) -> np.ndarray:
    return ref.requant(np.asarray(x), q.mult, q.bias, q.shift, q.lo, q.hi)


def hls_act(i: int, q: RequantProblem, pe: int, ot) -> tuple[str, str]:
    """(C++ type, declaration act<i>) of the activation, as the HLS backend writes it."""
    a = _hact(q.act, pe, q.act.c // pe)
    assert isinstance(a, HRq)
    requant_init(a)
    t = f"edgec::Requant<{a.pe}, {a.nf}, {a.xw}, {a.mb}, {a.bb}, {a.shb}, {a.smin}, {a.lo}, {a.hi}, {et(ot)} >"
    return t, f"static const {t} act{i} = {a.init};"


def fused_case(i: int, rng) -> Case:
    from edgec.backend.hls import mvau_weights

    from .kernel_cases import ctype_for

    vec = int(rng.integers(1, 4))
    m = mvau_problem(i, rng, vec)
    acc_t = IntType(m.acct.bits, m.acct.signed)
    q = requant_problem(rng, acc_t, m.mh, m.acc)
    ot = ctype_for(q.ot.lo, q.ot.hi)
    warr = mvau_weights(m.w, m.pe, m.simd, m.wt, f"w{i}")
    decl = f"static const {warr.elem} w{i}[{m.pe}][{(m.mh // m.pe) * (m.mw // m.simd)}] = {warr.init};"
    act_t, adecl = hls_act(i, q, m.pe, ot)
    kenum = {"xnor-popcount": "XNOR_POPCOUNT", "binary-addsub": "BINARY_ADDSUB", "lut-mac": "LUT_MAC",
             "dsp-mac": "DSP_MAC"}[m.kind]
    pre, post = _io(i, m.xt, m.simd, m.x, ot, m.pe)
    code = (f"{decl}\n    {adecl}\n    {pre}\n    edgec::mvau<{m.mw}, {m.mh}, {m.simd}, {m.pe}, edgec::{kenum}, "
            f"{et(m.xt)}, {et(m.wt)}, {vt(m.acct)}, {et(ot)}, {act_t}, {vec}, {i}>(in, out, w{i}, act{i}, 1);\n"
            f"    {post}")
    return Case(f"mvau {m.kind} + requant mw={m.mw} mh={m.mh} pe={m.pe} simd={m.simd} acc={m.acct} out={ot}",
                code, expected(q, m.acc), D.mvau_cycles(vec, m.mh, m.mw, m.pe, m.simd))


def standalone_case(i: int, rng, wide: bool = False) -> Case:
    """edgec::threshold with a Requant<> activation; ``wide``: an input of 26 to 36 bits."""
    from .kernel_cases import ctype_for, divisor

    vec, c = int(rng.integers(1, 5)), int(rng.integers(1, 9))
    pe = divisor(rng, c)
    bits = int(rng.integers(26, 37)) if wide else int(rng.integers(2, 25))
    it_ = IntType(bits, bool(rng.integers(0, 2)) if not wide else True)
    it = ctype_for(it_.lo, it_.hi) if it_.signed else ctype_for(0, it_.hi)
    x = rand_codes(rng, it, (vec, c))
    q = requant_problem(rng, it_, c, x)
    ot = ctype_for(q.ot.lo, q.ot.hi)
    act_t, adecl = hls_act(i, q, pe, ot)
    pre, post = _io(i, it, pe, x, ot, pe)
    code = (f"{adecl}\n    {pre}\n    edgec::threshold<{c}, {pe}, {et(it)}, {et(ot)}, {act_t}, {vec}, {i}>"
            f"(in, out, act{i}, 1);\n    {post}")
    return Case(f"requant stage c={c} pe={pe} in={it} out={ot} shifts={q.shift.tolist()}", code, expected(q, x),
                D.CYCLES[D.StageKind.THRESHOLD](D.ThresholdP(c, pe, vec, it_, q.ot, q.act)))


def make(rng, first: int) -> list[Case]:
    makers = [fused_case] * 8 + [standalone_case] * 4
    cases = [m(first + k, rng) for k, m in enumerate(makers)]
    n = first + len(cases)
    return cases + [standalone_case(n + k, rng, wide=True) for k in range(3)]
