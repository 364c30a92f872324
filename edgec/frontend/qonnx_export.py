"""QONNX export of edgec's own quantized network (``edgec build ... --export-qonnx FILE``).

The file states edgec's quantization in the QONNX dialect that qonnx, FINN and hls4ml
read: the input quantizer, every weight quantizer (``Quant`` per output channel, or
``BipolarQuant`` for binary weights) on float32 weights ``codes * scale``, the float
BatchNorm and bias, and every activation quantizer (``Quant`` with HALF_UP rounding, or
``BipolarQuant``), around standard Conv/Gemm/MaxPool/AveragePool/Flatten/Add nodes (a
zero-fill upsample and the convolution after it: one ConvTranspose, as it was read).
qonnx's ``execute_onnx`` runs it in float32 and equals edgec's simulator except at
rounding ties (edgec rounds half toward +inf, QONNX's HALF_UP away from zero: they differ
only on negative ties), which the round-trip test counts separately.

The metadata property ``edgec.tensors`` maps every activation quantizer's output to the
IR tensor holding its codes (with scale, zero point, and the quantizer's input), so a
checker can compare every quantized activation.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from ..errors import EdgecError
from .convtranspose import transposed_weight, unlowered
from .fgraph import model_input_shape, unique_name
from .qmodel import quantize_weight
from .qnet import ActQuant, QNet

DOMAIN = "qonnx.custom_op.general"


class _Writer:
    def __init__(self):
        self.nodes, self.inits, self.names = [], [], set()
        self.shapes: dict[str, list[int]] = {}  # every computed tensor's shape (execute_onnx needs them)

    def name(self, base: str) -> str:
        return unique_name(base, self.names)

    def const(self, base: str, v) -> str:
        n = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(v, np.float32), n))
        return n

    def node(self, op: str, inputs: list[str], out: str, domain: str = "", shape=None, **attrs) -> str:
        self.shapes[out] = list(shape) if shape is not None else self.shapes[inputs[0]]
        self.nodes.append(helper.make_node(op, inputs, [out], name=self.name(f"{out}_node"), domain=domain, **attrs))
        return out

    def quant(self, x: str, out: str, aq: ActQuant, scale=None, narrow=0, rounding="HALF_UP") -> str:
        s = self.const(f"{out}_scale", aq.scale if scale is None else scale)
        if aq.bipolar:
            return self.node("BipolarQuant", [x, s], out, DOMAIN)
        zp, bw = self.const(f"{out}_zero_point", 0.0), self.const(f"{out}_bit_width", float(aq.bits))
        return self.node("Quant", [x, s, zp, bw], out, DOMAIN, signed=int(aq.signed), narrow=narrow,
                         rounding_mode=rounding)


def _weight(w: _Writer, name: str, weight: np.ndarray, wq, mask=None, transposed: bool = False) -> str:
    """The Quant of a conv/linear weight (O, ...) with one scale per output channel;
    ``transposed``: as a ConvTranspose's (I, O, kh, kw), flipped (frontend/convtranspose.py)."""
    codes, scale = quantize_weight(torch.as_tensor(weight, dtype=torch.float64), wq)
    codes, scale = np.rint(codes.numpy()), scale.numpy().astype(np.float32)
    if mask is not None:  # pruned weights are zero codes
        if wq.bits == 1:
            raise EdgecError(f"--export-qonnx: layer '{name}' is binary and pruned; a BipolarQuant cannot hold its "
                             "zero weights: prune ternary or wider weights (--wbits ternary or 2-8)")
        codes = codes * mask
    shaped = scale.reshape((-1,) + (1,) * (weight.ndim - 1))
    value = codes.astype(np.float32) * shaped
    if transposed:
        value, shaped = transposed_weight(value), shaped.reshape(1, -1, 1, 1)
    real = w.const(f"{name}_weight", value)
    w.shapes[real] = list(value.shape)
    if wq.bits == 1:
        return w.quant(real, w.name(f"{name}_weight_q"), ActQuant(1, True), shaped)
    bits = 2 if wq.bits == 0 else wq.bits  # ternary: 2-bit narrow range {-1, 0, 1}
    return w.quant(real, w.name(f"{name}_weight_q"), ActQuant(bits, True), shaped, narrow=1, rounding="ROUND")


