"""Per-layer arithmetic counts of the IR: parameters, MACs, bit operations and widths."""
from __future__ import annotations

import numpy as np

from ..ir.graph import Graph
from ..ir.ops import Op
from ..ir.types import int_type_for

ROW_OPS = (Op.MATMUL, Op.XNOR_POPCOUNT, Op.WINOGRAD, Op.ADD, Op.MUL, Op.CONCAT, Op.UPSAMPLE, Op.MAX_POOL, Op.AVG_POOL)
JOIN_OPS = (Op.ADD, Op.MUL, Op.CONCAT)  # two inputs: A is the wider one's bits


def weight_label(w: np.ndarray) -> tuple[str, int]:
    if np.isin(w, (-1, 1)).all():
        return "binary", 1
    if np.isin(w, (-1, 0, 1)).all():
        return "ternary", 2
    b = int_type_for(w.min(), w.max()).bits
    return f"int{b}", b


def kernel_label(n) -> str:
    """The kernel kind, prefixed by the lowering: winograd-f2/..., sparse/...; an Upsample
    of fill zero (a transposed convolution's zero insertion) is zero-insert."""
    k = n.attrs.get("kernel_kind", "-")
    if n.op == Op.UPSAMPLE and n.attrs.get("fill", "nearest") == "zero":
        return "zero-insert"
    if n.op == Op.WINOGRAD:
        k = f"winograd-f{n.attrs['tile']}/{k}"
    return f"sparse/{k}" if n.attrs.get("sparse") else k


def feature_source(g: Graph, n) -> str:
    src = g.node(n.inputs[0])
    return src.inputs[0] if src.op == Op.SLIDING_WINDOW else src.name


def layer_rows(g: Graph) -> list[dict]:
    rows = []
    for n in g.nodes:
        if n.op not in ROW_OPS:
            continue
        src = g.node(feature_source(g, n))
        row = {
            "layer": n.attrs.get("layer", n.name), "op": n.op.value, "kernel": kernel_label(n),
            "in_shape": list(src.shape), "out_shape": list(n.shape), "params": 0, "macs": 0, "bitops": 0,
            "wbits": "-",
            "abits": src.type.bits if n.op not in JOIN_OPS else max(g.node(i).type.bits for i in n.inputs),
            "acc_bits": n.type.bits if n.op in (Op.MATMUL, Op.XNOR_POPCOUNT, Op.ADD, Op.MUL, Op.WINOGRAD) else "-",
        }
        if n.op in (Op.MATMUL, Op.XNOR_POPCOUNT):
            w = n.params["weight"]
            label, wb = weight_label(w)
            pixels = int(np.prod(n.shape[:-1]))
            row.update(params=int(w.size), macs=int(w.size) * pixels, wbits=n.attrs.get("wq", label))
            row["bitops"] = row["macs"] * wb * g.node(n.inputs[0]).type.bits
        elif n.op == Op.WINOGRAD:  # the per-position products on the transformed inputs
            u = n.params["weight"]
            label, wb = weight_label(u)
            tiles = -(-n.shape[0] // n.attrs["tile"]) * -(-n.shape[1] // n.attrs["tile"])
            row.update(params=int(u.size), macs=int(u.size) * tiles, wbits=label)
            row["bitops"] = row["macs"] * wb * int_type_for(*n.attrs["v_range"]).bits
        cons = g.consumers(n.name)
        if len(cons) == 1 and cons[0].op == Op.MULTI_THRESHOLD:
            t = cons[0]
            row["thresholds"] = int(t.params["thresholds"].shape[1])
            row["out_type"] = str(t.type)
            # the activation the thresholds carry out (ir/act.py kinds; signed steps when it falls)
            # held as a table of every input value's code: /lookup (passes/lookup.py)
            row["act"] = (t.attrs.get("act", "thresholds") + ("/steps" if t.params.get("steps") is not None else "")
                          + ("/lookup" if t.attrs.get("form") == "lookup" else ""))
        elif len(cons) == 1 and cons[0].op == Op.REQUANT:
            r = cons[0]
            row["thresholds"] = 0
            row["out_type"] = str(r.type)
            # the integer multiplier and shift; the report states how far M / 2^S is from the float ratio
            row["act"] = "requant" + (f"/{r.attrs['act']}" if "act" in r.attrs else "")
            row["scale_error"] = float(r.attrs.get("scale_error", 0.0))
        else:
            row["out_type"] = str(n.type)
            row["act"] = "-"
        rows.append(row)
    return rows


def totals(rows: list[dict]) -> dict:
    return {k: sum(r[k] for r in rows) for k in ("params", "macs", "bitops")}
