"""Bad input files for tests/test_robustness.py: arrays, YAML, ONNX/QONNX graphs and .pt2
archives, each broken in one way. Payload files (pickles, YAML tags, names meant to be
pasted into generated Python) would create a marker file if edgec ever executed them."""
from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import zipfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

QDOMAIN = "qonnx.custom_op.general"


class Payload:
    """Unpickling this runs ``touch MARKER``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def pickled_payload(marker) -> bytes:
    return pickle.dumps(Payload(marker), protocol=2)


# ---- .npy ------------------------------------------------------------------------------

def npy_bytes(a: np.ndarray, allow_pickle=False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=allow_pickle)
    return buf.getvalue()


def npy_header_only(shape, descr="<f8", data: bytes = b"\0" * 64) -> bytes:
    """A valid .npy header claiming ``shape``, followed by only ``data``."""
    from numpy.lib import format as npformat

    buf = io.BytesIO()
    npformat.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": tuple(shape)})
    return buf.getvalue() + data


def write(path: Path, content) -> Path:
    """content: bytes, str, an ndarray (np.save) or None (no file: a missing path)."""
    path = Path(path)
    if content is None:
        return path
    if isinstance(content, np.ndarray):
        content = npy_bytes(content)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


# ---- YAML ------------------------------------------------------------------------------

def yaml_bomb(levels: int = 9, width: int = 9) -> str:
    """A flow sequence of nested anchors: `width ** levels` leaves once expanded."""
    parts = [f"&a0 [{', '.join(['lol'] * width)}]"]
    for i in range(1, levels):
        parts.append(f"&a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    return "[" + ", ".join(parts) + "]"


def yaml_bomb_document(levels: int = 9, width: int = 9) -> str:
    """The classic billion laughs: top-level keys a..i, each `width` aliases of the last."""
    names = "abcdefghijklmnop"
    lines = [f"a: &a [{', '.join(['lol'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"{names[i]}: &{names[i]} [{', '.join(['*' + names[i - 1]] * width)}]")
    return "\n".join(lines) + "\n"


# ---- ONNX ------------------------------------------------------------------------------

def vi(name, shape, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def model(nodes, inits=None, inputs=None, outputs=None, opset=13, qonnx=False, ir_version=8):
    inits = [v if isinstance(v, onnx.TensorProto) else numpy_helper.from_array(np.asarray(v), k)
             for k, v in (inits or {}).items()]
    inputs = inputs if inputs is not None else [vi("x", [1, 1, 8, 8])]
    outputs = outputs if outputs is not None else [vi("y", [1, 10])]
    g = helper.make_graph(nodes, "g", inputs, outputs, inits)
    ops = [helper.make_opsetid("", opset)] + ([helper.make_opsetid(QDOMAIN, 2)] if qonnx else [])
    return helper.make_model(g, opset_imports=ops, ir_version=ir_version)


def save(m, path: Path) -> Path:
    onnx.save(m, str(path))
    return Path(path)


def fc_weights(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(64, 10)).astype(np.float32) * 0.1, rng.normal(size=10).astype(np.float32) * 0.1


def mlp_nodes(mm_input="f"):
    return [helper.make_node("Flatten", ["x"], ["f"], name="flat", axis=1),
            helper.make_node("MatMul", [mm_input, "W"], ["mm"], name="fc"),
            helper.make_node("Add", ["mm", "b"], ["y"], name="bias")]


def mlp(W=None, b=None, **kw):
    """x (1,1,8,8) -> Flatten 'flat' -> MatMul 'fc' (W) -> Add 'bias' (b) -> y (1,10)."""
    w0, b0 = fc_weights()
    return model(mlp_nodes(), {"W": w0 if W is None else W, "b": b0 if b is None else b}, **kw)


def with_op(op, name, **attrs):
    """The MLP with an extra unsupported op ``op`` (node ``name``) before the Flatten."""
    w, b = fc_weights()
    nodes = [helper.make_node(op, ["x"], ["t"], name=name, **attrs),
             helper.make_node("Flatten", ["t"], ["f"], name="flat", axis=1),
             helper.make_node("MatMul", ["f", "W"], ["mm"], name="fc"),
             helper.make_node("Add", ["mm", "b"], ["y"], name="bias")]
    return model(nodes, {"W": w, "b": b})


def einsum_model():
    w, b = fc_weights()
    nodes = [helper.make_node("Flatten", ["x"], ["f"], name="flat", axis=1),
             helper.make_node("Einsum", ["f", "W"], ["mm"], name="the_einsum", equation="ij,jk->ik"),
             helper.make_node("Add", ["mm", "b"], ["y"], name="bias")]
    return model(nodes, {"W": w, "b": b})


def conv_model(W_shape=(2, 1, 3, 3), input_shape=(1, 1, 8, 8), **conv_attrs):
    """x -> Conv 'bad_conv' -> Relu 'next_relu' -> GlobalAveragePool -> Flatten -> MatMul -> y."""
    rng = np.random.default_rng(1)
    attrs = dict(kernel_shape=list(W_shape[2:]), pads=[1, 1, 1, 1], strides=[1, 1])
    attrs.update(conv_attrs)
    nodes = [helper.make_node("Conv", ["x", "CW"], ["c"], name="bad_conv", **attrs),
             helper.make_node("Relu", ["c"], ["r"], name="next_relu"),
             helper.make_node("GlobalAveragePool", ["r"], ["p"], name="gap"),
             helper.make_node("Flatten", ["p"], ["f"], name="flat", axis=1),
             helper.make_node("MatMul", ["f", "W"], ["y"], name="fc")]
    inits = {"CW": rng.normal(size=W_shape).astype(np.float32),
             "W": rng.normal(size=(W_shape[0], 10)).astype(np.float32)}
    return model(nodes, inits, inputs=[vi("x", list(input_shape))])


def maxpool_model(**attrs):
    w, b = fc_weights()
    nodes = [helper.make_node("MaxPool", ["x"], ["p"], name="bad_pool", **attrs),
             helper.make_node("Flatten", ["p"], ["f"], name="flat", axis=1),
             helper.make_node("MatMul", ["f", "W"], ["mm"], name="fc"),
             helper.make_node("Add", ["mm", "b"], ["y"], name="bias")]
    return model(nodes, {"W": w, "b": b})


def constant_of_shape_model(n=40000):
    """A ConstantOfShape 'big_const' of n x n floats, sliced to the (64, 10) weights."""
    nodes = [helper.make_node("ConstantOfShape", ["shape"], ["big"], name="big_const",
                              value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.5])),
             helper.make_node("Slice", ["big", "starts", "ends"], ["W"], name="cut"),
             helper.make_node("Flatten", ["x"], ["f"], name="flat", axis=1),
             helper.make_node("MatMul", ["f", "W"], ["y"], name="fc")]
    inits = {"shape": np.array([n, n], np.int64), "starts": np.array([0, 0], np.int64),
             "ends": np.array([64, 10], np.int64)}
    return model(nodes, inits)


def two_inputs_model():
    w, b = fc_weights()
    nodes = [helper.make_node("Add", ["x1", "x2"], ["x"], name="join"),
             helper.make_node("Flatten", ["x"], ["f"], name="flat", axis=1),
             helper.make_node("MatMul", ["f", "W"], ["mm"], name="fc"),
             helper.make_node("Add", ["mm", "b"], ["y"], name="bias")]
    return model(nodes, {"W": w, "b": b}, inputs=[vi("x1", [1, 1, 8, 8]), vi("x2", [1, 1, 8, 8])])


def two_outputs_model():
    w, b = fc_weights()
    nodes = mlp_nodes() + [helper.make_node("Relu", ["y"], ["y2"], name="relu2")]
    return model(nodes, {"W": w, "b": b}, outputs=[vi("y", [1, 10]), vi("y2", [1, 10])])


def zero_nodes_model():
    return model([], {}, inputs=[vi("x", [1, 1, 8, 8])], outputs=[vi("x", [1, 1, 8, 8])])


def cycle_model():
    w, b = fc_weights()
    nodes = [helper.make_node("Flatten", ["x"], ["f"], name="flat", axis=1),
             helper.make_node("MatMul", ["f", "W"], ["mm"], name="fc"),
             helper.make_node("Add", ["mm", "z"], ["z"], name="loop"),
             helper.make_node("Add", ["z", "b"], ["y"], name="bias")]
    return model(nodes, {"W": w, "b": b})


def reshape_model():
    w, b = fc_weights()
    nodes = [helper.make_node("Reshape", ["x", "s"], ["f"], name="bad_reshape"),
             helper.make_node("MatMul", ["f", "W"], ["mm"], name="fc"),
             helper.make_node("Add", ["mm", "b"], ["y"], name="bias")]
    return model(nodes, {"W": w, "b": b, "s": np.array([1, 63], np.int64)})


def external(m, folder: Path, name: str, location: str, data: bytes, length: int | None = None):
    """Model ``m`` saved as folder/name with initializer W stored externally at
    ``location`` (relative to the folder, or absolute); ``data`` written there (relative
    locations only; absolute ones are written by the caller)."""
    for t in m.graph.initializer:
        if t.name == "W":
            n = len(t.raw_data) if length is None else length
            t.data_location = TensorProto.EXTERNAL
            t.ClearField("raw_data")
            del t.external_data[:]
            for k, v in (("location", location), ("offset", "0"), ("length", str(n))):
                e = t.external_data.add()
                e.key, e.value = k, v
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(m, str(folder / name))
    if data is not None and not os.path.isabs(location):
        (folder / location).parent.mkdir(parents=True, exist_ok=True)
        (folder / location).write_bytes(data)
    return folder / name


# ---- QONNX -----------------------------------------------------------------------------

QUANTS = ("in_quant", "w_quant", "out_quant")


def qonnx_model(change: dict | None = None, names: dict | None = None):
    """x (1,64) -> Quant 'in_quant' (u8) -> MatMul 'fc' with Quant 'w_quant' (int4 narrow,
    per column) weights -> Relu 'relu' -> Quant 'out_quant' (u4) -> y.
    ``change``: {(quant, field): value} with field scale, zp, bits (initializers) or
    signed, narrow, rounding_mode (attributes), or 'inputs': drop the last input.
    ``names``: {'node:<name>' | 'tensor:<name>' | 'input': new name}."""
    change = dict(change or {})
    names = dict(names or {})
    rng = np.random.default_rng(0)
    inits, nodes = [], []
    x = names.get("input", "x")
    mm = names.get("tensor:mm", "mm")

    def c(name, v):
        inits.append(numpy_helper.from_array(np.asarray(v, np.float32), name))
        return name

    def q(name, src, out, scale, zp, bits, signed, narrow, mode="ROUND"):
        vals = dict(scale=scale, zp=zp, bits=bits, signed=signed, narrow=narrow, rounding_mode=mode)
        for (qn, field), v in change.items():
            if qn == name:
                vals[field] = v
        ins = [src, c(out + "_scale", vals["scale"]), c(out + "_zp", vals["zp"]), c(out + "_bits", vals["bits"])]
        if vals.get("inputs") == "drop":
            ins = ins[:3]
        nodes.append(helper.make_node("Quant", ins, [out], name=names.get(f"node:{name}", name), domain=QDOMAIN,
                                      signed=vals["signed"], narrow=vals["narrow"],
                                      rounding_mode=vals["rounding_mode"]))

    q("in_quant", x, "xq", 1 / 255, 0.0, 8, 0, 0)
    w = rng.normal(size=(64, 10)).astype(np.float32)
    q("w_quant", c("w", w), "wq", np.abs(w).max(0, keepdims=True) / 7, 0.0, 4, 1, 1)
    nodes.append(helper.make_node("MatMul", ["xq", "wq"], [mm], name=names.get("node:fc", "fc")))
    nodes.append(helper.make_node("Relu", [mm], ["r"], name="relu"))
    q("out_quant", "r", "y", 0.05, 0.0, 4, 0, 0)
    return model(nodes, {t.name: t for t in inits}, inputs=[vi(x, [1, 64])], outputs=[vi("y", [1, 10])],
                 qonnx=True)


# ---- .pt2 ------------------------------------------------------------------------------

def rewrite_zip(src: Path, dst: Path, edit) -> Path:
    """Copy the zip ``src`` to ``dst`` with ``edit(members: dict[name, bytes])`` applied."""
    with zipfile.ZipFile(src) as z:
        members = {i.filename: z.read(i.filename) for i in z.infolist()}
    edit(members)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as z:
        for k, v in members.items():
            z.writestr(k, v)
    return dst


def _member(members, suffix):
    return next(k for k in members if k.endswith(suffix))


def pt2_payload_sample_inputs(src: Path, dst: Path, marker) -> Path:
    import torch

    buf = io.BytesIO()
    torch.save(Payload(marker), buf)

    def edit(m):
        m[_member(m, "data/sample_inputs/model.pt")] = buf.getvalue()
    return rewrite_zip(src, dst, edit)


def pt2_payload_weight(src: Path, dst: Path, marker) -> Path:
    def edit(m):
        cfg_name = _member(m, "data/weights/model_weights_config.json")
        cfg = json.loads(m[cfg_name])
        key = next(iter(cfg["config"]))
        cfg["config"][key]["use_pickle"] = True
        m[cfg_name] = json.dumps(cfg).encode()
        m[cfg_name.rsplit("/", 1)[0] + "/" + cfg["config"][key]["path_name"]] = pickled_payload(marker)
    return rewrite_zip(src, dst, edit)


def pt2_payload_constant(src: Path, dst: Path, marker) -> Path:
    def edit(m):
        cfg_name = _member(m, "data/constants/model_constants_config.json")
        cfg = json.loads(m[cfg_name])
        cfg.setdefault("config", {})["evil"] = {"path_name": "opaque_obj_0", "is_param": False, "use_pickle": True,
                                                "tensor_meta": None}
        m[cfg_name] = json.dumps(cfg).encode()
        m[cfg_name.rsplit("/", 1)[0] + "/opaque_obj_0"] = pickled_payload(marker)
    return rewrite_zip(src, dst, edit)


def random_zip(dst: Path) -> Path:
    rng = np.random.default_rng(5)
    with zipfile.ZipFile(dst, "w") as z:
        z.writestr("m/hello.txt", "not a program")
        z.writestr("m/data/blob.bin", rng.bytes(512))
    return dst


def copy(src: Path, dst: Path) -> Path:
    shutil.copyfile(src, dst)
    return dst
