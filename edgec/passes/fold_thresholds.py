"""AffineQuant -> MultiThreshold. For each channel and output level k, the threshold is
the least accumulator value whose quantized output reaches k, found over the
accumulator's proven range by evaluating AffineQuant's own meaning (ir/ref.py, the
float64 expression the fake-quant reference computes) — so the fold is exact, ties
included. A negative a[c] makes the output fall with acc: that channel compares -acc
(sign = -1).

Without an activation, or with one that never falls, the output is monotone in v = sign *
acc and a binary search per level finds each threshold. With an activation (ir/act.py)
the fold evaluates the output on every value of the proven range (up to ``ENUMERATE``
values per channel), so that it is exact whatever the float64 function does; where the
output falls somewhere (Hardswish, SiLU, GELU, a negative slope) the result has signed
steps: out = out_lo + sum_i s_i * [v >= T_i] (MultiThreshold ``steps``).
"""
import numpy as np

from ..errors import EdgecError
from ..ir import act as acts
from ..ir.graph import Graph, Node
from ..ir.ops import Op
from ..ir.ranges import value_ranges
from ..ir.ref import affine_quant, float32_params

ENUMERATE = 1 << 22  # values per channel the fold evaluates one by one
_CHUNK = 1 << 21  # values evaluated at once


def _quant(v, sign, a, c0, attrs, act_args, scale, f32=None):
    """AffineQuant of acc = sign * v for v (C, M): the (C, M) output codes (``scale`` (C,);
    ``f32``: (offset, mul, div) of the float32_qlinear rule)."""
    acc = (sign[:, None] * v).T
    return affine_quant(acc, a, c0, scale, attrs["lo"], attrs["hi"], attrs["bipolar"],
                        attrs.get("zero_point", 0.0), attrs.get("rounding", "half_up"), attrs.get("act"),
                        act_args, attrs.get("arith"), f32).T


def _levels(attrs) -> np.ndarray:
    return np.array([1]) if attrs["bipolar"] else np.arange(attrs["lo"] + 1, attrs["hi"] + 1)


def _search(vlo, vhi, sign, a, c0, attrs, act_args, scale, f32=None):
    """Thresholds by binary search over v in [vlo, vhi] (+1 = never): output monotone in v."""
    levels = _levels(attrs)
    left = vlo[:, None] + np.zeros((1, len(levels)), np.int64)
    right = vhi[:, None] + 1 + np.zeros((1, len(levels)), np.int64)
    while np.any(left < right):
        mid = (left + right) // 2
        q = _quant(mid, sign, a, c0, attrs, act_args, scale, f32)
        ok = q >= levels[None, :]
        right = np.where(ok & (left < right), mid, right)
        left = np.where(~ok & (left < right), mid + 1, left)
    return left.astype(np.int64)


def _enumerate(vlo, vhi, sign, a, c0, attrs, act_args, scale) -> list[np.ndarray]:
    """Per channel, the output codes on every v of [vlo, vhi]."""
    out = []
    for c in range(len(vlo)):
        vs = np.arange(vlo[c], vhi[c] + 1, dtype=np.int64)
        parts = [_quant(vs[None, i : i + _CHUNK], sign[c : c + 1], a[c : c + 1], c0[c : c + 1], attrs,
                        None if act_args is None else act_args[c : c + 1], scale[c : c + 1])[0]
                 for i in range(0, len(vs), _CHUNK)]
        out.append(np.concatenate(parts))
    return out


