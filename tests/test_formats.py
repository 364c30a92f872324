"""The format traits of real exports (docs/frontends.md), each built with `edgec build`
and checked against the model's own executor: channels-last QONNX (qonnx's
ConvertToChannelsLastAndClean of a Brevitas conv net) against qonnx on the channels-last
file; Keras-style Transposes at the input and before the Flatten, a fixed batch dimension,
opset 7, and the host-side output ops (Softmax, LogSoftmax, Sigmoid, ArgMax) against
onnxruntime; QONNX inputs annotated INT8/BIPOLAR and a float QONNX input quantized from
--calib against qonnx; and the errors for what stays unsupported."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from edgec.backend import sim as sim_backend
from edgec.verify import agreement, inputs_in_range, onnxruntime_outputs, qonnx_execute

from . import qonnx_nets as Q

N = 300


def edgec(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgec.cli", *map(str, args)], capture_output=True, text=True)


def build_ok(*args):
    r = edgec("build", *args)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads((Path(args[args.index("-o") + 1]) / "report.json").read_text())


def error_line(r) -> str:
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    lines = r.stderr.strip().splitlines()
    assert lines[-1].startswith("edgec: error: ")
    return lines[-1]


def save(nodes, inp, out, inits, path, opset=13, domains=()):
    g = helper.make_graph(nodes, "g", [inp], [out], [numpy_helper.from_array(np.asarray(v, np.float32), k)
                                                     for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset), *(helper.make_opsetid(d, 1)
                                                                              for d in domains)])
    m.ir_version = 7
    onnx.save(m, str(path))
    return path


def vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


# ---- QONNX ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def channels_last(tmp_path_factory):
    """A Brevitas conv net (residual add, depthwise, max pool) made channels last by qonnx."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.util.cleanup import cleanup_model

    d = tmp_path_factory.mktemp("cl")
    x = Q.images((1, 8, 8), 200, seed=0)
    net = Q.calibrate(Q.brevitas_convnet(), x)
    Q.export(net, (1, 8, 8), d / "cf.onnx")
    m = cleanup_model(ModelWrapper(str(d / "cf.onnx")))
    m = m.transform(ConvertToChannelsLastAndClean(make_input_channels_last=True))
    m.save(str(d / "cl.onnx"))
    assert any(n.domain == "qonnx.custom_op.channels_last" for n in m.graph.node)
    rep = build_ok(d / "cl.onnx", "-o", d / "out")
    return d, rep


def test_channels_last_qonnx_equals_qonnx_on_the_channels_last_file(channels_last):
    d, rep = channels_last
    sv = rep["sim_vs_reference"]  # every quantized activation, against qonnx on the normalised model
    assert sv["mismatches"] == 0 and sv["tensors"] >= 5 and sv["reference"] == "qonnx execute_onnx", sv
    sim = sim_backend.load(d / "out" / "sim")
    assert tuple(sim.INPUT_SHAPE) == (8, 8, 1)  # the model's own layout: (H, W, C)
    x = inputs_in_range(sim, 60, seed=1)
    out = onnx.load(str(d / "cl.onnx")).graph.output[0].name
    ref = qonnx_execute(d / "cl.onnx", x, keep={out})[out]
    _, y = sim.run(x)
    np.testing.assert_allclose(y, ref.reshape(y.shape), rtol=1e-5, atol=1e-5 * np.abs(ref).max())
    assert len(np.unique(y.argmax(1))) > 1


