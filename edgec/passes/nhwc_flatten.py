"""Flatten(chw) feeding only MatMuls (or XnorPopcounts) -> Flatten(hwc): permute the MatMuls' weight columns
instead of the data, so features stream in the order the hardware produces them."""
import numpy as np

from ..ir.graph import Graph
from ..ir.ops import Op


def nhwc_flatten(g: Graph) -> Graph:
    g = g.copy()
    for n in g.nodes:
        if n.op != Op.FLATTEN or n.attrs["order"] != "chw":
            continue
        cons = g.consumers(n.name)
        if not cons or any(c.op not in (Op.MATMUL, Op.XNOR_POPCOUNT) or c.attrs.get("groups", 1) != 1 for c in cons):
            continue
        h, w, c = g.node(n.inputs[0]).shape
        # column j of the hwc order holds feature (y, x, ch), which chw order had at perm[j]
        perm = np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).ravel()
        for m in cons:
            m.params["weight"] = m.params["weight"][:, perm]
        n.attrs["order"] = "hwc"
    return g
