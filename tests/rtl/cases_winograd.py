"""Random cases of this family of hw/rtl kernels for the sweep top (tests/rtl/sweep.py): the
Winograd transforms edgec_wino_in and edgec_wino_out, and edgec_mvau with one weight set
per tile position (SETS). Expected outputs come from edgec/ir/winograd.py with numpy."""
from __future__ import annotations

import numpy as np

from edgec.backend import rtl_mem
from edgec.backend.hls import CType
from edgec.ir import ref
from edgec.ir import winograd as W
from edgec.ir.types import IntType

from ..hls.kernel_cases import ctype_for, divisor, rand_codes, rand_type

LINT_PARAMS: dict[str, list[str]] = {
    "edgec_wino_in.v": ["", "-GM=4 -GC=6 -GSIMD=3 -GIB=5 -GIS=1 -GVB=14 -GTILES=5",
                        "-GIBIP=1 -GIB=1 -GVB=5 -GC=4 -GSIMD=2 -GTILES=3", "-GM=4 -GIBIP=1 -GIB=1 -GVB=9",
                        "-GIB=8 -GVB=9 -GC=3"],
    "edgec_wino_out.v": ["", "-GM=4 -GMH=6 -GPE=3 -GMB=10 -GYB=18 -GOH=7 -GOW=5",
                         "-GM=2 -GMH=4 -GPE=2 -GMB=6 -GYB=10 -GOH=3 -GOW=1", "-GM=4 -GOH=1 -GOW=1 -GMB=4 -GYB=9",
                         "-GM=2 -GMH=3 -GOH=5 -GOW=6 -GMB=12 -GYB=16", "-GM=4 -GMH=2 -GPE=2 -GOH=8 -GOW=9"],
    # the full list of tests/rtl/test_rtl_kernels.py (merged with dict.update) and SETS
    "edgec_mvau.v": ["", "-GKIND=0 -GXB=1 -GXBIP=1 -GWB=1 -GNT=1 -GBIPOLAR=1 -GOB=1",
                     "-GKIND=1 -GXB=3 -GXS=1 -GWB=1 -GNT=3 -GOB=2 -GSIMD=2 -GPE=2",
                     "-GKIND=3 -GXB=8 -GWB=8 -GAB=20 -GCB=22 -GNT=0 -GOB=21 -GMW=8 -GSIMD=8 -GMH=1",
                     "-GKIND=2 -GXB=2 -GXS=1 -GWB=4 -GSIMD=4 -GMW=8 -GAB=6", "-GKIND=0 -GXB=2 -GWB=2",
                     "-GKIND=2 -GSETS=4 -GVECTORS=8 -GXB=4 -GXS=1 -GWB=6 -GAB=14 -GCB=15 -GOB=14 -GPE=2 -GSIMD=2",
                     "-GKIND=3 -GSETS=36 -GVECTORS=36 -GMW=1 -GMH=1 -GXB=9 -GXS=1 -GWB=9 -GAB=18 -GCB=19 -GOB=18"],
}


def code_range(t: CType) -> tuple[int, int]:
    if t.bipolar:
        return -1, 1
    it = IntType(t.bits, t.signed)
    return it.lo, it.hi


def linear_range(k: np.ndarray, lo: int, hi: int) -> tuple[int, int]:
    """The range of sum(k * x) over the last axes of k, every x in [lo, hi], over the rest."""
    k = k.reshape(k.shape[0], -1)
    return int(np.minimum(k * lo, k * hi).sum(axis=1).min()), int(np.maximum(k * lo, k * hi).sum(axis=1).max())


