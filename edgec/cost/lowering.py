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
from ..dataflow import sparse_steps
from ..passes import LoweringPolicy, run_pipeline
from ..passes.winograd import candidate, lower_layer

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

    ranges = ranges or value_ranges(g)
    if n.op == Op.MATMUL:
        g2 = lower_layer(g, n.name, m)
        n, ranges = g2.node(n.name), value_ranges(g2)
    r = winograd_ranges(n, *ranges[n.inputs[0]])
    u = n.params["weight"]
    p, mh, c = u.shape
    geo = W.geometry(*g.node(n.inputs[0]).shape[:2], n.attrs["pad"], m)
    tiles = geo["th"] * geo["tw"]
    vb, ub, mb, yb = _bits(*r["v"]), _bits(u.min(), u.max()), _bits(*r["m"]), _bits(*r["y"])
    mults = W.mults(m, c, mh, tiles)
    area = (mults * (mult_area(vb, ub) + mb) + tiles * c * _nnz_terms(W.input_coefficients(m)) * vb
            + tiles * mh * _nnz_terms(W.output_coefficients(m).reshape(m * m, -1)) * yb)
    return {"mults": mults, "area": area}


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


def sparse_pays(g: Graph, n: Node) -> bool:
    """A compressed weight stream is cheaper than the dense unit: every multiplication it
    keeps also pays an MW:1 input multiplexer per bit (cost/hw.py's smvau rule), and each
    row group is padded to its densest row."""
    ranges = value_ranges(g)
    w = n.params["weight"]
    if n.op == Op.WINOGRAD:
        r = winograd_ranges(n, *ranges[n.inputs[0]])
        xb, acc = _bits(*r["v"]), _bits(*r["m"])
        w = w.reshape(-1, w.shape[-1])
    else:
        xb, acc = _bits(*ranges[n.inputs[0]]), _bits(*ranges[n.name])
    mw = w.shape[1]
    per = mult_area(xb, _bits(w.min(), w.max())) + acc
    kept = int(sparse_steps(w, 1, 1).sum())
    return kept * (per + xb * mw / 4) < w.size * per


# the cost model's decisions, as the passes take them
def lookup_pays(g: Graph, n: Node) -> bool:
    """A stand-alone MultiThreshold (one no matrix unit takes as its activation) is cheaper
    as a lookup table over every value of its input (cost/hw.py: lookup_res) than as its
    comparators (edgec_act), weighed at PE = 1, where the comparators cost least against
    the table (its bits do not grow with PE, theirs do). Only for inputs of at most
    dataflow.LOOKUP_MAX_BITS bits."""
    from ..dataflow import _fused, activation, lookup_act, LOOKUP_MAX_BITS
    from ..ir.types import Bipolar
    from .hw import _activation, lookup_res

    t = g.node(n.inputs[0]).type
    if isinstance(t, Bipolar) or t.bits > LOOKUP_MAX_BITS or _fused(g, n):
        return False
    c = n.shape[-1]
    thr = activation(n, t.bits)
    ob = 1 if n.attrs["bipolar"] else n.type.bits
    comparators = _activation(1, c, thr.nt, thr.cb, thr.steps is not None)
    table = lookup_res(lookup_act(n, t), 1, ob)
    return table.LUT + BRAM_LUT_EQ * table.BRAM36 < comparators.LUT + BRAM_LUT_EQ * comparators.BRAM36


POLICY = LoweringPolicy(winograd_tile=best_winograd, sparse_pays=sparse_pays, lookup_pays=lookup_pays)


def _conv_geometry(g: Graph, n: Node):
    """(C, H, W, pad) of a direct 3x3 stride-1 conv MatMul or a Winograd node, else None."""
    if n.op == Op.WINOGRAD:
        h, w, c = g.node(n.inputs[0]).shape
        return c, h, w, n.attrs["pad"]
    if n.op == Op.MATMUL and candidate(g, n):
        win = g.node(n.inputs[0])
        h, w, c = g.node(win.inputs[0]).shape
        return c, h, w, win.attrs["pad"]
    return None


