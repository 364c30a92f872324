"""Transposed convolution end to end (issue 17 item 2): a small conv autoencoder whose
decoder has ConvTranspose2d(k=2, s=2) and ConvTranspose2d(k=3, s=2, p=1, op=1), each with
BatchNorm + ReLU after, read from the nn.Module and from ONNX (opset 13 and 18), int4 PTQ
with calibration. Each ConvTranspose becomes a zero-fill Upsample (hardware stage
``upsample``, zero insertion) and a stride-1 convolution (frontend/convtranspose.py). The
float graph equals PyTorch, the simulator equals the fake-quant reference on every
calibration input, the builds fit, csim is bit-exact and the RTL under Verilator (idle and
backpressure) too; a Brevitas QuantConvTranspose2d QONNX model equals qonnx execution on
every quantized tensor; the QONNX export of the PTQ build round-trips; a grouped
ConvTranspose2d (groups 2, depthwise) builds as the block-diagonal group-1 one; unsupported
configurations give one ``edgec: error:`` line."""
from __future__ import annotations

import contextlib
import copy
import io
import json
import warnings

import numpy as np
import onnx
import pytest
import torch
import torch.nn as nn
from onnx import TensorProto, helper, numpy_helper

from edgec import build, csim
from edgec.cosim.run import run
from edgec.frontend.qmodel import float_forward
from edgec.frontend.torch_import import import_torch
from edgec.ir.graph import Graph
from edgec.ir.ops import Op

from .test_cli_errors import assert_one_line_error, run_main

SHAPE = (1, 8, 8)


