"""ONNX/QONNX normalisation: any exporter's file -> the canonical form the importers read.

Run on every ``.onnx`` file after ``load_onnx``'s safety checks and before
``import_onnx``/``import_qonnx``. The field's libraries do the general work:

- qonnx ``ChangeBatchSize(1)`` for a fixed batch dimension other than 1 (the importers
  read one sample);
- the transformations of qonnx's ``cleanup_model`` (not its renaming: errors name the
  model's own nodes): onnx shape inference, constant folding (the Shape/Gather/
  Unsqueeze/Concat flatten of old Brevitas exports), ``Transpose`` of weight
  initializers folded into their ``Quant`` (``FoldTransposeIntoQuantInit``), unused
  tensors and static inputs removed;

and what no library does is written here:

- channels last to channels first (qonnx converts only the other way): the ops of the
  domain ``qonnx.custom_op.channels_last`` become standard ops, every activation tensor
  of rank 3/4 is re-laid channels first (broadcast constants and ``axis`` attributes
  permuted with it), and one ``Transpose`` is left at each place where the model's own
  layout shows: after a channels-last input, before a ``Flatten``/``Reshape`` of a
  channels-last tensor and before a channels-last output. Keras exports already have
  that form. The importers read those ``Transpose`` nodes as the input's and the
  flattening's layout (docs/frontends.md);
- for the importers (``normalized(..., fuse=True)``), activations exported as several
  ops (``x * Sigmoid(x)``, ``x * HardSigmoid(x)``, ``x * Tanh(Softplus(x))``, GELU's
  ``x * 0.5 * (1 + Erf(x / sqrt 2))`` before opset 20) fused into one node of the domain
  ``edgec`` (Silu, HardSwish, Mish, Gelu), read as the activation ir/act.py defines.
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import onnx
from onnx import helper

from ..errors import EdgecError
from .onnx_import import _attrs, to_cf, to_cl

CHANNELS_LAST = "qonnx.custom_op.channels_last"
QONNX_QUANT = ("Quant", "BipolarQuant", "Trunc", "IntQuant")
# ops whose data input(s) may be re-laid channels first, with what else changes
_ELTWISE = {"Quant", "BipolarQuant", "Trunc", "IntQuant", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "HardSigmoid",
            "Mul", "Add", "Sub", "Div", "Identity", "Dropout", "Cast", "PRelu", "Max", "Min", "Abs", "Neg", "Elu",
            "Selu", "Softsign", "Softplus", "HardSwish", "Erf", "Round", "Floor", "Ceil", "Sqrt", "Exp", "Pow"}
_SPATIAL = {"Conv", "MaxPool", "AveragePool", "BatchNormalization", "GlobalAveragePool", "GlobalMaxPool",
            "ConvTranspose", "Pad", "LpPool"}
_RESIZE = {"Resize", "Upsample"}  # standard ops on a channels-last tensor whose per-axis scales re-lay with it


def normalize(model: onnx.ModelProto) -> onnx.ModelProto:
    """The canonical form of ``model`` (a copy): batch 1, constants folded, shapes
    inferred, channels first with the model's layout in ``Transpose`` nodes. Node and
    tensor names are the model's own (errors name them). A graph the libraries cannot
    process is returned unchanged: the importer then names what it refuses."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.transformation.infer_shapes import InferShapes

    for n in model.graph.node:  # geometry first: onnx's C++ shape inference divides by strides
        _attrs(n)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            mw = ModelWrapper(m)
            if _batch(mw) != 1:
                mw = mw.transform(ChangeBatchSize(1))
            if any(n.domain == CHANNELS_LAST for n in mw.graph.node):
                mw = mw.transform(InferShapes())
                _channels_first(mw)
            mw = cleanup(mw)
        except EdgecError:
            raise
        except Exception:  # noqa: BLE001 - a graph qonnx/onnx cannot process: the importer says why
            return model
    return mw.model


FUSED = "edgec"  # the domain of fused activation nodes


