"""int8 ONNX models as onnxruntime.quantization writes them (docs/int8_onnx.md).

Two forms, one import:

- QDQ (``QuantFormat.QDQ``): QuantizeLinear/DequantizeLinear pairs around standard ops;
- QOperator (``QuantFormat.QOperator``): QLinearConv, QLinearMatMul, QGemm, QLinearAdd,
  QLinearGlobalAveragePool (com.microsoft) and, refused, QLinearAveragePool, between a
  QuantizeLinear at the input and a DequantizeLinear at the output.

``to_qdq`` rewrites every QOperator node into its QDQ group (DequantizeLinear of each
input, the float op, QuantizeLinear of the output), which is the group onnxruntime fuses
back into that QLinear op at its default optimisation level; the QONNX importer then reads
the QDQ form with ``ort=True``: integer accumulation and onnxruntime's float32
requantization (AffineQuant ``arith: float32_qlinear``, ir/ref.py), which fold_thresholds
turns into exact thresholds; an Add of two quantized tensors is onnxruntime's QLinearAdd
table of all code pairs as thresholds on an integer sum (``add_table``, ``common_scale``).
The model states its own quantization: no preset, no calibration.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from ..errors import node_error

QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")
MS = "com.microsoft"
# QOperator op -> (its inputs: (name, scale, zero point) triples / single tensors, the float op)
REWRITE = ("QLinearConv", "QLinearMatMul", "QGemm", "QLinearGlobalAveragePool", "QLinearAdd", "QLinearAveragePool",
           "QLinearLeakyRelu", "QLinearSigmoid")
SUPPORTED = ("QuantizeLinear, DequantizeLinear (uint8/int8 activations per tensor, weights per tensor or per channel, "
             "int32 biases), Conv, Gemm, MatMul, Add, GlobalAveragePool, MaxPool, Relu, Flatten, Reshape to (N, -1), "
             "Identity, Dropout, float ops on dequantized codes up to the next QuantizeLinear (BatchNormalization, "
             "Mul/Add/Sub/Div by constants, activations), and the QOperator forms QLinearConv, QLinearMatMul, QGemm, "
             "QLinearAdd, QLinearGlobalAveragePool, QLinearLeakyRelu, QLinearSigmoid; "
             "Softmax/LogSoftmax/Sigmoid/ArgMax after the last layer")


def is_int8_onnx(model) -> bool:
    """A model with onnxruntime's quantized ops (and no QONNX quantizer)."""
    return any(n.op_type in QDQ_OPS or n.op_type.startswith("QLinear") or n.op_type in ("QGemm",)
               or n.op_type in ("MatMulInteger", "ConvInteger", "DynamicQuantizeLinear") for n in model.graph.node)