def export_qonnx(qnet: QNet, path) -> Path:
    """Write ``qnet`` as a QONNX model to ``path`` (batch size 1)."""
    g = qnet.graph
    w = _Writer()
    val: dict[str, str] = {}
    tensors: dict[str, dict] = {}
    inp = g.input
    x0 = x = w.name(f"{inp.name}_float")
    w.shapes[x] = [1, *model_input_shape(g)]
    if inp.attrs.get("layout", "chw") == "hwc":  # the model takes channels last, as the source did
        x = w.node("Transpose", [x], w.name(f"{inp.name}_cf"), shape=[1, *inp.shape], perm=[0, 3, 1, 2])
    val[inp.name] = w.quant(x, w.name(inp.name), qnet.input_quant)
    tensors[val[inp.name]] = {"ir": inp.name, "scale": qnet.input_quant.scale, "zero_point": 0.0, "bipolar": False,
                              "input": x, "rounding": "half_away"}
    for n in g.nodes[1:]:
        src = [val[i] for i in n.inputs]
        out = w.name(n.name)
        seg = qnet.segment_of(n.name)
        if n.op == "conv" and _zero_fill(g.node(n.inputs[0])):  # the two halves of a ConvTranspose
            s, up = qnet.segment_by_compute(n.name), g.node(n.inputs[0])
            kernel = n.params["weight"].shape[2:]
            pads, opad = unlowered(kernel, up.attrs["factor"], n.attrs["pad"])
            w.node("ConvTranspose", [val[up.inputs[0]], _weight(w, n.name, n.params["weight"], s.wq, s.mask, True),
                                     w.const(f"{n.name}_bias", n.params["bias"])],
                   out, shape=[1, *n.shape], kernel_shape=list(kernel), strides=list(up.attrs["factor"]),
                   pads=list(pads), output_padding=list(opad), group=1)
        elif _zero_fill(n):
            if [c.op for c in g.consumers(n.name)] != ["conv"] or n.name == g.output:
                raise EdgecError(f"--export-qonnx: node '{n.name}' (a zero-fill upsample) must feed one convolution")
            out = src[0]  # written with its convolution
        elif n.op == "conv":
            s = qnet.segment_by_compute(n.name)
            pt, pl, pb, pr = n.attrs["pad"]
            w.node("Conv", [src[0], _weight(w, n.name, n.params["weight"], s.wq, s.mask),
                            w.const(f"{n.name}_bias", n.params["bias"])],
                   out, shape=[1, *n.shape], kernel_shape=list(n.params["weight"].shape[2:]),
                   strides=list(n.attrs["stride"]), pads=[pt, pl, pb, pr], group=int(n.attrs.get("groups", 1)))
        elif n.op == "linear":
            s = qnet.segment_by_compute(n.name)
            w.node("Gemm", [src[0], _weight(w, n.name, n.params["weight"], s.wq, s.mask),
                            w.const(f"{n.name}_bias", n.params["bias"])],
                   out, shape=[1, *n.shape], transB=1)
        elif n.op == "add":
            w.node("Add", src, out)
        elif n.op == "identity":
            w.node("Identity", src, out)
        elif n.op == "mul":
            w.node("Mul", src, out)
        elif n.op == "bn":
            p = n.params
            w.node("BatchNormalization",
                   [src[0]] + [w.const(f"{n.name}_{k}", p[k]) for k in ("gamma", "beta", "mean", "var")],
                   out, epsilon=float(n.attrs["eps"]))
        elif n.op == "relu":
            s = qnet.segment_of(n.name)
            if s is not None and s.out is not None and s.out.bipolar:
                out = src[0]  # XNOR-Net: the sign replaces the ReLU (docs/numerics.md)
            else:
                w.node("Relu", src, out)
        elif n.op == "act":
            _export_act(w, n, src[0], out)
        elif n.op == "concat":
            w.node("Concat", src, out, shape=[1, *n.shape], axis=1)
        elif n.op == "upsample":
            scales = w.const(f"{n.name}_scales", np.asarray([1, 1, *n.attrs["factor"]], np.float32))
            w.node("Resize", [src[0], "", scales], out, shape=[1, *n.shape], mode="nearest",
                   coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        elif n.op == "maxpool":
            pt, pl, pb, pr = n.attrs.get("pad", (0, 0, 0, 0))
            w.node("MaxPool", src, out, shape=[1, *n.shape], kernel_shape=list(n.attrs["kernel"]),
                   strides=list(n.attrs["stride"]), pads=[pt, pl, pb, pr])
        elif n.op in ("avgpool", "gap"):
            aq = qnet.quant_of(n.inputs[0])
            mean = w.name(f"{n.name}_mean")
            if n.op == "gap":
                w.node("GlobalAveragePool", src, mean, shape=[1, *n.shape])
            else:
                w.node("AveragePool", src, mean, shape=[1, *n.shape], kernel_shape=list(n.attrs["kernel"]),
                       strides=list(n.attrs["stride"]))
            # edgec rounds the window mean to the input's codes (a 2-bit signed code for bipolar input)
            rq = ActQuant(2, True, aq.scale) if aq.bipolar else aq
            w.quant(mean, out, rq)
            tensors[out] = {"ir": n.name, "scale": aq.scale, "zero_point": 0.0, "bipolar": False, "input": mean,
                            "rounding": "half_away"}
        elif n.op == "flatten":
            if n.attrs.get("order", "chw") == "hwc":
                c, h, wd = g.node(n.inputs[0]).shape
                src = [w.node("Transpose", src, w.name(f"{n.name}_cl"), shape=[1, h, wd, c], perm=[0, 2, 3, 1])]
            w.node("Flatten", src, out, shape=[1, *n.shape], axis=1)
        else:
            raise EdgecError(f"--export-qonnx: node '{n.name}' ({n.op}) has no QONNX form")
        val[n.name] = out
        if seg is not None and n.name == seg.end and seg.out is not None:
            q = w.name(f"{seg.name}_quant")
            val[n.name] = w.quant(out, q, seg.out)
            tensors[q] = {"ir": f"{seg.name}_quant", "scale": seg.out.scale, "zero_point": 0.0,
                          "bipolar": seg.out.bipolar, "input": out, "rounding": "half_away"}
    vi = {t: helper.make_tensor_value_info(t, TensorProto.FLOAT, shp) for t, shp in w.shapes.items()}
    graph = helper.make_graph(w.nodes, "edgec", [vi.pop(x0)], [vi.pop(val[g.output])], w.inits,
                              value_info=list(vi.values()))
    model = helper.make_model(graph, producer_name="edgec",
                              opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(DOMAIN, 1)])
    model.ir_version = 8
    helper.set_model_props(model, {"edgec.tensors": json.dumps(tensors, sort_keys=True)})
    path = Path(path)
    onnx.save(model, str(path))
    return path


