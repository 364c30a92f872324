"""Random cases of the lookup activation (a MultiThreshold held as a table of every input
value's code, dataflow.LutAct; edgec::threshold with a Lookup<> activation): inputs of 1
to 10 bits, signed or not, thresholds that only rise and signed steps, bipolar outputs,
PE lanes. The table is dataflow.lookup_act's; ``expected`` is ir/ref.py's multi_threshold
of the same thresholds, so a case holds the table against the op's meaning."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgec import dataflow as D
from edgec.backend.hls import lookup_init
from edgec.backend.stages import CType, HLut, _hact
from edgec.ir import ref
from edgec.ir.graph import Node
from edgec.ir.ops import Op
from edgec.ir.types import Bipolar, IntType

from .kernel_cases import Case, _io, divisor, et, rand_codes, some_thresholds


@dataclass
class LookupProblem:
    c: int
    pe: int
    it: CType
    ot: CType
    x: np.ndarray  # (vectors, c) input codes
    act: D.LutAct
    expected: np.ndarray


def lookup_problem(rng, vectors: int, steps: bool) -> LookupProblem:
    c = int(rng.integers(1, 9))
    pe = divisor(rng, c)
    signed = bool(rng.integers(0, 2))
    bits = int(rng.integers(2 if signed else 1, 11))
    it = CType(bits, signed)
    x = rand_codes(rng, it, (vectors, c))
    t = IntType(bits, signed)
    thr, sign, out_lo, bipolar, ot, st = some_thresholds(rng, int(t.lo), int(t.hi), c, steps, x)
    params = {"thresholds": thr, "sign": sign, **({"steps": st} if st is not None else {})}
    node = Node("lut", Op.MULTI_THRESHOLD, ["x"], (c,), Bipolar() if bipolar else IntType(ot.bits, ot.signed),
                {"out_lo": out_lo, "bipolar": bipolar, "form": "lookup"}, params)
    act = D.lookup_act(node, t)
    return LookupProblem(c, pe, it, ot, x, act, ref.multi_threshold(x, thr, sign, out_lo, bipolar, st))


def hls_act(i: int, q: LookupProblem) -> tuple[str, str]:
    """(C++ type, declaration act<i>) of the activation, as the HLS backend writes it."""
    a = _hact(q.act, q.pe, q.c // q.pe, q.ot.bits)
    assert isinstance(a, HLut)
    lookup_init(a)
    t = f"edgec::Lookup<{a.pe}, {a.nf}, {a.ib}, {'true' if a.signed else 'false'}, {a.ob + 1}, {et(q.ot)} >"
    return t, f"static const {t} act{i} = {a.init};"


def standalone_case(i: int, rng, steps: bool = False) -> Case:
    vec = int(rng.integers(1, 5))
    q = lookup_problem(rng, vec, steps)
    act_t, adecl = hls_act(i, q)
    pre, post = _io(i, q.it, q.pe, q.x, q.ot, q.pe)
    code = (f"{adecl}\n    {pre}\n    edgec::threshold<{q.c}, {q.pe}, {et(q.it)}, {et(q.ot)}, {act_t}, {vec}, {i}>"
            f"(in, out, act{i}, 1);\n    {post}")
    it, ot = IntType(q.it.bits, q.it.signed), Bipolar() if q.ot.bipolar else IntType(q.ot.bits, q.ot.signed)
    return Case(f"lookup stage c={q.c} pe={q.pe} in={q.it} out={q.ot}{' signed steps' * steps}", code, q.expected,
                D.CYCLES[D.StageKind.THRESHOLD](D.ThresholdP(q.c, q.pe, vec, it, ot, q.act)))


def make(rng, first: int) -> list[Case]:
    return [standalone_case(first + k, rng, steps=k % 2 == 1) for k in range(8)]
