"""Random cases of this family of hw/hls kernels (tests/hls/kernel_cases.py): the sparse
matrix-vector-activation unit (hw/hls/edgec/smvau.h) on weight streams of
edgec/backend/hls.py:sparse_stream, with 0%, 50% and 90% sparsity, an all-zero row (and
an all-zero neuron fold), LUT- and DSP-like widths, signed, unsigned and bipolar inputs,
thresholds, and four weight sets."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# (name, widths, density, input, sets, zero rows, non-negative weights, PE > 1, SIMD > 1)
VARIANTS = [
    ("dense lut", "lut", 1.0, "int", 1, False, False, False, False),
    ("50% dsp", "dsp", 0.5, "int", 1, False, False, True, True),
    ("90% lut bipolar", "lut", 0.1, "bipolar", 1, False, False, False, True),
    ("zero row", "lut", 0.5, "int", 1, True, False, True, False),
    ("sets=4 dsp", "dsp", 0.5, "int", 4, False, False, True, False),
    ("unsigned acc", "lut", 0.5, "uint", 1, False, True, False, False),
    ("sets=4 90% bipolar", "lut", 0.1, "bipolar", 4, True, False, False, True),
]


@dataclass
class SparseProblem:
    name: str
    mw: int
    mh: int
    pe: int
    simd: int
    in_e: int
    sets: int
    xt: object  # CType
    wt: object  # CType (signed, WB >= 2)
    x: np.ndarray  # (vectors, MW)
    w: np.ndarray  # (SETS*MH, MW); set s is rows s*MH ..
    acc: np.ndarray  # (vectors, MH): ir/ref.py's matmul, vector v on set v mod SETS
    lo: int
    hi: int
    acct: object  # CType of the accumulator
    words: list  # sparse_stream's words
    cp: list  # weight words per set

    @property
    def ixb(self) -> int:
        from edgec.dataflow import index_bits

        return index_bits(self.mw)

    @property
    def width(self) -> int:
        return self.pe * self.simd * (self.wt.bits + self.ixb) + 1

    def cycles(self) -> int:
        ld = self.mw // self.in_e
        return sum(max(ld, self.cp[v % self.sets]) for v in range(len(self.x)))


def sparse_problem(rng, variant, vectors, max_mw=40, max_mh=12) -> SparseProblem:
    """A random sparse problem; ``vectors(sets)`` gives the number of input vectors."""
    from edgec.backend.stages import CType
    from edgec.backend.words import sparse_stream
    from edgec.ir import ref
    from edgec.ir.types import IntType

    from .kernel_cases import ctype_for, divisor, rand_codes, rand_type

    name, widths, density, inp, sets, zero, nonneg, pe2, simd2 = variant
    mw, mh = int(rng.integers(1, max_mw + 1)), int(rng.integers(1, max_mh + 1))
    if pe2:
        mh = 2 * int(rng.integers(1, max_mh // 2 + 1))
        pe = int(rng.choice([d for d in range(2, mh + 1) if mh % d == 0]))
    else:
        pe = divisor(rng, mh)
    simd, in_e = int(rng.integers(2 if simd2 else 1, 5)), divisor(rng, mw)
    if widths == "lut":
        xt, wt = rand_type(rng, 2, 4), CType(int(rng.integers(2, 5)), True)
    else:
        xt, wt = rand_type(rng, 5, 8), CType(int(rng.integers(5, 9)), True)
    if inp == "bipolar":
        xt = CType(1, True, True)
    elif inp == "uint":
        xt = CType(xt.bits, False)
    v = vectors(sets)
    x = rand_codes(rng, xt, (v, mw))
    w = rand_codes(rng, wt, (sets * mh, mw))
    if nonneg:
        w = np.abs(w).clip(0, 2 ** (wt.bits - 1) - 1)
    w = w * (rng.random(w.shape) < density)
    if zero:
        w[int(rng.integers(0, sets * mh))] = 0
        if sets * mh // pe >= 3:  # a whole neuron fold: one word of padding
            g = int(rng.integers(0, sets * mh // pe))
            w[g * pe:(g + 1) * pe] = 0
    acc = np.stack([ref.matmul(x[i:i + 1], w[(i % sets) * mh:(i % sets + 1) * mh])[0] for i in range(v)])
    if xt.bipolar:
        xlo, xhi = -1, 1
    else:
        it = IntType(xt.bits, xt.signed)
        xlo, xhi = it.lo, it.hi
    lo = int(np.minimum(w * xlo, w * xhi).sum(axis=1).min())
    hi = int(np.maximum(w * xlo, w * xhi).sum(axis=1).max())
    words, steps = sparse_stream(w, pe, simd, wt.bits)
    nf = mh // pe
    cp = [int(steps[s * nf:(s + 1) * nf].sum()) for s in range(sets)]
    return SparseProblem(name, mw, mh, pe, simd, in_e, sets, xt, wt, x, w, acc, lo, hi, ctype_for(lo, hi), words, cp)


def sparse_case(i, rng, variant, steps: bool = False):
    """``steps`` (a variant of one weight set): always an activation, with signed steps."""
    from edgec.backend.hls import _literal
    from edgec.ir import ref

    from .kernel_cases import Case, _io, act_decl, et, some_thresholds

    p = sparse_problem(rng, variant, lambda sets: sets * int(rng.integers(1, 4)))
    decl = (f"static const edgec::rom_word<{p.width}>::type w{i}[{len(p.words)}] = "
            f"{{{', '.join(_literal(int(v), p.width) for v in p.words)}}};")
    if p.sets == 1 and (steps or rng.integers(0, 3)):
        thr, sign, out_lo, bipolar, ot, st = some_thresholds(rng, p.lo, p.hi, p.mh, steps, p.acc)
        act_t, adecl = act_decl(i, thr, sign, p.pe, p.acct.bits, out_lo, bipolar, ot, st)
        expected = ref.multi_threshold(p.acc, thr, sign, out_lo, bipolar, st)
        act = f"act{i}"
    else:
        ot, act_t, adecl, expected = p.acct, f"edgec::PassAct<{et(p.acct)} >", "", p.acc
        act = f"{act_t}()"
    pre, post = _io(i, p.xt, p.in_e, p.x, ot, p.pe)
    code = (f"{decl}\n    {adecl}\n    {pre}\n    edgec::smvau<{p.mw}, {p.mh}, {p.pe}, {p.simd}, {p.in_e}, {et(p.xt)}, "
            f"{p.wt.bits}, {p.ixb}, {p.acct.bits}, {et(ot)}, {act_t}, {p.sets}, {len(p.words)}, {len(p.x)}, {i}>"
            f"(in, out, w{i}, {act}, 1);\n    {post}")
    return Case(f"smvau {p.name} mw={p.mw} mh={p.mh} pe={p.pe} simd={p.simd} in_e={p.in_e} sets={p.sets} x={p.xt} "
                f"w={p.wt} acc={p.acct} steps={p.cp}{' signed steps' * steps}", code, expected, p.cycles())


def make(rng, start: int) -> list:
    """Cases numbered from ``start`` (the case index is the kernel's counter id)."""
    return [sparse_case(start + k, rng, v) for k, v in enumerate(VARIANTS)]


STEPS_VARIANTS = [v for v in VARIANTS if v[4] == 1][:3]  # one weight set: the activation is the unit's


def make_steps(rng, start: int) -> list:
    """The variants of one weight set with an activation of signed steps."""
    return [sparse_case(start + k, rng, v, steps=True) for k, v in enumerate(STEPS_VARIANTS)]
