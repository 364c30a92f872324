"""Give every MatMul, XnorPopcount, Add, Mul and Winograd the narrowest accumulator type that interval
arithmetic on the real weights and input ranges proves sufficient."""
from ..ir.graph import Graph
from ..ir.ops import Op
from ..ir.ranges import value_ranges, winograd_ranges
from ..ir.types import int_type_for


def infer_acc_widths(g: Graph) -> Graph:
    g = g.copy()
    ranges = value_ranges(g)
    for n in g.nodes:
        if n.op in (Op.MATMUL, Op.XNOR_POPCOUNT, Op.ADD, Op.MUL, Op.WINOGRAD):
            lo, hi = ranges[n.name]
            n.type = int_type_for(lo.min(), hi.max())
            n.attrs["acc_range"] = (int(lo.min()), int(hi.max()))
        if n.op == Op.WINOGRAD:
            r = winograd_ranges(n, *ranges[n.inputs[0]])
            for k in ("v", "m"):
                n.attrs[f"{k}_range"] = (int(r[k][0].min()), int(r[k][1].max()))
    return g
