"""Random cases of the U-Net kernels for the sweep top (tests/rtl/sweep.py): edgec_concat
(two inputs of random types, bipolar among them, widened to the joined type) and
edgec_upsample (whole factors, 1 among them; nearest and zero fill), edgec_slice (a split's channel
ranges) and edgec_pad (constant borders, widened), on the problems of tests/hls/cases_unet.py; and
edgec_fifo at depths that are not powers of two (the deep FIFO of a skip branch)."""
from __future__ import annotations

from ..hls.cases_unet import concat_problem, mul_problem, pad_problem, slice_problem, upsample_problem

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
    "edgec_slice.v": ["", "-GC=6 -GLO=3 -GHI=6 -GPE=3 -GPIXELS=5", "-GC=8 -GLO=0 -GHI=8 -GPE=8 -GPIXELS=1",
                      "-GC=4 -GLO=1 -GHI=2 -GB=1"],
    "edgec_pad.v": ["", "-GPT=0 -GPL=0 -GPB=0 -GPR=0 -GIB=1 -GIBIP=1 -GOB=2 -GVALUE=0",
                    "-GH=5 -GW=7 -GC=6 -GPE=2 -GPT=2 -GPL=0 -GPB=1 -GPR=3 -GIB=3 -GIS=1 -GOB=5 -GVALUE=29",
                    "-GH=1 -GW=1 -GPT=0 -GPL=1 -GPB=0 -GPR=0 -GIB=1 -GIBIP=1 -GOB=1 -GVALUE=1"],
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


def slice_case(i: int, rng):
    from .sweep import simple, words

    p = slice_problem(i, rng)
    c, lo, hi, pe, t = p["c"], p["lo"], p["hi"], p["pe"], p["t"]
    prm = dict(C=c, LO=lo, HI=hi, PE=pe, PIXELS=p["pixels"], B=t.bits)
    return simple(f"slice {p['pixels']}x{c}[{lo}:{hi}] pe={pe} {t.bits}b", "edgec_slice", prm, pe * t.bits,
                  pe * t.bits, words(p["x"], pe, t), words(p["y"], pe, t), p["frames"])


def pad_case(i: int, rng):
    from edgec.backend.stages import PARAMS
    from edgec.dataflow import PadP, StageKind

    from ..hls.cases_unet import ir_type
    from .sweep import simple, words

    p = pad_problem(i, rng)
    h, w, c, pad, pe, it, ot = p["h"], p["w"], p["c"], p["pad"], p["pe"], p["it"], p["ot"]
    word = PARAMS[StageKind.PAD](None, PadP(h, w, c, pad, p["value"], pe, ir_type(it), ir_type(ot)))[0]["word"]
    prm = dict(H=h, W=w, C=c, PT=pad[0], PL=pad[1], PB=pad[2], PR=pad[3], PE=pe, IB=it.bits, IS=int(it.signed),
               IBIP=int(it.bipolar), OB=ot.bits, VALUE=word)
    return simple(f"pad {h}x{w}x{c} {pad}={p['value']} pe={pe} {it.bits}b->{ot.bits}b", "edgec_pad", prm,
                  pe * it.bits, pe * ot.bits, words(p["x"], pe, it), words(p["y"], pe, ot), p["frames"])


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
             + [slice_case(i, rng) for i in range(6)] + [pad_case(i, rng) for i in range(6)]
             + [upsample_case(i, rng, "zero") for i in range(6)])
