"""Interval arithmetic on the IR: for every tensor, the lowest and highest value each
position of its last axis can take, from the input codes' range and the weights."""
from __future__ import annotations

import numpy as np

from . import winograd as W
from ..errors import EdgecError
from .graph import Graph, Node
from .ops import Op


def _linear(coef, lo, hi):
    """Range of sum_k coef[..., k] * v[k] for v[k] in [lo[k], hi[k]] (coef integer)."""
    cp, cn = np.maximum(coef, 0), np.minimum(coef, 0)
    return (cp * lo + cn * hi).sum(-1), (cp * hi + cn * lo).sum(-1)


def winograd_ranges(n: Node, xlo, xhi) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Proven ranges of a Winograd node's stages from its input's per-channel range:
    'v' (P, C) transformed inputs, 'm' (P, MH) per-position sums, 'y' (MH,) outputs."""
    a, u = n.attrs, n.params["weight"].astype(np.int64)
    # padding and the edge tiles' extra rows and columns hold pad_value
    xlo, xhi = np.minimum(xlo, a["pad_value"]), np.maximum(xhi, a["pad_value"])
    k = W.input_coefficients(a["tile"]).reshape(u.shape[0], 1, -1)  # (P, 1, n*n)
    vlo, vhi = _linear(k, xlo[None, :, None], xhi[None, :, None])  # (P, C)
    mlo, mhi = _linear(u, vlo[:, None, :], vhi[:, None, :])  # (P, MH)
    ko = W.output_coefficients(a["tile"]).reshape(-1, u.shape[0])  # (m*m, P)
    ylo, yhi = _linear(ko[:, None, :], mlo.T[None], mhi.T[None])  # (m*m, MH)
    return {"v": (vlo, vhi), "m": (mlo, mhi), "y": (ylo.min(0), yhi.max(0))}


def _r_input(g, n, ins, last):
    return np.full(last, n.type.lo), np.full(last, n.type.hi)


def _r_window(g, n, ins, last):
    a = n.attrs
    k = a["kernel"][0] * a["kernel"][1]
    lo, hi = np.tile(ins[0][0], k), np.tile(ins[0][1], k)
    if any(a["pad"]):
        lo, hi = np.minimum(lo, a["pad_value"]), np.maximum(hi, a["pad_value"])
    return lo, hi


def _r_matmul(g, n, ins, last):
    a = n.attrs
    w = n.params["weight"].astype(np.int64)
    xlo, xhi = ins[0]
    if a.get("groups", 1) != 1:
        c = a["groups"]
        xlo, xhi = xlo.reshape(-1, c).T, xhi.reshape(-1, c).T  # (C, K)
    wp, wn = np.maximum(w, 0), np.minimum(w, 0)
    hi = (wp * xhi + wn * xlo).sum(-1)
    lo = (wp * xlo + wn * xhi).sum(-1)
    return lo, hi


def _r_winograd(g, n, ins, last):
    return winograd_ranges(n, *ins[0])["y"]


def _r_xnor(g, n, ins, last):
    return np.zeros(last, np.int64), np.full(last, n.params["weight"].shape[1])


def _r_quant(g, n, ins, last):
    return np.full(last, n.attrs["lo"]), np.full(last, n.attrs["hi"])


def _r_threshold(g, n, ins, last):
    a = n.attrs
    nt = n.params["thresholds"].shape[1]
    if a["bipolar"]:
        return np.full(last, -1), np.full(last, 1)
    steps = n.params.get("steps")
    if steps is None:
        return np.full(last, a["out_lo"]), np.full(last, a["out_lo"] + nt)
    lo = np.maximum(a["out_lo"] - (steps < 0).sum(axis=1), n.type.lo)
    return lo, np.minimum(a["out_lo"] + (steps > 0).sum(axis=1), n.type.hi)


def _r_requant(g, n, ins, last):
    """Monotone per channel (increasing for mult >= 0): the rule at the input's extremes."""
    from .ref import requant

    p = n.params
    ends = [requant(v, p["mult"], p["bias"], p["shift"], n.attrs["lo"], n.attrs["hi"]) for v in ins[0]]
    return np.minimum(*ends), np.maximum(*ends)


def _r_pool(g, n, ins, last):
    return ins[0]


def _r_add(g, n, ins, last):
    sa, sb = n.attrs.get("shift", (0, 0))
    return ins[0][0] * 2**sa + ins[1][0] * 2**sb, ins[0][1] * 2**sa + ins[1][1] * 2**sb


def _r_flatten(g, n, ins, last):
    src = g.node(n.inputs[0]).shape
    hw = int(np.prod(src[:-1]))
    rep = np.repeat if n.attrs["order"] == "chw" else np.tile
    return rep(ins[0][0], hw), rep(ins[0][1], hw)


def _r_mul(g, n, ins, last):
    """Per channel: the extremes of the interval product."""
    p = [ins[0][i] * ins[1][j] for i in (0, 1) for j in (0, 1)]
    return np.minimum.reduce(p), np.maximum.reduce(p)


def _r_concat(g, n, ins, last):
    return np.concatenate([ins[0][0], ins[1][0]]), np.concatenate([ins[0][1], ins[1][1]])


def _r_upsample(g, n, ins, last):
    if n.attrs.get("fill", "nearest") == "nearest":
        return ins[0]
    return _r_pad(g, n, ins, last)


def _r_pad(g, n, ins, last):
    v = n.attrs.get("value", 0)
    return np.minimum(ins[0][0], v), np.maximum(ins[0][1], v)


def _r_slice(g, n, ins, last):
    return ins[0][0][n.attrs["lo"]:n.attrs["hi"]], ins[0][1][n.attrs["lo"]:n.attrs["hi"]]


# one interval rule per op (tests/test_tables.py holds the table against Op)
RANGES = {
    Op.INPUT: _r_input, Op.SLIDING_WINDOW: _r_window, Op.MATMUL: _r_matmul, Op.WINOGRAD: _r_winograd,
    Op.XNOR_POPCOUNT: _r_xnor, Op.AFFINE_QUANT: _r_quant, Op.MULTI_THRESHOLD: _r_threshold, Op.REQUANT: _r_requant,
    Op.MAX_POOL: _r_pool,
    Op.AVG_POOL: _r_pool, Op.ADD: _r_add, Op.FLATTEN: _r_flatten, Op.CONCAT: _r_concat,
    Op.MUL: _r_mul, Op.UPSAMPLE: _r_upsample, Op.PAD: _r_pad, Op.SLICE: _r_slice,
}


def value_ranges(g: Graph) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    r: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for n in g.nodes:
        rule = RANGES.get(n.op)
        if rule is None:
            raise EdgecError(f"node '{n.name}': op {n.op} has no range rule in ir/ranges.py")
        lo, hi = rule(g, n, [r[i] for i in n.inputs], n.shape[-1])
        r[n.name] = (np.asarray(lo, np.int64), np.asarray(hi, np.int64))
    return r
