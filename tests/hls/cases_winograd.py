"""Random cases of the Winograd kernels (hw/hls/edgec/winograd.h: wino_in, wino_out) and of
mvau with one weight set per tile position (SETS), for the HLS sweep
(tests/hls/kernel_cases.py); the problems are shared with the RTL sweep
(tests/rtl/cases_winograd.py). Expected outputs come from edgec/ir/winograd.py with numpy."""
from __future__ import annotations

import numpy as np

from edgec import dataflow as D

from edgec.backend.hls import CType, mvau_weights
from edgec.ir import ref
from edgec.ir import winograd as W
from edgec.ir.types import IntType


def code_range(t: CType) -> tuple[int, int]:
    if t.bipolar:
        return -1, 1
    it = IntType(t.bits, t.signed)
    return it.lo, it.hi


def linear_range(k: np.ndarray, lo: int, hi: int) -> tuple[int, int]:
    """The range of sum(k * x) over the last axes of k, every x in [lo, hi], over the rest."""
    k = k.reshape(k.shape[0], -1)
    return int(np.minimum(k * lo, k * hi).sum(axis=1).min()), int(np.maximum(k * lo, k * hi).sum(axis=1).max())


def wino_in_problem(i: int, rng, frames: int = 2) -> dict:
    """Tiles d (frames*tiles, n, n, C) of a random type and their transform V (.., P, C)."""
    from .kernel_cases import ctype_for, divisor, rand_codes, rand_type

    m, tiles = (2, 4)[i % 2], int(rng.integers(2, 5) if i % 2 == 0 else rng.integers(1, 3))
    c = int(rng.integers(1, 7))
    simd = divisor(rng, c)
    it = CType(1, True, True) if i == 1 else CType(int(rng.integers(2, 9)), True) if i == 2 else rand_type(rng)
    n = W.size(m)
    d = rand_codes(rng, it, (frames * tiles, n, n, c))
    k = W.input_coefficients(m)  # (P, n, n)
    return dict(m=m, tiles=tiles, c=c, simd=simd, it=it, d=d, v=np.einsum("pab,tabc->tpc", k, d),
                vt=ctype_for(*linear_range(k, *code_range(it))))


def wino_out_problem(i: int, rng, frames: int = 2) -> dict:
    """Per-position sums Mv (frames, TH, TW, P, MH) and the cropped raster output Y."""
    from .kernel_cases import ctype_for, divisor, rand_codes

    m = (2, 4)[i % 2]
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
    return dict(m=m, mh=mh, pe=pe, oh=oh, ow=ow, mt=mt, mv=mv, y=y,
                yt=ctype_for(*linear_range(k.reshape(m * m, -1), *code_range(mt))))


def mvau_sets_problem(i: int, rng, sets: int, frames: int = 2) -> dict:
    """Vectors x, weights (SETS, MH, MW); vector v uses set v mod SETS."""
    from .kernel_cases import ctype_for, divisor, rand_codes

    vec = sets * int(rng.integers(1, 3 if sets < 36 else 2))
    mw, mh = int(rng.integers(1, 7)), int(rng.integers(1, 5))
    pe, simd = divisor(rng, mh), divisor(rng, mw)
    xt, wt = CType(int(rng.integers(2, 7)), bool(rng.integers(0, 2))), CType(int(rng.integers(2, 8)), True)
    x = rand_codes(rng, xt, (frames * vec, mw))
    w = rand_codes(rng, wt, (sets, mh, mw))
    acc = np.stack([ref.matmul(x[v : v + 1], w[v % sets])[0] for v in range(frames * vec)])
    xlo, xhi = code_range(xt)
    bound = int(np.abs(w).sum(axis=2).max()) * max(abs(xlo), abs(xhi))
    return dict(kind=("LUT_MAC", "DSP_MAC")[i % 2], vec=vec, mw=mw, mh=mh, pe=pe, simd=simd, xt=xt, wt=wt, x=x, w=w,
                acc=acc, at=ctype_for(-bound, bound))


def make(rng, start: int) -> list:
    """Cases numbered from ``start`` (the case index is the kernel's counter id)."""
    from .kernel_cases import Case, _io, et, vt

    cases = []
    for k in range(4):
        i = start + len(cases)
        p = wino_in_problem(k, rng)
        n_tiles = len(p["d"])
        pre, post = _io(i, p["it"], p["simd"], p["d"], p["vt"], p["simd"])
        code = (f"{pre}\n    edgec::wino_in<{p['m']}, {p['c']}, {p['simd']}, {et(p['it'])}, {et(p['vt'])}, "
                f"{n_tiles}, {i}>(in, out, 1);\n    {post}")
        cases.append(Case(f"wino_in m={p['m']} c={p['c']} simd={p['simd']} {p['it']}", code, p["v"],
                          D.wino_in_cycles(p["m"], p["c"], p["simd"], n_tiles)))
    for k in range(4):
        i = start + len(cases)
        p = wino_out_problem(k, rng)
        m, mh, pe, oh, ow = p["m"], p["mh"], p["pe"], p["oh"], p["ow"]
        pre, post = _io(i, p["mt"], pe, p["mv"], p["yt"], pe)
        code = (f"{pre}\n    edgec::wino_out<{m}, {mh}, {pe}, {oh}, {ow}, {et(p['mt'])}, {et(p['yt'])}, {i}>"
                f"(in, out, {len(p['mv'])});\n    {post}")
        th, tw = p["mv"].shape[1], p["mv"].shape[2]
        cases.append(Case(f"wino_out m={m} mh={mh} pe={pe} {oh}x{ow}", code, p["y"],
                          len(p["mv"]) * D.wino_out_cycles(m, mh, pe, oh, ow, th, tw)))
    for k, sets in enumerate((4, 16)):
        i = start + len(cases)
        p = mvau_sets_problem(k, rng, sets)
        mw, mh, pe, simd = p["mw"], p["mh"], p["pe"], p["simd"]
        warr = mvau_weights(p["w"].reshape(sets * mh, mw), pe, simd, p["wt"], f"w{i}")
        decl = f"static const {warr.elem} w{i}[{pe}][{sets * (mh // pe) * (mw // simd)}] = {warr.init};"
        act = f"edgec::PassAct<{et(p['at'])} >"
        pre, post = _io(i, p["xt"], simd, p["x"], p["at"], pe)
        code = (f"{decl}\n    {pre}\n    edgec::mvau<{mw}, {mh}, {simd}, {pe}, edgec::{p['kind']}, {et(p['xt'])}, "
                f"{et(p['wt'])}, {vt(p['at'])}, {et(p['at'])}, {act}, {len(p['x'])}, {i}, {sets}>"
                f"(in, out, w{i}, {act}(), 1);\n    {post}")
        cases.append(Case(f"mvau sets={sets} mw={mw} mh={mh} pe={pe} simd={simd}", code, p["acc"],
                          D.mvau_cycles(len(p["x"]), mh, mw, pe, simd)))
    return cases