def fuse_activations(g) -> None:
    """Fuse the multi-node forms of SiLU, Hardswish, Mish and GELU (erf) into single nodes."""
    consts = {t.name: onnx.numpy_helper.to_array(t) for t in g.initializer}
    prod = {o: n for n in g.node for o in n.output}
    users: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            users.setdefault(i, []).append(n)

    def only_user(t):
        u = users.get(t, [])
        return u[0] if len(u) == 1 and t not in {o.name for o in g.output} else None

    def const(t, want):
        v = consts.get(t)
        return v is not None and v.size == 1 and abs(float(v.reshape(-1)[0]) - want) <= 1e-6 * max(1.0, abs(want))

    def other(n, t):
        ins = list(n.input)
        return ins[1] if ins[0] == t else ins[0] if len(ins) == 2 and ins[1] == t else None

    fused, drop = {}, set()
    for m in g.node:
        if m.op_type != "Mul" or m.domain not in ("", "ai.onnx") or len(m.input) != 2:
            continue
        for gate, x in ((m.input[0], m.input[1]), (m.input[1], m.input[0])):
            p = prod.get(gate)
            if p is None or only_user(gate) is not m or not p.input or p.input[0] != x and p.op_type != "Tanh":
                continue
            kind = {"Sigmoid": "Silu", "HardSigmoid": "HardSwish", "Tanh": "Mish"}.get(p.op_type)
            if kind == "HardSwish" and not (abs(_attrs(p).get("alpha", 0.2) - 1 / 6) < 1e-6
                                            and _attrs(p).get("beta", 0.5) == 0.5):
                continue
            chain = [p]
            if kind == "Mish":
                sp = prod.get(p.input[0])
                if sp is None or sp.op_type != "Softplus" or only_user(sp.output[0]) is not p:
                    continue
                x = sp.input[0]
                if other(m, gate) != x:
                    continue
                chain.append(sp)
            if kind:
                fused[id(m)] = helper.make_node(kind, [x], list(m.output), name=m.name or p.name, domain=FUSED)
                drop.update(id(c) for c in chain)
                break
    for e in g.node:  # GELU: x / sqrt(2) (or x * 1/sqrt(2)) -> Erf -> + 1 -> * x and * 0.5 in any order
        if e.op_type != "Erf":
            continue
        d = prod.get(e.input[0])
        if d is None or only_user(e.input[0]) is not e or not (
                d.op_type == "Div" and const(d.input[1], float(np.float32(np.sqrt(2.0)))) or
                d.op_type == "Mul" and const(d.input[1], float(np.float32(1 / np.sqrt(2.0))))):
            continue
        x, add = d.input[0], only_user(e.output[0])
        if add is None or add.op_type != "Add" or not const(other(add, e.output[0]) or "", 1.0):
            continue
        chain, t, need_x, need_half = [d, e, add], add.output[0], True, True
        while need_x or need_half:
            mul = only_user(t) if t != x else None
            if mul is None or mul.op_type != "Mul":
                break
            o = other(mul, t)
            if need_x and o == x:
                need_x = False
            elif need_half and const(o or "", 0.5):
                need_half = False
            elif need_x and o in prod and prod[o].op_type == "Mul" and {prod[o].input[0], prod[o].input[1]} >= {x} \
                    and const(other(prod[o], x) or "", 0.5) and only_user(o) is mul:
                need_x = need_half = False
                chain.append(prod[o])
            else:
                break
            chain.append(mul)
            t = mul.output[0]
        if need_x or need_half:
            continue
        last = chain[-1]
        fused[id(last)] = helper.make_node("Gelu", [x], list(last.output), name=e.name or last.name, domain=FUSED)
        drop.update(id(c) for c in chain[:-1])
    if not fused:
        return
    nodes = [fused.get(id(n), n) for n in g.node if id(n) not in drop]
    del g.node[:]
    g.node.extend(nodes)


def cleanup(mw):
    """qonnx.util.cleanup.cleanup_model's transformations without its renaming of nodes and
    tensors (errors and the reference comparison name the model's own)."""
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.general import RemoveStaticGraphInputs, RemoveUnusedTensors
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.transformation.quant_constant_folding import FoldTransposeIntoQuantInit

    for t in (InferShapes(), FoldConstants(exclude_op_types=list(QONNX_QUANT)), FoldTransposeIntoQuantInit(),
              RemoveUnusedTensors(), RemoveStaticGraphInputs(), InferShapes()):
        mw = mw.transform(t)
    return mw


def _batch(mw) -> int:
    d = mw.graph.input[0].type.tensor_type.shape.dim
    return int(d[0].dim_value) if d and d[0].HasField("dim_value") else 1