def layer_mults(g: Graph) -> list[dict]:
    """Per matrix layer, the multiplications per inference of each execution: direct
    (every weight), sparse (non-zero weights), Winograd F2/F4 and sparse Winograd (the
    non-zeros of U), where the layer allows them; and what this build uses."""
    rows = []
    for n in g.nodes:
        if n.op not in (Op.MATMUL, Op.XNOR_POPCOUNT, Op.WINOGRAD):
            continue
        direct = n.params.get("direct") if n.op == Op.WINOGRAD else n.params["weight"]
        pixels = int(np.prod(n.shape[:-1]))
        if direct is None:  # quantized and pruned in the Winograd domain: no direct weights
            mults = {"direct": 9 * g.node(n.inputs[0]).shape[-1] * n.shape[-1] * pixels}
        else:
            mults = {"direct": int(direct.size) * pixels, "sparse": int((direct != 0).sum()) * pixels}
        geo = _conv_geometry(g, n)
        if geo is not None:
            c, h, w, pad = geo
            for m in W.TILES:
                if direct is None and m != n.attrs["tile"]:
                    continue
                t = W.geometry(h, w, pad, m)
                tiles = t["th"] * t["tw"]
                if n.op == Op.WINOGRAD and n.attrs["tile"] == m:
                    u = n.params["weight"]  # as built (pruned in the Winograd domain, if so)
                else:
                    u = W.transform_weights(direct.reshape(-1, 3, 3, c), m)
                mults[f"winograd_f{m}"] = W.mults(m, c, n.shape[-1], tiles)
                mults[f"sparse_winograd_f{m}"] = int((u != 0).sum()) * tiles
        if n.op == Op.WINOGRAD:
            chosen = ("sparse_" if n.attrs.get("sparse") else "") + f"winograd_f{n.attrs['tile']}"
        else:
            chosen = "sparse" if n.attrs.get("sparse") else "direct"
        rows.append({"layer": n.attrs.get("layer", n.name), "chosen": chosen, "mults": mults,
                     "saving": {k: round(mults["direct"] / v, 3) if v else None for k, v in mults.items()}})
    return rows


def mult_totals(rows: list[dict]) -> dict:
    """Network totals per execution (a layer without that option counts as direct), and
    the build's own."""
    keys = sorted({k for r in rows for k in r["mults"]})
    def get(m: dict, k: str) -> int:  # a layer without that execution counts sparse, else direct
        return m.get(k, m.get("sparse", m["direct"]) if k.startswith("sparse") else m["direct"])

    tot = {k: sum(get(r["mults"], k) for r in rows) for k in keys}
    tot["chosen"] = sum(r["mults"][r["chosen"]] for r in rows)
    return tot


CHOICES = {"direct": ("off", "off"), "winograd_f2": ("f2", "off"), "winograd_f4": ("f4", "off"),
           "sparse": ("off", "on"), "sparse_winograd_f2": ("f2", "on"), "sparse_winograd_f4": ("f4", "on")}


def alternatives(g0: Graph, board, target_fps=None, progress=None) -> dict:
    """Each execution applied to every layer that allows it, folded for the board like the
    build (cost/fold.py): its multiplications, estimated resources and frame rate.
    ``g0``: the graph before the passes (its lowering meta is replaced)."""
    from ..errors import EdgecError
    from .fold import fold

    out = {}
    for name, (wino, sp) in CHOICES.items():
        g = g0.copy()
        g.meta["lowering"] = {"winograd": wino, "sparse": sp, "layers": {}}
        g = run_pipeline(g, POLICY)
        rows = layer_mults(g)
        row = {"mults": sum(r["mults"][r["chosen"]] for r in rows)}
        try:
            _, _, est = fold(g, board, target_fps)
            row.update(est.total.as_dict(), fps=round(est.fps, 1), fits=est.fits)
        except EdgecError as e:
            row.update(fits=False, error=str(e))
        out[name] = row
        if progress:
            progress(f"  {name}: {row['mults']:,} multiplications"
                     + (f", {row['fps']:,.0f} fps" if "fps" in row else " (does not fold)"))
    return out


REQUANT_MIN_BITS = 5  # "auto": thresholds stay exact to the float scale below this many output bits
BRAM_LUT_EQ = 300  # LUT-equivalents of a BRAM36 when a threshold table is weighed against a multiplier


def requant_area(acc_bits: int) -> float:
    """LUT-equivalents of one Requant unit (cost/hw.py): the multiply on DSPs (25 x 18 bits
    each), the bias add, the shift and the clip in logic."""
    return DSP_LUT_EQ * -(-acc_bits // 25) + 3 * (acc_bits + 18)


def threshold_area(channels: int, nt: int, acc_bits: int) -> float:
    """LUT-equivalents of the same channels' thresholds at one PE (cost/hw.py: edgec_act)."""
    from .hw import _activation

    r = _activation(1, channels, nt, acc_bits)
    return r.LUT + BRAM_LUT_EQ * r.BRAM36


def requant_layers(g: Graph, mode: str) -> set[str]:
    """The AffineQuant nodes of a lowered graph that become Requant (``--requant``): "on"
    every one that has the form (ir/requant.py: a clip or no activation, not bipolar, not
    onnxruntime's float32 rule), "auto" those of REQUANT_MIN_BITS or more output bits where
    a Requant unit costs less than the thresholds, "off" none."""
    from ..ir import requant
    from ..passes.acc_widths import infer_acc_widths

    if mode == "off":
        return set()
    g = infer_acc_widths(g)
    out = set()
    for n in g.nodes:
        a = n.attrs
        if n.op != Op.AFFINE_QUANT or a["bipolar"] or a.get("arith") or not requant.foldable(a.get("act")):
            continue
        nt, cb = a["hi"] - a["lo"], g.node(n.inputs[0]).type.bits
        if mode == "on" or (nt + 1 >= 2**REQUANT_MIN_BITS
                            and requant_area(cb) < threshold_area(n.shape[-1], nt, cb)):
            out.add(n.name)
    return out
