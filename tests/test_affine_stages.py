"""A BatchNorm or activation that follows something other than a Conv, Linear or Add
(issue 17 item 2): on the input, after a pool, after a Concat, and a ReLU whose input is
also read elsewhere. qnet.attach_orphans starts a segment on the codes there (an identity
compute), so the BatchNorm's affine map and the activation fold into a stand-alone
threshold stage. From PyTorch and ONNX, the lowered network equals the fake-quant
reference on every input; at int8 it agrees with the float model; the build's C
simulation and Verilator co-simulation equal the simulator."""
import copy
import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from edgec.frontend.qmodel import FakeQuantModel, float_forward
from edgec.frontend.torch_import import import_torch
from tests.test_activations import _import_onnx, _lowered_equals_reference

SHAPE = (2, 8, 8)


class Orphans(nn.Module):
    def __init__(self, act):
        super().__init__()
        self.act = act
        self.bn0, self.c1 = nn.BatchNorm2d(2), nn.Conv2d(2, 6, 3, padding=1)
        self.bn1, self.bn2 = nn.BatchNorm2d(6), nn.BatchNorm2d(12)
        self.fc = nn.Linear(12 * 4 * 4, 5)

    def forward(self, x):
        x = torch.relu(self.bn0(x))  # BatchNorm + ReLU on the input
        a = self.c1(x)
        y = nn.functional.max_pool2d(torch.relu(a), 2)  # a ReLU whose input is read elsewhere too
        y = self.act(self.bn1(y))  # BatchNorm + activation after a pool
        z = torch.cat([y, nn.functional.max_pool2d(a, 2)], 1)
        z = nn.functional.leaky_relu(self.bn2(z), 0.1)  # after a Concat
        return self.fc(z.flatten(1))


ACTS = {"relu": nn.ReLU(), "hardswish": nn.Hardswish(), "sigmoid": nn.Sigmoid()}


def _net(act, seed=0):
    torch.manual_seed(seed)
    m = Orphans(ACTS[act]).eval()
    with torch.no_grad():  # statistics of their own, gammas of both signs
        for b in (m.bn0, m.bn1, m.bn2):
            b.running_mean.uniform_(-0.5, 0.5)
            b.running_var.uniform_(0.5, 2.0)
            b.weight.uniform_(-1.5, 1.5)
    return m


def _x(n=64, seed=0):
    return np.random.default_rng(seed).normal(size=(n, *SHAPE)) * 1.5


def _stand_alone_thresholds(ir):
    return [n.name for n in ir.nodes if n.op.value == "MultiThreshold"
            and ir.node(n.inputs[0]).op.value not in ("MatMul", "XnorPopcount")]


@pytest.mark.parametrize("act", ACTS)
def test_pytorch_and_onnx_equal_the_reference(act, tmp_path):
    m = _net(act)
    x = _x()
    with torch.no_grad():
        want = m.double()(torch.as_tensor(x)).numpy()
    path = tmp_path / "m.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(copy.deepcopy(m).double(), (torch.zeros(1, *SHAPE, dtype=torch.float64),), str(path),
                          dynamo=False, opset_version=17)
    for g in (import_torch(m, SHAPE), _import_onnx(path)):
        np.testing.assert_allclose(float_forward(g, x), want, rtol=1e-6, atol=1e-6)
        for wbits, abits in ((4, 4), (2, 2), (3, 6)):
            _, ir = _lowered_equals_reference(g, x, wbits, abits)
            # the input's BatchNorm, the shared ReLU, the pool's and the Concat's BatchNorm
            assert len(_stand_alone_thresholds(ir)) == 4, _stand_alone_thresholds(ir)


def test_int8_agrees_with_the_float_model():
    m = _net("hardswish", 1)
    g = import_torch(m, SHAPE)
    x = _x(400, 1)
    q, _ = _lowered_equals_reference(g, x, 8, 8)
    with torch.no_grad():
        _, y, _ = FakeQuantModel(q)(x)
    y, f = y.numpy(), float_forward(g, x)
    assert (y.argmax(1) == f.argmax(1)).mean() >= 0.97
    assert np.linalg.norm(y - f) / np.linalg.norm(f) <= 0.05


