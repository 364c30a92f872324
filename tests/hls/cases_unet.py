"""Random cases of the U-Net kernels (hw/hls/edgec/eltwise.h: concat, upsample.h: upsample),
of the squeeze-and-excitation product (eltwise.h: mul, with a per-channel gate or of
two maps) and of a split's channel range and a constant pad (eltwise.h: slice, pad.h: pad)
for the HLS sweep (tests/hls/kernel_cases.py); the problems are shared with the RTL sweep
(tests/rtl/cases_unet.py). Expected outputs come from edgec/ir/ref.py (Op.CONCAT,
Op.UPSAMPLE nearest and zero fill, Op.SLICE, Op.PAD), several frames per case so that every counter wraps."""
from __future__ import annotations

import numpy as np

from edgec import dataflow as D
from edgec.backend.hls import CType
from edgec.ir import ref
from edgec.ir.ops import Op
from edgec.ir.types import Bipolar, IntType, join_type, window_type


def ir_type(t: CType):
    return Bipolar() if t.bipolar else IntType(t.bits, t.signed)


def concat_problem(i: int, rng, frames: int = 2) -> dict:
    """Two (frames*pixels, C1) and (.., C2) maps of random types (bipolar among them), PE
    dividing both, and their concatenation in the joined type (ir/types.py: join_type)."""
    from .kernel_cases import divisor, rand_codes, rand_type

    pixels, c1, c2 = int(rng.integers(1, 5)), int(rng.integers(1, 9)), int(rng.integers(1, 9))
    if i == 0:  # a rank-1 join of two vectors (one pixel) with a wide common PE
        pixels, c1, c2 = 1, 4 * int(rng.integers(1, 4)), 4 * int(rng.integers(1, 3))
    pe = divisor(rng, int(np.gcd(c1, c2)))
    at = CType(1, True, True) if i == 1 else rand_type(rng)
    bt = CType(1, True, True) if i in (1, 2) else rand_type(rng)
    ot = CType.of(join_type(ir_type(at), ir_type(bt)))
    a = rand_codes(rng, at, (frames * pixels, c1))
    b = rand_codes(rng, bt, (frames * pixels, c2))
    return dict(pixels=pixels, c1=c1, c2=c2, pe=pe, at=at, bt=bt, ot=ot, a=a, b=b, frames=frames,
                y=ref.RULES[Op.CONCAT](None, [a, b]))