@pytest.mark.parametrize("dtype", ["INT8", "UINT4", "BIPOLAR"])
def test_annotated_qonnx_input(tmp_path, dtype):
    """An input typed by graph.quantization_annotation (no Quant after it): its values are
    the codes; the simulator equals qonnx on them."""
    rng = np.random.default_rng(0)
    w = rng.integers(-3, 4, size=(12, 6)).astype(np.float32)
    quant = dict(domain="qonnx.custom_op.general", signed=1, narrow=0, rounding_mode="ROUND")
    nodes = [helper.make_node("Quant", ["w", "one", "z", "b4"], ["wq"], **quant),
             helper.make_node("MatMul", ["x", "wq"], ["acc"]),
             helper.make_node("Quant", ["acc", "s", "z", "b"], ["y"], **quant)]
    p = save(nodes, vi("x", [1, 12]), vi("y", [1, 6]), {"w": w, "one": 1.0, "b4": 4.0, "s": 2.0, "z": 0.0, "b": 6.0},
             tmp_path / "m.onnx", domains=("qonnx.custom_op.general",))
    m = onnx.load(str(p))
    ann = onnx.TensorAnnotation(tensor_name="x")
    ann.quant_parameter_tensor_names.append(onnx.StringStringEntryProto(key="finn_datatype", value=dtype))
    m.graph.quantization_annotation.append(ann)
    onnx.save(m, str(p))
    rep = build_ok(p, "-o", tmp_path / "o")
    assert rep["input_quantizer"] == {"source": "annotation", "finn_datatype": dtype}
    assert rep["sim_vs_reference"]["mismatches"] == 0
    sim = sim_backend.load(tmp_path / "o" / "sim")
    lo, hi = {"INT8": (-128, 127), "UINT4": (0, 15), "BIPOLAR": (-1, 1)}[dtype]
    x = rng.integers(lo, hi + 1, size=(N, 12)).astype(np.float32)
    if dtype == "BIPOLAR":
        x = np.where(x >= 0, 1.0, -1.0).astype(np.float32)
    assert (sim.INPUT_LO, sim.INPUT_HI) == (lo, hi)
    ref = qonnx_execute(p, x, keep={"y"})["y"]
    _, y = sim.run(x)
    np.testing.assert_array_equal(y, ref)
    assert len(np.unique(y)) > 3


def test_float_input_qonnx_is_quantized_from_calib(tmp_path):
    """A QONNX model whose input is float (a QKeras conversion, or Brevitas without an
    input quantizer): --calib gives the input quantizer (--input-bits), stated in the
    report; the simulator equals qonnx on the model with that quantizer; without --calib
    it is an error that says what to give."""
    import brevitas.nn as qnn
    from brevitas.quant import Int8WeightPerTensorFloat, Uint8ActPerTensorFloat

    torch.manual_seed(0)
    net = torch.nn.Sequential(qnn.QuantLinear(16, 12, bias=False, weight_quant=Int8WeightPerTensorFloat,
                                              weight_bit_width=4),
                              qnn.QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=4)).eval()
    Q.export(net, (16,), tmp_path / "m.onnx")
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(200, 16)).astype(np.float32))
    line = error_line(edgec("build", tmp_path / "m.onnx", "-o", tmp_path / "bad"))
    assert "is float" in line and "--calib" in line and not (tmp_path / "bad").exists()
    rep = build_ok(tmp_path / "m.onnx", "-o", tmp_path / "o", "--calib", tmp_path / "x.npy", "--input-bits", "6")
    iq = rep["input_quantizer"]
    assert iq["source"] == "calibration" and iq["bits"] == 6 and iq["signed"] and iq["samples"] == 200
    sv = rep["sim_vs_reference"]
    assert sv["mismatches"] == 0 and sv["vectors"] == 100 and sv["inputs"] == "calibration", sv
    sim = sim_backend.load(tmp_path / "o" / "sim")
    assert (sim.INPUT_LO, sim.INPUT_HI) == (-32, 31)


# ---- float ONNX: onnxruntime is the reference ---------------------------------------------------

def _float_check(path, x, tmp, top1=0.97, l2=0.05):
    np.save(tmp / "calib.npy", x[:200])
    build_ok(path, "-o", tmp / "o", "--preset", "int8", "--calib", tmp / "calib.npy")
    sim = sim_backend.load(tmp / "o" / "sim")
    out, ref = sim.predict(x[200:]), onnxruntime_outputs(path, x[200:])
    assert out.shape == ref.shape
    a = agreement(out, ref)
    assert a["relative_l2"] <= l2 and (a["top1_agreement"] is None or a["top1_agreement"] >= top1), a
    return sim, out, ref


