"""Activations from the three frontends (issue 17 item 1): every PyTorch activation module
and its ONNX export imports as the activation ir/act.py defines, the imported float graph
computes what PyTorch computes, the quantized network lowers to thresholds equal to the
fake-quant reference on every input, and at int8 it agrees with the float model."""
import copy
import json
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from edgec.backend.sim import input_spec
from edgec.cost.counts import layer_rows
from edgec.cost.lowering import POLICY
from edgec.frontend.lower import lower
from edgec.frontend.normalize import normalized
from edgec.frontend.onnx_import import import_onnx, load_onnx
from edgec.frontend.qmodel import FakeQuantModel, float_forward
from edgec.frontend.quantize import QuantConfig, quantize
from edgec.frontend.torch_import import import_torch
from edgec.ir import ref
from edgec.passes import pipeline
from edgec.sim.kernels import quantize_input

MODULES = {
    "relu6": (lambda c: nn.ReLU6(), "clip"), "hardtanh": (lambda c: nn.Hardtanh(-0.5, 1.5), "clip"),
    "leaky": (lambda c: nn.LeakyReLU(0.15), "leaky_relu"), "prelu": (lambda c: nn.PReLU(c, 0.3), "leaky_relu"),
    "elu": (lambda c: nn.ELU(0.8), "elu"), "selu": (lambda c: nn.SELU(), "selu"),
    "sigmoid": (lambda c: nn.Sigmoid(), "sigmoid"), "hardsigmoid": (lambda c: nn.Hardsigmoid(), "hardsigmoid"),
    "tanh": (lambda c: nn.Tanh(), "tanh"), "hardswish": (lambda c: nn.Hardswish(), "hardswish"),
    "silu": (lambda c: nn.SiLU(), "silu"), "gelu": (lambda c: nn.GELU(), "gelu"),
    "gelu_tanh": (lambda c: nn.GELU(approximate="tanh"), "gelu_tanh"), "mish": (lambda c: nn.Mish(), "mish"),
    "softplus": (lambda c: nn.Softplus(1.5, 10.0), "softplus"),
}
# the kind an ONNX export reads as (SiLU, Mish: exported as several ops, fused by normalize.py;
# None: not read, torch's Softplus threshold and GELU's tanh form have no ONNX op)
ONNX_KIND = {"hardsigmoid": "hardsigmoid_ab", "softplus": None, "gelu_tanh": None}
SHAPE = (1, 8, 8)


class ActNet(nn.Module):
    def __init__(self, make):
        super().__init__()
        self.c1, self.b1, self.a1 = nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), make(6)
        self.c2, self.a2 = nn.Conv2d(6, 6, 3, padding=1, groups=6), make(6)
        self.pool = nn.MaxPool2d(2)
        self.fc1, self.a3 = nn.Linear(96, 12), make(12)
        self.fc2 = nn.Linear(12, 5)

    def forward(self, x):
        x = self.pool(self.a2(self.c2(self.a1(self.b1(self.c1(x))))))
        return self.fc2(self.a3(self.fc1(x.flatten(1))))


def _net(name):
    torch.manual_seed(sum(map(ord, name)))
    m = ActNet(MODULES[name][0])
    with torch.no_grad():  # a BatchNorm with statistics of its own, gammas of both signs
        m.b1.running_mean.uniform_(-0.5, 0.5)
        m.b1.running_var.uniform_(0.5, 2.0)
        m.b1.weight.uniform_(-1.5, 1.5)
    return m.eval()


def _onnx(m, path, opset=20):
    m64 = copy.deepcopy(m).double().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m64, (torch.zeros(1, *SHAPE, dtype=torch.float64),), str(path), dynamo=False,
                          opset_version=opset)
    return path


def _x(n=64, seed=0):
    return np.random.default_rng(seed).normal(size=(n, *SHAPE)) * 1.5