def test_stand_alone_activations_become_lookups_where_the_table_is_cheaper():
    """passes/lookup.py marks a stand-alone MultiThreshold as a lookup exactly where
    cost/lowering.py's lookup_pays prices the table below the comparators; a fused one,
    or one whose input is wider than dataflow.LOOKUP_MAX_BITS, stays comparators. The
    lowered graph equals the reference either way (the mark changes no meaning), and the
    table dataflow holds is ir/ref.py's function on every input value."""
    from edgec import dataflow as D
    from edgec.cost import hw
    from edgec.cost.lowering import BRAM_LUT_EQ, lookup_pays
    from edgec.ir import ref
    from edgec.ir.types import IntType

    g = import_torch(_net("hardswish", 1), SHAPE)
    marked = {}
    for bits in (4, 8):
        _, ir = _lowered_equals_reference(g, _x(), bits, bits)
        for n in ir.nodes:
            if n.op.value != "MultiThreshold":
                continue
            t = ir.node(n.inputs[0]).type
            lut = n.attrs.get("form") == "lookup"
            marked[(bits, n.name)] = lut
            if D._fused(ir, n) or t.bits > D.LOOKUP_MAX_BITS:
                assert not lut, n.name
                continue
            a = D.lookup_act(n, t)
            thr = D.activation(n, t.bits)
            table = hw.lookup_res(a, 1, 1 if a.bipolar else n.type.bits)
            comps = hw._activation(1, n.shape[-1], thr.nt, thr.cb, thr.steps is not None)
            assert lut == (table.LUT + BRAM_LUT_EQ * table.BRAM36 < comps.LUT + BRAM_LUT_EQ * comps.BRAM36), n.name
            xs = np.arange(t.lo, t.hi + 1)[:, None].repeat(n.shape[-1], 1)
            want = ref.multi_threshold(xs, n.params["thresholds"], n.params["sign"], n.attrs["out_lo"],
                                       n.attrs["bipolar"], n.params.get("steps"))
            np.testing.assert_array_equal(a.table, want.T)
    assert sum(marked.values()) >= 2 and not all(marked.values()), marked
    # a 13-bit input never indexes a table
    n = next(n for n in ir.nodes if n.attrs.get("form") == "lookup")
    wide = ir.copy()
    src = wide.node(n.inputs[0])
    src.type = IntType(D.LOOKUP_MAX_BITS + 1, True)
    assert not lookup_pays(wide, wide.node(n.name))


def test_build_csim_and_cosim_bit_exact(tmp_path):
    from edgec import csim
    from edgec.cosim.run import run as cosim

    m = _net("hardswish", 2)
    torch.export.save(torch.export.export(m, (torch.zeros(1, *SHAPE),)), str(tmp_path / "m.pt2"))
    x = _x(64, 3).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "edgec.cli", "build", str(tmp_path / "m.pt2"), "-o", str(out),
                        "--preset", "int4", "--calib", str(tmp_path / "x.npy"),
                        "--export-qonnx", str(tmp_path / "q.onnx")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.loads((out / "report.json").read_text())
    assert rep["sim_vs_reference"]["mismatches"] == 0 and rep["sim_vs_reference"]["vectors"] == 64
    assert sum(s["kind"] == "threshold" for s in rep["hardware"]["stages"]) >= 4
    # some of them are lookup tables (passes/lookup.py), so csim and cosim below hold those too
    assert any(r["act"].endswith("/lookup") for r in rep["layers"]), [r["act"] for r in rep["layers"]]
    modules = [i["module"] for i in json.loads((out / "rtl" / "instances.json").read_text())["stages"]]
    assert "edgec_lookup" in modules, modules
    c = csim.run(out, x[:32], 32)
    assert c["mismatches"] == 0 and c["vectors"] == 32, c
    v = cosim(out, "verilator", x[:6], 6, idle=0.3, backpressure=0.3)
    assert v["ok"] and v["mismatches"] == 0, v
    # its QONNX export, built again, equals qonnx's execution of it on every quantized activation
    from edgec import build
    from edgec.backend import sim as sim_backend
    from edgec.ir.graph import Graph
    from edgec.verify import check_qonnx

    build(str(tmp_path / "q.onnx"), tmp_path / "out2", progress=None)
    sim = sim_backend.load(tmp_path / "out2" / "sim")
    r = check_qonnx(tmp_path / "q.onnx", Graph.load(tmp_path / "out2" / "model"), sim, x)
    assert r["mismatches"] == 0 and r["ties"] == 0 and r["tensors"] >= 6, r
