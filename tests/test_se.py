"""Squeeze-and-excitation (issue 17 item 2): a global average pool feeding 1x1 convolutions
and a Sigmoid gate, multiplied into the map (IR Mul with a (1, 1, C) gate; hardware
edgec::mul / edgec_mul, which holds the gate and streams the map). From PyTorch and ONNX
the lowered network equals the fake-quant reference on every input and agrees with the
float model at int8; a build's C simulation and Verilator co-simulation equal the
simulator; a Brevitas export equals qonnx execution; a product with a constant is an
error naming the node."""
import copy
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from edgec.errors import EdgecError
from edgec.frontend.qmodel import FakeQuantModel, float_forward
from edgec.frontend.torch_import import import_torch
from edgec.ir.ops import Op
from tests.test_activations import _import_onnx, _lowered_equals_reference

SHAPE = (2, 8, 8)


class SE(nn.Module):
    def __init__(self, gate=nn.Sigmoid()):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(2, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.f1, self.f2 = nn.Conv2d(8, 4, 1), nn.Conv2d(4, 8, 1)
        self.gate = gate
        self.c2 = nn.Conv2d(8, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 4 * 4, 5)

    def forward(self, x):
        x = torch.relu(self.b1(self.c1(x)))
        g = self.gate(self.f2(torch.relu(self.f1(nn.functional.adaptive_avg_pool2d(x, 1)))))
        y = torch.relu(self.c2(x * g))  # the gated map
        y = y * torch.relu(self.c2(x))  # and a product of two maps of one shape
        return self.fc(nn.functional.max_pool2d(y, 2).flatten(1))


def _net(seed=0, gate=None):
    torch.manual_seed(seed)
    m = SE(gate or nn.Sigmoid()).eval()
    with torch.no_grad():
        m.b1.running_mean.uniform_(-0.5, 0.5)
        m.b1.running_var.uniform_(0.5, 2.0)
    return m


def _x(n=64, seed=0):
    return np.random.default_rng(seed).normal(size=(n, *SHAPE)) * 1.5


@pytest.mark.parametrize("gate", ["sigmoid", "hardsigmoid"])
def test_pytorch_and_onnx_equal_the_reference(gate, tmp_path):
    m = _net(0, nn.Sigmoid() if gate == "sigmoid" else nn.Hardsigmoid())
    x = _x()
    with torch.no_grad():
        want = m.double()(torch.as_tensor(x)).numpy()
    path = tmp_path / "se.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(copy.deepcopy(m).double(), (torch.zeros(1, *SHAPE, dtype=torch.float64),), str(path),
                          dynamo=False, opset_version=17)
    for g in (import_torch(m, SHAPE), _import_onnx(path)):
        assert [n.op for n in g.nodes].count("mul") == 2
        np.testing.assert_allclose(float_forward(g, x), want, rtol=1e-6, atol=1e-6)
        for wbits, abits in ((4, 4), (2, 2), (3, 6)):
            _, ir = _lowered_equals_reference(g, x, wbits, abits)
            muls = [n for n in ir.nodes if n.op == Op.MUL]
            assert sorted(tuple(ir.node(n.inputs[1]).shape) for n in muls) == [(1, 1, 8), (8, 8, 8)]


def test_int8_agrees_with_the_float_model():
    m = _net(1)
    g = import_torch(m, SHAPE)
    x = _x(400, 1)
    q, _ = _lowered_equals_reference(g, x, 8, 8)
    with torch.no_grad():
        _, y, _ = FakeQuantModel(q)(x)
    y, f = y.numpy(), float_forward(g, x)
    assert (y.argmax(1) == f.argmax(1)).mean() >= 0.97
    assert np.linalg.norm(y - f) / np.linalg.norm(f) <= 0.05


def test_build_csim_and_cosim_bit_exact(tmp_path):
    import json

    from edgec import csim
    from edgec.cosim.run import run as cosim

    m = _net(2)
    torch.export.save(torch.export.export(m, (torch.zeros(1, *SHAPE),)), str(tmp_path / "se.pt2"))
    x = _x(64, 3).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "edgec.cli", "build", str(tmp_path / "se.pt2"), "-o", str(out),
                        "--preset", "int4", "--calib", str(tmp_path / "x.npy")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.loads((out / "report.json").read_text())
    assert rep["sim_vs_reference"]["mismatches"] == 0
    muls = [s for s in rep["hardware"]["stages"] if s["kind"] == "mul"]
    assert len(muls) == 2
    assert {row["op"] for row in rep["layers"]} >= {"Mul"}
    c = csim.run(out, x[:32], 32)
    assert c["mismatches"] == 0 and c["vectors"] == 32, c
    v = cosim(out, "verilator", x[:6], 6, idle=0.3, backpressure=0.3)
    assert v["ok"] and v["mismatches"] == 0, v


def _brevitas_se():
    import brevitas.nn as qnn
    from brevitas.quant import Int8WeightPerTensorFloat, Uint8ActPerTensorFloat

    w = dict(weight_quant=Int8WeightPerTensorFloat, weight_bit_width=4)
    a = dict(act_quant=Uint8ActPerTensorFloat, bit_width=4)
    torch.manual_seed(4)

    class QSE(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(return_quant_tensor=True)
            self.c1, self.r1 = qnn.QuantConv2d(2, 8, 3, padding=1, **w), qnn.QuantReLU(**a)
            self.pool = qnn.QuantIdentity(bit_width=6)  # the pooled map, requantized
            self.f1, self.r2 = qnn.QuantConv2d(8, 4, 1, **w), qnn.QuantReLU(**a)
            self.f2, self.sig = qnn.QuantConv2d(4, 8, 1, **w), qnn.QuantSigmoid(**a)
            self.q = qnn.QuantIdentity(bit_width=4, return_quant_tensor=True)
            self.fc = qnn.QuantLinear(8 * 8 * 8, 5, bias=True, **w)

        def forward(self, x):
            x = self.r1(self.c1(self.inp(x)))
            g = self.sig(self.f2(self.r2(self.f1(self.pool(nn.functional.adaptive_avg_pool2d(x, 1))))))
            return self.fc(torch.flatten(self.q(x * g), 1))

    return QSE().eval()


def test_qonnx_squeeze_excitation_matches_qonnx(tmp_path):
    from edgec import build
    from edgec.backend import sim as sim_backend
    from edgec.ir.graph import Graph
    from edgec.verify import check_qonnx, inputs_in_range

    from . import qonnx_nets as Q

    m = _brevitas_se()
    Q.calibrate(m, np.random.default_rng(0).uniform(-1, 1, size=(64, *SHAPE)).astype(np.float32))
    path = Q.export(m, SHAPE, tmp_path / "se.onnx")
    build(str(path), tmp_path / "out", progress=None)
    g = Graph.load(tmp_path / "out" / "model")
    assert any(n.op == Op.MUL for n in g.nodes)
    sim = sim_backend.load(tmp_path / "out" / "sim")
    c = check_qonnx(path, g, sim, inputs_in_range(sim, 300, seed=3))
    assert c["mismatches"] == 0 and c["ties"] <= 3 and c["tensors"] >= 6, c


def test_product_with_a_constant_names_the_node():
    class K(nn.Module):
        def forward(self, x):
            return x * 0.5

    with pytest.raises(EdgecError, match="node 'mul'.*only the product of two tensors"):
        import_torch(K(), SHAPE)
