"""What each arithmetic-saving lowering of a layer costs, before folding: multiplications
per inference, and the arithmetic area (LUT-equivalents) needed to sustain them, which
``--winograd auto`` compares per layer.

Area per multiplication: a LUT multiplier costs 1.6 * xb * wb LUTs (cost/hw.py's MVAU
rule), a DSP multiplication DSP_LUT_EQ (the Zynq-7020 holds ~240 LUTs per DSP slice);
every product is then added into its accumulator (one LUT per bit). A Winograd tile adds
its input transform (per channel, each position sums its nonzero B coefficients' terms)
and output transform (per output channel, each output sums its nonzero A terms).
"""
from __future__ import annotations

import numpy as np

from ..ir import winograd as W
from ..ir.graph import Graph, Node
from ..ir.ops import Op
from ..ir.ranges import value_ranges, winograd_ranges
from ..ir.types import int_type_for

DSP_LUT_EQ = 200


def mult_area(xbits: int, wbits: int) -> float:
    """LUT-equivalents of one multiplier (LUT MAC when both sides fit 4 bits, else DSP)."""
    if wbits <= 1:
        return xbits + 1  # add/subtract
    if xbits <= 4 and wbits <= 4:
        return 1.6 * xbits * wbits
    return DSP_LUT_EQ * -(-xbits // 25) * -(-wbits // 18)


def _bits(lo, hi) -> int:
    return int_type_for(int(np.min(lo)), int(np.max(hi))).bits


def _nnz_terms(k: np.ndarray) -> int:
    """Additions of a constant linear map: per output, its nonzero coefficients minus one."""
    nz = (k.reshape(k.shape[0], -1) != 0).sum(axis=1)
    return int(np.maximum(nz - 1, 0).sum())


def direct_option(g: Graph, n: Node, ranges=None) -> dict:
    ranges = ranges or value_ranges(g)
    w = n.params["weight"]
    xlo, xhi = ranges[n.inputs[0]]
    pixels = int(np.prod(n.shape[:-1]))
    xb, wb = _bits(xlo, xhi), _bits(w.min(), w.max())
    acc = _bits(*ranges[n.name])
    mults = int(w.size) * pixels
    return {"mults": mults, "area": mults * (mult_area(xb, wb) + acc)}


def winograd_option(g: Graph, n: Node, m: int, ranges=None) -> dict:
    """The cost of layer ``n`` (a direct conv MatMul or a Winograd node) as F(m x m, 3 x 3)."""
    from ..passes.winograd import lower_layer

    ranges = ranges or value_ranges(g)
    if n.op == Op.MATMUL:
        g2 = lower_layer(g, n.name, m)
        n, ranges = g2.node(n.name), value_ranges(g2)
    r = winograd_ranges(n, *ranges[n.inputs[0]])
    u = n.params["weight"]
    p, mh, c = u.shape
    geo = W.geometry(*ranges_shape(g, n), n.attrs["pad"], m)
    tiles = geo["th"] * geo["tw"]
    vb, ub, mb, yb = _bits(*r["v"]), _bits(u.min(), u.max()), _bits(*r["m"]), _bits(*r["y"])
    mults = W.mults(m, c, mh, tiles)
    area = (mults * (mult_area(vb, ub) + mb) + tiles * c * _nnz_terms(W.input_coefficients(m)) * vb
            + tiles * mh * _nnz_terms(W.output_coefficients(m).reshape(m * m, -1)) * yb)
    return {"mults": mults, "area": area}


def ranges_shape(g: Graph, n: Node) -> tuple[int, int]:
    """(H, W) of a Winograd node's input map."""
    h, w, _ = g.node(n.inputs[0]).shape
    return h, w


def best_winograd(g: Graph, n: Node) -> int | None:
    """The tile (2 or 4) whose arithmetic area is below the direct convolution's and
    least, or None (stay direct)."""
    ranges = value_ranges(g)
    best, area = None, direct_option(g, n, ranges)["area"]
    for m in W.TILES:
        a = winograd_option(g, n, m, ranges)["area"]
        if a < area:
            best, area = m, a
    return best