def _channels_first(mw) -> None:
    """Re-lay a channels-last QONNX graph channels first, in place (module docstring)."""
    g = mw.graph
    inits = {t.name for t in g.initializer}
    cl: set[str] = set()  # tensors that are channels last in the model and channels first after this pass
    new_nodes = []

    def rank(name):
        return len(mw.get_tensor_shape(name) or [])

    gin = g.input[0].name
    if rank(gin) in (3, 4):  # a channels-last graph input: Transposed once, channels first below
        cl.add(gin)
    renamed: dict[str, str] = {}
    if gin in cl:
        t = gin + "_cf"
        new_nodes.append(helper.make_node("Transpose", [gin], [t], perm=to_cf(rank(gin)), name=gin + "_to_cf"))
        renamed[gin] = t
    for n in g.node:
        ins = [renamed.get(i, i) for i in n.input]
        data = [i for i, orig in zip(ins, n.input) if orig in cl and orig not in inits]
        if n.domain == CHANNELS_LAST:
            if not data:
                raise EdgecError(f"node '{n.name}' ({n.op_type}, domain {CHANNELS_LAST}): its input "
                                 f"'{n.input[0]}' is not a channels-last activation edgec can follow")
            n.domain = ""
            if n.op_type == "Conv":  # its weight is channels last too (OHWI): Transposed here, folded by cleanup
                t = f"{ins[1]}_oihw{len(new_nodes)}"
                new_nodes.append(helper.make_node("Transpose", [ins[1]], [t], perm=to_cf(nd_w := rank(n.input[1])),
                                                  name=f"{n.name or 'Conv'}_weight_to_oihw"))
                ins[1] = t
                del nd_w
        elif n.op_type in _SPATIAL and data:
            raise EdgecError(f"node '{n.name}' ({n.op_type}): a standard {n.op_type} on the channels-last tensor "
                             f"'{n.input[0]}' is not supported; export it in the channels_last domain or channels "
                             "first")
        if not data:  # untouched by the layout
            del n.input[:]
            n.input.extend(ins)
            new_nodes.append(n)
            continue
        nd = rank(n.input[0]) if n.input[0] in cl else rank(data[0])
        if n.domain == "" and n.op_type in _SPATIAL | _RESIZE | {"Concat"} | _ELTWISE or n.op_type in QONNX_QUANT:
            for k, i in enumerate(ins):
                if i not in inits and n.input[k] in cl:
                    continue
                if i in inits and n.op_type not in _SPATIAL | _RESIZE:  # a broadcast constant: re-laid with its tensor
                    a = np.asarray(mw.get_initializer(i))
                    if 1 < a.size and a.ndim <= nd:  # (C,), (1, 1, 1, C)...: broadcast from the right
                        a = a.reshape((1,) * (nd - a.ndim) + a.shape).transpose(to_cf(nd))
                        t = i + "_cf"
                        mw.set_initializer(t, np.ascontiguousarray(a))
                        ins[k] = t
                elif n.op_type in _RESIZE and i in inits:
                    a = np.asarray(mw.get_initializer(i))
                    if a.ndim == 1 and a.size == nd:  # scales or sizes, listed per axis
                        t = i + "_cf"
                        mw.set_initializer(t, a[to_cf(nd)])
                        ins[k] = t
            for at in n.attribute:
                if at.name == "axis" and n.op_type == "Concat":
                    at.i = to_cl(nd)[at.i % nd]
            del n.input[:]
            n.input.extend(ins)
            new_nodes.append(n)
            for o in n.output:
                cl.add(o)
            continue
        # anything else (Flatten, Reshape, Transpose, MatMul...): sees the model's own layout
        for k, i in enumerate(ins):
            if n.input[k] in cl:
                t = f"{n.input[k]}_cl{len(new_nodes)}"
                new_nodes.append(helper.make_node("Transpose", [i], [t], perm=to_cl(rank(n.input[k])),
                                                  name=f"{n.name or n.op_type}_in{k}_to_cl"))
                ins[k] = t
        del n.input[:]
        n.input.extend(ins)
        new_nodes.append(n)
    for o in g.output:  # a channels-last output: back to the model's layout at the end
        if o.name in cl:
            t = o.name + "_cf"
            for n in new_nodes:
                for k, i in enumerate(n.output):
                    if i == o.name:
                        n.output[k] = t
                for k, i in enumerate(n.input):
                    if i == o.name:
                        n.input[k] = t
            new_nodes.append(helper.make_node("Transpose", [t], [o.name], perm=to_cl(rank(o.name)),
                                              name=o.name + "_to_cl"))
    for n in new_nodes:  # the graph input itself is consumed only by its Transpose
        if n.op_type != "Transpose" or n.output[0] != renamed.get(gin):
            for k, i in enumerate(n.input):
                if i == gin:
                    n.input[k] = renamed.get(gin, gin)
    del g.node[:]
    g.node.extend(new_nodes)
    del g.value_info[:]  # shapes changed layout: inferred again by cleanup
    if not any(o.domain == CHANNELS_LAST for o in g.node):
        keep = [o for o in mw.model.opset_import if o.domain != CHANNELS_LAST]
        del mw.model.opset_import[:]
        mw.model.opset_import.extend(keep)