def upsample_problem(i: int, rng, frames: int = 2, fill: str = "nearest") -> dict:
    """A (frames, H, W, C) map of a random type, whole factors (1 among them) and PE; for
    zero fill (a transposed convolution's zero insertion) an integer type and a random
    code of it as the zero code (a zero point)."""
    from .kernel_cases import divisor, rand_codes, rand_type

    h, w, c = int(rng.integers(1, 5)), int(rng.integers(1, 6)), int(rng.integers(1, 7))
    fh, fw = [(2, 2), (1, 3), (3, 1), (1, 1)][i] if i < 4 else (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    pe = c if i == 5 else divisor(rng, c)
    t = rand_type(rng, 2) if fill == "zero" else rand_type(rng)
    x = rand_codes(rng, t, (frames, h, w, c))
    value = 0 if fill == "nearest" or i % 2 == 0 else int(rand_codes(rng, t, ()))
    node = type("N", (), {"attrs": {"factor": (fh, fw), "fill": fill, "value": value}})()
    return dict(h=h, w=w, c=c, fh=fh, fw=fw, pe=pe, t=t, x=x, frames=frames, fill=fill, value=value,
                y=ref.RULES[Op.UPSAMPLE](node, [x]))


def mul_problem(i: int, rng, frames: int = 2) -> dict:
    """A (frames, pixels, C) map times a gate (frames, 1, C) (even i) or a map of its shape,
    random types (no bipolar: ir/check.py refuses a bipolar Mul), the product's type."""
    from .kernel_cases import divisor, rand_codes, rand_type
    from .kernel_cases import ctype_for

    pixels, c = int(rng.integers(1, 6)), int(rng.integers(1, 9))
    gate = i % 2 == 0
    pe = c if i == 2 else divisor(rng, c)
    at, bt = rand_type(rng, 2, 8), rand_type(rng, 2, 8)
    a = rand_codes(rng, at, (frames, pixels, c))
    b = rand_codes(rng, bt, (frames, 1 if gate else pixels, c))
    y = ref.RULES[Op.MUL](None, [a, b])
    ot = ctype_for(min(int(y.min()), -1), max(int(y.max()), 1))
    return dict(pixels=pixels, c=c, pe=pe, gate=gate, at=at, bt=bt, ot=ot, a=a, b=b, frames=frames, y=y)


def slice_problem(i: int, rng, frames: int = 2) -> dict:
    """A (frames*pixels, C) map of a random type (bipolar among them) and a channel range
    [lo, hi) with PE dividing C, lo and hi: the first and the last channels, the whole map
    and one channel among them."""
    from .kernel_cases import divisor, rand_codes, rand_type

    pixels, pe = int(rng.integers(1, 5)), int(rng.integers(1, 4))
    cf = int(rng.integers(1, 6))
    lo, hi = [(0, 1), (cf - 1, cf), (0, cf)][i] if i < 3 else tuple(sorted(rng.choice(cf + 1, 2, replace=False)))
    if i == 3:
        pe = 1
    t = CType(1, True, True) if i == 4 else rand_type(rng)
    c, lo, hi = cf * pe, int(lo) * pe, int(hi) * pe
    x = rand_codes(rng, t, (frames * pixels, c))
    node = type("N", (), {"attrs": {"lo": lo, "hi": hi}})()
    pe = pe if i == 3 else divisor(rng, int(np.gcd.reduce([c, lo, hi])))
    return dict(pixels=pixels, c=c, lo=lo, hi=hi, pe=pe, t=t, x=x, frames=frames, y=ref.RULES[Op.SLICE](node, [x]))


def pad_problem(i: int, rng, frames: int = 2) -> dict:
    """A (frames, H, W, C) map of a random type (bipolar among them, padded with +-1 or 0),
    random borders (none, one side only among them), a code the output type holds."""
    from .kernel_cases import divisor, rand_codes, rand_type

    h, w, c = int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 6))
    pad = [(0, 0, 0, 0), (0, 1, 0, 0), (2, 0, 1, 3)][i] if i < 3 else tuple(int(v) for v in rng.integers(0, 3, 4))
    pe = c if i == 2 else divisor(rng, c)
    t = CType(1, True, True) if i in (3, 4) else rand_type(rng, 2)
    it = ir_type(t)
    if t.bipolar:
        value = 1 if i == 3 else 0
    else:
        value = int(rng.integers(it.lo - 3, it.hi + 4))
    ot = CType.of(window_type(it, value))
    x = rand_codes(rng, t, (frames, h, w, c))
    node = type("N", (), {"attrs": {"pad": pad, "value": value}})()
    return dict(h=h, w=w, c=c, pad=pad, value=value, pe=pe, it=t, ot=ot, x=x, frames=frames,
                y=ref.RULES[Op.PAD](node, [x]))


def _one_input(i: int, p: dict, it: CType, ot: CType, call: str, name: str, kind, record, tail: str = ""):
    """The case of a kernel of one input stream and one output stream, both of PE = p["pe"]
    elements a word: ``call`` the kernel's name and template arguments up to its ID,
    ``tail`` those after it."""
    from .kernel_cases import Case, _io

    pre, post = _io(i, it, p["pe"], p["x"], ot, p["pe"])
    code = f"{pre}\n    edgec::{call}, {i}{tail}>(in, out, {p['frames']});\n    {post}"
    return Case(name, code, p["y"], p["frames"] * D.CYCLES[kind](record))


