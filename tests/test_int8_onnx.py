"""int8 ONNX models as onnxruntime.quantization.quantize_static writes them (QDQ and
QOperator, per-tensor and per-channel weights, uint8 and int8 activations), built with no
preset and no calibration: the simulator's integer outputs equal onnxruntime's output
codes on every one of 1,000 random inputs (docs/int8_onnx.md)."""
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

from edgec.backend import sim as sim_backend
from edgec.cli import main
from edgec.ir.ref import multi_threshold, qlinear_float32
from edgec.passes.fold_thresholds import thresholds_for

from .nets import AutoEncoder, ResNet8, mlperf_net
from .test_cli_errors import assert_one_line_error, run_main

VECTORS = 1000


class _Random(CalibrationDataReader):
    def __init__(self, shape, n=32):
        rng = np.random.default_rng(0)
        self.data = iter([{"x": rng.uniform(0, 1, (1, *shape)).astype(np.float32)} for _ in range(n)])

    def get_next(self):
        return next(self.data, None)


class _CNN(torch.nn.Module):  # conv + relu + maxpool, twice, then gemm
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.Conv2d(8, 8, 3, padding=1)
        self.fc = torch.nn.Linear(8 * 2 * 2, 10)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.c1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.c2(x)), 2)
        return self.fc(torch.flatten(x, 1))


class _GAP(torch.nn.Module):  # conv + relu + global average pool + gemm
    def __init__(self):
        super().__init__()
        self.c1, self.fc = torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(torch.relu(self.c1(x)), 1), 1))


class _Residual(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.Conv2d(8, 8, 3, padding=1)
        self.fc = torch.nn.Linear(8, 10)

    def forward(self, x):
        y = torch.relu(self.c1(x))
        y = torch.relu(self.c2(y) + y)
        return self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(y, 1), 1))


class _AvgPool(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.fc = torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.Linear(4 * 4 * 4, 10)

    def forward(self, x):
        return self.fc(torch.flatten(torch.nn.functional.avg_pool2d(torch.relu(self.c1(x)), 2), 1))


class _ResidualMLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = torch.nn.Linear(16, 12), torch.nn.Linear(12, 12), torch.nn.Linear(12, 5)

    def forward(self, x):
        y = torch.relu(self.a(torch.flatten(x, 1)))
        return self.c(torch.relu(self.b(y) + y))


def _bn_mlp():  # Linear + BatchNorm1d + ReLU / LeakyReLU: the BatchNorm stays a float op between quantizers
    m = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 12), torch.nn.BatchNorm1d(12), torch.nn.ReLU(),
                            torch.nn.Linear(12, 12), torch.nn.BatchNorm1d(12), torch.nn.LeakyReLU(0.1),
                            torch.nn.Linear(12, 5))
    g = torch.Generator().manual_seed(1)
    for b in (m[2], m[5]):
        b.running_mean.copy_(torch.randn(12, generator=g) * 0.1)
        b.running_var.copy_(torch.rand(12, generator=g) * 0.5 + 0.5)
        b.weight.data.copy_(torch.randn(12, generator=g))  # gammas of both signs
    return m


class _Concat(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = torch.nn.Linear(16, 6), torch.nn.Linear(16, 6), torch.nn.Linear(12, 5)

    def forward(self, x):
        x = torch.flatten(x, 1)
        return self.c(torch.cat([torch.relu(self.a(x)), torch.relu(self.b(x))], 1))


def _mlp():
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 12), torch.nn.ReLU(), torch.nn.Linear(12, 5))


def _sigmoid_mlp():
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 12), torch.nn.Sigmoid(), torch.nn.Linear(12, 5))


NETS = {"mlp": (_mlp, (16,)), "cnn": (_CNN, (1, 8, 8)), "gap": (_GAP, (1, 8, 8)), "residual": (_Residual, (1, 8, 8)),
        "residual_mlp": (_ResidualMLP, (16,)), "bn_mlp": (_bn_mlp, (16,)),
        "concat": (_Concat, (16,)),
        "resnet8": (lambda: mlperf_net("resnet8"), ResNet8.INPUT),
        "autoencoder": (lambda: mlperf_net("autoencoder"), AutoEncoder.INPUT),
        "avgpool": (_AvgPool, (1, 8, 8)), "sigmoid": (_sigmoid_mlp, (16,))}