def _lowered_equals_reference(g, x, wbits, abits):
    q = quantize(g, x, QuantConfig(wbits=wbits, abits=abits))
    ir = lower(q)
    codes = quantize_input(x, input_spec(ir.meta["input_quant"])).transpose(0, 2, 3, 1)
    with torch.no_grad():
        want = np.rint(FakeQuantModel(q)(x)[0].numpy()).astype(np.int64)
    for _, fn in pipeline(POLICY):
        ir = fn(ir)
    got = ref.run(ir, codes)[ir.output]
    np.testing.assert_array_equal(got.transpose(0, 3, 1, 2) if got.ndim == 4 else got, want)
    return q, ir


@pytest.mark.parametrize("name", MODULES)
def test_pytorch_activations(name):
    m = _net(name)
    g = import_torch(m, SHAPE)
    kinds = [n.attrs["kind"] for n in g.nodes if n.op == "act"]
    assert kinds == [MODULES[name][1]] * 3
    x = _x()
    with torch.no_grad():
        want = m.double()(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(float_forward(g, x), want, rtol=1e-9, atol=1e-9)  # f as PyTorch computes it
    for wbits, abits in ((4, 4), (2, 2), (3, 5)):
        _, ir = _lowered_equals_reference(g, x, wbits, abits)
        # the report's layer table names the activation each layer's thresholds carry out
        acts = [r["act"].split("/")[0] for r in layer_rows(ir) if r["op"] == "MatMul"]
        assert acts == [MODULES[name][1]] * 3 + ["-"], acts


def _import_onnx(path):
    return import_onnx(path, normalized(load_onnx(path)))


@pytest.mark.parametrize("opset", [18, 20])
@pytest.mark.parametrize("name", [n for n in MODULES if ONNX_KIND.get(n, MODULES[n][1])])
def test_onnx_activations(name, opset, tmp_path):
    """Opset 18 writes GELU as Div/Erf/Add/Mul/Mul, opset 20 as Gelu; SiLU as x * Sigmoid(x)."""
    m = _net(name)
    g = _import_onnx(_onnx(m, tmp_path / f"{name}.onnx", opset))
    kinds = [n.attrs["kind"] for n in g.nodes if n.op == "act"]
    assert kinds == [ONNX_KIND.get(name, MODULES[name][1])] * 3
    x = _x()
    with torch.no_grad():
        want = m.double()(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(float_forward(g, x), want, rtol=1e-6, atol=1e-6)
    _lowered_equals_reference(g, x, 4, 4)


@pytest.mark.parametrize("name", ["silu", "gelu", "hardswish", "leaky", "sigmoid"])
def test_int8_agrees_with_the_float_model(name):
    m = _net(name)
    g = import_torch(m, SHAPE)
    x = _x(400, 1)
    q, _ = _lowered_equals_reference(g, x, 8, 8)
    with torch.no_grad():
        _, y, _ = FakeQuantModel(q)(x)
    y, f = y.numpy(), float_forward(g, x)
    assert (y.argmax(1) == f.argmax(1)).mean() >= 0.97
    assert np.linalg.norm(y - f) / np.linalg.norm(f) <= 0.05


class UNet(nn.Module):
    """A small U-Net: conv, pool, conv, nearest upsample x2, concat with the skip, conv;
    with ``act`` between layers."""

    def __init__(self, act=nn.ReLU, mode="nearest"):
        super().__init__()
        self.e1, self.a1 = nn.Conv2d(1, 4, 3, padding=1), act()
        self.e2, self.a2 = nn.Conv2d(4, 6, 3, padding=1), act()
        self.up = nn.Upsample(scale_factor=2, mode=mode)
        self.d1, self.a3 = nn.Conv2d(10, 4, 3, padding=1), act()
        self.head = nn.Conv2d(4, 2, 1)

    def forward(self, x):
        s = self.a1(self.e1(x))
        y = self.a2(self.e2(nn.functional.max_pool2d(s, 2)))
        return self.head(self.a3(self.d1(torch.cat([self.up(y), s], dim=1))))


@pytest.mark.parametrize("act", [nn.ReLU, nn.LeakyReLU])
def test_unet_upsample_and_concat_from_pytorch_and_onnx(act, tmp_path):
    torch.manual_seed(5)
    m = UNet(act).eval()
    x = _x(32, 2)
    with torch.no_grad():
        want = m.double()(torch.as_tensor(x)).numpy()
    for g in (import_torch(m, SHAPE), _import_onnx(_onnx(m, tmp_path / "unet.onnx", 13))):
        assert [n.op for n in g.nodes].count("concat") == 1 and [n.op for n in g.nodes].count("upsample") == 1
        np.testing.assert_allclose(float_forward(g, x).reshape(want.shape), want, rtol=1e-6, atol=1e-6)
        for wbits, abits in ((4, 4), (2, 2)):
            _lowered_equals_reference(g, x, wbits, abits)


class Net1D(nn.Module):
    """A 1-D CNN on (3, 32) signals: Conv1d (stride 2), BatchNorm1d, ReLU, MaxPool1d, a
    depthwise Conv1d with Hardswish, AvgPool1d, Conv1d with SiLU, a global pool and a head."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(3, 8, 5, stride=2, padding=2), nn.BatchNorm1d(8), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(8, 8, 3, padding=1, groups=8), nn.Hardswish(), nn.AvgPool1d(2),
            nn.Conv1d(8, 8, 3, padding=1), nn.SiLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(8, 4))

    def forward(self, x):
        return self.body(x)


def test_1d_cnn_from_pytorch_and_onnx(tmp_path):
    torch.manual_seed(11)
    m = Net1D().eval()
    x = np.random.default_rng(3).normal(size=(48, 3, 32)) * 1.5
    with torch.no_grad():
        want = m.double()(torch.as_tensor(x)).numpy()
    m64 = copy.deepcopy(m).double()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m64, (torch.zeros(1, 3, 32, dtype=torch.float64),), str(tmp_path / "c1.onnx"), dynamo=False)
    for g in (import_torch(m, (3, 32)), _import_onnx(tmp_path / "c1.onnx")):
        assert g.input.attrs == {"shape": (3, 1, 32), "layout": "cl"}
        np.testing.assert_allclose(float_forward(g, x), want, rtol=1e-6, atol=1e-6)
        q = quantize(g, x, QuantConfig(wbits=4, abits=4))
        ir = lower(q)
        codes = quantize_input(x, input_spec(ir.meta["input_quant"])).transpose(0, 2, 1)[:, None]
        with torch.no_grad():
            ref_codes = np.rint(FakeQuantModel(q)(x)[0].numpy()).astype(np.int64)
        for _, fn in pipeline(POLICY):
            ir = fn(ir)
        np.testing.assert_array_equal(ref.run(ir, codes)[ir.output], ref_codes)


def test_1d_cnn_with_activations_builds_csim_and_cosim_bit_exact(tmp_path):
    """The 1-D CNN (Hardswish and SiLU: signed-step thresholds) through `edgec build` of its
    .pt2, `edgec csim` and Verilator `edgec cosim`: every artifact equals the simulator."""
    import subprocess
    import sys

    from edgec import csim
    from edgec.backend import sim as sim_backend
    from edgec.cosim.run import run as cosim

    torch.manual_seed(11)
    m = Net1D().eval()
    torch.export.save(torch.export.export(m, (torch.zeros(1, 3, 32),)), str(tmp_path / "c1.pt2"))
    x = (np.random.default_rng(3).normal(size=(64, 3, 32)) * 1.5).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    r = subprocess.run([sys.executable, "-m", "edgec.cli", "build", str(tmp_path / "c1.pt2"), "-o",
                        str(tmp_path / "out"), "--preset", "int4", "--calib", str(tmp_path / "x.npy")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    out = tmp_path / "out"
    # calibration inputs without labels: the build checks the simulator on them (issue 16 item 6)
    sv = json.loads((out / "report.json").read_text())["sim_vs_reference"]
    assert sv == {"vectors": 64, "mismatches": 0, "ties": 0, "reference": "fake-quant", "inputs": "calibration"}, sv
    sim = sim_backend.load(out / "sim")
    q, _ = sim.run(x)
    assert q.shape == (64, 4) and len(np.unique(q)) > 4
    c = csim.run(out, None, 64)
    assert c["mismatches"] == 0 and c["vectors"] == 64, c
    v = cosim(out, "verilator", x[:6], 6, idle=0.2, backpressure=0.2)
    assert v["ok"] and v["mismatches"] == 0, v
