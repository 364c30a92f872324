"""Pick the arithmetic each matrix-vector unit uses: xnor-popcount (W1A1),
binary-addsub (weights +-1, multi-bit inputs), lut-mac (weights and inputs of at most 4
bits), dsp-mac (wider); for a Winograd node, of its per-position products."""
import numpy as np

from ..ir.graph import Graph
from ..ir.ops import Op
from ..ir.types import int_type_for


def kernel_for(weight: np.ndarray, in_bits: int) -> str:
    if np.isin(weight, (-1, 1)).all():
        return "binary-addsub"
    wbits = int_type_for(weight.min(), weight.max()).bits
    return "lut-mac" if wbits <= 4 and in_bits <= 4 else "dsp-mac"


def choose_kernels(g: Graph) -> Graph:
    g = g.copy()
    for n in g.nodes:
        if n.op == Op.MATMUL:
            n.attrs["kernel_kind"] = kernel_for(n.params["weight"], g.node(n.inputs[0]).type.bits)
        elif n.op == Op.WINOGRAD:  # the per-position products: transformed inputs times U
            n.attrs["kernel_kind"] = kernel_for(n.params["weight"], int_type_for(*n.attrs["v_range"]).bits)
        elif n.op == Op.XNOR_POPCOUNT:
            n.attrs["kernel_kind"] = "xnor-popcount"
    return g
