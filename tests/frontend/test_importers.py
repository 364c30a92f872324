"""PyTorch and ONNX importers: the imported float graph computes what the source model does.

Each model is imported from the nn.Module, from a .pt2 file and from ONNX files, and the
float64 execution of the FGraph is compared with torch's float64 output. The only tolerance
is 1e-9 relative to the output's largest magnitude: both sides are float64 and differ only in
summation order (ONNX models are exported from a float64 copy, so the exporter's
Conv+BatchNorm folding is done in float64 too).
"""
from __future__ import annotations

import copy
import warnings

import numpy as np
import onnx
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

from edgec.errors import EdgecError
from edgec.frontend.onnx_import import import_onnx
from edgec.frontend.qmodel import float_forward
from edgec.frontend.torch_import import import_torch, load_pt2, pt2_input_shape

RTOL = 1e-9


# ---- models ---------------------------------------------------------------------------

def _randomise_bn(model: nn.Module, gen: torch.Generator) -> nn.Module:
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=gen))
            m.running_var.copy_(torch.rand(c, generator=gen) * 1.5 + 0.5)
            m.weight.data.copy_(torch.randn(c, generator=gen) * 0.5 + 1)
            m.bias.data.copy_(torch.randn(c, generator=gen))
    return model.eval()


class Residual(nn.Module):
    def __init__(self, c=4, classes=3):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        y = self.conv2(torch.relu(self.conv1(x)))
        y = torch.relu(y + x)
        return self.fc(torch.flatten(self.pool(y), 1))


def mlp():
    return nn.Sequential(nn.Linear(16, 12), nn.ReLU(), nn.Dropout(0.3), nn.Linear(12, 10),
                         nn.BatchNorm1d(10), nn.ReLU(), nn.Linear(10, 3))


