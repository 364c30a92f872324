"""The one slow, obvious integer meaning of every IR op (see ir/ops.py for contracts).

Arrays are int64 (AffineQuant computes in float64), batch first, channels last. These
functions favour plain loops over speed: the simulator's kernels are tested against
them, and every pass must leave ``run`` unchanged on the graph output.
"""
from __future__ import annotations

import numpy as np

from . import winograd as W
from ..errors import EdgecError
from .graph import Graph, Node
from .ops import Op


def sliding_window(x, kernel, stride, pad, pad_value):
    n, h, w, c = x.shape
    (kh, kw), (sh, sw), (pt, pl, pb, pr) = kernel, stride, pad
    xp = np.full((n, h + pt + pb, w + pl + pr, c), pad_value, dtype=np.int64)
    xp[:, pt : pt + h, pl : pl + w, :] = x
    oh, ow = (h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1
    out = np.zeros((n, oh, ow, kh * kw * c), dtype=np.int64)
    for oy in range(oh):
        for ox in range(ow):
            out[:, oy, ox, :] = xp[:, oy * sh : oy * sh + kh, ox * sw : ox * sw + kw, :].reshape(n, -1)
    return out


def matmul(x, weight, groups=1):
    x = x.astype(np.int64)
    mh = weight.shape[0]
    out = np.zeros(x.shape[:-1] + (mh,), dtype=np.int64)
    if groups == 1:
        for o in range(mh):
            out[..., o] = (x * weight[o]).sum(axis=-1)
    else:  # depthwise: input (..., K, C), output channel o reads channel o
        xr = x.reshape(x.shape[:-1] + (-1, groups))
        for o in range(mh):
            out[..., o] = (xr[..., :, o] * weight[o]).sum(axis=-1)
    return out


def winograd(x, weight, m, pad, pad_value):
    n = m + 2
    bt, at = W.BT[m].tolist(), W.AT[m].tolist()
    geo = W.geometry(x.shape[1], x.shape[2], pad, m)
    xp = sliding_window(x, (1, 1), (1, 1), geo["tile_pad"], pad_value)
    mh = weight.shape[1]
    out = np.zeros((x.shape[0], geo["th"] * m, geo["tw"] * m, mh), dtype=np.int64)
    for ty in range(geo["th"]):
        for tx in range(geo["tw"]):
            d = xp[:, ty * m : ty * m + n, tx * m : tx * m + n, :]  # (N, n, n, C)
            v = np.zeros(d.shape, dtype=np.int64)
            for i in range(n):
                for j in range(n):
                    for a in range(n):
                        for b in range(n):
                            v[:, i, j] += bt[i][a] * bt[j][b] * d[:, a, b]
            mm = np.zeros((x.shape[0], n, n, mh), dtype=np.int64)
            for i in range(n):
                for j in range(n):
                    mm[:, i, j] = matmul(v[:, i, j], weight[i * n + j])
            for y in range(m):
                for xx in range(m):
                    for i in range(n):
                        for j in range(n):
                            out[:, ty * m + y, tx * m + xx] += at[y][i] * at[xx][j] * mm[:, i, j]
    return out[:, : geo["oh"], : geo["ow"]]


def xnor_popcount(x, weight):
    out = np.zeros(x.shape[:-1] + (weight.shape[0],), dtype=np.int64)
    for o in range(weight.shape[0]):
        out[..., o] = (x == weight[o]).sum(axis=-1)
    return out


ROUNDING = ("half_up", "half_even", "half_away", "half_down", "floor", "ceil", "up", "down")


def round_to_int(v, mode="half_up"):
    """Round float64 ``v`` to integers. half_up: ties toward +inf (edgec's own rule);
    half_even: ties to even; half_away / half_down: ties away from / toward zero;
    floor, ceil; up / down: away from / toward zero (docs/numerics.md)."""
    mag = np.abs(v)
    if mode == "half_up":
        return np.floor(v + 0.5)
    if mode == "half_even":
        return np.rint(v)
    if mode == "half_away":
        return np.sign(v) * np.floor(mag + 0.5)
    if mode == "half_down":
        return np.sign(v) * np.ceil(mag - 0.5)
    if mode == "floor":
        return np.floor(v)
    if mode == "ceil":
        return np.ceil(v)
    if mode == "up":
        return np.sign(v) * np.ceil(mag)
    if mode == "down":
        return np.sign(v) * np.floor(mag)
    raise ValueError(f"unknown rounding mode {mode!r}")


def qlinear_float32(acc, offset, mul, div, zero_point, lo, hi):
    """onnxruntime's requantization (AffineQuant ``arith: float32_qlinear``, docs/int8_onnx.md):
    v = float32(float32(float32(acc + offset) * mul) / div), out = clip(rint(v) + zero_point, lo, hi),
    every step in float32 and rint half to even, as its QLinear kernels compute it (``mul`` is
    float32(x_s * w_s / y_s) there and ``div`` 1; ``mul`` x_s and ``div`` y_s for a
    DequantizeLinear -> QuantizeLinear of codes). ``offset``, ``mul``, ``div``: per channel (the
    last axis). Monotone in ``acc`` for positive ``mul`` and ``div``."""
    k = (np.asarray(acc, np.int64) + np.asarray(offset, np.int64)).astype(np.float32)
    v = (k * np.asarray(mul, np.float32)).astype(np.float32) / np.asarray(div, np.float32)
    return np.clip(np.rint(v.astype(np.float32)).astype(np.int64) + int(zero_point), lo, hi).astype(np.int64)


def affine_quant(acc, a, c0, scale, lo, hi, bipolar, zero_point=0.0, rounding="half_up", act=None, act_args=None,
                 arith=None, f32=None, requant=None):
    """The quantizer after an accumulator: float64 ``clip(round(f(acc * a + c0) / scale + zero_point))``, or
    with ``arith == "float32_qlinear"`` onnxruntime's float32 rule of ``f32`` = (offset, mul, div), or with
    ``requant`` (M's multiple) the integer Requant rule of ir/requant.py for these a, c0, scale."""
    if requant is not None:
        from . import requant as rq

        p = rq.params(a, c0, scale, lo, hi, act, act_args, requant)
        return requant_rule(acc, p)
    if arith == "float32_qlinear":
        return qlinear_float32(acc, *f32, zero_point, lo, hi)
    if arith is not None:
        raise ValueError(f"unknown AffineQuant arith {arith!r}")
    z = acc.astype(np.float64) * a + c0
    if act is not None:  # the activation between the accumulator and the quantizer (ir/act.py)
        from .act import apply

        z = apply(act, z, act_args)
    if bipolar:
        v = z if zero_point == 0 else z / scale + zero_point
        return np.where(v >= 0, 1, -1).astype(np.int64)
    return np.clip(round_to_int(z / scale + zero_point, rounding), lo, hi).astype(np.int64)


def requant_rule(acc, p):
    return requant(acc, p["mult"], p["bias"], p["shift"], p["lo"], p["hi"])


def float32_params(n: Node):
    """(offset, mul, div) of a float32_qlinear AffineQuant, else None."""
    return tuple(n.params[k] for k in ("offset", "mul", "div")) if n.attrs.get("arith") else None


def multi_threshold(x, thresholds, sign, out_lo, bipolar, steps=None):
    out = np.zeros(x.shape, dtype=np.int64)
    for c in range(x.shape[-1]):
        v = sign[c] * x[..., c].astype(np.int64)
        hit = v[..., None] >= thresholds[c]
        count = hit.sum(axis=-1) if steps is None else (hit * steps[c]).sum(axis=-1)
        out[..., c] = 2 * count - 1 if bipolar else out_lo + count
    return out


def requant(x, mult, bias, shift, lo, hi):
    out = np.zeros(x.shape, dtype=np.int64)
    for c in range(x.shape[-1]):
        v = x[..., c].astype(np.int64) * int(mult[c]) + int(bias[c])
        out[..., c] = np.clip(v // (1 << int(shift[c])), lo, hi)
    return out


def max_pool(x, kernel, stride, pad, pad_value):
    n, h, w, c = x.shape
    win = sliding_window(x, kernel, stride, pad, pad_value)
    return win.reshape(win.shape[:3] + (-1, c)).max(axis=3)


def avg_pool(x, kernel, stride):
    n, h, w, c = x.shape
    win = sliding_window(x, kernel, stride, (0, 0, 0, 0), 0)
    k = kernel[0] * kernel[1]
    s = win.reshape(win.shape[:3] + (k, c)).sum(axis=3)
    return (2 * s + k) // (2 * k)


def add(a, b, shift):
    """(a << sa) + (b << sb): the codes of two scales a power of two apart on the finer one."""
    return (a.astype(np.int64) << shift[0]) + (b.astype(np.int64) << shift[1])


def upsample(x, factor, fill="nearest", value=0):
    n, h, w, c = x.shape
    out = np.zeros((n, h * factor[0], w * factor[1], c), dtype=np.int64)
    for y in range(h * factor[0]):
        for xx in range(w * factor[1]):
            if fill == "nearest" or (y % factor[0] == 0 and xx % factor[1] == 0):
                out[:, y, xx] = x[:, y // factor[0], xx // factor[1]]
            else:  # zero insertion: the code of real 0
                out[:, y, xx] = value
    return out


def pad(x, pad, value):
    n, h, w, c = x.shape
    pt, pl, pb, pr = pad
    out = np.full((n, h + pt + pb, w + pl + pr, c), value, dtype=np.int64)
    for y in range(h):
        for xx in range(w):
            out[:, pt + y, pl + xx] = x[:, y, xx]
    return out


def flatten(x, order):
    if order == "chw":
        x = x.transpose(0, 3, 1, 2)
    return x.reshape(x.shape[0], -1)


def _input(n: Node, ins):
    raise AssertionError("the input has no rule: its values are the codes given")


# one meaning per op (tests/test_tables.py holds the table against Op)
RULES = {
    Op.INPUT: _input,
    Op.SLIDING_WINDOW: lambda n, ins: sliding_window(ins[0], n.attrs["kernel"], n.attrs["stride"], n.attrs["pad"],
                                                     n.attrs["pad_value"]),
    Op.MATMUL: lambda n, ins: matmul(ins[0], n.params["weight"], n.attrs.get("groups", 1)),
    Op.WINOGRAD: lambda n, ins: winograd(ins[0], n.params["weight"], n.attrs["tile"], n.attrs["pad"],
                                         n.attrs["pad_value"]),
    Op.XNOR_POPCOUNT: lambda n, ins: xnor_popcount(ins[0], n.params["weight"]),
    Op.AFFINE_QUANT: lambda n, ins: affine_quant(ins[0], n.params["a"], n.params["c0"],
                                                 n.params.get("scale", n.attrs["scale"]),
                                                 n.attrs["lo"], n.attrs["hi"], n.attrs["bipolar"],
                                                 n.attrs.get("zero_point", 0.0), n.attrs.get("rounding", "half_up"),
                                                 n.attrs.get("act"), n.params.get("act_args"),
                                                 n.attrs.get("arith"), float32_params(n),
                                                 n.attrs.get("requant_multiple") if n.attrs.get("requant") else None),
    Op.MULTI_THRESHOLD: lambda n, ins: multi_threshold(ins[0], n.params["thresholds"], n.params["sign"],
                                                       n.attrs["out_lo"], n.attrs["bipolar"], n.params.get("steps")),
    Op.REQUANT: lambda n, ins: requant(ins[0], n.params["mult"], n.params["bias"], n.params["shift"],
                                       n.attrs["lo"], n.attrs["hi"]),
    Op.MAX_POOL: lambda n, ins: max_pool(ins[0], n.attrs["kernel"], n.attrs["stride"], n.attrs["pad"],
                                         n.attrs["pad_value"]),
    Op.AVG_POOL: lambda n, ins: avg_pool(ins[0], n.attrs["kernel"], n.attrs["stride"]),
    Op.ADD: lambda n, ins: add(ins[0], ins[1], n.attrs.get("shift", (0, 0))),
    Op.MUL: lambda n, ins: ins[0].astype(np.int64) * ins[1],  # numpy broadcasts a (1, 1, C) gate
    Op.CONCAT: lambda n, ins: np.concatenate([ins[0].astype(np.int64), ins[1]], axis=-1),
    Op.UPSAMPLE: lambda n, ins: upsample(ins[0], n.attrs["factor"], n.attrs.get("fill", "nearest"),
                                         n.attrs.get("value", 0)),
    Op.FLATTEN: lambda n, ins: flatten(ins[0], n.attrs["order"]),
    Op.PAD: lambda n, ins: pad(ins[0], n.attrs["pad"], n.attrs["value"]),
    Op.SLICE: lambda n, ins: ins[0][..., n.attrs["lo"]:n.attrs["hi"]].astype(np.int64),
}


def _rule(n: Node, ins):
    rule = RULES.get(n.op)
    if rule is None:
        raise EdgecError(f"node '{n.name}': op {n.op} has no reference meaning in ir/ref.py")
    return rule(n, ins)


def run(g: Graph, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every tensor of the graph for the integer input codes ``x`` (N, *input shape)."""
    vals = {g.input.name: np.asarray(x, dtype=np.int64)}
    for n in g.nodes[1:]:
        vals[n.name] = _rule(n, [vals[i] for i in n.inputs])
    return vals