FORMATS = {"qdq": QuantFormat.QDQ, "qop": QuantFormat.QOperator}
TYPES = {"u8": QuantType.QUInt8, "s8": QuantType.QInt8}


# onnxruntime's u8 x s8 kernels on x86 without VNNI (AVX2, AVX-512F) add pairs of products in
# 16 bits, which saturate for 8-bit weights: its outputs then depend on the machine's CPU and differ
# from the QLinear ops' definition, which edgec computes exactly. onnxruntime's own advice for such
# machines is reduce_range (7-bit weights), which never saturates; the tests use it, so they hold on
# every CPU (docs/int8_onnx.md).
SATURATION = "reduce_range"


def quantized(d, net, fmt, per_channel, act="u8", weight="s8"):
    """The float model exported by torch and quantized by onnxruntime.quantization.quantize_static
    (with reduce_range: SATURATION)."""
    make, shape = NETS[net]
    torch.manual_seed(0)
    m = make().eval()
    f, q = d / f"{net}.float.onnx", d / f"{net}_{fmt}_{per_channel}_{act}_{weight}.onnx"
    torch.onnx.export(m, (torch.zeros(1, *shape),), str(f), input_names=["x"], output_names=["y"], dynamo=False)
    quantize_static(str(f), str(q), _Random(shape), quant_format=FORMATS[fmt], per_channel=per_channel,
                    activation_type=TYPES[act], weight_type=TYPES[weight], reduce_range=True)
    return q, shape


def ort_codes(path, x):
    """onnxruntime's output codes (its default optimisation level fuses QDQ groups into QLinear
    ops): the final DequantizeLinear's float output quantized back with its scale and zero point."""
    m = onnx.load(str(path))
    dq = next(n for n in m.graph.node if n.output[0] == m.graph.output[0].name)
    assert dq.op_type == "DequantizeLinear"
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    s, z = float(inits[dq.input[1]]), int(inits[dq.input[2]])
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    y = np.concatenate([sess.run(None, {"x": x[i : i + 1]})[0] for i in range(len(x))])
    return np.rint(y.astype(np.float64) / s).astype(np.int64) + z  # y = float32(s * (q - z)): exact


def build_and_compare(tmp_path, path, shape):
    out = tmp_path / "out"
    assert main(["build", str(path), "-o", str(out)]) == 0
    rep = json.loads((out / "report.json").read_text())["sim_vs_reference"]  # the build's own check
    assert rep["reference"] == "onnxruntime" and rep["vectors"] > 0 and rep["mismatches"] == 0, rep
    sim = sim_backend.load(out / "sim")
    x = np.random.default_rng(1).uniform(-0.2, 1.2, (VECTORS, *shape)).astype(np.float32)
    ref = ort_codes(path, x)
    q, _ = sim.run(x)
    q = q.reshape(ref.shape)
    assert len(np.unique(ref)) > 50  # the outputs use the code range, not a few saturated codes
    assert int((q != ref).sum()) == 0, f"{int((q != ref).sum())} of {q.size} output codes differ from onnxruntime"


CASES = [(net, fmt, pc, act) for net in ("mlp", "cnn", "gap")
         for fmt, pc, act in (("qdq", False, "u8"), ("qdq", True, "s8"), ("qop", True, "u8"), ("qop", False, "s8"))]
# onnxruntime leaves the QDQ convolutions of the residual net with int8 activations in float32 (refused below)
CASES += [("residual", fmt, pc, act)
          for fmt, pc, act in (("qdq", False, "u8"), ("qdq", True, "u8"), ("qop", True, "u8"), ("qop", False, "s8"))]


@pytest.mark.parametrize("net,fmt,per_channel,act", CASES, ids=[f"{n}-{f}-{'pc' if p else 'pt'}-{a}"
                                                                  for n, f, p, a in CASES])
def test_int8_onnx_equals_onnxruntime_on_every_output_code(tmp_path, net, fmt, per_channel, act):
    path, shape = quantized(tmp_path, net, fmt, per_channel, act)
    build_and_compare(tmp_path, path, shape)


@pytest.mark.parametrize("fmt", ["qdq", "qop"])
def test_residual_mlp_add_of_features(tmp_path, fmt):
    path, shape = quantized(tmp_path, "residual_mlp", fmt, False)
    build_and_compare(tmp_path, path, shape)


