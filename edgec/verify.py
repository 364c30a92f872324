"""Checks of the generated simulator against the source framework (docs/design.md §4)."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx
import torch

from .frontend.qmodel import FakeQuantModel
from .frontend.qnet import QNet

TIE = 1e-5  # a pre-quantization value this close (in units of the scale) to a rounding boundary is a tie
# qonnx executes in float32 through deep chains (BatchNorm, residual adds): a differing value of its within
# QONNX_TIE * max(1, |v|) steps of the boundary is a tie (A2Q ResNet-18: up to 1.3e-4 steps off 12.5, 1.5e-5
# off 0.5, all one step from edgec's exact rounding); PT2E_TIE is 1e-3 for the same reason
QONNX_TIE = 1e-4


def reference(qnet: QNet, x: np.ndarray, batch: int = 512):
    """The fake-quant reference in float64: (q, y, near_tie per sample)."""
    m = FakeQuantModel(qnet, torch.float64)
    qs, ys, ties = [], [], []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            q, y, pre = m(x[i : i + batch])
            qs.append(q.numpy())
            ys.append(y.numpy())
            t = np.zeros(len(q), bool)
            for seg, v in pre.items():
                v = v.numpy().reshape(len(q), -1)
                bipolar = qnet.segment_by_compute(seg).out.bipolar
                frac = np.abs(v) if bipolar else np.abs(v - np.floor(v) - 0.5)
                t |= (frac < TIE).any(axis=1)
            ties.append(t)
    return np.rint(np.concatenate(qs)).astype(np.int64), np.concatenate(ys), np.concatenate(ties)


def compare(qnet: QNet, sim, x: np.ndarray) -> dict:
    """Run the generated simulator module and the reference on x; count vectors whose
    integer outputs differ, separating those the reference computed at a tie."""
    q_ref, y_ref, tie = reference(qnet, x)
    q, y = sim.run(x)
    bad = (q.reshape(len(q), -1) != q_ref.reshape(len(q), -1)).any(axis=1)
    return {"vectors": int(len(x)), "mismatches": int((bad & ~tie).sum()), "ties": int((bad & tie).sum()),
            "q": q, "y": y, "q_ref": q_ref, "y_ref": y_ref, "mismatched": np.flatnonzero(bad & ~tie)}


# ---- QONNX models: qonnx's own execute_onnx is the reference --------------------------------

def _qonnx_cleaned(path):
    """The model of ``path`` (a file or an onnx.ModelProto) after qonnx's cleanup transformations
    (normalize.cleanup: shape inference, constant folding), with a channels-last domain stamped
    with the model's ONNX opset (qonnx's own convention: older exports stamp it 1, which
    onnxruntime refuses for MaxPool)."""
    from qonnx.core.modelwrapper import ModelWrapper

    from .frontend.normalize import cleanup

    if isinstance(path, onnx.ModelProto):
        model = onnx.ModelProto()
        model.CopyFrom(path)
    else:
        model = onnx.load(str(path))
    base = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 11)
    cl = "qonnx.custom_op.channels_last"
    for o in model.opset_import:
        if o.domain == cl:
            o.version = base
    if any(n.domain == cl for n in model.graph.node) and all(o.domain != cl for o in model.opset_import):
        model.opset_import.append(onnx.helper.make_opsetid(cl, base))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cleanup(ModelWrapper(model))


def _rebatched(cleaned, n: int):
    """``cleaned`` with its batch dimension set to n (qonnx ChangeBatchSize); per-sample computation is unchanged."""
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.transformation.infer_shapes import InferShapes

    if n == 1:
        return cleaned
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cleaned.transform(ChangeBatchSize(n)).transform(InferShapes())


def qonnx_batched(path, n: int):
    """The model of ``path`` (a file or an onnx.ModelProto) as qonnx executes it on n inputs at
    once: cleaned (_qonnx_cleaned), its batch dimension set to n."""
    return _rebatched(_qonnx_cleaned(path), n)


class QonnxRunner:
    """qonnx's execute_onnx on the model of ``path``, cleaned once (its qonnx cleanup takes
    seconds on a large graph) and re-batched once per batch size: call it on any number of
    input chunks."""

    def __init__(self, path):
        self.cleaned = _qonnx_cleaned(path)
        self.models: dict[int, object] = {1: self.cleaned}
        try:
            self.models[2] = _rebatched(self.cleaned, 2)
            self.rebatch = True
        except Exception:  # noqa: BLE001 - qonnx cannot re-batch it (its channels-last ops): one input at a time
            self.rebatch = False

    def __call__(self, x: np.ndarray, keep=None, batch: int = 250) -> dict[str, np.ndarray]:
        """The tensors named in ``keep`` (default: all) of the full execution context, for every
        input (``batch`` at a time, or one when qonnx cannot change the model's batch size)."""
        from qonnx.core.onnx_exec import execute_onnx

        batch = batch if self.rebatch else 1
        out: dict[str, list] = {}
        for i in range(0, len(x), batch):
            chunk = x[i : i + batch]
            if len(chunk) not in self.models:
                self.models[len(chunk)] = _rebatched(self.cleaned, len(chunk))
            model = self.models[len(chunk)]
            ctx = execute_onnx(model, {model.graph.input[0].name: chunk}, return_full_exec_context=True)
            for k, v in ctx.items():
                if (keep is None or k in keep) and isinstance(v, np.ndarray) and v.ndim and v.shape[0] == len(chunk):
                    out.setdefault(k, []).append(v)
        return {k: np.concatenate(v) for k, v in out.items()}


def qonnx_execute(path, x: np.ndarray, keep=None, batch: int = 250) -> dict[str, np.ndarray]:
    """qonnx's execute_onnx on x (QonnxRunner, once)."""
    return QonnxRunner(path)(x, keep, batch)


def qonnx_compare(ref: dict, source_tensors: dict, trace: dict, order) -> dict:
    """Every quantized activation of the simulator (``trace``: IR tensor -> values, channels
    last) against qonnx's (``ref``: its execution context): per input vector, mismatches,
    and vectors where the reference met a rounding tie (counted separately).

    A differing vector is a tie when, at the first quantizer whose values differ (graph order
    is topological: every quantized tensor before it is equal in both, so its inputs are the
    same up to float error), every differing value is one step from the reference's and the
    reference's value before rounding is within ``QONNX_TIE * max(1, |v|)`` of a rounding boundary
    (``v`` in steps of the scale). ``tie_distance``: the largest such distance among the ties (in steps).
    ``order``: the IR graph (its node order is topological), or IR tensor -> position; required, as
    the importer does not keep ``source_tensors`` topological (a Trunc's entry comes first)."""
    n = len(next(iter(trace.values())))
    bad, tie, undecided = np.zeros(n, bool), np.zeros(n, bool), np.ones(n, bool)
    checked, worst = 0, 0.0
    if not isinstance(order, dict):
        order = {nd.name: i for i, nd in enumerate(order.nodes)}
    items = sorted(source_tensors.items(), key=lambda kv: order[kv[1]["ir"]])
    for onnx_name, s in items:
        real = ref[onnx_name].astype(np.float64)
        scale = np.asarray(s["scale"], np.float64)
        if scale.size > 1:  # one per channel (axis 1)
            scale = scale.reshape((1, -1) + (1,) * (real.ndim - 2))
        q_ref = np.rint(real / scale + s["zero_point"]) if not s["bipolar"] else np.sign(real)
        got = trace[s["ir"]]
        if got.ndim == 4:
            got = got.transpose(0, 3, 1, 2)
        got = got.reshape(q_ref.shape)
        diff = (got != q_ref).reshape(n, -1)
        off = diff.any(axis=1)
        checked += 1
        bad |= off
        rows = np.flatnonzero(undecided & off)
        if not len(rows):
            continue
        undecided[rows] = False
        # the first differing quantizer of these vectors: did the reference meet a rounding
        # boundary at each differing value (0 for the sign, k + 0.5 to the nearest, integers otherwise)?
        pre = ref[s["input"]][rows].astype(np.float64)
        pre_scale = s.get("pre_scale", scale)
        if np.ndim(pre_scale) and np.size(pre_scale) > 1:
            pre_scale = np.asarray(pre_scale, np.float64).reshape((1, -1) + (1,) * (pre.ndim - 2))
        v = np.broadcast_to(pre / pre_scale + s.get("pre_zero_point", s["zero_point"]), q_ref[rows].shape)  # Trunc
        frac = v - np.floor(v)
        if s["bipolar"]:
            dist, step = np.abs(v), None  # a sign: any other value is the other side of 0
        elif s.get("rounding", "half_up").startswith("half"):
            dist, step = np.abs(frac - 0.5), 1
        else:
            dist, step = np.minimum(frac, 1 - frac), 1
        d, dist = diff[rows], dist.reshape(len(rows), -1)
        one = True if step is None else (np.abs(got[rows] - q_ref[rows]) == step).reshape(len(rows), -1)
        near = dist < QONNX_TIE * np.maximum(1.0, np.abs(v.reshape(len(rows), -1)))
        tie[rows] = ok = np.where(d, near & one, True).all(axis=1)
        if ok.any():
            worst = max(worst, float(dist[ok][d[ok]].max()))
    return {"vectors": n, "tensors": checked, "mismatches": int((bad & ~tie).sum()), "ties": int((bad & tie).sum()),
            "mismatched": np.flatnonzero(bad & ~tie), "tie_distance": worst}


# ---- float ONNX models: onnxruntime is the reference ---------------------------------------

def onnxruntime_outputs(path: Path, x: np.ndarray, batch: int = 256) -> np.ndarray:
    """The model's output under onnxruntime for every input of ``x`` (the model's own file:
    a fixed batch dimension B > 1 is filled up to B with zeros, then cut back)."""
    import onnxruntime as ort

    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inp = s.get_inputs()[0]
    fixed = inp.shape[0] if isinstance(inp.shape[0], int) else None
    x = np.asarray(x, np.float32)
    outs = []
    step = fixed or batch
    for i in range(0, len(x), step):
        chunk = x[i : i + step]
        n = len(chunk)
        if fixed:
            chunk = np.concatenate([chunk, np.zeros((fixed - n, *x.shape[1:]), np.float32)])
        outs.append(s.run(None, {inp.name: chunk})[0][:n])
    return np.concatenate(outs)


def agreement(out: np.ndarray, ref: np.ndarray) -> dict:
    """Top-1 agreement (outputs of more than one class) and relative L2 error of ``out``
    against ``ref``, both (N, ...)."""
    out, ref = (np.asarray(v, np.float64).reshape(len(v), -1) for v in (out, ref))
    rel = float(np.linalg.norm(out - ref) / max(np.linalg.norm(ref), 1e-300))
    top1 = float((out.argmax(1) == ref.argmax(1)).mean()) if out.shape[1] > 1 else None
    return {"vectors": int(len(out)), "top1_agreement": top1, "relative_l2": rel}


def inputs_in_range(sim, n: int, seed: int = 0, jitter: float = 0.4) -> np.ndarray:
    """``n`` float inputs (the model's layout) that cover its input quantizer's range:
    integer codes drawn uniformly from [lo, hi], moved off the code by up to ``jitter`` of a step
    (0 for inputs whose values are the codes, as an annotated QONNX input's are),
    taken back through the quantizer's steps (sim.INPUT_QUANT). For QONNX models, whose
    input data is not at hand."""
    iq = sim.INPUT_QUANT
    rng = np.random.default_rng(seed)
    shape = (n, *sim.INPUT_SHAPE)
    if iq["bipolar"]:
        v = rng.choice([-1.0, 1.0], size=shape) * (rng.uniform(0.05, 1.0, size=shape) if jitter else 1.0)
    else:
        v = rng.integers(iq["lo"], iq["hi"] + 1, size=shape) + rng.uniform(-jitter, jitter, size=shape)
    inverse = {"mul": np.divide, "div": np.multiply, "add": np.subtract, "sub": np.add, "round": lambda v, c: v}
    for op, c in reversed(iq["steps"]):
        v = inverse[op](v, c)
    return v.astype(np.float32)


def check_qonnx(model, graph, sim, x: np.ndarray, on_outputs=None) -> dict:
    """A QONNX build's simulator against qonnx's execution of ``model`` (the file or the
    normalised ModelProto ``graph`` was imported from) on ``x``: every quantized activation
    (graph.meta["source_tensors"]) per input vector, rounding ties counted apart; ``mismatched``:
    the indices of the differing vectors. ``on_outputs(start, q, y)``: called with the
    simulator's outputs of every batch (x may be memory-mapped: it is read batch by batch)."""
    tensors = graph.meta["source_tensors"]
    total = None
    runner = QonnxRunner(model)
    for i in range(0, len(x), batch_for(graph)):
        chunk = np.asarray(x[i : i + batch_for(graph)])
        ref = runner(chunk, keep=set(tensors) | {s["input"] for s in tensors.values()})
        keep = {s["ir"]: None for s in tensors.values()}
        q, y = sim.run(chunk, keep=keep)
        if on_outputs is not None:
            on_outputs(i, q, y)
        r = qonnx_compare(ref, tensors, keep, graph)
        r["mismatched"] = r["mismatched"] + i
        total = r if total is None else {k: total[k] + r[k] if k not in ("tensors", "mismatched") else r[k]
                                         for k in r} | {"mismatched": np.concatenate([total["mismatched"],
                                                                                     r["mismatched"]]),
                                                        "tie_distance": max(total["tie_distance"], r["tie_distance"])}
    return total


def check_onnxruntime(model, graph, sim, x: np.ndarray, on_outputs=None) -> dict:
    """An int8 ONNX build's simulator against onnxruntime's execution of ``model`` (at its
    default optimisation level, which fuses QDQ groups into QLinear ops) on ``x``: the output
    codes, exactly (the model's final DequantizeLinear taken back with its scale and zero
    point, graph.meta["output_affine"]); ``ties`` is 0, there is no float reference to round."""
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    y = np.concatenate([sess.run(None, {name: np.asarray(x[i : i + 1])})[0] for i in range(len(x))]
                       ).astype(np.float64)
    q, ys = sim.run(x)
    if on_outputs is not None:
        on_outputs(0, q, ys)
    aff = graph.meta["output_affine"]
    a, c0 = np.asarray(aff["a"], np.float64), np.asarray(aff["c0"], np.float64)
    if a.size > 1 and np.all(a == a[0]) and np.all(c0 == c0[0]):
        a, c0 = a[:1], c0[:1]
    if a.size != 1:
        raise ValueError("the model output is not one quantized tensor (per-channel output scales)")
    ref = np.rint((y - c0[0]) / a[0]).astype(np.int64)
    q = q.reshape(ref.shape)
    bad = (q != ref).any(axis=tuple(range(1, q.ndim)))
    return {"vectors": int(len(x)), "mismatches": int(bad.sum()), "ties": 0, "values": int(q.size),
            "value_mismatches": int((q != ref).sum()), "mismatched": np.flatnonzero(bad)}


# ---- PT2E programs: PyTorch's own execution of the program is the reference ----------------

# a differing code whose PyTorch pre-quantization value x * (1 / scale) lies this close (in units of the
# scale) to a rounding boundary k + 0.5 is a tie: PyTorch's float32 convolution, linear or mean, in its
# own summation order, decides it, not the arithmetic (docs/pt2e.md). On the test networks the
# differing codes lie within 1e-4 of a step of the boundary.
PT2E_TIE = 1e-3


def pt2e_reference(ep, x: np.ndarray, names) -> tuple[np.ndarray, dict]:
    """PyTorch's execution of the exported program's module on ``x`` (a batch of the size it was exported
    with at a time, zero-filled): (its outputs, {quantize node in ``names``: (its float32 inputs, its
    codes)}), the inputs and outputs of those quantize_per_tensor nodes as the module computed them."""
    import torch.fx

    from .frontend.pt2e import ensure_ops

    ensure_ops()
    gm = ep.module()
    inp = next(n for n in ep.graph.nodes if n.op == "placeholder" and n.name in ep.graph_signature.user_inputs)
    b0 = inp.meta["val"].shape[0]
    step = int(b0) if isinstance(b0, int) else 64
    caps: dict[str, list] = {k: [] for k in names}

    class _Capture(torch.fx.Interpreter):
        def run_node(self, n):
            out = super().run_node(n)
            if n.name in caps:
                caps[n.name].append((self.env[n.args[0]].detach().numpy().copy(), out.detach().numpy().copy()))
            return out

    x = np.asarray(x, np.float32)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the same summation order on any machine (and no oversubscription)
    try:
        chunks = _pt2e_chunks(gm, x, step, caps, _Capture)
    finally:
        torch.set_num_threads(threads)
    return np.concatenate(chunks), {k: tuple(np.concatenate([c[j] for c in v]) for j in (0, 1))
                                  for k, v in caps.items()}


def _pt2e_chunks(gm, x, step, caps, interpreter) -> list:
    outs = []
    with torch.no_grad():
        for i in range(0, len(x), step):
            chunk = x[i : i + step]
            k = len(chunk)
            if k < step:
                chunk = np.concatenate([chunk, np.zeros((step - k, *x.shape[1:]), np.float32)])
            y = interpreter(gm).run(torch.from_numpy(chunk))
            outs.append((y[0] if isinstance(y, (tuple, list)) else y).numpy()[:k])
            for v in caps.values():
                if v:
                    v[-1] = (v[-1][0][:k], v[-1][1][:k])
    return outs


def check_pt2e(ep, graph, sim, x: np.ndarray, on_outputs=None) -> dict:
    """A PT2E build's simulator against PyTorch's execution of the program ``ep`` on ``x``: the output
    codes per input vector. A differing vector is a tie when, at the first quantize_per_tensor whose codes
    differ (its inputs' codes equal in both), every differing code has PyTorch's value
    ``input * (1 / scale)`` within PT2E_TIE of a rounding boundary: PyTorch's float32 rounding decided it.
    ``tie_distance``: the largest distance from the boundary of those first differing values (in steps);
    ``mismatched``: the indices of the vectors that differ outside ties. ``on_outputs(0, q, y)``: called
    with the simulator's outputs."""
    tensors = graph.meta["source_tensors"]
    y, caps = pt2e_reference(ep, x, set(tensors))
    keep = {s["ir"]: None for s in tensors.values()}
    q, y_sim = sim.run(x, keep=keep)
    if on_outputs is not None:
        on_outputs(0, q, y_sim)
    aff = graph.meta["output_affine"]
    a, c0 = np.asarray(aff["a"], np.float64), np.asarray(aff["c0"], np.float64)
    if not (np.all(a == a[0]) and np.all(c0 == c0[0])):
        raise ValueError("the program output is not one quantized tensor (per-channel output scales)")
    n = len(x)
    ref = np.rint((y.astype(np.float64) - c0[0]) / a[0]).astype(np.int64)
    q = q.reshape(ref.shape)
    bad = (q != ref).reshape(n, -1).any(axis=1)
    tie, undecided = np.zeros(n, bool), np.full(n, True)
    worst = 0.0
    order = {nd.name: i for i, nd in enumerate(graph.nodes)}  # topological: the first differing quantizer
    for name, st in sorted(tensors.items(), key=lambda kv: order.get(kv[1]["ir"], -1)):
        got = keep[st["ir"]]
        if got.ndim == 4:
            got = got.transpose(0, 3, 1, 2)
        pre, codes = caps[name]
        diff = (got.reshape(n, -1) != codes.reshape(n, -1).astype(np.int64))
        first = undecided & bad & diff.any(axis=1)
        if first.any():
            v = pre.reshape(n, -1).astype(np.float64) * float(np.float32(1.0 / st["scale"]))
            dist = np.abs(v - np.floor(v) - 0.5)
            near = np.where(diff, dist < PT2E_TIE, True).all(axis=1)
            tie |= first & near
            worst = max(worst, float(dist[first[:, None] & diff].max()))
            undecided &= ~first
    return {"vectors": int(n), "mismatches": int((bad & ~tie).sum()), "ties": int((bad & tie).sum()),
            "values": int(q.size), "value_mismatches": int((q != ref).sum()), "tie_distance": worst,
            "mismatched": np.flatnonzero(bad & ~tie)}


MEMORY = 1 << 30  # bytes the batched checks hold at once


def batch_for(graph) -> int:
    """Input vectors per batch so that every tensor of ``graph`` as the reference executor
    (float32) and the simulator (int64) hold it, twice over, stays within MEMORY."""
    per_vector = sum(int(np.prod(n.shape)) for n in graph.nodes) * (4 + 8) * 2
    return max(1, MEMORY // max(per_vector, 1))


# ---- the reference a build keeps (OUT/reference), for `edgec verify` ------------------------

REFERENCE_DIR = "reference"  # OUT/reference: reference.json, and model.onnx or qnet.json + qnet.npz


def _json_attrs(v):
    """An attribute value as JSON keeps it: tuples tagged so that they come back as tuples."""
    if isinstance(v, tuple):
        return {"__tuple__": [_json_attrs(x) for x in v]}
    if isinstance(v, list):
        return [_json_attrs(x) for x in v]
    if isinstance(v, dict):
        if any(not isinstance(k, str) for k in v):
            raise TypeError("an attribute dict with non-string keys")
        return {k: _json_attrs(x) for k, x in v.items()}
    if isinstance(v, np.ndarray):
        return {"__array__": v.tolist(), "dtype": str(v.dtype)}
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    raise TypeError(f"an attribute of type {type(v).__name__}")


def _from_json(v):
    if isinstance(v, list):
        return [_from_json(x) for x in v]
    if isinstance(v, dict):
        if set(v) == {"__tuple__"}:
            return tuple(_from_json(x) for x in v["__tuple__"])
        if set(v) == {"__array__", "dtype"}:
            return np.asarray(v["__array__"], np.dtype(v["dtype"]))
        return {k: _from_json(x) for k, x in v.items()}
    return v


def save_qnet(qnet: QNet, folder: Path) -> None:
    """The quantized network as ``qnet.json`` (structure, quantizers) and ``qnet.npz`` (every
    float parameter and pruning mask; no pickle), deterministic: load_qnet reads it back
    and the fake-quant reference computes from it exactly what it computed at build time."""
    from .ir.graph import dumps, save_npz

    g = qnet.graph
    arrays = {f"n{i}/{k}": np.asarray(v) for i, n in enumerate(g.nodes) for k, v in n.params.items()}

    def quant(q):
        return None if q is None else {"bits": int(q.bits), "signed": bool(q.signed), "scale": float(q.scale)}

    segs = []
    for j, s in enumerate(qnet.segments):
        if s.mask is not None:
            arrays[f"s{j}/mask"] = np.asarray(s.mask)
        segs.append({"compute": s.compute.name, "bn": s.bn.name if s.bn else None, "act": s.act.name if s.act else None,
                     "wq": None if s.wq is None else int(s.wq.bits), "out": quant(s.out), "mask": s.mask is not None,
                     "winograd": s.winograd})
    d = {"graph": {"output": g.output, "head": _json_attrs(list(g.head)),
                   "nodes": [{"name": n.name, "op": n.op, "inputs": list(n.inputs), "attrs": _json_attrs(n.attrs),
                              "params": sorted(n.params), "source_op": n.source_op,
                              "shape": None if n.shape is None else list(n.shape)} for n in g.nodes]},
         "input_quant": quant(qnet.input_quant), "segments": segs, "meta": _json_attrs(qnet.meta)}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "qnet.json").write_text(dumps(d))
    save_npz(folder / "qnet.npz", arrays)


def load_qnet(folder: Path) -> QNet:
    """save_qnet's network back (np.load without pickles)."""
    import json

    from .frontend.fgraph import FGraph, FNode
    from .frontend.qnet import ActQuant, Segment, WeightQuant

    d = json.loads((folder / "qnet.json").read_text())
    with np.load(folder / "qnet.npz", allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    nodes = [FNode(n["name"], n["op"], list(n["inputs"]), _from_json(n["attrs"]),
                   {k: arrays[f"n{i}/{k}"] for k in n["params"]}, n["source_op"],
                   None if n["shape"] is None else tuple(n["shape"])) for i, n in enumerate(d["graph"]["nodes"])]
    g = FGraph(nodes, d["graph"]["output"], _from_json(d["graph"]["head"]))

    def quant(q):
        return None if q is None else ActQuant(q["bits"], q["signed"], q["scale"])

    by = {n.name: n for n in nodes}
    segs = [Segment(by[s["compute"]], by.get(s["bn"]), by.get(s["act"]),
                    None if s["wq"] is None else WeightQuant(s["wq"]), quant(s["out"]),
                    arrays[f"s{j}/mask"] if s["mask"] else None, s["winograd"]) for j, s in enumerate(d["segments"])]
    return QNet(g, quant(d["input_quant"]), segs, _from_json(d["meta"]))


def save_reference(folder: Path, qnet: QNet | None, model, source: str | None, path=None) -> str | None:
    """What `edgec verify` needs to rerun the build's reference, in ``folder``
    (OUT/reference), safe formats only: a float model's quantized network (save_qnet; the
    fake-quant reference, "torch"), a QONNX model as qonnx executes it or an int8 ONNX model
    as onnxruntime does (``model``: the onnx.ModelProto, weights inside), a PT2E program as
    PyTorch executes it (the torch.export file ``path`` it was built from, copied: read back
    with torch_import.load_pt2, which refuses pickles) and reference.json naming it.
    Returns the reference's name, or None when there is none to keep (a model over
    protobuf's 2 GB; a PT2E program given as an object, not a file)."""
    import json

    if qnet is not None:
        try:
            save_qnet(qnet, folder)
        except TypeError:  # an attribute JSON cannot hold: no stored reference
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
            return None
        kind, files = "torch", ["qnet.json", "qnet.npz"]
    elif source == "pt2e":  # the reference is the program itself, PyTorch's execution of it
        if path is None or not Path(path).is_file():
            return None
        import shutil

        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, folder / "model.pt2")
        kind, files = "pytorch", ["model.pt2"]
    elif model is not None:
        if model.ByteSize() >= (2 << 30) - (1 << 20):
            return None
        if any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
            return None
        kind, files = ("onnxruntime" if source == "int8_onnx" else "qonnx"), ["model.onnx"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.onnx").write_bytes(model.SerializeToString(deterministic=True))
    else:
        return None
    (folder / "reference.json").write_text(json.dumps({"reference": kind, "files": files}, sort_keys=True) + "\n")
    return kind
