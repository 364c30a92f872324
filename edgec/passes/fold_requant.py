"""AffineQuant marked ``requant`` -> Requant (ir/requant.py): the integer requantizer
clip((acc * M + B) >> S, lo, hi) with the very parameters the fake-quant reference
computes from the same a, c0 (frontend/qmodel.py: requant_codes). The other AffineQuant
nodes are left to fold_thresholds."""
from __future__ import annotations

import numpy as np

from ..errors import EdgecError
from ..ir import requant
from ..ir.graph import Graph, Node
from ..ir.ops import Op


def fold_requant(g: Graph) -> Graph:
    g = g.copy()
    for i, n in enumerate(g.nodes):
        if n.op != Op.AFFINE_QUANT or not n.attrs.get("requant"):
            continue
        a = n.attrs
        p = requant.params(n.params["a"], n.params["c0"], n.params.get("scale", a["scale"]), a["lo"], a["hi"],
                           a.get("act"), n.params.get("act_args"), a.get("requant_multiple", 1))
        if p is None:
            raise EdgecError(f"node '{n.name}': marked requant, but its quantizer has no integer Requant form")
        attrs = {"lo": p["lo"], "hi": p["hi"], "scale": a["scale"], "scale_error": float(np.max(p["scale_error"]))}
        if "act" in a:  # named in the report's layer table
            attrs["act"] = a["act"]
        g.nodes[i] = Node(n.name, Op.REQUANT, n.inputs, n.shape, n.type, attrs,
                          {k: p[k] for k in ("mult", "bias", "shift")})
    return g
