"""SlidingWindow(3x3, stride 1) + MatMul + MultiThreshold -> Winograd + MultiThreshold
(or + Requant, its multiplier divided by FACTOR's odd part and its shift raised by the rest).

The Winograd node computes FACTOR (4 for F2, 576 for F4) times the direct accumulator,
exactly (ir/winograd.py); the thresholds are multiplied by FACTOR, so the activation's
output is unchanged: acc >= T <=> FACTOR * acc >= FACTOR * T (likewise for -acc).

Which layers: ``graph.meta['lowering']['winograd']`` is 'off', 'f2', 'f4' or 'auto' (the
cost model's choice per layer, cost/lowering.py); ``...['layers'][name]['winograd']``
overrides it for one layer. Only dense (groups = 1) 3x3 stride-1 convolutions whose one
consumer is a MultiThreshold qualify; with 'f2'/'f4' the others stay direct.
"""
from __future__ import annotations

from ..ir import winograd as W
from ..ir.requant import MAX_SHIFT
from ..ir.graph import Graph, Node
from ..ir.ops import Op
from ..options import WINOGRAD_MODES
from .acc_widths import infer_acc_widths

MODES = WINOGRAD_MODES


def candidate(g: Graph, n: Node) -> bool:
    """A 3x3 stride-1 dense convolution whose output feeds one MultiThreshold."""
    if n.op != Op.MATMUL or n.attrs.get("groups", 1) != 1:
        return False
    win = g.node(n.inputs[0])
    cons = g.consumers(n.name)
    return (win.op == Op.SLIDING_WINDOW and tuple(win.attrs["kernel"]) == (3, 3)
            and tuple(win.attrs["stride"]) == (1, 1) and len(g.consumers(win.name)) == 1
            and len(cons) == 1 and (cons[0].op == Op.MULTI_THRESHOLD
                                    or (cons[0].op == Op.REQUANT and takes_factor(cons[0]))))


def takes_factor(rq: Node) -> bool:
    """Whether a Requant can take both tiles' factors exactly: 4 = 2^2 and 576 = 9 * 2^6
    divide out of M * 2^-S when 9 divides every M (ir/requant.py: multiple) and S + 6 fits."""
    return bool((rq.params["mult"] % 9 == 0).all() and rq.params["shift"].max() + 6 <= MAX_SHIFT)


def scale_requant(rq: Node, factor: int) -> None:
    """Requant of FACTOR * acc equal to the one of acc: with FACTOR = odd * 2^k, M / odd,
    B * 2^k and S + k, as ((odd 2^k acc) (M / odd) + 2^k B) >> (S + k) = (acc M + B) >> S."""
    k = (factor & -factor).bit_length() - 1
    rq.params["mult"] = rq.params["mult"] // (factor >> k)
    rq.params["bias"] = rq.params["bias"] * (1 << k)
    rq.params["shift"] = rq.params["shift"] + k


def mode_for(g: Graph, layer: str) -> str:
    low = g.meta.get("lowering", {})
    return low.get("layers", {}).get(layer, {}).get("winograd", low.get("winograd", "off"))


def lower_layer(g: Graph, name: str, m: int) -> Graph:
    """``g`` with the convolution ``name`` as Winograd F(m x m, 3 x 3) (thresholds scaled)."""
    g = g.copy()
    i = next(k for k, x in enumerate(g.nodes) if x.name == name)
    n = g.nodes[i]
    win = g.node(n.inputs[0])
    c = g.node(win.inputs[0]).shape[-1]
    u = W.transform_weights(n.params["weight"].reshape(-1, 3, 3, c), m)
    attrs = {k: v for k, v in n.attrs.items() if k not in ("groups", "kernel_kind", "acc_range")}
    attrs.update(tile=m, pad=tuple(win.attrs["pad"]), pad_value=int(win.attrs["pad_value"]), factor=W.FACTOR[m])
    # params.direct keeps the direct weights (for the report's multiplication counts)
    g.nodes[i] = Node(n.name, Op.WINOGRAD, [win.inputs[0]], n.shape, n.type, attrs,
                      {"weight": u, "direct": n.params["weight"]})
    thr = g.consumers(n.name)[0]
    if thr.op == Op.REQUANT:
        scale_requant(thr, W.FACTOR[m])
    else:
        thr.params["thresholds"] = thr.params["thresholds"] * W.FACTOR[m]
    g.nodes.remove(win)
    return g


def winograd(g: Graph, policy) -> Graph:
    """Lower each candidate conv whose mode is f2 or f4, or "auto" where
    ``policy.winograd_tile`` picks a tile."""
    out = g
    for n in g.nodes:
        if not candidate(g, n):
            continue
        mode = mode_for(g, n.attrs.get("layer", n.name))
        m = {"off": None, "f2": 2, "f4": 4}[mode] if mode != "auto" else policy.winograd_tile(g, n)
        if m is not None:
            out = lower_layer(out, n.name, m)
    # the Winograd nodes' own widths (FACTOR times wider, and the transforms' ranges)
    return infer_acc_widths(out) if out is not g else g.copy()


__all__ = ["winograd", "lower_layer", "candidate", "MODES"]