def normalized(loaded, fuse: bool = True):
    """``load_onnx``'s (model, initializers) -> the same for the normalised model, with
    multi-node activations fused (``fuse``) as the importers read them. The reference
    executors take the model unfused: qonnx and onnxruntime do not know the domain ``edgec``."""
    from onnx import numpy_helper

    m = normalize(loaded[0])
    m = m, {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    return fused(m) if fuse else m


def fused(loaded):
    """(model, initializers) with ``fuse_activations`` applied to a copy of the model."""
    m = onnx.ModelProto()
    m.CopyFrom(loaded[0])
    fuse_activations(m.graph)
    return m, loaded[1]


# ---- the input quantizer of a QONNX model -----------------------------------------------------

_PASS_TO_QUANT = {"Mul", "Div", "Add", "Sub", "Reshape", "Flatten", "Transpose", "Identity", "Squeeze", "Unsqueeze"}
QUANT_DOMAIN = "qonnx.custom_op.general"


def input_kind(model: onnx.ModelProto) -> tuple[str, str | None]:
    """How a QONNX model's input is quantized: ("model", None) when a Quant/BipolarQuant
    follows it (through scalar arithmetic and reshapes), ("annotation", finn_datatype)
    when graph.quantization_annotation types it BIPOLAR/BINARY/INTn/UINTn, else
    ("float", None)."""
    g = model.graph
    inits = {t.name for t in g.initializer}
    name = next(i.name for i in g.input if i.name not in inits)
    frontier, seen = [name], set()
    while frontier:
        t = frontier.pop()
        for k, n in enumerate(g.node):
            if t in n.input and k not in seen:
                seen.add(k)
                if n.op_type in ("Quant", "BipolarQuant", "IntQuant"):
                    return "model", None
                if n.op_type in _PASS_TO_QUANT:
                    frontier.extend(n.output)
    for a in g.quantization_annotation:
        if a.tensor_name == name:
            dt = next((q.value for q in a.quant_parameter_tensor_names if q.key == "finn_datatype"), "")
            if re.fullmatch(r"BIPOLAR|BINARY|U?INT\d+", dt):
                return "annotation", dt
    return "float", None


def with_input_quantizer(loaded, calib: np.ndarray | None, bits: int):
    """``loaded`` (model, initializers) with a quantizer right after the input when the
    model has none, and what was done: (model, initializers, {"source": model |
    annotation | calibration, ...}). An annotated input gets the identity quantizer of
    its datatype (scale 1: its values are the codes); a float input one calibrated on
    ``calib`` (min-max, ``bits`` bits, signed when the data is), an error without it."""
    from onnx import numpy_helper

    model, inits = loaded
    kind, dt = input_kind(model)
    if kind == "model":
        return model, inits, {"source": "model"}
    g = model.graph
    name = next(i.name for i in g.input if i.name not in inits)
    if kind == "annotation":
        bipolar = dt == "BIPOLAR"
        signed = dt.startswith("INT")
        nbits = 1 if dt in ("BIPOLAR", "BINARY") else int(re.sub(r"\D", "", dt))
        scale, info = 1.0, {"source": "annotation", "finn_datatype": dt}
    else:
        if calib is None:
            raise EdgecError(f"the model input '{name}' is float (no Quant or BipolarQuant follows it, no "
                             "finn_datatype annotation): give --calib X.npy to calibrate an input quantizer "
                             f"(--input-bits N, default {bits})")
        x = np.asarray(calib, np.float64)
        bipolar, signed, nbits = False, bool(x.min() < 0), int(bits)
        peak = float(np.abs(x).max()) or 1.0
        scale = float(np.float32(peak / ((1 << (nbits - 1)) - 1 if signed else (1 << nbits) - 1)))
        info = {"source": "calibration", "bits": nbits, "signed": signed, "scale": scale, "samples": int(len(x))}
    m = onnx.ModelProto()
    m.CopyFrom(model)
    q = f"{name}_edgec_quant"
    consts = {f"{q}_scale": scale, f"{q}_zero_point": 0.0, f"{q}_bit_width": float(nbits)}
    for n in m.graph.node:
        for k, i in enumerate(n.input):
            if i == name:
                n.input[k] = q
    m.graph.initializer.extend(numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in consts.items())
    if bipolar:
        node = helper.make_node("BipolarQuant", [name, f"{q}_scale"], [q], name=q, domain=QUANT_DOMAIN)
    else:
        node = helper.make_node("Quant", [name, *consts], [q], name=q, domain=QUANT_DOMAIN, signed=int(signed),
                                narrow=0, rounding_mode="ROUND")
    m.graph.node.insert(0, node)
    if not any(o.domain == QUANT_DOMAIN for o in m.opset_import):
        m.opset_import.append(helper.make_opsetid(QUANT_DOMAIN, 1))
    return m, {**inits, **{k: np.asarray(v, np.float32) for k, v in consts.items()}}, info