def _from_codes(codes, vlo, vhi, attrs):
    """(thresholds, steps or None, out_lo) of the step functions ``codes`` (per channel)."""
    lev = [(q + 1) // 2 if attrs["bipolar"] else q for q in codes]
    if all(np.all(np.diff(q) >= 0) for q in lev):
        levels = _levels(attrs)
        t = np.stack([vlo[c] + np.searchsorted(q, levels, side="left") for c, q in enumerate(lev)])
        return t.astype(np.int64), None, int(attrs["lo"])
    base = np.array([int(q[0]) for q in lev])
    out_lo = 0 if attrs["bipolar"] else int(base.min())
    rows = []
    for c, q in enumerate(lev):
        d = np.diff(q)
        at = vlo[c] + 1 + np.nonzero(d)[0]
        ts = np.concatenate([np.full(base[c] - out_lo, vlo[c]), np.repeat(at, np.abs(d[d != 0]))])
        ss = np.concatenate([np.ones(base[c] - out_lo, np.int64), np.repeat(np.sign(d[d != 0]), np.abs(d[d != 0]))])
        rows.append((ts, ss))
    n = max(len(ts) for ts, _ in rows)
    t = np.stack([np.concatenate([ts, np.full(n - len(ts), vhi[c] + 1)]) for c, (ts, _) in enumerate(rows)])
    s = np.stack([np.concatenate([ss, np.ones(n - len(ss), np.int64)]) for _, ss in rows])
    order = np.argsort(t, axis=1, kind="stable")
    return np.take_along_axis(t, order, 1).astype(np.int64), np.take_along_axis(s, order, 1).astype(np.int64), out_lo


def thresholds_for(lo, hi, a, c0, attrs, act_args=None, name="", scale=None, f32=None):
    """(thresholds (C, N), sign (C,), steps (C, N) or None, out_lo) for input ranges lo/hi (C,);
    ``scale``: the quantizer's per-channel scales (C,), else attrs.scale for every channel;
    ``f32``: (offset, mul, div) of an ``arith: float32_qlinear`` quantizer (ir/ref.py), whose
    rule rises with acc (mul, div > 0)."""
    if attrs.get("arith") is not None:
        if np.any(np.asarray(f32[1]) <= 0) or np.any(np.asarray(f32[2]) <= 0):
            raise EdgecError(f"node '{name}': the float32 requantization needs positive multipliers")
        sign = np.ones(len(a), np.int64)
        scale = np.full(len(a), float(attrs["scale"]))
        return _search(np.asarray(lo, np.int64), np.asarray(hi, np.int64), sign, a, c0, attrs, None, scale,
                       f32), sign, None, int(attrs["lo"])
    sign = np.where(a < 0, -1, 1).astype(np.int64)
    scale = np.full(len(a), float(attrs["scale"])) if scale is None else np.asarray(scale, np.float64)
    # search over v = sign * acc, which an affine map does not make fall
    vlo, vhi = np.where(sign > 0, lo, -hi).astype(np.int64), np.where(sign > 0, hi, -lo).astype(np.int64)
    kind = attrs.get("act")
    if kind is None:
        return _search(vlo, vhi, sign, a, c0, attrs, None, scale), sign, None, int(attrs["lo"])
    width = int((vhi - vlo).max()) + 1
    if width <= ENUMERATE:
        t, steps, out_lo = _from_codes(_enumerate(vlo, vhi, sign, a, c0, attrs, act_args, scale), vlo, vhi, attrs)
        return t, sign, steps, out_lo
    if acts.shape(kind, act_args) == "up":
        return _search(vlo, vhi, sign, a, c0, attrs, act_args, scale), sign, None, int(attrs["lo"])
    raise EdgecError(f"node '{name}': the {kind} before its quantizer spans {width} accumulator values, more than "
                     f"the {ENUMERATE} edgec folds exactly for an activation that falls; use fewer weight or "
                     "activation bits in this layer")


def fold_thresholds(g: Graph) -> Graph:
    ranges = value_ranges(g)
    g = g.copy()
    for i, n in enumerate(g.nodes):
        if n.op != Op.AFFINE_QUANT:
            continue
        lo, hi = ranges[n.inputs[0]]
        t, sign, steps, out_lo = thresholds_for(lo, hi, n.params["a"], n.params["c0"], n.attrs,
                                                n.params.get("act_args"), n.name, n.params.get("scale"),
                                                float32_params(n))
        params = {"thresholds": t, "sign": sign}
        if steps is not None:
            params["steps"] = steps
        attrs = {"out_lo": out_lo, "bipolar": bool(n.attrs["bipolar"]), "scale": n.attrs["scale"]}
        if "act" in n.attrs:  # named in the report's layer table
            attrs["act"] = n.attrs["act"]
        g.nodes[i] = Node(n.name, Op.MULTI_THRESHOLD, n.inputs, n.shape, n.type, attrs, params)
    return g
