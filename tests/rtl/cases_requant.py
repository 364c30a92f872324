"""Random cases of the requantizer for the sweep top (tests/rtl/sweep.py): edgec_mvau with
RQ = 1 (the Requant fused, every kernel kind) and the stand-alone edgec_requant over inputs
of 2 to 36 bits (one DSP48 per lane, or two), the same problems as
tests/hls/cases_requant.py, with the images the RTL backend writes (rtl_mem.requant)."""
from __future__ import annotations

import numpy as np

LINT_PARAMS: dict[str, list[str]] = {
    "edgec_requant.v": ["", "-GPE=2 -GC=4 -GIS=0 -GIB=5", "-GIB=30 -GBB=50 -GMB=12 -GOB=4 -GLO=-8 -GHI=7",
                        "-GIB=2 -GMB=1 -GBB=1 -GSHB=1 -GOB=8 -GC=3 -GPE=3", "-GSMIN=30 -GIB=12 -GBB=20",
                        "-GSMIN=40 -GIB=4 -GMB=4 -GBB=8 -GSHB=1", "-GSMIN=12 -GOB=2 -GLO=-2 -GHI=1"],
}
MVAU_LINT = ["-GKIND=3 -GXB=8 -GWB=8 -GAB=20 -GNT=0 -GOB=8 -GMW=8 -GSIMD=2 -GMH=4 -GPE=2 -GRQ=1 -GRQB=20",
             "-GKIND=0 -GXB=1 -GXBIP=1 -GWB=1 -GAB=5 -GNT=0 -GOB=3 -GLO=-4 -GHI=3 -GRQ=1 -GRQB=6 -GMB=4 -GBB=8 "
             "-GSHB=2"]


def _rq_params(q, pe: int) -> tuple[dict, dict]:
    from edgec.backend import rtl_mem

    a = q.act
    return (dict(MB=a.mb, BB=a.bb, SHB=a.shb, SMIN=a.smin, LO=a.lo, HI=a.hi),
            rtl_mem.requant(a.mult, a.bias, a.shift, pe, a.mb, a.bb, a.shb, a.smin))


def fused_case(i: int, rng):
    from edgec.backend import rtl_mem
    from edgec.ir.types import IntType

    from ..hls.cases_requant import expected, requant_problem
    from ..hls.kernel_cases import ctype_for, mvau_problem
    from .sweep import KINDS, simple, words

    vec, frames = int(rng.integers(1, 4)), 2
    m = mvau_problem(i, rng, frames * vec, max_mw=30, max_mh=10)
    q = requant_problem(rng, IntType(m.acct.bits, m.acct.signed), m.mh, m.acc)
    ot = ctype_for(q.ot.lo, q.ot.hi)
    rp, files = _rq_params(q, m.pe)
    p = dict(MW=m.mw, MH=m.mh, SIMD=m.simd, PE=m.pe, KIND=KINDS[m.kind], XB=m.xt.bits, XS=int(m.xt.signed),
             XBIP=int(m.xt.bipolar), WB=m.wt.bits, AB=m.acct.bits, VECTORS=vec, NT=0, CB=2, OB=ot.bits, RQ=1,
             RQB=q.act.xw, **rp)
    files["WFILE"] = rtl_mem.mvau_weights(m.w, m.pe, m.simd, m.wt.bits, m.wt.bipolar)
    return simple(f"mvau {m.kind} + requant mw={m.mw} mh={m.mh} pe={m.pe} simd={m.simd} acc={m.acct.bits}b "
                  f"out={ot.bits}b", "edgec_mvau", p, m.simd * m.xt.bits, m.pe * ot.bits, words(m.x, m.simd, m.xt),
                  words(expected(q, m.acc), m.pe, ot), frames, files)


def standalone_case(i: int, rng, wide: bool = False):
    from edgec.backend.stages import CType
    from edgec.ir.types import IntType

    from ..hls.cases_requant import expected, requant_problem
    from ..hls.kernel_cases import ctype_for, divisor, rand_codes
    from .sweep import simple, words

    frames, vec, c = 2, int(rng.integers(1, 5)), int(rng.integers(1, 9))
    pe = divisor(rng, c)
    bits = int(rng.integers(26, 37)) if wide else int(rng.integers(2, 25))
    signed = True if wide else bool(rng.integers(0, 2))
    it = CType(bits, signed)
    x = rand_codes(rng, it, (frames * vec, c))
    q = requant_problem(rng, IntType(bits, signed), c, x)
    ot = ctype_for(q.ot.lo, q.ot.hi)
    rp, files = _rq_params(q, pe)
    p = dict(C=c, PE=pe, IB=bits, IS=int(signed), OB=ot.bits, **rp)
    return simple(f"requant c={c} pe={pe} in={bits}b{'s' * signed} out={ot.bits}b", "edgec_requant", p, pe * bits,
                  pe * ot.bits, words(x, pe, it), words(expected(q, x), pe, ot), frames, files)


def make(rng) -> list:
    return ([fused_case(k, rng) for k in range(8)] + [standalone_case(k, rng) for k in range(4)]
            + [standalone_case(k, rng, wide=True) for k in range(3)])


def make_seeded(seed: int) -> list:
    return make(np.random.default_rng([seed, 18]))