def _zero_fill(n) -> bool:
    return n.op == "upsample" and n.attrs.get("fill", "nearest") == "zero"


def _export_act(w, n, x: str, out: str) -> None:
    """Activation node ``n`` (ir/act.py) as opset-13 ONNX ops (composed where opset 13 has no single op)."""
    kind, args = n.attrs["kind"], n.params["args"]
    shp = [1, *n.shape]
    one = [float(v) for v in args[0]] if args.shape[1] else []

    def tmp(op, ins, suffix, **attrs):
        return w.node(op, ins, w.name(f"{n.name}_{suffix}"), shape=shp, **attrs)

    if kind == "clip":
        w.node("Clip", [x, w.const(f"{n.name}_min", np.float32(one[0])), w.const(f"{n.name}_max", np.float32(one[1]))],
               out, shape=shp)
    elif kind == "leaky_relu" and np.all(args[:, 0] == args[0, 0]):
        w.node("LeakyRelu", [x], out, shape=shp, alpha=one[0])
    elif kind == "leaky_relu":
        slope = args[:, 0].reshape((-1,) + (1,) * (len(n.shape) - 1))
        w.node("PRelu", [x, w.const(f"{n.name}_slope", slope)], out, shape=shp)
    elif kind in ("elu", "hardsigmoid_ab", "hardsigmoid"):
        attrs = {"elu": {"alpha": one[0] if one else 1.0}, "hardsigmoid_ab": {"alpha": one[0], "beta": one[1]},
                 "hardsigmoid": {"alpha": 1.0 / 6.0, "beta": 0.5}}[kind]
        w.node("Elu" if kind == "elu" else "HardSigmoid", [x], out, shape=shp, **attrs)
    elif kind in ("selu", "sigmoid", "tanh"):
        w.node(kind.capitalize(), [x], out, shape=shp)
    elif kind == "softplus" and one == [1.0, float("inf")]:
        w.node("Softplus", [x], out, shape=shp)
    elif kind == "silu":
        w.node("Mul", [x, tmp("Sigmoid", [x], "sigmoid")], out, shape=shp)
    elif kind == "hardswish":
        w.node("Mul", [x, tmp("HardSigmoid", [x], "hsig", alpha=1.0 / 6.0, beta=0.5)], out, shape=shp)
    elif kind == "mish":
        w.node("Mul", [x, tmp("Tanh", [tmp("Softplus", [x], "softplus")], "tanh")], out, shape=shp)
    elif kind == "gelu":
        e = tmp("Erf", [tmp("Div", [x, w.const(f"{n.name}_sqrt2", np.float32(np.sqrt(2.0)))], "div")], "erf")
        half = tmp("Mul", [x, w.const(f"{n.name}_half", np.float32(0.5))], "half")
        w.node("Mul", [half, tmp("Add", [e, w.const(f"{n.name}_one", np.float32(1.0))], "add")], out, shape=shp)
    else:
        raise EdgecError(f"--export-qonnx: node '{n.name}': activation {kind} with arguments {one} has no "
                         "opset-13 ONNX form in edgec's exporter")
