"""yosys against the cost model on stand-alone instances of the stream stages: slice, pad,
the zero-fill upsample, the elementwise product (mul) and the requantizer (edgec_requant,
the Requant activation), over PE, widths, channel ranges and borders.

    .venv/bin/python benchmarks/stage_fits.py [--kinds slice pad upsample mul requant] [--out DIR]

Each instance is one `synth_xilinx -family xc7` run of its hw/rtl module (edgec.synth.Job,
as `edgec synth` runs a build's stages); the table gives yosys's LUT, FF and DSP beside
edgec/cost/hw.py's estimate for the same parameters, and the worst ratio per kind.
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np

from edgec import dataflow as D
from edgec.cost.hw import RESOURCES
from edgec.ir.types import IntType
from edgec.synth import Job, yosys

HW = Path(__file__).resolve().parents[1] / "hw" / "rtl"


def _stage(kind, p, out_t, per_word, elems):
    return D.Stage(0, kind, "s", "s", "s", [], [D.Stream("o", out_t, per_word, elems)], 0, p)


def slice_cases():
    for c, lo, hi, pe, pixels, bits in ((8, 0, 4, 1, 16, 4), (8, 4, 8, 4, 64, 4), (32, 0, 16, 2, 256, 8),
                                         (64, 16, 48, 16, 64, 2), (12, 3, 9, 3, 1024, 8), (6, 0, 3, 1, 8, 1)):
        t = IntType(bits, True)
        p = D.SliceP(c, lo, hi, pe, pixels, t)
        yield (f"slice c={c}[{lo}:{hi}] pe={pe} px={pixels} {bits}b", "edgec_slice",
               dict(C=c, LO=lo, HI=hi, PE=pe, PIXELS=pixels, B=bits),
               _stage(D.StageKind.SLICE, p, t, pe, pixels * (hi - lo)))


def pad_cases():
    for h, w, c, pad, pe, ib, ob in ((8, 8, 4, (1, 1, 1, 1), 1, 4, 4), (16, 16, 8, (0, 1, 1, 0), 4, 4, 5),
                                     (32, 32, 16, (2, 2, 2, 2), 2, 8, 8), (1, 64, 8, (0, 3, 0, 3), 8, 2, 3),
                                     (4, 4, 2, (1, 0, 0, 0), 1, 8, 9), (64, 64, 32, (1, 1, 1, 1), 16, 4, 4)):
        it, ot = IntType(ib, True), IntType(ob, True)
        p = D.PadP(h, w, c, pad, 0, pe, it, ot)
        elems = (h + pad[0] + pad[2]) * (w + pad[1] + pad[3]) * c
        yield (f"pad {h}x{w}x{c} {pad} pe={pe} {ib}b->{ob}b", "edgec_pad",
               dict(H=h, W=w, C=c, PT=pad[0], PL=pad[1], PB=pad[2], PR=pad[3], PE=pe, IB=ib, IS=1, OB=ob, VALUE=0),
               _stage(D.StageKind.PAD, p, ot, pe, elems))


def upsample_cases():
    for h, w, c, f, pe, b in ((4, 4, 8, (2, 2), 1, 4), (8, 8, 16, (2, 2), 4, 4), (16, 16, 8, (2, 2), 2, 8),
                              (1, 32, 4, (1, 2), 4, 2), (8, 8, 32, (3, 3), 8, 4), (32, 32, 16, (2, 2), 16, 8)):
        t = IntType(b, True)
        p = D.UpsampleP(h, w, c, f, pe, t, "zero", 0)
        yield (f"upsample zero {h}x{w}x{c} x{f[0]}x{f[1]} pe={pe} {b}b", "edgec_upsample",
               dict(H=h, W=w, C=c, FH=f[0], FW=f[1], PE=pe, B=b, ZERO=1, ZV=0),
               _stage(D.StageKind.UPSAMPLE, p, t, pe, h * w * f[0] * f[1] * c))


def mul_cases():
    for c, pe, gate, (ab, as_), (bb, bs) in ((8, 1, True, (4, 0), (4, 0)), (16, 4, True, (4, 0), (8, 0)),
                                             (8, 2, False, (3, 1), (5, 1)), (32, 8, True, (2, 0), (4, 0)),
                                             (16, 2, True, (8, 1), (8, 0)), (4, 4, False, (6, 0), (6, 0))):
        at, bt = IntType(ab, bool(as_)), IntType(bb, bool(bs))
        ot = IntType(ab + bb + 1, True)
        p = D.MulP(c, pe, 16, gate, at, bt, ot)
        yield (f"mul{' gate' * gate} c={c} pe={pe} {ab}b{'s' * as_}*{bb}b{'s' * bs}", "edgec_mul",
               dict(PE=pe, CF=c // pe, GATE=int(gate), AB=ab, AS=as_, BB=bb, BS=bs, OB=ot.bits),
               _stage(D.StageKind.MUL, p, ot, pe, 16 * c))


def requant_cases():
    """Requantizers of C channels over IB-bit accumulators, their multipliers, biases and
    shifts from ir/requant.py on random ratios (images written to a temporary folder)."""
    from edgec.backend import rtl_mem
    from edgec.ir.graph import Node
    from edgec.ir.ops import Op
    from edgec.ir.requant import params

    mem = Path(tempfile.mkdtemp(prefix="edgec-rq-"))
    rng = np.random.default_rng(18)
    for k, (c, pe, ib, ob) in enumerate(((16, 1, 20, 8), (32, 4, 24, 8), (64, 8, 16, 4), (8, 2, 32, 8),
                                         (16, 16, 12, 8), (128, 4, 22, 8), (256, 1, 18, 8), (4, 4, 30, 6),
                                         (64, 1, 26, 8), (32, 2, 14, 4), (512, 8, 20, 8), (48, 3, 20, 5),
                                         (10, 10, 24, 8), (96, 2, 36, 8))):
        it, ot = IntType(ib, True), IntType(ob, False)
        a = 2.0 ** (ob - ib + rng.uniform(-3.0, 3.0, size=c))  # BN-folded ratios over 64x
        q = params(a, rng.uniform(0, 2**ob, size=c), 1.0, int(ot.lo), int(ot.hi))
        node = Node("rq", Op.REQUANT, ["x"], (c,), ot, {"lo": q["lo"], "hi": q["hi"]},
                    {key: q[key] for key in ("mult", "bias", "shift")})
        act = D.requant_act(node, it)
        pm = dict(C=c, PE=pe, IB=ib, IS=1, OB=ob, MB=act.mb, BB=act.bb, SHB=act.shb, SMIN=act.smin, LO=act.lo,
                  HI=act.hi)
        for key, lines in rtl_mem.requant(act.mult, act.bias, act.shift, pe, act.mb, act.bb, act.shb,
                                          act.smin).items():
            rtl_mem.write(mem / f"{k}_{key}.mem", lines)
            pm[key] = {"mem": str(mem / f"{k}_{key}.mem")}
        p = D.ThresholdP(c, pe, 16, it, ot, act)
        yield (f"requant c={c} pe={pe} {ib}b->{ob}b", "edgec_requant", pm,
               _stage(D.StageKind.THRESHOLD, p, ot, pe, 16 * c))


KINDS = {"slice": slice_cases, "pad": pad_cases, "upsample": upsample_cases, "mul": mul_cases,
         "requant": requant_cases}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kinds", nargs="+", choices=list(KINDS), default=list(KINDS))
    ap.add_argument("--out", help="work folder (default: a new temp dir); results are cached there")
    args = ap.parse_args()
    work = Path(args.out or tempfile.mkdtemp(prefix="edgec-fits-"))
    rtl = work / "rtl"
    rtl.mkdir(parents=True, exist_ok=True)
    if (rtl / "lib").is_symlink():
        (rtl / "lib").unlink()
    (rtl / "lib").symlink_to(HW)
    exe = yosys()
    print("| instance | LUT | est. | FF | est. | DSP | est. |\n|---|---|---|---|---|---|---|")
    for kind in args.kinds:
        worst = []
        for i, (name, module, params, st) in enumerate(KINDS[kind]()):
            r = Job(f"{kind}{i}", module, params, rtl, work).run(exe)
            est = RESOURCES[st.kind](st)
            worst.append(max(est.LUT / max(r["LUT"], 1), max(r["LUT"], 1) / max(est.LUT, 1)))
            print(f"| {name} | {r['LUT']} | {est.LUT:.0f} | {r['FF']} | {est.FF:.0f} | {r['DSP']} | {est.DSP:.0f} |",
                  flush=True)
        print(f"| **{kind}: worst LUT ratio** | {max(worst):.2f} | | | | | |", flush=True)


if __name__ == "__main__":
    main()