def to_qdq(model: onnx.ModelProto, inits: dict) -> tuple[onnx.ModelProto, dict, dict]:
    """(a copy of ``model`` with every QOperator node as its QDQ group, the initializers with
    the new constants, node name -> the QOperator op it came from)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    inits = dict(inits)
    origin: dict[str, str] = {}
    nodes = []
    for i, n in enumerate(m.graph.node):
        name = n.name or f"{n.op_type}_{i}"
        if n.op_type not in REWRITE or n.domain not in ("", "ai.onnx", MS):
            nodes.append(n)
            continue
        origin[name] = n.op_type
        ins = list(n.input) + [""] * 9
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}

        def dq(t, s, z, tag, axis=None):
            out = f"{name}__{tag}"
            kw = {} if axis is None else {"axis": axis}
            nodes.append(helper.make_node("DequantizeLinear", [t, s, z] if z else [t, s], [out], name=name, **kw))
            return out

        def q(t, s, z, y):
            nodes.append(helper.make_node("QuantizeLinear", [t, s, z] if z else [t, s], [y], name=name))

        yf = f"{name}__y"
        if n.op_type == "QLinearConv":  # x, xs, xz, w, ws, wz, ys, yz, B
            x = dq(ins[0], ins[1], ins[2], "x")
            w = dq(ins[3], ins[4], ins[5], "w", 0)
            conv_in = [x, w]
            if ins[8]:
                conv_in.append(dq(ins[8], _bias_scale(inits, name, ins[1], ins[4]), "", "b", 0))
            nodes.append(helper.make_node("Conv", conv_in, [yf], name=name, **attrs))
            q(yf, ins[6], ins[7], n.output[0])
        elif n.op_type == "QLinearMatMul":  # a, as, az, b, bs, bz, ys, yz
            a_ = dq(ins[0], ins[1], ins[2], "a")
            b_ = dq(ins[3], ins[4], ins[5], "b", 1)
            nodes.append(helper.make_node("MatMul", [a_, b_], [yf], name=name))
            q(yf, ins[6], ins[7], n.output[0])
        elif n.op_type == "QGemm":  # A, as, az, B, bs, bz, C, ys, yz
            trans_b = int(attrs.get("transB", 0))
            a_ = dq(ins[0], ins[1], ins[2], "a")
            b_ = dq(ins[3], ins[4], ins[5], "b", 0 if trans_b else 1)
            g_in = [a_, b_]
            if ins[6]:
                g_in.append(dq(ins[6], _bias_scale(inits, name, ins[1], ins[4]), "", "c", 0))
            out = yf if ins[7] else n.output[0]
            nodes.append(helper.make_node("Gemm", g_in, [out], name=name, **attrs))
            if ins[7]:
                q(yf, ins[7], ins[8], n.output[0])
        elif n.op_type == "QLinearGlobalAveragePool":  # x, xs, xz, ys, yz
            if attrs.get("channels_last", 0):
                raise node_error(name, n.op_type, "channels_last=1 is not supported; export channels first")
            x = dq(ins[0], ins[1], ins[2], "x")
            nodes.append(helper.make_node("GlobalAveragePool", [x], [yf], name=name))
            q(yf, ins[3], ins[4], n.output[0])
        elif n.op_type in ("QLinearLeakyRelu", "QLinearSigmoid"):  # x, xs, xz, ys, yz: onnxruntime fuses them back
            x = dq(ins[0], ins[1], ins[2], "x")
            nodes.append(helper.make_node(n.op_type[len("QLinear"):], [x], [yf], name=name, **attrs))
            q(yf, ins[3], ins[4], n.output[0])
        elif n.op_type == "QLinearAveragePool":  # x, xs, xz, ys, yz
            x = dq(ins[0], ins[1], ins[2], "x")
            nodes.append(helper.make_node("AveragePool", [x], [yf], name=name,
                                          **{k: v for k, v in attrs.items() if k != "channels_last"}))
            q(yf, ins[3], ins[4], n.output[0])
        else:  # QLinearAdd: a, as, az, b, bs, bz, ys, yz
            a_ = dq(ins[0], ins[1], ins[2], "a")
            b_ = dq(ins[3], ins[4], ins[5], "b")
            nodes.append(helper.make_node("Add", [a_, b_], [yf], name=name))
            q(yf, ins[6], ins[7], n.output[0])
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    return m, inits, origin


def _bias_scale(inits: dict, name: str, xs: str, ws: str) -> str:
    """A new initializer: the int32 bias's scale, float32(x_scale * w_scale) (per channel)."""
    out = f"{name}__bias_scale"
    inits[out] = (np.asarray(inits[xs], np.float32) * np.asarray(inits[ws], np.float32)).astype(np.float32).reshape(-1)
    return out


def add_table(sa, za, ta, sb, zb, tb, sc, zc, lo, hi):
    """(onnxruntime's QLinearAdd output codes on every pair of input codes, (len(ta), len(tb)),
    or None; the reason it is not reproducible, or ""). The table is onnxruntime's own kernel
    (MLAS) run once on all pairs: its float32 arithmetic (x86-64: (z_c - r_a z_a - r_b z_b) +
    r_a A + r_b B, r = s / s_c, in SIMD lanes, the tail of a tensor in the same lanes) is a
    function of the pair alone, whatever the element's position (tests/test_int8_onnx.py)."""
    import onnxruntime as ort
    from onnx import TensorProto, numpy_helper

    signed = lo < 0
    dt, tp = (np.int8, TensorProto.INT8) if signed else (np.uint8, TensorProto.UINT8)
    if not (ta.lo >= np.iinfo(dt).min and ta.hi <= np.iinfo(dt).max and tb.lo >= np.iinfo(dt).min
            and tb.hi <= np.iinfo(dt).max):
        return None, "adds tensors of different signedness; onnxruntime's QLinearAdd takes one type"
    a, bb = np.meshgrid(np.arange(ta.lo, ta.hi + 1), np.arange(tb.lo, tb.hi + 1), indexing="ij")
    vals = {"sa": np.float32(sa), "za": dt(za), "sb": np.float32(sb), "zb": dt(zb), "sc": np.float32(sc),
            "zc": dt(zc)}
    n = a.size
    node = helper.make_node("QLinearAdd", ["a", "sa", "za", "b", "sb", "zb", "sc", "zc"], ["y"], domain=MS)
    g = helper.make_graph([node], "qladd", [helper.make_tensor_value_info(k, tp, [n]) for k in ("a", "b")],
                          [helper.make_tensor_value_info("y", tp, [n])],
                          [numpy_helper.from_array(np.asarray(v), k) for k, v in vals.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(MS, 1)])
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    table = sess.run(None, {"a": a.reshape(-1).astype(dt), "b": bb.reshape(-1).astype(dt)})[0]
    table = table.reshape(a.shape).astype(np.int64)
    return table, ""


