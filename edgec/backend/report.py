"""report.json and the printed per-layer table."""
from __future__ import annotations

import numpy as np

from ..cost.counts import layer_rows, totals
from ..frontend.qmodel import float_forward
from ..verify import compare
from . import sim as sim_backend


def _acc(logits, y):
    return round(100.0 * float((logits.reshape(len(y), -1).argmax(1) == y).mean()), 2)


def make(g, qnet, board, quant: dict, sim_dir, eval_x, eval_y, progress, float_graph=None) -> dict:
    """``float_graph``: the model before quantization and fine-tuning (its accuracy is 'float')."""
    rows = layer_rows(g)
    rep = {"board": {"name": board.name, "part": board.part, "clock_mhz": board.clock_mhz},
           "quantization": quant, "layers": rows, "totals": totals(rows),
           "input_shape": g.meta["input_shape"], "output_shape": g.meta["output_shape"]}
    if eval_x is not None:
        progress(f"checking the simulator against the fake-quant reference on {len(eval_x)} inputs")
        sim = sim_backend.load(sim_dir)
        c = compare(qnet, sim, eval_x)
        rep["sim_vs_reference"] = {k: c[k] for k in ("vectors", "mismatches", "ties")}
        if eval_y is not None:
            rep["accuracy"] = {"samples": int(len(eval_y)),
                               "float": _acc(float_forward(float_graph or qnet.graph, eval_x), eval_y),
                               "reference": _acc(c["y_ref"], eval_y), "sim": _acc(c["y"], eval_y)}
    return rep


COLUMNS = [("layer", "layer"), ("op", "op"), ("kernel", "kernel"), ("in_shape", "in"), ("out_shape", "out"),
           ("params", "params"), ("macs", "MACs"), ("bitops", "bit-ops"), ("wbits", "W"), ("abits", "A"),
           ("acc_bits", "acc")]


def table(rep: dict) -> str:
    def cell(r, k):
        v = r.get(k, "")
        return "x".join(map(str, v)) if isinstance(v, list) else f"{v:,}" if isinstance(v, int) and k in ("params", "macs", "bitops") else str(v)

    body = [[cell(r, k) for k, _ in COLUMNS] for r in rep["layers"]]
    tot = rep["totals"]
    body.append(["total", "", "", "", "", f"{tot['params']:,}", f"{tot['macs']:,}", f"{tot['bitops']:,}", "", "", ""])
    head = [h for _, h in COLUMNS]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    fmt = lambda row: "  ".join(c.rjust(w) if i >= 5 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
    lines = [fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in body]
    if "accuracy" in rep:
        a = rep["accuracy"]
        lines.append(f"accuracy on {a['samples']} samples: float {a['float']:.2f}%  fake-quant reference "
                     f"{a['reference']:.2f}%  simulator {a['sim']:.2f}%")
    if "sim_vs_reference" in rep:
        s = rep["sim_vs_reference"]
        lines.append(f"simulator vs reference: {s['vectors']} vectors, {s['mismatches']} mismatches, {s['ties']} ties")
    return "\n".join(lines)