def test_keras_style_transposes_channels_last_input_and_flatten(tmp_path):
    """NHWC input -> Transpose -> Conv -> Relu -> Transpose -> Flatten -> Gemm -> Softmax,
    as keras2onnx writes it: the model takes (H, W, C), flattens channels last."""
    rng = np.random.default_rng(1)
    inits = {"w": rng.normal(size=(4, 2, 3, 3)) * 0.4, "b": rng.normal(size=4) * 0.1,
             "fw": rng.normal(size=(6 * 6 * 4, 5)) * 0.2, "fb": rng.normal(size=5) * 0.1}
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["xt", "w", "b"], ["c"], kernel_shape=[3, 3]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Transpose", ["r"], ["rt"], perm=[0, 2, 3, 1]),
             helper.make_node("Flatten", ["rt"], ["f"], axis=1),
             helper.make_node("Gemm", ["f", "fw", "fb"], ["g"]),
             helper.make_node("Softmax", ["g"], ["y"], axis=1)]
    p = save(nodes, vi("x", [1, 8, 8, 2]), vi("y", [1, 5]), inits, tmp_path / "k.onnx", opset=11)
    x = rng.uniform(0, 1, size=(200 + N, 8, 8, 2)).astype(np.float32)
    sim, out, _ = _float_check(p, x, tmp_path)
    assert tuple(sim.INPUT_SHAPE) == (8, 8, 2) and np.allclose(out.sum(1), 1.0)
    drv = Q_load(tmp_path / "o" / "driver" / "driver.py")  # the driver's host-side head is the simulator's
    np.testing.assert_array_equal(drv.K.head(sim.run(x[200:205])[1], drv.HEAD), out[:5])


def Q_load(path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"d{abs(hash(str(path)))}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("head", ["sigmoid", "logsoftmax", "argmax"])
def test_fixed_batch_and_output_ops(tmp_path, head):
    """A PyTorch MLP exported with a fixed batch of 7 (dynamo=False), ending in Sigmoid,
    LogSoftmax or ArgMax; `edgec sim` writes the model's own outputs beside q and y."""
    torch.manual_seed(0)
    last = {"sigmoid": torch.nn.Sigmoid(), "logsoftmax": torch.nn.LogSoftmax(dim=1), "argmax": None}[head]

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.f = torch.nn.Sequential(torch.nn.Linear(10, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))

        def forward(self, x):
            y = self.f(x)
            return y.argmax(1, keepdim=True) if last is None else last(y)

    torch.onnx.export(Net().eval(), (torch.zeros(7, 10),), str(tmp_path / "m.onnx"), dynamo=False)
    assert onnx.load(str(tmp_path / "m.onnx")).graph.input[0].type.tensor_type.shape.dim[0].dim_value == 7
    x = np.random.default_rng(2).normal(size=(200 + N, 10)).astype(np.float32)
    if head == "argmax":  # outputs are class indices: agreement is on the index itself
        np.save(tmp_path / "calib.npy", x[:200])
        build_ok(tmp_path / "m.onnx", "-o", tmp_path / "o", "--preset", "int8", "--calib", tmp_path / "calib.npy")
        sim = sim_backend.load(tmp_path / "o" / "sim")
        out, ref = sim.predict(x[200:]), onnxruntime_outputs(tmp_path / "m.onnx", x[200:])
        assert out.shape == ref.shape and (out == ref).mean() >= 0.97
    else:
        _float_check(tmp_path / "m.onnx", x, tmp_path)
    np.save(tmp_path / "in.npy", x[200:210])
    r = edgec("sim", tmp_path / "o", "--inputs", tmp_path / "in.npy", "--out", tmp_path / "r.npz")
    assert r.returncode == 0, r.stderr
    with np.load(tmp_path / "r.npz") as f:
        assert set(f.files) == {"q", "y", "out"}
        np.testing.assert_array_equal(f["out"], sim_backend.load(tmp_path / "o" / "sim").predict(x[200:210]))


def test_opset_7_model(tmp_path):
    rng = np.random.default_rng(3)
    inits = {"w": rng.normal(size=(12, 8)), "b": rng.normal(size=8) * 0.1, "g": rng.uniform(0.5, 1.5, 8),
             "be": rng.normal(size=8) * 0.1, "m": rng.normal(size=8) * 0.1, "v": rng.uniform(0.5, 2, 8),
             "w2": rng.normal(size=(8, 3)), "b2": rng.normal(size=3) * 0.1}
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"]),
             helper.make_node("BatchNormalization", ["h", "g", "be", "m", "v"], ["n"]),
             helper.make_node("Relu", ["n"], ["r"]),
             helper.make_node("Gemm", ["r", "w2", "b2"], ["y"])]
    p = save(nodes, vi("x", [1, 12]), vi("y", [1, 3]), inits, tmp_path / "o7.onnx", opset=7)
    _float_check(p, rng.normal(size=(200 + N, 12)).astype(np.float32), tmp_path)