@pytest.mark.parametrize("net", ["bn_mlp", "sigmoid"])
@pytest.mark.parametrize("fmt", ["qdq", "qop"])
def test_float_ops_between_dequantize_and_quantize(tmp_path, fmt, net):
    """A BatchNormalization and a ReLU or LeakyReLU (QLinearLeakyRelu in the QOperator form) that
    onnxruntime runs on dequantized codes (in float32, or as its QLinearLeakyRelu table) up to the
    next QuantizeLinear:
    onnxruntime's codes for every input code, as thresholds on the codes (signed steps where
    a negative gamma makes them fall)."""
    path, shape = quantized(tmp_path, net, fmt, False)
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    if net == "bn_mlp":
        assert "BatchNormalization" in ops and ("QLinearLeakyRelu" in ops) == (fmt == "qop")
    else:
        assert ("QLinearSigmoid" in ops) == (fmt == "qop")
    build_and_compare(tmp_path, path, shape)


@pytest.mark.parametrize("net,fmt", [("resnet8", "qop"), ("autoencoder", "qdq"), ("autoencoder", "qop")])
def test_mlperf_tiny_int8_onnx_equals_onnxruntime(tmp_path, net, fmt):
    """MLPerf Tiny ResNet-8 (QOperator: its QDQ form leaves convolutions in float32) and the
    FC autoencoder (Gemm + BatchNorm1d + ReLU), per-channel weights, quantize_static."""
    path, shape = quantized(tmp_path, net, fmt, True)
    build_and_compare(tmp_path, path, shape)


def test_qlinear_add_table_is_a_function_of_the_code_pair():
    """onnxruntime's QLinearAdd, run once on all 65,536 code pairs (int8_onnx.add_table), gives
    the same codes for each pair at any position of tensors of any length (SIMD lanes, tails)."""
    from edgec.frontend.int8_onnx import add_table
    from edgec.ir.types import IntType

    rng = np.random.default_rng(0)
    t = IntType(8, False)
    for _ in range(3):
        sa, sb, sc = (np.float32(rng.uniform(0.002, 0.01)) for _ in range(3))
        za, zb, zc = (int(rng.integers(0, 200)) for _ in range(3))
        table, why = add_table(sa, za, t, sb, zb, t, sc, zc, 0, 255)
        assert not why
        for n in (1, 7, 16, 33, 1000, 65535):
            a, b = rng.integers(0, 256, n), rng.integers(0, 256, n)
            node = helper.make_node("QLinearAdd", ["a", "sa", "za", "b", "sb", "zb", "sc", "zc"], ["y"],
                                    domain="com.microsoft")
            vals = {"sa": sa, "za": np.uint8(za), "sb": sb, "zb": np.uint8(zb), "sc": sc, "zc": np.uint8(zc)}
            g = helper.make_graph([node], "g", [helper.make_tensor_value_info(k, TensorProto.UINT8, [n]) for k in "ab"],
                                  [helper.make_tensor_value_info("y", TensorProto.UINT8, [n])],
                                  [numpy_helper.from_array(np.asarray(v), k) for k, v in vals.items()])
            m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid("com.microsoft", 1)])
            sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
            y = sess.run(None, {"a": a.astype(np.uint8), "b": b.astype(np.uint8)})[0]
            np.testing.assert_array_equal(y.astype(np.int64), table[a, b])


@pytest.mark.parametrize("fmt", ["qdq", "qop"])
def test_uint8_weights_with_zero_points_are_integer_weights(tmp_path, fmt):
    path, shape = quantized(tmp_path, "mlp", fmt, fmt == "qdq", "u8", "u8")
    build_and_compare(tmp_path, path, shape)


