"""Interval arithmetic on the IR: for every tensor, the lowest and highest value each
position of its last axis can take, from the input codes' range and the weights."""
from __future__ import annotations

import numpy as np

from . import winograd as W
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


def value_ranges(g: Graph) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    r: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for n in g.nodes:
        last = n.shape[-1]
        ins = [r[i] for i in n.inputs]
        a = n.attrs
        if n.op == Op.INPUT:
            lo, hi = np.full(last, n.type.lo), np.full(last, n.type.hi)
        elif n.op == Op.SLIDING_WINDOW:
            k = a["kernel"][0] * a["kernel"][1]
            lo, hi = np.tile(ins[0][0], k), np.tile(ins[0][1], k)
            if any(a["pad"]):
                lo, hi = np.minimum(lo, a["pad_value"]), np.maximum(hi, a["pad_value"])
        elif n.op == Op.MATMUL:
            w = n.params["weight"].astype(np.int64)
            xlo, xhi = ins[0]
            if a.get("groups", 1) != 1:
                c = a["groups"]
                xlo, xhi = xlo.reshape(-1, c).T, xhi.reshape(-1, c).T  # (C, K)
            wp, wn = np.maximum(w, 0), np.minimum(w, 0)
            hi = (wp * xhi + wn * xlo).sum(-1)
            lo = (wp * xlo + wn * xhi).sum(-1)
        elif n.op == Op.WINOGRAD:
            lo, hi = winograd_ranges(n, *ins[0])["y"]
        elif n.op == Op.XNOR_POPCOUNT:
            lo, hi = np.zeros(last, np.int64), np.full(last, n.params["weight"].shape[1])
        elif n.op in (Op.AFFINE_QUANT,):
            lo, hi = np.full(last, a["lo"]), np.full(last, a["hi"])
        elif n.op == Op.MULTI_THRESHOLD:
            nt = n.params["thresholds"].shape[1]
            lo, hi = (np.full(last, -1), np.full(last, 1)) if a["bipolar"] else (np.full(last, a["out_lo"]), np.full(last, a["out_lo"] + nt))
        elif n.op in (Op.MAX_POOL, Op.AVG_POOL):
            lo, hi = ins[0]
        elif n.op == Op.ADD:
            lo, hi = ins[0][0] + ins[1][0], ins[0][1] + ins[1][1]
        elif n.op == Op.FLATTEN:
            src = g.node(n.inputs[0]).shape
            hw = int(np.prod(src[:-1]))
            rep = np.repeat if a["order"] == "chw" else np.tile
            lo, hi = rep(ins[0][0], hw), rep(ins[0][1], hw)
        else:
            raise NotImplementedError(n.op)
        r[n.name] = (np.asarray(lo, np.int64), np.asarray(hi, np.int64))
    return r