# ---- what stays unsupported -------------------------------------------------------------------

@pytest.mark.parametrize("case", ["softmax-mid", "transpose-mid", "softsign"])
def test_unsupported_constructs_name_node_op_and_fix(tmp_path, case):
    rng = np.random.default_rng(4)
    inits = {"w": rng.normal(size=(6, 4)), "w2": rng.normal(size=(4, 3))}
    mid = {"softmax-mid": helper.make_node("Softmax", ["h"], ["s"], name="sm", axis=1),
           "transpose-mid": helper.make_node("Transpose", ["h"], ["s"], name="tr", perm=[1, 0]),
           "softsign": helper.make_node("Softsign", ["h"], ["s"], name="th")}[case]
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"), mid,
             helper.make_node("MatMul", ["s", "w2"], ["y"], name="mm2")]
    p = save(nodes, vi("x", [1, 6]), vi("y", [1, 3]), inits, tmp_path / "m.onnx")
    np.save(tmp_path / "x.npy", rng.normal(size=(20, 6)).astype(np.float32))
    line = error_line(edgec("build", p, "-o", tmp_path / "o", "--calib", tmp_path / "x.npy"))
    if case == "softmax-mid":
        assert "node 'mm2' (MatMul)" in line and "output op" in line and "move it to the end" in line, line
    elif case == "transpose-mid":
        assert "node 'tr' (Transpose)" in line and "perm [1, 0]" in line and "before a Flatten" in line, line
    else:
        assert "node 'th' (Softsign)" in line and "unsupported op" in line
        assert "Softsign" not in line.split("supported:")[1]  # no message lists the op it refuses
    assert not (tmp_path / "o").exists()


def test_global_pool_squeeze_identity_chain(tmp_path):
    """Conv -> Relu -> GlobalAveragePool -> Squeeze -> Identity -> Identity -> Gemm: the
    Squeeze of the 1x1 axes is a flatten, the Identity chain disappears."""
    rng = np.random.default_rng(5)
    inits = {"w": rng.normal(size=(6, 1, 3, 3)), "b": rng.normal(size=6) * 0.1, "fw": rng.normal(size=(6, 3)),
             "fb": rng.normal(size=3) * 0.1}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3]),
             helper.make_node("Relu", ["c"], ["r"]), helper.make_node("GlobalAveragePool", ["r"], ["p"]),
             helper.make_node("Squeeze", ["p", "axes"], ["s"]), helper.make_node("Identity", ["s"], ["i1"]),
             helper.make_node("Identity", ["i1"], ["i2"]), helper.make_node("Gemm", ["i2", "fw", "fb"], ["y"])]
    g = helper.make_graph(nodes, "g", [vi("x", [1, 1, 8, 8])], [vi("y", [1, 3])],
                          [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits.items()]
                          + [numpy_helper.from_array(np.array([2, 3], np.int64), "axes")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.save(m, str(tmp_path / "s.onnx"))
    _float_check(tmp_path / "s.onnx", rng.uniform(0, 1, size=(200 + N, 1, 8, 8)).astype(np.float32), tmp_path)