def _qlinear_matmul_model(k, m, sa, sb, sy, zy, signed_out):
    ty = TensorProto.INT8 if signed_out else TensorProto.UINT8
    nodes = [helper.make_node("QLinearMatMul", ["a", "sa", "za", "b", "sb", "zb", "sy", "zy"], ["y"])]
    inits = [numpy_helper.from_array(np.float32(sa), "sa"), numpy_helper.from_array(np.uint8(0), "za"),
             numpy_helper.from_array(np.float32(sb), "sb"), numpy_helper.from_array(np.int8(0), "zb"),
             numpy_helper.from_array(np.float32(sy), "sy"),
             numpy_helper.from_array(np.array(zy, np.int8 if signed_out else np.uint8), "zy")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("a", TensorProto.UINT8, [None, k]),
                                       helper.make_tensor_value_info("b", TensorProto.INT8, [k, m])],
                          [helper.make_tensor_value_info("y", ty, [None, m])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


@pytest.mark.parametrize("seed", range(3))
def test_float32_qlinear_rule_equals_onnxruntime_and_folds_exactly(seed):
    """ir/ref.py's float32_qlinear rule equals onnxruntime's QLinearMatMul on 102,400 random
    accumulators, and fold_thresholds makes it exact thresholds on every accumulator value."""
    rng = np.random.default_rng(seed)
    k, m = 64, 64
    sa, sb, sy = (np.float32(rng.uniform(0.5, 2.0) * 10.0 ** rng.uniform(-3, -1)) for _ in range(3))
    sy = np.float32(sa * sb * rng.uniform(50, 400))
    zy = int(rng.integers(100, 150))
    sess = ort.InferenceSession(_qlinear_matmul_model(k, m, sa, sb, sy, zy, False).SerializeToString(),
                                providers=["CPUExecutionProvider"])
    a = rng.integers(0, 256, (1600, k), dtype=np.uint8)
    b = rng.integers(-64, 64, (k, m), dtype=np.int8)  # 7-bit weights: no int16 saturation (SATURATION)
    y = sess.run(None, {"a": a, "b": b})[0].astype(np.int64)
    acc = a.astype(np.int64) @ b.astype(np.int64)
    mul = np.float32(np.float32(sa * sb) / sy)
    got = qlinear_float32(acc, np.zeros(m, np.int64), np.full(m, mul), np.ones(m, np.float32), zy, 0, 255)
    np.testing.assert_array_equal(got, y)
    c = 4  # the fold, checked on every accumulator value of [-40000, 40000] in 4 channels
    lo, hi = np.full(c, -40000), np.full(c, 40000)
    attrs = {"scale": float(sy), "lo": 0, "hi": 255, "bipolar": False, "zero_point": float(zy),
             "rounding": "half_even", "arith": "float32_qlinear"}
    f32 = (np.zeros(c, np.int64), np.full(c, mul), np.ones(c, np.float32))
    t, sign, steps, out_lo = thresholds_for(lo, hi, np.full(c, float(mul)), np.zeros(c), attrs, f32=f32)
    assert steps is None
    every = np.arange(-40000, 40001)[:, None] + np.zeros((1, c), np.int64)
    np.testing.assert_array_equal(multi_threshold(every, t, sign, out_lo, False),
                                  qlinear_float32(every, *f32, zy, 0, 255))


@pytest.mark.parametrize("net,fmt,act,op,needles", [
    ("avgpool", "qop", "u8", "QLinearAveragePool", ("(QLinearAveragePool)", "GlobalAveragePool")),
    ("avgpool", "qdq", "u8", "AveragePool", ("(AveragePool)", "GlobalAveragePool")),
    ("concat", "qop", "u8", "QLinearConcat", ("(QLinearConcat)", "unsupported op in an int8 ONNX model")),
    ("residual", "qdq", "s8", "Conv", ("'/c1/Conv' (Conv)", "does not fuse", "float32")),
])
def test_unsupported_int8_onnx_is_one_error_line(tmp_path, capsys, net, fmt, act, op, needles):
    path, _ = quantized(tmp_path, net, fmt, False, act)
    assert op in {n.op_type for n in onnx.load(str(path)).graph.node}
    capsys.readouterr()  # quantize_static's own warnings
    code, err = run_main(capsys, "build", path, "-o", tmp_path / "out")
    assert_one_line_error(code, err, *needles)
    assert not (tmp_path / "out").exists()


def test_int8_onnx_takes_no_preset(tmp_path, capsys):
    path, _ = quantized(tmp_path, "mlp", "qdq", False)
    capsys.readouterr()
    code, err = run_main(capsys, "build", path, "-o", tmp_path / "out", "--preset", "int4")
    assert_one_line_error(code, err, "--preset", "states its own quantization")


def test_int8_onnx_residual_csim_is_bit_exact(tmp_path):
    """The HLS C++ of a QOperator residual CNN (float32 requantization as thresholds, the
    QLinearAdd branches scaled by P and Q), compiled with g++: equal to the simulator."""
    from .test_csim import check_csim

    path, shape = quantized(tmp_path, "residual", "qop", True)
    out = tmp_path / "out"
    assert main(["build", str(path), "-o", str(out)]) == 0
    x = np.random.default_rng(2).uniform(0, 1, (20, *shape)).astype(np.float32)
    check_csim(out, x)