class AE(nn.Module):
    """8x8 -> 2x2 (two stride-2 convs) -> 4x4 (k2 s2) -> 8x8 (k3 s2 p1 op1) -> 1x1 conv."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 4, 3, 2, 1), nn.ReLU(), nn.Conv2d(4, 8, 3, 2, 1), nn.ReLU())
        self.dec = nn.Sequential(nn.ConvTranspose2d(8, 4, 2, 2), nn.BatchNorm2d(4), nn.ReLU(),
                                 nn.ConvTranspose2d(4, 3, 3, 2, 1, 1), nn.BatchNorm2d(3), nn.ReLU(),
                                 nn.Conv2d(3, 1, 1))

    def forward(self, x):
        return self.dec(self.enc(x))


def _ae():
    torch.manual_seed(0)
    m = AE()
    with torch.no_grad():  # BatchNorms with statistics of their own
        for b in m.modules():
            if isinstance(b, nn.BatchNorm2d):
                b.running_mean.uniform_(-0.2, 0.2)
                b.running_var.uniform_(0.5, 1.5)
                b.weight.uniform_(0.5, 1.5)
    return m.eval()


def _x(n=64):
    return np.random.default_rng(0).normal(size=(n, *SHAPE)).astype(np.float32)


def _onnx(m, path, opset):
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(copy.deepcopy(m), (torch.zeros(1, *SHAPE),), str(path), dynamo=False, opset_version=opset)
    return str(path)


def _brevitas(path):
    """A QONNX decoder: QuantConv2d (s2) -> QuantReLU -> QuantConvTranspose2d(k2 s2) ->
    QuantReLU -> QuantConvTranspose2d(k3 s2 p1 op1), 4-bit weights, exported by Brevitas."""
    import brevitas.nn as qnn
    from brevitas.export import export_qonnx

    class Dec(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)
            self.c1 = qnn.QuantConv2d(2, 4, 3, stride=2, padding=1, weight_bit_width=4, return_quant_tensor=True)
            self.r1 = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
            self.t1 = qnn.QuantConvTranspose2d(4, 4, 2, stride=2, weight_bit_width=4, return_quant_tensor=True)
            self.r2 = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
            self.t2 = qnn.QuantConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1, weight_bit_width=4)

        def forward(self, x):
            return self.t2(self.r2(self.t1(self.r1(self.c1(self.inp(x))))))

    torch.manual_seed(0)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        export_qonnx(Dec().eval(), torch.rand(1, 2, 8, 8), export_path=str(path))
    return str(path)


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    d = tmp_path_factory.mktemp("convt")
    m, x = _ae(), _x()
    out = {"module": build(m, d / "module", input_shape=SHAPE, calib=x, preset="int4", progress=None,
                           export_qonnx=d / "module_q.onnx"),
           "onnx13": build(_onnx(m, d / "ae13.onnx", 13), d / "onnx13", calib=x, preset="int4", progress=None),
           "onnx18": build(_onnx(m, d / "ae18.onnx", 18), d / "onnx18", calib=x, preset="int4", progress=None),
           "brevitas": build(_brevitas(d / "dec.onnx"), d / "brevitas", progress=None)}
    return {**{k: r.out for k, r in out.items()}, "export": d / "module_q.onnx"}


def test_float_graph_equals_pytorch():
    """The rewrite is PyTorch's meaning (the fake-quant reference computes it), 2-D and 1-D."""
    m = _ae().double()
    x = _x(8).astype(np.float64)
    np.testing.assert_allclose(float_forward(import_torch(m, SHAPE), x), m(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-9, atol=1e-9)
    torch.manual_seed(1)
    m1 = nn.Sequential(nn.Conv1d(2, 3, 3, 2, 1), nn.ReLU(), nn.ConvTranspose1d(3, 2, 4, 2, 1, 1)).double().eval()
    x1 = np.random.default_rng(1).normal(size=(4, 2, 9))
    np.testing.assert_allclose(float_forward(import_torch(m1, (2, 9)), x1)[:, :, 0],
                               m1(torch.from_numpy(x1)).detach().numpy(), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", ["module", "onnx13", "onnx18"])
def test_ptq_builds_equal_the_fake_quant_reference_and_fit(builds, name):
    rep = json.loads((builds[name] / "report.json").read_text())
    sv = rep["sim_vs_reference"]
    assert sv["reference"] == "fake-quant" and sv["vectors"] == 64 and sv["mismatches"] == 0, sv
    assert rep["hardware"]["fits"]
    g = Graph.load(builds[name] / "model")
    ups = [n for n in g.nodes if n.op == Op.UPSAMPLE]
    assert [(n.attrs["fill"], tuple(n.attrs["factor"]), n.shape) for n in ups] == \
        [("zero", (2, 2), (4, 4, 8)), ("zero", (2, 2), (8, 8, 4))]
    wins = {n.inputs[0]: n.attrs["pad"] for n in g.nodes if n.op == Op.SLIDING_WINDOW}
    assert [tuple(wins[n.name]) for n in ups] == [(1, 1, 0, 0), (1, 1, 1, 1)]  # s - 1 less at bottom/right
    assert sum(s["kind"] == "upsample" for s in rep["hardware"]["stages"]) == 2
    assert [r["kernel"] for r in rep["layers"] if r["op"] == "Upsample"] == ["zero-insert"] * 2


def test_qonnx_export_round_trips(builds, tmp_path):
    """--export-qonnx writes each (zero-fill upsample, conv) as one ConvTranspose: qonnx
    execution equals the simulator, and edgec reading it builds the same simulator."""
    from edgec.backend import sim as sim_backend

    from .test_qonnx import check_against_qonnx

    path = builds["export"]
    assert [n.op_type for n in onnx.load(str(path)).graph.node].count("ConvTranspose") == 2
    tensors = json.loads({p.key: p.value for p in onnx.load(str(path)).metadata_props}["edgec.tensors"])
    x = _x()
    check_against_qonnx(path, builds["module"], x, tensors)
    build(str(path), tmp_path / "again", progress=None)
    q1, _ = sim_backend.load(builds["module"] / "sim").run(x)
    q2, _ = sim_backend.load(tmp_path / "again" / "sim").run(x)
    np.testing.assert_array_equal(q1, q2)


def test_module_csim_bit_exact(builds):
    r = csim.run(builds["module"], _x(16))
    assert r["mismatches"] == 0 and r["warnings"] == [], r
    rep = json.loads((builds["module"] / "report.json").read_text())["hardware"]
    assert {s["stage"]: s["cycles"] for s in rep["stages"]} == r["cycles"]


def test_module_cosim_bit_exact_under_pressure(builds):
    r = run(builds["module"], "verilator", _x(4), 4, idle=0.3, backpressure=0.3)
    assert r["ok"] and r["mismatches"] == 0 and r["framing_ok"] and not r["failures"], r


def test_brevitas_qonnx_equals_qonnx_execution(builds):
    rep = json.loads((builds["brevitas"] / "report.json").read_text())
    sv = rep["sim_vs_reference"]
    assert sv["reference"] == "qonnx execute_onnx" and sv["mismatches"] == 0 and sv["tensors"] >= 3, sv
    g = Graph.load(builds["brevitas"] / "model")
    assert sum(n.op == Op.UPSAMPLE and n.attrs["fill"] == "zero" for n in g.nodes) == 2


# ---- grouped transposed convolutions ------------------------------------------------------

class GroupedAE(nn.Module):
    """8x8 -> 2x2 -> 4x4 (k2 s2, groups 2) -> 8x8 (k3 s2 p1 op1, groups 4 = depthwise) -> 1x1 conv."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 4, 3, 2, 1), nn.ReLU(), nn.Conv2d(4, 8, 3, 2, 1), nn.ReLU())
        self.dec = nn.Sequential(nn.ConvTranspose2d(8, 4, 2, 2, groups=2), nn.BatchNorm2d(4), nn.ReLU(),
                                 nn.ConvTranspose2d(4, 4, 3, 2, 1, 1, groups=4), nn.ReLU(), nn.Conv2d(4, 1, 1))

    def forward(self, x):
        return self.dec(self.enc(x))


def test_grouped_conv_transpose_builds_equal_the_reference(tmp_path):
    """groups 2 and depthwise, from the module and from ONNX: each becomes the group-1
    ConvTranspose it equals (a block-diagonal weight), the float graph is PyTorch's, and
    the int4 simulator equals the fake-quant reference; the two builds agree."""
    from edgec.backend import sim as sim_backend
    from edgec.frontend.onnx_import import import_onnx

    torch.manual_seed(3)
    m = GroupedAE().eval()
    x = _x()
    want = copy.deepcopy(m).double()(torch.from_numpy(x.astype(np.float64))).detach().numpy()
    path = _onnx(m, tmp_path / "g.onnx", 13)
    for g in (import_torch(m, SHAPE), import_onnx(path)):
        np.testing.assert_allclose(float_forward(g, x.astype(np.float64)), want, rtol=1e-6, atol=1e-6)
    q = {}
    for name, model, kw in (("module", m, {"input_shape": SHAPE}), ("onnx", path, {})):
        res = build(model, tmp_path / name, calib=x, preset="int4", progress=None, **kw)
        sv = res.report["sim_vs_reference"]
        assert sv["vectors"] == 64 and sv["mismatches"] == 0 and sv["ties"] == 0, sv
        assert res.report["hardware"]["fits"]
        q[name], _ = sim_backend.load(res.out / "sim").run(x)
    assert len(np.unique(q["module"])) > 4
    np.testing.assert_array_equal(q["onnx"], q["module"])


# ---- refused configurations ------------------------------------------------------------

def _convt_onnx(path, **attrs):
    """x (1, 2, 4, 4) -> ConvTranspose(attrs) with a constant weight."""
    k = attrs.get("kernel_shape", [2, 2])
    w = numpy_helper.from_array(np.ones((2, 1 if "group" in attrs else 2, *k), np.float32), "w")
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], **attrs)
    g = helper.make_graph([node], "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", "c", "h", "w"])], [w])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


@pytest.mark.parametrize("attrs, needles", [
    (dict(strides=[2, 2], group=4), ("ConvTranspose", "groups=4", "multiple of groups")),
    (dict(strides=[2, 2], dilations=[2, 2]), ("ConvTranspose", "dilation")),
    (dict(strides=[2, 2], auto_pad="SAME_UPPER"), ("ConvTranspose", "auto_pad=SAME_UPPER")),
    (dict(strides=[2, 2], pads=[1, 1, 1, 1]), ("ConvTranspose", "stride - 1")),
])
def test_unsupported_conv_transpose_is_one_error_line(capsys, tmp_path, attrs, needles):
    np.save(tmp_path / "x.npy", np.zeros((4, 2, 4, 4), np.float32))
    code, err = run_main(capsys, "build", _convt_onnx(tmp_path / "m.onnx", kernel_shape=[2, 2], **attrs),
                         "--calib", tmp_path / "x.npy", "-o", tmp_path / "o")
    assert_one_line_error(code, err, *needles)
