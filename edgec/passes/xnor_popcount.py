"""Bipolar x bipolar MatMul feeding a MultiThreshold -> XnorPopcount: keep the popcount
p = (acc + K) / 2 and move the affine part into the thresholds:
acc >= T  <=>  p >= ceil((T + K) / 2);   -acc >= T  <=>  -p >= ceil((T - K) / 2)."""
import numpy as np

from ..ir.graph import Graph, Node
from ..ir.ops import Op
from ..ir.types import Bipolar


def _ceil_half(v):
    return -((-v) // 2)


def xnor_popcount(g: Graph) -> Graph:
    g = g.copy()
    for i, n in enumerate(g.nodes):
        if n.op != Op.MATMUL or n.attrs.get("groups", 1) != 1:
            continue
        w = n.params["weight"]
        cons = g.consumers(n.name)
        if not (isinstance(g.node(n.inputs[0]).type, Bipolar) and np.isin(w, (-1, 1)).all()
                and len(cons) == 1 and cons[0].op == Op.MULTI_THRESHOLD):
            continue
        k = w.shape[1]
        g.nodes[i] = Node(n.name, Op.XNOR_POPCOUNT, n.inputs, n.shape, n.type,
                          {**n.attrs, "kernel_kind": "xnor-popcount"}, {"weight": w})
        mt = cons[0]
        t, s = mt.params["thresholds"], mt.params["sign"][:, None]
        mt.params["thresholds"] = np.where(s > 0, _ceil_half(t + k), _ceil_half(t - k))
    return g