def make(rng, start: int) -> list:
    from .kernel_cases import Case, _io, arr, et

    cases = []
    for k in range(8):
        i = start + len(cases)
        p = concat_problem(k, rng)
        c1, c2, pe, at, bt, ot, frames = p["c1"], p["c2"], p["pe"], p["at"], p["bt"], p["ot"], p["frames"]
        pre, post = _io(i, at, pe, p["a"], ot, pe, sin="ina")
        pre_b = (f"{arr(f'y{i}', p['b'])}\n    hls::stream<ap_uint<{pe * bt.bits}> > inb;\n"
                 f"    push<{pe}, {et(bt)} >(inb, y{i}, {p['b'].size});")
        code = (f"{pre}\n    {pre_b}\n    edgec::concat<{c1}, {c2}, {pe}, {et(at)}, {et(bt)}, {et(ot)}, {p['pixels']}, "
                f"{i}>(ina, inb, out, {frames});\n    {post}")
        cases.append(Case(f"concat c={c1}+{c2} pe={pe} {at}|{bt}->{ot}", code, p["y"],
                          frames * D.CYCLES[D.StageKind.CONCAT](D.ConcatP(c1, c2, pe, p["pixels"], ir_type(at),
                                                                          ir_type(bt), ir_type(ot)))))
    for k in range(8):
        cases.append(upsample_case(start + len(cases), upsample_problem(k, rng)))
    for k in range(6):
        i = start + len(cases)
        p = mul_problem(k, rng)
        c, pe, at, bt, ot, frames = p["c"], p["pe"], p["at"], p["bt"], p["ot"], p["frames"]
        pre, post = _io(i, at, pe, p["a"], ot, pe, sin="ina")
        pre_b = (f"{arr(f'y{i}', p['b'])}\n    hls::stream<ap_uint<{pe * bt.bits}> > inb;\n"
                 f"    push<{pe}, {et(bt)} >(inb, y{i}, {p['b'].size});")
        code = (f"{pre}\n    {pre_b}\n    edgec::mul<{c}, {pe}, {et(at)}, {et(bt)}, {et(ot)}, {p['pixels']}, "
                f"{'true' if p['gate'] else 'false'}, {i}>(ina, inb, out, {frames});\n    {post}")
        cases.append(Case(f"mul{' gate' * p['gate']} {p['pixels']}x{c} pe={pe} {at}*{bt}->{ot}", code, p["y"],
                          frames * D.CYCLES[D.StageKind.MUL](D.MulP(c, pe, p["pixels"], p["gate"], ir_type(at),
                                                                    ir_type(bt), ir_type(ot)))))
    for k in range(6):  # after the others: they keep their random draws
        p = slice_problem(k, rng)
        c, lo, hi, pe, t = p["c"], p["lo"], p["hi"], p["pe"], p["t"]
        cases.append(_one_input(start + len(cases), p, t, t, f"slice<{c}, {lo}, {hi}, {pe}, {et(t)}, {p['pixels']}",
                                f"slice {p['pixels']}x{c}[{lo}:{hi}] pe={pe} {t}", D.StageKind.SLICE,
                                D.SliceP(c, lo, hi, pe, p["pixels"], ir_type(t))))
    for k in range(6):
        p = pad_problem(k, rng)
        h, w, c, pad, pe, it, ot = p["h"], p["w"], p["c"], p["pad"], p["pe"], p["it"], p["ot"]
        cases.append(_one_input(start + len(cases), p, it, ot,
                                f"pad<{h}, {w}, {c}, {', '.join(map(str, pad))}, {pe}, {et(it)}, {et(ot)}, "
                                f"{p['value']}",
                                f"pad {h}x{w}x{c} {pad}={p['value']} pe={pe} {it}->{ot}", D.StageKind.PAD,
                                D.PadP(h, w, c, pad, p["value"], pe, ir_type(it), ir_type(ot))))
    for k in range(6):  # zero fill, after the other draws
        cases.append(upsample_case(start + len(cases), upsample_problem(k, rng, fill="zero")))
    return cases


def upsample_case(i: int, p: dict):
    from .kernel_cases import et

    h, w, c, fh, fw, pe, t = p["h"], p["w"], p["c"], p["fh"], p["fw"], p["pe"], p["t"]
    zero = p["fill"] == "zero"
    return _one_input(i, p, t, t, f"upsample<{h}, {w}, {c}, {fh}, {fw}, {pe}, {et(t)}",
                      f"upsample {h}x{w}x{c} x{fh}x{fw} pe={pe} {t}" + (f" zero={p['value']}" if zero else ""),
                      D.StageKind.UPSAMPLE, D.UpsampleP(h, w, c, (fh, fw), pe, ir_type(t), p["fill"], p["value"]),
                      f", 1, {p['value']}" if zero else "")
