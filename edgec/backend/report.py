"""report.json and the printed per-layer table."""
from __future__ import annotations

import math

from ..cost.counts import layer_rows, totals
from ..cost.fold import no_fit_message
from ..cost.hw import BUDGET
from ..dataflow import StageKind
from ..cost.lowering import CHOICES, layer_mults, mult_totals
from ..frontend.qmodel import float_forward
from ..verify import check_onnxruntime, check_pt2e, check_qonnx, compare, inputs_in_range
from . import sim as sim_backend


def _simd(st) -> int | str:
    """A stage's SIMD as the report shows it: the input elements per word of a dense unit,
    a window generator or a converter, the non-zeros per lane and word of a sparse unit."""
    if st.kind == StageKind.SMVAU:
        return st.p.simd
    return st.ins[0].per_word if st.kind in (StageKind.MVAU, StageKind.SWG, StageKind.DWC) else "-"


def accuracy(logits, y) -> float:
    return _acc(logits, y)


QONNX_VECTORS = 100  # inputs a QONNX build checks against qonnx execution, at most
QONNX_VALUES = 1 << 26  # ... and so many tensor values in all (at least 8 inputs): big maps get fewer


def reference_vectors(g) -> int:
    """How many inputs a QONNX build's check executes: QONNX_VECTORS, fewer for a network
    whose tensors hold more than QONNX_VALUES / QONNX_VECTORS values per input."""
    per_vector = sum(math.prod(n.shape) for n in g.nodes)
    return int(min(QONNX_VECTORS, max(8, QONNX_VALUES // max(per_vector, 1))))


def _acc(logits, y):
    return round(100.0 * float((logits.reshape(len(y), -1).argmax(1) == y).mean()), 2)


def hardware(fold: dict, est, board) -> dict:
    """The folded dataflow: per stage its folding, cycles per frame and estimated resources."""
    stages = []
    for st, r in est.stages:
        stages.append({"stage": st.name, "kind": st.kind, "layer": st.layer, "pe": st.outs[0].per_word,
                       "simd": _simd(st), "cycles": st.cycles,
                       **r.as_dict()})
    cap = board.capacity
    h = {"stages": stages, "fifos": est.fifos.as_dict(), "total": est.total.as_dict(), "board": cap,
         "budget": BUDGET,
         "bottleneck": est.bottleneck.name, "cycles_per_frame": est.cycles, "clock_mhz": board.clock_mhz,
         "fps": round(est.fps, 1), "fits": est.fits, "folding": fold}
    if not est.fits:
        h["does_not_fit"] = no_fit_message(est, board, all(v == {"pe": 1, "simd": 1} for v in fold.values()))
    return h


def make(g, qnet, board, quant: dict, sim_dir, eval_x, eval_y, progress, float_graph=None, hw=None,
         choices=None, qonnx_model=None, seed: int = 0) -> dict:
    """``float_graph``: the model before quantization and fine-tuning (its accuracy is 'float');
    ``qonnx_model``: a QONNX build's normalised model, which qonnx executes as the reference
    on the calibration inputs or on QONNX_VECTORS generated ones (verify.inputs_in_range);
    ``hw``: (folding, cost estimate) of the dataflow accelerator; ``choices``: each
    execution's multiplications, resources and frame rate (cost/lowering.py: alternatives)."""
    rows = layer_rows(g)
    mrows = layer_mults(g)
    rep = {"board": {"name": board.name, "part": board.part, "clock_mhz": board.clock_mhz},
           "quantization": quant, "layers": rows, "totals": totals(rows),
           "multiplications": {"layers": mrows, "totals": mult_totals(mrows), "choices": choices or {}},
           "input_shape": g.meta["input_shape"], "output_shape": g.meta["output_shape"]}
    if hw is not None:
        rep["hardware"] = hardware(hw[0], hw[1], board)
    if "input_quantizer" in g.meta:
        rep["input_quantizer"] = g.meta["input_quantizer"]
    if qnet is None and qonnx_model is not None and g.meta.get("source") == "pt2e":  # PyTorch runs the program
        sim = sim_backend.load(sim_dir)
        n = reference_vectors(g)
        x = eval_x[:n] if eval_x is not None else inputs_in_range(sim, n, seed, 0.4)
        how = "calibration" if eval_x is not None else "generated"
        progress(f"checking the simulator's output codes against PyTorch's execution of the program on {len(x)} "
                 f"{how} inputs")
        try:
            c = check_pt2e(qonnx_model, g, sim, x)
        except Exception as e:  # noqa: BLE001 - PyTorch refusing the program: reported, not fatal
            c = {"vectors": int(len(x)), "error": (str(e).strip().splitlines() or [type(e).__name__])[0]}
            progress(f"warning: PyTorch could not execute the program as the reference: {c['error']}")
        rep["sim_vs_reference"] = {**c, "reference": "pytorch", "inputs": how}
        if eval_y is not None:
            rep["accuracy"] = {"samples": int(len(eval_y)), "sim": _acc(sim.run(eval_x)[1], eval_y)}
    elif qnet is None and qonnx_model is not None and g.meta.get("source") == "int8_onnx":  # onnxruntime's own
        sim = sim_backend.load(sim_dir)
        n = reference_vectors(g)
        x = eval_x[:n] if eval_x is not None else inputs_in_range(sim, n, seed, 0.4)
        how = "calibration" if eval_x is not None else "generated"
        progress(f"checking the simulator's output codes against onnxruntime on {len(x)} {how} inputs")
        try:
            c = check_onnxruntime(qonnx_model, g, sim, x)
        except Exception as e:  # noqa: BLE001 - onnxruntime refusing the model: reported, not fatal
            c = {"vectors": int(len(x)), "error": (str(e).strip().splitlines() or [type(e).__name__])[0]}
            progress(f"warning: onnxruntime could not execute the model as the reference: {c['error']}")
        c.pop("mismatched", None)  # the indices: for `edgec verify`
        rep["sim_vs_reference"] = {**c, "reference": "onnxruntime", "inputs": how}
        if eval_y is not None:
            rep["accuracy"] = {"samples": int(len(eval_y)), "sim": _acc(sim.run(eval_x)[1], eval_y)}
    elif qnet is None and qonnx_model is not None:  # a QONNX model: its own executor, qonnx, is the reference
        sim = sim_backend.load(sim_dir)
        coded = g.meta.get("input_quantizer", {}).get("source") == "annotation"  # its values are the codes
        n = reference_vectors(g)
        x = eval_x[:n] if eval_x is not None else inputs_in_range(sim, n, seed, 0.0 if coded else 0.4)
        how = "calibration" if eval_x is not None else "generated"
        progress(f"checking the simulator against qonnx execute_onnx on {len(x)} {how} inputs")
        try:
            c = check_qonnx(qonnx_model, g, sim, x)
        except Exception as e:  # noqa: BLE001 - qonnx refusing the model or the inputs: reported, not fatal
            c = {"vectors": int(len(x)), "error": (str(e).strip().splitlines() or [type(e).__name__])[0]}
            progress(f"warning: qonnx could not execute the model as the reference: {c['error']}")
        c.pop("mismatched", None)
        rep["sim_vs_reference"] = {**c, "reference": "qonnx execute_onnx", "inputs": how}
        if eval_y is not None:
            rep["accuracy"] = {"samples": int(len(eval_y)), "sim": _acc(sim.run(eval_x)[1], eval_y)}
    elif eval_x is not None:
        progress(f"checking the simulator against the fake-quant reference on {len(eval_x)} inputs")
        sim = sim_backend.load(sim_dir)
        c = compare(qnet, sim, eval_x)
        rep["sim_vs_reference"] = {**{k: c[k] for k in ("vectors", "mismatches", "ties")},
                                   "reference": "fake-quant", "inputs": "calibration"}
        if eval_y is not None:
            rep["accuracy"] = {"samples": int(len(eval_y)),
                               "float": _acc(float_forward(float_graph or qnet.graph, eval_x), eval_y),
                               "reference": _acc(c["y_ref"], eval_y), "sim": _acc(c["y"], eval_y)}
        else:  # no labels: how often the simulator's top-1 is the float model's
            top = float_forward(float_graph or qnet.graph, eval_x).reshape(len(eval_x), -1).argmax(1)
            rep["agreement"] = {"samples": int(len(eval_x)), "top1_vs_float": _acc(c["y"], top)}
    return rep


COLUMNS = [("layer", "layer"), ("op", "op"), ("kernel", "kernel"), ("act", "act"), ("in_shape", "in"),
           ("out_shape", "out"), ("params", "params"), ("macs", "MACs"), ("bitops", "bit-ops"), ("wbits", "W"),
           ("abits", "A"), ("acc_bits", "acc")]


HW_COLUMNS = [("stage", "stage"), ("kind", "kind"), ("pe", "PE"), ("simd", "SIMD"), ("cycles", "cycles"),
              ("LUT", "LUT"), ("FF", "FF"), ("BRAM36", "BRAM36"), ("DSP", "DSP")]
COUNTS = ("params", "macs", "bitops", "cycles", "LUT", "FF", "DSP", "mults", "params_before", "params_after",
          "macs_before", "macs_after")


def cell(r: dict, k: str) -> str:
    """One cell of a report table as text (the terminal table and report.html)."""
    v = r.get(k, "")
    if isinstance(v, list):
        return "x".join(map(str, v))
    return f"{v:,}" if isinstance(v, int) and k in COUNTS else str(v)


def _grid(columns, rows, total, right_from) -> list[str]:
    body = [[cell(r, k) for k, _ in columns] for r in rows] + ([[cell(total, k) for k, _ in columns]] if total else [])
    head = [h for _, h in columns]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    def fmt(row):
        return "  ".join(c.rjust(w) if i >= right_from else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))

    return [fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in body]


def table(rep: dict) -> str:
    lines = _grid(COLUMNS, rep["layers"], {"layer": "total", **rep["totals"]}, 6)
    if "hardware" in rep:
        h = rep["hardware"]
        lines += [""] + _grid(HW_COLUMNS, h["stages"], {"stage": "total (with DMA and FIFOs)", **h["total"]}, 2)
        use = "  ".join(f"{k} {100 * h['total'][k] / h['board'][k]:.1f}%" for k in ("LUT", "FF", "BRAM36", "DSP"))
        lines.append(f"{rep['board']['name']} at {h['clock_mhz']:g} MHz: {h['fps']:,.0f} frames/s, bottleneck "
                     f"{h['bottleneck']} ({h['cycles_per_frame']:,} cycles per frame); {use} of the board: "
                     + ("fits" if h["fits"] else f"does NOT fit (budget {h['budget']:.0%})"))
    if rep.get("timing"):
        lines += timing_lines(rep["timing"])
    if "multiplications" in rep:
        lines += [""] + mult_table(rep["multiplications"])
    if rep.get("lowrank"):
        lines += [""] + lowrank_table(rep["lowrank"])
    if "accuracy" in rep:
        a = rep["accuracy"]
        parts = [f"{label} {a[k]:.2f}%" for k, label in (("float", "float"), ("reference", "fake-quant reference"),
                                                         ("sim", "simulator")) if k in a]
        lines.append(f"accuracy on {a['samples']} samples: " + "  ".join(parts))
    if "sim_vs_reference" in rep:
        s = rep["sim_vs_reference"]
        ref = f" ({s['reference']}, {s['inputs']} inputs)" if "reference" in s else ""
        lines.append(f"simulator vs reference{ref}: " + (f"not run: {s['error']}" if "error" in s else
                     f"{s['vectors']} vectors, {s['mismatches']} mismatches, {s['ties']} ties"))
    return "\n".join(lines)


def timing_lines(t: dict) -> list[str]:
    """The timing section `edgec synth` adds: per stage its delays and fmax estimate, and
    whether each meets the build's clock."""
    if t.get("fmax_mhz") is None:
        return [f"timing estimate (edgec synth): no register-to-register path at {t['clock_mhz']:g} MHz"]
    rows = [{"stage": r["stage"], "kind": r["kind"], "logic": f"{r['logic_delay_ns']:.2f}",
             "route": f"{r['route_delay_ns']:.2f}", "fmax": "-" if r["fmax_mhz"] is None else f"{r['fmax_mhz']:.0f}",
             "meets": "yes" if r["meets"] else "NO"} for r in t["stages"]]
    cols = [("stage", "stage"), ("kind", "kind"), ("logic", "logic ns"), ("route", "route ns"),
            ("fmax", "fmax MHz"), ("meets", f"meets {t['clock_mhz']:g} MHz")]
    return ["", "timing estimate (edgec synth: yosys cell delays + routing)"] + _grid(cols, rows, None, 2) + [
        f"fmax {t['fmax_mhz']:.0f} MHz ({t['limited_by']}): "
        + (f"every stage meets {t['clock_mhz']:g} MHz" if t["meets"] else
           f"does NOT meet {t['clock_mhz']:g} MHz ({', '.join(t['failing'])})")]


MULT_LABELS = {"direct": "direct", "winograd_f2": "F2", "winograd_f4": "F4", "sparse": "sparse",
               "sparse_winograd_f2": "sparse F2", "sparse_winograd_f4": "sparse F4"}


def mult_table(m: dict) -> list[str]:
    """Multiplications per inference of each execution, per layer and in total (x: the
    saving against direct), and each execution's estimated resources and frame rate."""
    keys = [k for k in CHOICES if k in m["totals"]]
    cols = [("layer", "layer"), ("chosen", "uses")] + [(k, MULT_LABELS[k]) for k in keys]

    def fmt(mults: dict, k: str) -> str:
        if k not in mults:
            return "-"
        v = mults[k]
        return f"{v:,}" if k == "direct" else f"{v:,} ({mults['direct'] / v:.2f}x)" if v else "0"

    rows = [{"layer": r["layer"], "chosen": MULT_LABELS[r["chosen"]], **{k: fmt(r["mults"], k) for k in keys}}
            for r in m["layers"]]
    t = m["totals"]
    total = {"layer": "total", "chosen": f"{t['chosen']:,}", **{k: fmt(t, k) for k in keys}}
    lines = ["multiplications per inference (x: fewer than direct)"] + _grid(cols, rows, total, 2)
    if m.get("choices"):
        ch = [{"choice": MULT_LABELS[k], **v, "fps": f"{v['fps']:,.0f}" if "fps" in v else "-",
               "fits": "yes" if v.get("fits") else "no"} for k, v in m["choices"].items()]
        lines += [""] + _grid([("choice", "every layer as"), ("mults", "mults"), ("LUT", "LUT"), ("FF", "FF"),
                                ("BRAM36", "BRAM36"), ("DSP", "DSP"), ("fps", "fps"), ("fits", "fits")], ch, None, 1)
    return lines

def lowrank_table(lr: dict) -> list[str]:
    """The factorised layers: rank, parameters and MACs before and after; float accuracy."""
    rows = [{**r, "rank": "x".join(map(str, r["rank"])) if isinstance(r["rank"], list) else str(r["rank"])}
            for r in lr["layers"]]
    total = {"layer": "total", **{k: sum(r[k] for r in lr["layers"]) for k in
                                  ("params_before", "params_after", "macs_before", "macs_after")}}
    cols = [("layer", "layer"), ("method", "method"), ("rank", "rank"), ("params_before", "params"),
            ("params_after", "-> params"), ("macs_before", "MACs"), ("macs_after", "-> MACs")]
    lines = [f"low-rank ({lr['spec']}, convolutions: {lr['conv']})"] + _grid(cols, rows, total, 3)
    if "accuracy" in lr:
        a = lr["accuracy"]
        lines.append(f"float accuracy on {a['samples']} samples: {a['float_before']:.2f}% before, "
                     f"{a['float_after']:.2f}% after factorising")
    return lines