def common_scale(table, ta, tb, ratio: float, max_den=1 << 14):
    """((P, Q), thresholds (N,), out_lo) such that the codes ``table`` (len(ta), len(tb)) equal a
    MultiThreshold of acc = P * A + Q * B over every code pair, P / Q near ``ratio`` (s_a / s_b),
    or None."""
    from fractions import Fraction

    from ..ir.ref import multi_threshold

    a, bb = np.meshgrid(np.arange(ta.lo, ta.hi + 1), np.arange(tb.lo, tb.hi + 1), indexing="ij")
    lo, hi = int(table.min()), int(table.max())
    tried = set()
    for den in [1 << k for k in range(15)] + [max_den]:
        fr = Fraction(ratio).limit_denominator(den)
        p, q = fr.numerator, fr.denominator
        if (p, q) in tried or p < 1 or p > max_den * 256:
            continue
        tried.add((p, q))
        acc = p * a + q * bb
        levels = np.arange(lo + 1, hi + 1)
        order = np.argsort(acc, axis=None, kind="stable")
        acc_s, t_s = acc.reshape(-1)[order], table.reshape(-1)[order]
        t = np.array([acc_s[np.argmax(t_s >= k)] if (t_s >= k).any() else acc_s[-1] + 1 for k in levels], np.int64)
        got = multi_threshold(acc.reshape(-1, 1), t[None, :], np.ones(1, np.int64), lo, False)[:, 0]
        if np.array_equal(got, table.reshape(-1)):
            return (p, q), t, lo
    return None


FUSABLE = ("Conv", "Gemm", "MatMul", "Add", "GlobalAveragePool")  # the QDQ groups onnxruntime fuses into QLinear ops


def fused_nodes(model: onnx.ModelProto) -> set[str]:
    """The names of the nodes that onnxruntime's graph optimiser (ORT_ENABLE_EXTENDED, the
    level of its QDQ fusions; its default level fuses the same) turns into QLinear ops. A
    QDQ group it leaves alone runs in float32: DequantizeLinear, the float op, QuantizeLinear."""
    import tempfile
    from pathlib import Path

    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    with tempfile.TemporaryDirectory() as d:
        so.optimized_model_filepath = str(Path(d) / "optimized.onnx")
        try:
            ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
            opt = onnx.load(so.optimized_model_filepath)
        except Exception as e:  # noqa: BLE001 - onnxruntime refusing the model
            from ..errors import EdgecError

            msg = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise EdgecError(f"onnxruntime cannot load the model, so its arithmetic is not defined: {msg}") from None
    return {n.name for n in opt.graph.node if n.op_type.startswith("QLinear") or n.op_type == "QGemm"}


def prepare_int8_onnx(loaded):
    """An int8 ONNX model (``loaded``: load_onnx's (model, inits)) checked and rewritten into
    its QDQ groups, for qonnx_import.import_qonnx(path, (model, inits), ort=True, origin=,
    fused=): (model, inits, origin, fused)."""
    model, inits = loaded
    named = onnx.ModelProto()
    named.CopyFrom(model)
    for i, n in enumerate(named.graph.node):  # the names errors and the fusion check use
        n.name = n.name or f"{n.op_type}_{i}"
    model = named
    for n in model.graph.node:
        if n.domain not in ("", "ai.onnx") and n.op_type not in REWRITE:
            raise node_error(n.name or n.op_type, n.op_type,
                             f"unsupported op in an int8 ONNX model; supported: {SUPPORTED}")
        if n.op_type in ("MatMulInteger", "ConvInteger", "DynamicQuantizeLinear") or \
                (n.op_type.startswith("QLinear") and n.op_type not in REWRITE):
            raise node_error(n.name or n.op_type, n.op_type,
                             f"unsupported op in an int8 ONNX model; supported: {SUPPORTED}")
    fused = fused_nodes(model) if any(n.op_type in FUSABLE for n in model.graph.node) else set()
    model, inits, origin = to_qdq(model, inits)
    return model, inits, origin, fused | set(origin)
