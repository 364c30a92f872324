"""Move a MultiThreshold's negative channel signs into the weights of the MatMul that
feeds it (negating that output row), so hardware compares acc >= T only; the
accumulator widths follow the negated rows."""
from ..ir.graph import Graph
from ..ir.ops import Op
from .acc_widths import infer_acc_widths


def fold_signs(g: Graph) -> Graph:
    g = g.copy()
    changed = False
    for n in g.nodes:
        if n.op != Op.MULTI_THRESHOLD or (n.params["sign"] > 0).all():
            continue
        src = g.node(n.inputs[0])
        if src.op != Op.MATMUL or len(g.consumers(src.name)) != 1:
            continue
        neg = n.params["sign"] < 0
        src.params["weight"] = src.params["weight"].copy()
        src.params["weight"][neg] *= -1
        n.params["sign"] = n.params["sign"].copy()
        n.params["sign"][neg] = 1
        changed = True
    # a negated row turns its accumulator's range around (an unsigned one may go negative)
    return infer_acc_widths(g) if changed else g
