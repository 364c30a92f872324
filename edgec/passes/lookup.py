"""Mark the MultiThresholds that the cost model holds as lookup tables (attrs.form =
"lookup", policy.lookup_pays): the same function of the same input, realised as a ROM of
every input value's code instead of comparators (dataflow.LutAct). A MultiThreshold
that a matrix unit takes as its activation is never marked."""
from ..ir.graph import Graph
from ..ir.ops import Op


def lookup(g: Graph, policy) -> Graph:
    g = g.copy()
    for n in g.nodes:
        if n.op == Op.MULTI_THRESHOLD and "form" not in n.attrs and policy.lookup_pays(g, n):
            n.attrs = {**n.attrs, "form": "lookup"}
    return g