def convnet(cin=3):
    return nn.Sequential(nn.Conv2d(cin, 6, 3, stride=2, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Conv2d(6, 6, 3, padding=1, groups=6), nn.AvgPool2d(2),
                         nn.Flatten(), nn.Linear(6 * 2 * 2, 5))


MODELS = {"mlp": (mlp, (16,)), "convnet": (convnet, (3, 16, 16)), "residual": (Residual, (4, 8, 8))}


def _build(name, seed=0):
    make, shape = MODELS[name]
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    return _randomise_bn(make(), gen), shape


def _batch(shape, n=5, seed=1):
    return np.random.default_rng(seed).standard_normal((n, *shape))


def _torch_ref(model: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return copy.deepcopy(model).double().eval()(torch.from_numpy(x)).numpy()


def _assert_close(got, ref):
    assert got.shape == ref.shape
    err = np.max(np.abs(got - ref)) / np.max(np.abs(ref))
    assert err <= RTOL, f"relative error {err:.3g}"


def _export_onnx(model, shape, path, dynamic=False, dynamo=False):
    m64 = copy.deepcopy(model).double().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw = {"input_names": ["x"], "output_names": ["y"], "dynamo": dynamo}
        if dynamic and not dynamo:
            kw["dynamic_axes"] = {"x": {0: "N"}, "y": {0: "N"}}
        torch.onnx.export(m64, (torch.zeros(1, *shape, dtype=torch.float64),), str(path), **kw)
    return path


# ---- float equivalence ----------------------------------------------------------------

SOURCES = ["module", "module_f64", "pt2", "pt2_decomposed", "onnx", "onnx_dynamic_batch", "onnx_dynamo"]


def _import(source, model, shape, tmp_path):
    if source == "module":
        return import_torch(model, shape)
    if source == "module_f64":
        return import_torch(copy.deepcopy(model).double(), shape)
    if source.startswith("pt2"):
        ep = torch.export.export(model, (torch.zeros(1, *shape),))
        if source == "pt2_decomposed":  # core-aten op set: convolution, addmm, getitem, ...
            ep = ep.run_decompositions()
        torch.export.save(ep, str(tmp_path / "m.pt2"))
        loaded = load_pt2(tmp_path / "m.pt2")
        assert pt2_input_shape(loaded) == shape
        return import_torch(loaded)
    path = _export_onnx(model, shape, tmp_path / "m.onnx", dynamic=source == "onnx_dynamic_batch",
                        dynamo=source == "onnx_dynamo")
    return import_onnx(path)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("name", list(MODELS))
def test_import_matches_torch(name, source, tmp_path):
    model, shape = _build(name)
    g = _import(source, model, shape, tmp_path)
    assert g.input.attrs["shape"] == shape
    assert len({n.name for n in g.nodes}) == len(g.nodes)
    assert all(v.dtype == np.float64 for n in g.nodes for v in n.params.values())
    x = _batch(shape)
    _assert_close(float_forward(g, x), _torch_ref(model, x))


def test_torch_graph_structure():
    """Dropout is dropped, BN kept with its statistics, the fx names are kept."""
    model, shape = _build("mlp")
    g = import_torch(model, shape)
    assert [n.op for n in g.nodes] == ["input", "linear", "relu", "linear", "bn", "relu", "linear"]
    assert [n.name for n in g.nodes][1:4] == ["linear", "relu", "linear_1"]
    bn = g.nodes[4]
    np.testing.assert_array_equal(bn.params["var"], model[4].running_var.double().numpy())
    assert bn.attrs["eps"] == model[4].eps
    g = import_torch(*_build("convnet"))
    conv = g.nodes[1]
    assert conv.attrs == {"stride": (2, 2), "pad": (1, 1, 1, 1), "groups": 1}
    assert [n.op for n in g.nodes] == ["input", "conv", "bn", "relu", "maxpool", "conv", "avgpool",
                                       "flatten", "linear"]


class _Extras(nn.Module):
    """Single input channel, 'same' padding with an even kernel (odd pixel padded last), F.pad
    before a conv, a view to (N, -1), a mean over H, W, x @ W + b + 0.5 with constant W and b, in-place ReLU."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 4, padding="same")
        self.conv2 = nn.Conv2d(3, 3, 3)
        self.act = nn.ReLU(inplace=True)
        self.register_buffer("w", torch.randn(3, 2))
        self.b = torch.randn(2)  # a plain tensor attribute: a lifted constant in the export

    def forward(self, x):
        y = self.act(self.conv(x))
        y = self.conv2(F.pad(y, (0, 2, 2, 0))) + y
        y = y.mean(dim=(-1, -2), keepdim=True)
        return y.view(y.size(0), -1) @ self.w + self.b + 0.5


def test_torch_extras(tmp_path):
    torch.manual_seed(3)
    model, shape = _Extras().eval(), (1, 7, 7)
    x = _batch(shape)
    for g in (import_torch(model, shape), import_torch(torch.export.export(model, (torch.zeros(1, *shape),))
                                                       .run_decompositions())):
        assert g.nodes[1].attrs["pad"] == (1, 1, 2, 2)
        assert g.nodes[3].op == "conv" and g.nodes[3].attrs["pad"] == (2, 0, 0, 2)
        assert [n.op for n in g.nodes][-3:] == ["gap", "flatten", "linear"]  # matmul + bias fused
        _assert_close(float_forward(g, x), _torch_ref(model, x))
    g = import_onnx(_export_onnx(model, shape, tmp_path / "e.onnx", dynamic=True))
    assert [n.attrs["pad"] for n in g.nodes if n.op == "conv"] == [(1, 1, 2, 2), (2, 0, 0, 2)]
    _assert_close(float_forward(g, x), _torch_ref(model, x))


def test_onnx_folds_bn_into_conv(tmp_path):
    model, shape = _build("convnet")
    g = import_onnx(_export_onnx(model, shape, tmp_path / "c.onnx"))
    assert "bn" not in [n.op for n in g.nodes]
    assert g.nodes[1].attrs == {"stride": (2, 2), "pad": (1, 1, 1, 1), "groups": 1}


# ---- a hand-built ONNX model ------------------------------------------------------------

def _hand_model(rng, path, opset):
    """Conv (asymmetric pads, stride (2, 1)) -> BatchNormalization -> Relu -> MaxPool (pads)
    -> Identity -> GlobalAveragePool -> Reshape(-1, 4) (Constant shape) -> MatMul + Add
    -> Dropout. Returns the float64 parameters."""
    p = {"W1": rng.standard_normal((4, 2, 3, 3)), "B1": rng.standard_normal(4),
         "scale": rng.standard_normal(4) + 1, "bias": rng.standard_normal(4),
         "mean": rng.standard_normal(4), "var": rng.random(4) + 0.5,
         "W2": rng.standard_normal((4, 3)), "b2": rng.standard_normal(3)}
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "W1", "B1"], ["c"], name="conv", kernel_shape=[3, 3], strides=[2, 1], pads=[0, 1, 1, 2]),
        n("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["bn"], name="bn", epsilon=1e-3),
        n("Relu", ["bn"], ["r"], name="relu"),
        n("MaxPool", ["r"], ["mp"], name="pool", kernel_shape=[2, 2], strides=[2, 2], pads=[1, 0, 0, 1]),
        n("Identity", ["mp"], ["id"]),
        n("GlobalAveragePool", ["id"], ["gap"], name="gap"),
        n("Constant", [], ["shape"], value=numpy_helper.from_array(np.array([-1, 4], np.int64))),
        n("Reshape", ["gap", "shape"], ["flat"], name="reshape"),
        n("MatMul", ["flat", "W2"], ["mm"], name="matmul"),
        n("Add", ["mm", "b2"], ["fc"], name="add_bias"),
        n("Dropout", ["fc"], ["y"], name="dropout"),
    ]
    inits = [numpy_helper.from_array(v, k) for k, v in p.items()]
    graph = helper.make_graph(nodes, "hand",
                              [helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["N", 2, 9, 9])],
                              [helper.make_tensor_value_info("y", TensorProto.DOUBLE, ["N", 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return p


def _hand_reference(p, x):
    """The hand-built model written with torch.nn.functional (ONNX pads [x1_begin, x2_begin,
    x1_end, x2_end] = [top, left, bottom, right]; F.pad takes (left, right, top, bottom))."""
    t = {k: torch.from_numpy(v) for k, v in p.items()}
    y = F.conv2d(F.pad(torch.from_numpy(x), (1, 2, 0, 1)), t["W1"], t["B1"], stride=(2, 1))
    y = F.batch_norm(y, t["mean"], t["var"], t["scale"], t["bias"], training=False, eps=float(np.float32(1e-3)))
    y = F.max_pool2d(F.pad(torch.relu(y), (0, 1, 1, 0), value=float("-inf")), 2, 2)
    return (y.mean(dim=(2, 3)).reshape(-1, 4) @ t["W2"] + t["b2"]).numpy()


@pytest.mark.parametrize("opset", [11, 13, 17])
def test_hand_built_onnx(opset, tmp_path):
    p = _hand_model(np.random.default_rng(7), tmp_path / "hand.onnx", opset)
    g = import_onnx(tmp_path / "hand.onnx")
    assert [n.op for n in g.nodes] == ["input", "conv", "bn", "relu", "maxpool", "gap", "flatten", "linear"]
    assert g.node("conv").attrs == {"stride": (2, 1), "pad": (0, 1, 1, 2), "groups": 1}
    assert g.node("pool").attrs["pad"] == (1, 0, 0, 1)
    assert g.node("bn").attrs["eps"] == float(np.float32(1e-3))  # ONNX float attributes are float32
    assert g.output == "add_bias" and g.node("add_bias").op == "linear"
    np.testing.assert_array_equal(g.node("add_bias").params["weight"], p["W2"].T)
    np.testing.assert_array_equal(g.node("add_bias").params["bias"], p["b2"])
    x = _batch((2, 9, 9))
    ref = _hand_reference(p, x)
    if opset >= 14:  # the reference agrees with ONNX's own implementation of the model (which
        # runs opset 9-13 BatchNormalization in training mode, though one output means inference)
        from onnx.reference import ReferenceEvaluator
        _assert_close(ReferenceEvaluator(str(tmp_path / "hand.onnx")).run(None, {"x": x})[0], ref)
    _assert_close(float_forward(g, x), ref)


def test_onnx_external_data(tmp_path):
    model, shape = _build("mlp")
    path = _export_onnx(model, shape, tmp_path / "src.onnx")
    proto = onnx.load(str(path))
    sub = tmp_path / "ext"
    sub.mkdir()
    onnx.save_model(proto, str(sub / "m.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="m.onnx.data", size_threshold=0)
    assert (sub / "m.onnx.data").stat().st_size > 0
    x = _batch(shape)
    _assert_close(float_forward(import_onnx(sub / "m.onnx"), x), _torch_ref(model, x))
    (sub / "m.onnx.data").unlink()
    with pytest.raises(EdgecError, match="cannot read ONNX file"):
        import_onnx(sub / "m.onnx")


# ---- bad input ---------------------------------------------------------------------------

def test_missing_files(tmp_path):
    with pytest.raises(EdgecError, match=r"cannot read ONNX file '.*nope\.onnx'"):
        import_onnx(tmp_path / "nope.onnx")
    with pytest.raises(EdgecError, match=r"cannot read PyTorch program '.*nope\.pt2'.*torch\.export\.save"):
        load_pt2(tmp_path / "nope.pt2")


def test_truncated_onnx(tmp_path):
    model, shape = _build("convnet")
    data = _export_onnx(model, shape, tmp_path / "full.onnx").read_bytes()
    bad = tmp_path / "bad.onnx"
    for cut in range(len(data)):  # every cut: mid-message, and at field boundaries
        bad.write_bytes(data[:cut])
        with pytest.raises(EdgecError, match=r"cannot read ONNX file '.*bad\.onnx'"):
            import_onnx(bad)
    bad.write_text("this is not an ONNX model\n")
    with pytest.raises(EdgecError, match="cannot read ONNX file"):
        import_onnx(bad)


def test_truncated_pt2(tmp_path):
    model, shape = _build("mlp")
    torch.export.save(torch.export.export(model, (torch.zeros(1, *shape),)), str(tmp_path / "m.pt2"))
    data = (tmp_path / "m.pt2").read_bytes()
    (tmp_path / "bad.pt2").write_bytes(data[: len(data) // 2])
    with pytest.raises(EdgecError, match=r"cannot read PyTorch program '.*bad\.pt2'"):
        load_pt2(tmp_path / "bad.pt2")


def test_onnx_output_ops_after_the_last_layer_and_not_before(tmp_path):
    """Sigmoid, Softmax and LogSoftmax after the last layer are the host's (the float graph's
    head); in the middle of the graph Softmax and LogSoftmax are refused with the node, the
    op and the fix, and a Sigmoid is an activation between layers."""
    for act, op, step in [(nn.Sigmoid(), "Sigmoid", ["sigmoid"]), (nn.Softmax(dim=1), "Softmax", ["softmax", 1]),
                          (nn.LogSoftmax(dim=1), "LogSoftmax", ["logsoftmax", 1])]:
        fg = import_onnx(_export_onnx(nn.Sequential(nn.Linear(4, 3), act).eval(), (4,), tmp_path / f"{op}.onnx"))
        assert fg.head == [step] and [n.op for n in fg.nodes] == ["input", "linear"]
        model = nn.Sequential(nn.Linear(4, 3), act, nn.Linear(3, 2)).eval()
        if op == "Sigmoid":
            fg = import_onnx(_export_onnx(model, (4,), tmp_path / f"{op}_mid.onnx"))
            assert [n.op for n in fg.nodes] == ["input", "linear", "act", "linear"] and not fg.head
            assert fg.nodes[2].attrs["kind"] == "sigmoid"
            continue
        with pytest.raises(EdgecError) as e:
            import_onnx(_export_onnx(model, (4,), tmp_path / f"{op}_mid.onnx"))
        msg = str(e.value)
        assert "(Gemm)" in msg and "comes after an output op" in msg and "move it to the end" in msg, msg


def test_onnx_unsupported_op(tmp_path):
    model = nn.Sequential(nn.Linear(4, 3), nn.Softsign()).eval()
    with pytest.raises(EdgecError) as e:
        import_onnx(_export_onnx(model, (4,), tmp_path / "softsign.onnx"))
    msg = str(e.value)
    # the exporter writes Softsign as Abs, Add, Div
    assert "(Abs)" in msg and "node '/1/" in msg and "unsupported op; supported:" in msg, msg
    assert "Abs" not in msg.split("supported:")[1]


def test_onnx_unnamed_unsupported_node(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Softsign", ["r"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(tmp_path / "t.onnx"))
    with pytest.raises(EdgecError, match=r"node 'Softsign_1' \(Softsign\): unsupported op"):
        import_onnx(tmp_path / "t.onnx")


def test_torch_unsupported_op():
    model = nn.Sequential(nn.Linear(4, 3), nn.LogSigmoid())
    with pytest.raises(EdgecError, match=r"node 'log_sigmoid' \(aten\.log_sigmoid\.default\): unsupported op; "
                                          "supported:"):
        import_torch(model, (4,))


def test_dilation_rejected(tmp_path):
    model = nn.Sequential(nn.Conv2d(2, 2, 3, dilation=2), nn.ReLU()).eval()
    with pytest.raises(EdgecError, match=r"node 'conv2d' \(aten\.conv2d\.default\): dilation"):
        import_torch(model, (2, 9, 9))
    with pytest.raises(EdgecError, match=r"node '/0/Conv' \(Conv\): dilations"):
        import_onnx(_export_onnx(model, (2, 9, 9), tmp_path / "d.onnx"))


@pytest.mark.parametrize("model, shape, match", [
    (nn.Sequential(nn.Conv2d(2, 2, 3), nn.MaxPool2d(2, ceil_mode=True)), (2, 9, 9), r"'max_pool2d'.*ceil_mode"),
    (nn.Sequential(nn.Conv2d(2, 2, 3), nn.AvgPool2d(2, padding=1)), (2, 9, 9), r"'avg_pool2d'.*padding"),
    (nn.Sequential(nn.Conv2d(2, 4, 3), nn.Conv2d(4, 4, 1, groups=2)), (2, 9, 9), r"'conv2d_1'.*groups=2"),
    (nn.Sequential(nn.Conv2d(2, 2, 3), nn.AdaptiveAvgPool2d(2)), (2, 9, 9), r"'adaptive_avg_pool2d'.*\(1, 1\)"),
    (nn.Sequential(nn.Linear(4, 4), nn.Unflatten(1, (2, 2))), (4,), r"'unflatten'.*unsupported op"),
    (nn.Linear(4, 4), (5,), r"cannot export the PyTorch model with input shape \(5,\)"),
])
def test_torch_rejects(model, shape, match):
    with pytest.raises(EdgecError, match=match):
        import_torch(model, shape)


def test_custom_domains_without_an_opset_import_pass_the_checker(tmp_path):
    """Brevitas and qonnx exports often use the qonnx domains without importing them;
    onnx.checker alone refuses such a file, load_onnx reads it."""
    from onnx import TensorProto, helper

    from edgec.frontend.onnx_import import load_onnx

    inits = [helper.make_tensor(n, TensorProto.FLOAT, [], [v]) for n, v in (("s", 0.5), ("z", 0.0), ("b", 4.0))]
    node = helper.make_node("Quant", ["x", "s", "z", "b"], ["y"], domain="qonnx.custom_op.general", name="q",
                            signed=1, narrow=0, rounding_mode="ROUND")
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, tmp_path / "m.onnx")
    with pytest.raises(onnx.checker.ValidationError):
        onnx.checker.check_model(m)
    model, _ = load_onnx(tmp_path / "m.onnx")
    assert [n.op_type for n in model.graph.node] == ["Quant"]
