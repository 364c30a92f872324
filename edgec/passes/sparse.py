"""Mark matrix units that walk a compressed stream of their non-zero weights
(attrs.sparse): a MatMul (dense, LUT or DSP multipliers) or a Winograd node's
per-position products. The meaning is unchanged (zeros contribute nothing); the
dataflow gives such a unit an smvau stage whose cycles and multipliers scale with the
non-zeros (docs/hardware.md).

``graph.meta['lowering']['sparse']``: 'off', 'on' (every eligible unit with a zero
weight) or 'auto' (where cost/lowering.py finds the compressed stream cheaper, index
overhead included); ``...['layers'][name]['sparse']`` overrides it per layer.
"""
from __future__ import annotations

from ..ir.graph import Graph, Node
from ..ir.ops import Op
from ..options import SPARSE_MODES

MODES = SPARSE_MODES


def eligible(n: Node) -> bool:
    if n.op == Op.WINOGRAD:
        return (n.params["weight"] == 0).any()
    return (n.op == Op.MATMUL and n.attrs.get("groups", 1) == 1 and n.attrs.get("kernel_kind") in ("lut-mac", "dsp-mac")
            and (n.params["weight"] == 0).any())


def sparse(g: Graph, policy) -> Graph:
    """Mark the eligible layers whose mode is "on", or "auto" where ``policy.sparse_pays``."""
    g = g.copy()
    low = g.meta.get("lowering", {})
    for n in g.nodes:
        if not eligible(n):
            continue
        mode = low.get("layers", {}).get(n.attrs.get("layer", n.name), {}).get("sparse", low.get("sparse", "off"))
        if mode == "on" or (mode == "auto" and policy.sparse_pays(g, n)):
            n.attrs["sparse"] = True
    return g
