"""Random cases of the lookup activation for the sweep top (tests/rtl/sweep.py): the
stand-alone edgec_lookup over inputs of 1 to 10 bits, the same problems as
tests/hls/cases_lookup.py, with the per-lane images the RTL backend writes (rtl_mem.lookup)."""
from __future__ import annotations

import numpy as np

LINT_PARAMS: dict[str, list[str]] = {
    "edgec_lookup.v": ["", "-GPE=2 -GC=6 -GIS=1 -GIB=5 -GOB=3", "-GIB=1 -GOB=1", "-GC=12 -GPE=4 -GIB=10 -GOB=8"],
}


def standalone_case(i: int, rng, steps: bool = False):
    from edgec.backend import rtl_mem
    from edgec.backend.stages import _hact

    from ..hls.cases_lookup import lookup_problem
    from .sweep import simple, words

    frames, vec = 2, int(rng.integers(1, 5))
    q = lookup_problem(rng, frames * vec, steps)
    a = _hact(q.act, q.pe, q.c // q.pe, q.ot.bits)
    p = dict(C=q.c, PE=q.pe, IB=q.it.bits, IS=int(q.it.signed), OB=a.ob)
    return simple(f"lookup c={q.c} pe={q.pe} in={q.it.bits}b{'s' * q.it.signed} out={a.ob}b"
                  f"{' bipolar' * q.ot.bipolar}{' signed steps' * steps}", "edgec_lookup", p, q.pe * q.it.bits,
                  q.pe * q.ot.bits, words(q.x, q.pe, q.it), words(q.expected, q.pe, q.ot), frames,
                  {"LFILE": rtl_mem.lookup(a.lanes(), a.ob)})


def make(rng) -> list:
    return [standalone_case(k, rng, steps=k % 2 == 1) for k in range(6)]


def make_seeded(seed: int) -> list:
    return make(np.random.default_rng([seed, 17]))
