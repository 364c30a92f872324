"""Random cases of this family of hw/rtl kernels for the sweep top (tests/rtl/sweep.py): the
Winograd transforms edgec_wino_in and edgec_wino_out, and edgec_mvau with one weight set
per tile position (SETS), on the problems of tests/hls/cases_winograd.py."""
from __future__ import annotations

from edgec.backend import rtl_mem

from ..hls.cases_winograd import mvau_sets_problem, wino_in_problem, wino_out_problem

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


def wino_in_case(i: int, rng):
    from .sweep import simple, words

    p = wino_in_problem(i, rng)
    m, c, simd, it, vt, tiles = p["m"], p["c"], p["simd"], p["it"], p["vt"], p["tiles"]
    prm = dict(M=m, C=c, SIMD=simd, IB=it.bits, IS=int(it.signed), IBIP=int(it.bipolar), VB=vt.bits, TILES=tiles)
    return simple(f"wino_in m={m} c={c} simd={simd} tiles={tiles} {it.bits}b{'s' if it.signed else ''} v={vt.bits}b",
                  "edgec_wino_in", prm, simd * it.bits, simd * vt.bits, words(p["d"], simd, it),
                  words(p["v"], simd, vt), 2)


def wino_out_case(i: int, rng):
    from .sweep import simple, words

    p = wino_out_problem(i, rng)
    m, mh, pe, oh, ow, mt, yt = p["m"], p["mh"], p["pe"], p["oh"], p["ow"], p["mt"], p["yt"]
    prm = dict(M=m, MH=mh, PE=pe, MB=mt.bits, YB=yt.bits, OH=oh, OW=ow)
    return simple(f"wino_out m={m} mh={mh} pe={pe} {oh}x{ow} m={mt.bits}b y={yt.bits}b", "edgec_wino_out", prm,
                  pe * mt.bits, pe * yt.bits, words(p["mv"], pe, mt), words(p["y"], pe, yt), 2)


def mvau_sets_case(i: int, rng, sets: int):
    from .sweep import simple, words

    p = mvau_sets_problem(i, rng, sets)
    mw, mh, pe, simd, xt, wt, at = p["mw"], p["mh"], p["pe"], p["simd"], p["xt"], p["wt"], p["at"]
    prm = dict(MW=mw, MH=mh, SIMD=simd, PE=pe, KIND=2 + i % 2, XB=xt.bits, XS=int(xt.signed), XBIP=0, WB=wt.bits,
               AB=at.bits, VECTORS=p["vec"], SETS=sets, NT=0, CB=at.bits + 1, OB=at.bits)
    files = {"WFILE": rtl_mem.mvau_weights(p["w"].reshape(sets * mh, mw), pe, simd, wt.bits, False)}
    return simple(f"mvau sets={sets} vec={p['vec']} mw={mw} mh={mh} pe={pe} simd={simd} kind={prm['KIND']}",
                  "edgec_mvau", prm, simd * xt.bits, pe * at.bits, words(p["x"], simd, xt), words(p["acc"], pe, at), 2,
                  files)


def make(rng) -> list:
    cases = [wino_in_case(i, rng) for i in range(6)]
    cases += [wino_out_case(i, rng) for i in range(6)]
    cases += [mvau_sets_case(i, rng, s) for i, s in enumerate((4, 16, 36))]
    return cases
