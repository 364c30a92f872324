"""AffineQuant -> MultiThreshold. For each channel and output level k, the threshold is
the least accumulator value whose quantized output reaches k, found by binary search
over the accumulator's proven range, evaluating AffineQuant's own meaning (ir/ref.py,
the float64 expression the fake-quant reference computes) — so the fold is exact, ties included. A
negative a[c] makes the output fall with acc: that channel compares -acc (sign = -1)."""
import numpy as np

from ..ir.graph import Graph, Node
from ..ir.ops import Op
from ..ir.ranges import value_ranges
from ..ir.ref import affine_quant


def thresholds_for(lo, hi, a, c0, attrs):
    """(thresholds (C, N), sign (C,)) for input ranges lo/hi (C,)."""
    levels = np.array([1]) if attrs["bipolar"] else np.arange(attrs["lo"] + 1, attrs["hi"] + 1)
    sign = np.where(a < 0, -1, 1)
    # search over v = sign * acc, which the output does not fall with
    vlo = np.where(sign > 0, lo, -hi)[:, None] + np.zeros((1, len(levels)), np.int64)
    vhi = np.where(sign > 0, hi, -lo)[:, None] + 1 + np.zeros((1, len(levels)), np.int64)
    ac, cc, sg = a[:, None], c0[:, None], sign[:, None]
    left, right = vlo.copy(), vhi.copy()  # answer in [left, right]; right = never
    while np.any(left < right):
        mid = (left + right) // 2
        q = affine_quant(sg * mid, ac, cc, attrs["scale"], attrs["lo"], attrs["hi"], attrs["bipolar"],
                         attrs.get("zero_point", 0.0), attrs.get("rounding", "half_up"))
        ok = q >= levels[None, :]
        right = np.where(ok & (left < right), mid, right)
        left = np.where(~ok & (left < right), mid + 1, left)
    return left.astype(np.int64), sign.astype(np.int64)


def fold_thresholds(g: Graph) -> Graph:
    ranges = value_ranges(g)
    g = g.copy()
    for i, n in enumerate(g.nodes):
        if n.op != Op.AFFINE_QUANT:
            continue
        lo, hi = ranges[n.inputs[0]]
        t, sign = thresholds_for(lo, hi, n.params["a"], n.params["c0"], n.attrs)
        g.nodes[i] = Node(n.name, Op.MULTI_THRESHOLD, n.inputs, n.shape, n.type,
                          {"out_lo": int(n.attrs["lo"]), "bipolar": bool(n.attrs["bipolar"]),
                           "scale": n.attrs["scale"]},
                          {"thresholds": t, "sign": sign})
    return g