def wino_in_case(i: int, rng):
    from .sweep import simple, words

    frames, m, tiles = 2, (2, 4)[i % 2], int(rng.integers(2, 5) if i % 2 == 0 else rng.integers(1, 3))
    c = int(rng.integers(1, 7))
    simd = divisor(rng, c)
    it = CType(1, True, True) if i == 1 else CType(int(rng.integers(2, 9)), True) if i == 2 else rand_type(rng)
    n = W.size(m)
    d = rand_codes(rng, it, (frames * tiles, n, n, c))
    k = W.input_coefficients(m)  # (P, n, n)
    v = np.einsum("pab,tabc->tpc", k, d)
    vt = ctype_for(*linear_range(k, *code_range(it)))
    p = dict(M=m, C=c, SIMD=simd, IB=it.bits, IS=int(it.signed), IBIP=int(it.bipolar), VB=vt.bits, TILES=tiles)
    return simple(f"wino_in m={m} c={c} simd={simd} tiles={tiles} {it.bits}b{'s' if it.signed else ''} v={vt.bits}b",
                  "edgec_wino_in", p, simd * it.bits, simd * vt.bits, words(d, simd, it), words(v, simd, vt), frames)


def wino_out_case(i: int, rng):
    from .sweep import simple, words

    frames, m = 2, (2, 4)[i % 2]
    mh = int(rng.integers(1, 7))
    pe = divisor(rng, mh)
    oh, ow = int(rng.integers(1, 8)), int(rng.integers(1, 8))
    if i < 2:  # edge tiles cut in both directions
        oh, ow = m * int(rng.integers(1, 3)) + 1, m + int(rng.integers(1, m))
    th, tw, n = -(-oh // m), -(-ow // m), W.size(m)
    mt = CType(int(rng.integers(3, 11)), True)
    mv = rand_codes(rng, mt, (frames, th, tw, n * n, mh))
    k = W.output_coefficients(m)  # (m, m, P)
    y = np.einsum("rcp,ftxpo->ftrxco", k, mv).reshape(frames, th * m, tw * m, mh)[:, :oh, :ow]
    yt = ctype_for(*linear_range(k.reshape(m * m, -1), *code_range(mt)))
    p = dict(M=m, MH=mh, PE=pe, MB=mt.bits, YB=yt.bits, OH=oh, OW=ow)
    return simple(f"wino_out m={m} mh={mh} pe={pe} {oh}x{ow} m={mt.bits}b y={yt.bits}b", "edgec_wino_out", p,
                  pe * mt.bits, pe * yt.bits, words(mv, pe, mt), words(y, pe, yt), frames)


def mvau_sets_case(i: int, rng, sets: int):
    from .sweep import simple, words

    frames, vec = 2, sets * int(rng.integers(1, 3 if sets < 36 else 2))
    mw, mh = int(rng.integers(1, 7)), int(rng.integers(1, 5))
    pe, simd = divisor(rng, mh), divisor(rng, mw)
    kind = 2 + i % 2
    xt, wt = CType(int(rng.integers(2, 7)), bool(rng.integers(0, 2))), CType(int(rng.integers(2, 8)), True)
    x = rand_codes(rng, xt, (frames * vec, mw))
    w = rand_codes(rng, wt, (sets, mh, mw))
    acc = np.stack([ref.matmul(x[v : v + 1], w[v % sets])[0] for v in range(frames * vec)])
    xlo, xhi = code_range(xt)
    bound = int(np.abs(w).sum(axis=2).max()) * max(abs(xlo), abs(xhi))
    at = ctype_for(-bound, bound)
    p = dict(MW=mw, MH=mh, SIMD=simd, PE=pe, KIND=kind, XB=xt.bits, XS=int(xt.signed), XBIP=0, WB=wt.bits,
             AB=at.bits, VECTORS=vec, SETS=sets, NT=0, CB=at.bits + 1, OB=at.bits)
    files = {"WFILE": rtl_mem.mvau_weights(w.reshape(sets * mh, mw), pe, simd, wt.bits, False)}
    return simple(f"mvau sets={sets} vec={vec} mw={mw} mh={mh} pe={pe} simd={simd} kind={kind}", "edgec_mvau", p,
                  simd * xt.bits, pe * at.bits, words(x, simd, xt), words(acc, pe, at), frames, files)


def make(rng) -> list:
    cases = [wino_in_case(i, rng) for i in range(6)]
    cases += [wino_out_case(i, rng) for i in range(6)]
    cases += [mvau_sets_case(i, rng, s) for i, s in enumerate((4, 16, 36))]
    return cases
