"""Random cases of the U-Net kernels for the sweep top (tests/rtl/sweep.py): edgec_concat
(two inputs of random types, bipolar among them, widened to the joined type) and
edgec_upsample (whole factors, 1 among them; nearest and zero fill), on the problems of tests/hls/cases_unet.py;
and edgec_fifo at depths that are not powers of two (the deep FIFO of a skip branch)."""
from __future__ import annotations

from ..hls.cases_unet import concat_problem, mul_problem, upsample_problem

LINT_PARAMS: dict[str, list[str]] = {
    "edgec_concat.v": ["", "-GC1=6 -GC2=3 -GPE=3 -GAB=3 -GAS=1 -GBB=5 -GOB=6",
                       "-GC1=1 -GC2=7 -GABIP=1 -GAB=1 -GAS=1 -GBB=4 -GBS=1 -GOB=4",
                       "-GC1=4 -GC2=4 -GPE=4 -GABIP=1 -GAB=1 -GAS=1 -GBBIP=1 -GBB=1 -GBS=1 -GOB=1",
                       "-GC1=8 -GC2=8 -GPE=8 -GAB=8 -GBB=8 -GOB=8"],
    "edgec_upsample.v": ["", "-GH=1 -GW=1 -GC=1 -GFH=1 -GFW=1", "-GH=5 -GW=7 -GC=6 -GPE=2 -GFH=3 -GFW=1 -GB=1",
                         "-GH=4 -GW=3 -GC=8 -GPE=8 -GFH=1 -GFW=4 -GB=3", "-GH=16 -GW=16 -GC=4 -GFH=2 -GFW=2",
                         "-GH=3 -GW=5 -GC=4 -GPE=2 -GFH=2 -GFW=2 -GB=4 -GZERO=1 -GZV=9",
                         "-GH=1 -GW=1 -GC=1 -GFH=1 -GFW=1 -GZERO=1"],
    "edgec_mul.v": ["", "-GGATE=1", "-GGATE=1 -GCF=5 -GPE=2 -GAB=3 -GAS=1 -GBB=5 -GOB=9",
                    "-GCF=3 -GPE=4 -GAB=8 -GAS=1 -GBB=8 -GBS=1 -GOB=16"],
}


def mul_case(i: int, rng):
    from .sweep import Port, RtlCase, lasts, words

    p = mul_problem(i, rng)
    c, pe, at, bt, ot, frames = p["c"], p["pe"], p["at"], p["bt"], p["ot"], p["frames"]
    prm = dict(PE=pe, CF=c // pe, GATE=int(p["gate"]), AB=at.bits, AS=int(at.signed), BB=bt.bits,
               BS=int(bt.signed), OB=ot.bits)
    return RtlCase(f"mul{' gate' * p['gate']} {p['pixels']}x{c} pe={pe} {at.bits}b*{bt.bits}b->{ot.bits}b",
                   "edgec_mul", prm,
                   [Port("a", pe * at.bits, words(p["a"], pe, at), lasts(p["a"].size // pe, frames)),
                    Port("b", pe * bt.bits, words(p["b"], pe, bt), lasts(p["b"].size // pe, frames))],
                   [Port("m", pe * ot.bits, words(p["y"], pe, ot), lasts(p["y"].size // pe, frames))])


def concat_case(i: int, rng):
    from .sweep import Port, RtlCase, lasts, words

    p = concat_problem(i, rng)
    c1, c2, pe, at, bt, ot, frames = p["c1"], p["c2"], p["pe"], p["at"], p["bt"], p["ot"], p["frames"]
    prm = dict(C1=c1, C2=c2, PE=pe, AB=at.bits, AS=int(at.signed), ABIP=int(at.bipolar), BB=bt.bits,
               BS=int(bt.signed), BBIP=int(bt.bipolar), OB=ot.bits)
    return RtlCase(f"concat c={c1}+{c2} pe={pe} {at.bits}b|{bt.bits}b->{ot.bits}b", "edgec_concat", prm,
                   [Port("a", pe * at.bits, words(p["a"], pe, at), lasts(len(p["a"].ravel()) // pe, frames)),
                    Port("b", pe * bt.bits, words(p["b"], pe, bt), lasts(len(p["b"].ravel()) // pe, frames))],
                   [Port("m", pe * ot.bits, words(p["y"], pe, ot), lasts(p["y"].size // pe, frames))])


def upsample_case(i: int, rng, fill: str = "nearest"):
    from .sweep import simple, words

    p = upsample_problem(i, rng, fill=fill)
    h, w, c, fh, fw, pe, t = p["h"], p["w"], p["c"], p["fh"], p["fw"], p["pe"], p["t"]
    prm = dict(H=h, W=w, C=c, FH=fh, FW=fw, PE=pe, B=t.bits)
    name = f"upsample {h}x{w}x{c} x{fh}x{fw} pe={pe} {t.bits}b"
    if fill == "zero":  # the zero code as a B-bit word (two's complement for a signed type)
        prm.update(ZERO=1, ZV=p["value"] % (1 << t.bits))
        name += f" zero={p['value']}"
    return simple(name, "edgec_upsample", prm, pe * t.bits, pe * t.bits, words(p["x"], pe, t), words(p["y"], pe, t),
                  p["frames"])


def fifo_case(depth: int, rng):
    """A FIFO whose depth is not a power of two (a branch into a join beyond 512 words:
    dataflow.fifo_depth), filled past its depth under backpressure."""
    from .sweep import Port, RtlCase

    width, n = int(rng.integers(1, 12)), 3 * depth + 5
    w = [int(v) for v in rng.integers(0, 2**width, size=n)]
    la = [int(v) for v in rng.integers(0, 2, size=n)]
    return RtlCase(f"edgec_fifo depth={depth} {width}b", "edgec_fifo", dict(W=width, DEPTH=depth),
                   [Port("s", width, w, la)], [Port("m", width, w, la)])


def make(rng) -> list:
    return ([concat_case(i, rng) for i in range(8)] + [upsample_case(i, rng) for i in range(8)]
            + [fifo_case(d, rng) for d in (3, 12, 1536)] + [mul_case(i, rng) for i in range(6)]
            + [upsample_case(i, rng, "zero") for i in range(6)])
