"""QONNX interop: the FINN reference networks of brevitas_examples.bnn_pynq (seeded random
weights, randomised BatchNorm statistics with negative gammas) and Brevitas versions of
the MLP and conv net, exported with export_qonnx and built with `edgec build` (no preset:
the widths come from the file). On 1,000 inputs every quantized activation of the
simulator equals qonnx's execute_onnx on the same file, except rounding ties in the
reference (counted separately, docs/design.md §4), and the argmax is identical on every input;
`edgec csim` is bit-exact on the TFC and CNV builds. Also: edgec PTQ -> --export-qonnx ->
qonnx equals the simulator; FINN's Pynq-Z1 folding of CNV-w1a1 gives FINN's 3,052 fps;
hand-written QONNX graphs cover rounding modes, narrow ranges, zero points, Trunc and
average pooling; unsupported ops are reported by node and op."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgec import build, csim
from edgec.backend import sim as sim_backend
from edgec.examples import digits
from edgec.ir.graph import Graph

from . import qonnx_nets as Q
from .nets import MLP, ConvNet, trained

N = 1000
ROOT = Path(__file__).resolve().parent.parent


def activation_quants(path: Path) -> list[str]:
    """Outputs of the Quant/BipolarQuant nodes that act on per-sample tensors."""
    g = onnx.load(str(path), load_external_data=False).graph
    inits = {t.name for t in g.initializer}
    live = {i.name for i in g.input if i.name not in inits}
    out = []
    for n in g.node:
        if live & set(n.input):
            live |= set(n.output)
            if n.op_type in ("Quant", "BipolarQuant", "Trunc"):
                out.append(n.output[0])
    return out


def check_against_qonnx(path: Path, out: Path, x: np.ndarray, tensors: dict) -> dict:
    out_name = onnx.load(str(path), load_external_data=False).graph.output[0].name
    ref = Q.execute(path, x, keep={out_name} | set(tensors) | {s["input"] for s in tensors.values()})
    keep = {s["ir"]: None for s in tensors.values()}
    _, y = sim_backend.load(out / "sim").run(x, keep=keep)
    r = Q.compare(ref, tensors, keep, Graph.load(out / "model"))
    assert r["vectors"] == len(x) and r["tensors"] == len(tensors)
    assert r["mismatches"] == 0 and r["ties"] <= len(x) // 100, r
    assert all(len(np.unique(v)) > 1 for v in keep.values())  # every activation varies: the check can fail
    y_ref = ref[out_name]
    np.testing.assert_array_equal(y.reshape(len(x), -1).argmax(1), y_ref.reshape(len(x), -1).argmax(1))
    return r


@pytest.mark.parametrize("name", Q.BNN_PYNQ)
def test_bnn_pynq_matches_qonnx_execution(tmp_path, name):
    shape = Q.input_shape(name)
    path = Q.export(Q.bnn_pynq(name, seed=Q.BNN_PYNQ.index(name)), shape, tmp_path / f"{name}.onnx")
    assert path.with_suffix(".onnx.data").is_file()  # Brevitas writes the weights as external data: followed
    res = build(str(path), tmp_path / "out", progress=None)
    g = Graph.load(tmp_path / "out" / "model")
    tensors = g.meta["source_tensors"]
    assert sorted(tensors) == sorted(activation_quants(path))  # every activation quantizer is compared
    assert res.report["quantization"] == {"source": "qonnx"}
    r = check_against_qonnx(path, tmp_path / "out", Q.images(shape, N, seed=1), tensors)
    assert r["tensors"] == (9 if name.startswith("cnv") else 4)
    wbits = {row["wbits"] for row in res.report["layers"] if row["op"] in ("MatMul", "XnorPopcount")}
    assert wbits == ({"binary"} if name.split("_")[1].startswith("1w") else {"int2"})
    if name in ("tfc_1w1a", "cnv_1w1a"):
        c = csim.run(tmp_path / "out", Q.images(shape, 24 if name.startswith("cnv") else 200, seed=2))
        assert c["mismatches"] == 0 and c["warnings"] == [], c
        # the batched execution the comparison uses equals qonnx on the file as written
        from qonnx.core.modelwrapper import ModelWrapper
        from qonnx.core.onnx_exec import execute_onnx

        x = Q.images(shape, 3, seed=1)
        model, batched = ModelWrapper(str(path)), Q.execute(path, x)
        for i in range(3):
            single = execute_onnx(model, {model.graph.input[0].name: x[i : i + 1]})
            (k, v), = single.items()
            np.testing.assert_array_equal(v[0], batched[k][i])


@pytest.mark.parametrize("net", ["mlp", "conv"])
def test_brevitas_nets_match_qonnx_execution(tmp_path, net):
    """Per-channel non-power-of-two weight scales, calibrated activation scales, a zero
    point on the input (padding pads with it), a quantized bias, a residual add."""
    m = Q.brevitas_mlp() if net == "mlp" else Q.brevitas_convnet()
    Q.calibrate(m, digits.train_split()[0].astype(np.float32))
    path = Q.export(m, digits.INPUT_SHAPE, tmp_path / f"{net}.onnx")
    xte, yte = digits.test_split()
    np.save(tmp_path / "x.npy", xte)
    np.save(tmp_path / "y.npy", yte)
    r = subprocess.run([sys.executable, "-m", "edgec.cli", "build", str(path), "-o", str(tmp_path / "out"), "-q",
                        "--calib", str(tmp_path / "x.npy"), "--labels", str(tmp_path / "y.npy")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # with labelled inputs the report gives the simulator's accuracy: qonnx's own on them
    out_name = onnx.load(str(path), load_external_data=False).graph.output[0].name
    y_ref = Q.execute(path, xte.astype(np.float32), keep={out_name})[out_name]
    acc = json.loads((tmp_path / "out" / "report.json").read_text())["accuracy"]
    assert acc == {"samples": len(yte), "sim": round(100.0 * float((y_ref.argmax(1) == yte).mean()), 2)}
    g = Graph.load(tmp_path / "out" / "model")
    tensors = g.meta["source_tensors"]
    assert sorted(tensors) == sorted(activation_quants(path))
    scales = [s["scale"] for s in tensors.values()]
    assert any(np.log2(s) != round(np.log2(s)) for s in scales)
    assert tensors[activation_quants(path)[0]]["zero_point"] != 0  # the input quantizer is asymmetric
    x = np.concatenate([digits.test_split()[0], digits.train_split()[0]])[:N].astype(np.float32)
    check_against_qonnx(path, tmp_path / "out", x, tensors)


@pytest.mark.parametrize("net,preset", [("example", "w2a2"), ("mlp", "int8"), ("mlp", "w1a1"), ("conv", "int4"),
                                        ("conv", "w2a2"), ("pruned", "int4")])
def test_ptq_export_round_trip(tmp_path, net, preset):
    """edgec PTQ -> --export-qonnx -> qonnx execution equals edgec's simulator; and edgec
    reading its own export builds the same simulator (also pruned: the zero weights are
    exported)."""
    path, out = tmp_path / "q.onnx", tmp_path / "out"
    x = np.concatenate([digits.test_split()[0], digits.train_split()[0]])[:N].astype(np.float32)
    if net in ("example", "pruned"):
        build(None, out, preset=preset, finetune_epochs=0, export_qonnx=path, progress=None,
              prune=0.7 if net == "pruned" else None)
    else:
        module = trained(MLP() if net == "mlp" else ConvNet(), epochs=3)
        build(module, out, input_shape=(1, 8, 8), preset=preset, calib=digits.train_split()[0][:300],
              export_qonnx=path, progress=None)
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    tensors = json.loads(meta["edgec.tensors"])
    assert sorted(tensors) == sorted(activation_quants(path))
    check_against_qonnx(path, out, x, tensors)
    build(str(path), tmp_path / "again", progress=None)
    q1, y1 = sim_backend.load(out / "sim").run(x)
    q2, y2 = sim_backend.load(tmp_path / "again" / "sim").run(x)
    np.testing.assert_array_equal(q1, q2)


def test_cnv_w1a1_finn_folding_and_edgec_folding(tmp_path):
    path = Q.export(Q.bnn_pynq("cnv_1w1a"), (3, 32, 32), tmp_path / "cnv.onnx")
    finn = build(str(path), tmp_path / "finn", folding=str(ROOT / "benchmarks/finn/cnv_w1a1_pynq_z1.yaml"),
                 progress=None).report["hardware"]
    mvau = {s["stage"]: s["cycles"] for s in finn["stages"] if s["kind"] == "mvau"}
    assert mvau == {"conv2d": 32400, "conv2d_1": 28224, "conv2d_2": 20736, "conv2d_3": 28800, "conv2d_4": 20736,
                    "conv2d_5": 18432, "linear": 32768, "linear_1": 32768, "linear_2": 1024}
    assert finn["cycles_per_frame"] == 32768 and round(finn["fps"]) == 3052 and finn["clock_mhz"] == 100
    own = build(str(path), tmp_path / "own", progress=None).report["hardware"]
    assert own["fits"] and own["fps"] > finn["fps"]


# ---- hand-written QONNX graphs ----------------------------------------------------------

def _qonnx_graph(path: Path, act_round: str, signed: int, narrow: int, in_zp: float, trunc: bool, extra=None,
                 matmul=False):
    """x -> Mul/Sub -> Quant(u8, zero point) -> Conv(int3 narrow per-channel) -> Mul(0.37)
    -> BatchNorm -> Relu -> Quant(4 bit, act_round) -> AveragePool(2) [-> Mul(4) -> Trunc]
    -> Flatten -> Gemm(int4) (or MatMul on the transposed weights) -> Add."""
    rng = np.random.default_rng(7)
    inits, nodes = [], []

    def c(name, v):
        inits.append(numpy_helper.from_array(np.asarray(v, np.float32), name))
        return name

    def q(x, out, scale, zp, bits, sgn, nar, mode):
        nodes.append(helper.make_node("Quant", [x, c(f"{out}_s", scale), c(f"{out}_z", zp), c(f"{out}_b", bits)],
                                      [out], domain="qonnx.custom_op.general", signed=sgn, narrow=nar,
                                      rounding_mode=mode))
        return out

    nodes.append(helper.make_node("Mul", ["x", c("two", 2.0)], ["x2"]))
    nodes.append(helper.make_node("Sub", ["x2", c("one", 0.7)], ["x3"]))
    q("x3", "xq", 0.0071, in_zp, 8, 0, 0, "ROUND")
    w = rng.normal(size=(6, 2, 3, 3)).astype(np.float32)
    ws = (np.abs(w).reshape(6, -1).max(1) / 3).reshape(6, 1, 1, 1)
    q(c("w", w), "wq", ws, 0.0, 3, 1, 1, "ROUND")
    nodes.append(helper.make_node("Conv", ["xq", "wq", c("cb", rng.normal(size=6))], ["conv"], kernel_shape=[3, 3],
                                  pads=[1, 1, 1, 1]))
    nodes.append(helper.make_node("Mul", ["conv", c("m", 0.37)], ["conv_m"]))
    nodes.append(helper.make_node("BatchNormalization", ["conv_m", c("g", rng.normal(size=6)),
                                                         c("be", rng.normal(size=6)), c("mu", rng.normal(size=6)),
                                                         c("var", rng.uniform(0.5, 2, size=6))], ["bn"]))
    nodes.append(helper.make_node("Relu", ["bn"], ["relu"]))
    q("relu", "aq", 0.173, 0.0 if not signed else 1.0, 4, signed, narrow, act_round)
    nodes.append(helper.make_node("AveragePool", ["aq"], ["pool"], kernel_shape=[2, 2], strides=[2, 2]))
    last = "pool"
    if trunc:
        nodes.append(helper.make_node("Mul", ["pool", c("four", 4.0)], ["pool_sum"]))
        nodes.append(helper.make_node("Trunc", ["pool_sum", c("ts", 0.173), c("tz", 0.0), c("tib", 6.0),
                                                c("tos", 0.173 * 4), c("tob", 4.0)], ["tr"],
                                      domain="qonnx.custom_op.general", rounding_mode="FLOOR", signed=signed,
                                      narrow=0))
        last = "tr"
    else:
        q("pool", "pq", 0.05, 0.0, 5, 1, 0, act_round)
        last = "pq"
    nodes.append(helper.make_node("Flatten", [last], ["flat"], axis=1))
    w2 = rng.normal(size=(5, 6 * 3 * 3)).astype(np.float32)
    if matmul:  # weights (in, out), one scale per output column
        q(c("w2", w2.T), "w2q", (np.abs(w2).max(1, keepdims=True) / 7).T, 0.0, 4, 1, 1, "ROUND")
        nodes.append(helper.make_node("MatMul", ["flat", "w2q"], ["fc"]))
    else:
        q(c("w2", w2), "w2q", (np.abs(w2).max(1, keepdims=True) / 7), 0.0, 4, 1, 1, "ROUND")
        nodes.append(helper.make_node("Gemm", ["flat", "w2q"], ["fc"], transB=1))
    nodes.append(helper.make_node("Add", ["fc", c("fb", rng.normal(size=5))], ["y"]))
    nodes += extra or []
    out = nodes[-1].output[0]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 6, 6])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid("qonnx.custom_op.general", 2)])
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.infer_shapes import InferShapes

    ModelWrapper(model).transform(InferShapes()).save(str(path))
    return path


@pytest.mark.parametrize("mode,signed,narrow,trunc,matmul", [
    ("ROUND", 0, 0, False, False), ("HALF_UP", 1, 1, False, True), ("HALF_DOWN", 1, 0, True, False),
    ("FLOOR", 0, 1, True, True), ("CEIL", 1, 0, False, False), ("UP", 0, 0, True, False),
    ("DOWN", 1, 1, False, True)])
def test_handwritten_qonnx_rounding_modes_trunc_and_pools(tmp_path, mode, signed, narrow, trunc, matmul):
    path = _qonnx_graph(tmp_path / "g.onnx", mode, signed, narrow, 17.0, trunc, matmul=matmul)
    build(str(path), tmp_path / "out", progress=None)
    tensors = Graph.load(tmp_path / "out" / "model").meta["source_tensors"]
    assert sorted(tensors) == sorted(activation_quants(path))
    x = np.random.default_rng(3).uniform(-0.2, 1.2, size=(N, 2, 6, 6)).astype(np.float32)
    check_against_qonnx(path, tmp_path / "out", x, tensors)


def test_unsupported_qonnx_op_names_node_and_op(tmp_path):
    tanh = [helper.make_node("Softsign", ["y"], ["ys"], name="the_softsign")]
    path = _qonnx_graph(tmp_path / "g.onnx", "ROUND", 0, 0, 0.0, False, extra=tanh)
    r = subprocess.run([sys.executable, "-m", "edgec.cli", "build", str(path), "-o", str(tmp_path / "out")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    err = r.stderr.strip().splitlines()[-1]
    assert err.startswith("edgec: error:") and "the_softsign" in err and "(Softsign)" in err, err
    assert "Softsign" not in err.split("supported:")[1]  # no message lists the op it refuses
    assert not (tmp_path / "out").exists()
    r = subprocess.run([sys.executable, "-m", "edgec.cli", "build", str(_qonnx_graph(tmp_path / "h.onnx", "ROUND", 0, 0,
                        0.0, False)), "-o", str(tmp_path / "o2"), "--preset", "int8"], capture_output=True, text=True)
    assert r.returncode == 2 and "QONNX model states its own quantization" in r.stderr, r.stderr


def test_qonnx_evaluation_data_is_checked(tmp_path):
    path = _qonnx_graph(tmp_path / "g.onnx", "ROUND", 0, 0, 0.0, False)
    np.save(tmp_path / "x.npy", np.zeros((4, 2, 5, 5), np.float32))  # the model takes (N, 2, 6, 6)
    np.save(tmp_path / "y.npy", np.zeros(4, np.int64))
    for extra, needle in ((["--calib", tmp_path / "x.npy"], "(N, 2, 6, 6)"),
                          (["--calib", tmp_path / "x.npy", "--labels", tmp_path / "y.npy"], "(N, 2, 6, 6)")):
        r = subprocess.run([sys.executable, "-m", "edgec.cli", "build", str(path), "-o", str(tmp_path / "out"),
                            *map(str, extra)], capture_output=True, text=True)
        assert r.returncode == 2 and r.stderr.startswith("edgec: error:") and needle in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_qonnx_output_softmax_runs_on_the_host(tmp_path):
    """A QONNX model ending in Softmax: the hardware returns the quantized head, the host
    the Softmax; the simulator's predict equals qonnx on the file."""
    path = _qonnx_graph(tmp_path / "g.onnx", "ROUND", 0, 0, 0.0, False,
                        extra=[helper.make_node("Softmax", ["y"], ["p"], name="the_softmax", axis=1)])
    r = subprocess.run([sys.executable, "-m", "edgec.cli", "build", str(path), "-o", str(tmp_path / "out")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert Graph.load(tmp_path / "out" / "model").meta["head"] == [["softmax", 1]]
    sim = sim_backend.load(tmp_path / "out" / "sim")
    x = Q.images((2, 6, 6), 200, seed=3)
    ref = Q.execute(path, x, keep={"p"})["p"]
    out = sim.predict(x)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-6)
    assert np.allclose(out.sum(1), 1.0) and np.ptp(out, axis=0).max() > 1e-3  # probabilities that vary


@pytest.mark.parametrize("name", ["layer_conv1d", "layer_maxpool1d", "layer_linear", "layer_relu", "layer_identity",
                                  "layer_hardtanh", "layer_maxpool2d", "layer_avgpool2d", "a2q_resnet18_w4a4_16b",
                                  "mobilenet_v1_4b_64_qin"])
def test_brevitas_topologies_equal_qonnx_on_every_activation(tmp_path, name):
    """Brevitas' own layers (QuantConv1d and a 1-D max pool on (N, C, L) signals, QuantLinear,
    QuantReLU, QuantIdentity, QuantHardTanh, max pool on a QuantTensor, TruncAvgPool2d) and
    the A2Q CIFAR ResNet-18 (float input: its input quantizer comes from --calib; too large
    for the Zynq-7020, so reported as not fitting) and MobileNet v1 4-bit at 64x64 (one
    activation scale per channel before each depthwise conv) as QONNX: every quantized
    activation equals qonnx execute_onnx (the build's own check and one on fresh inputs)."""
    from . import brevitas_models as B

    path = B.export(name, tmp_path / f"{name}.onnx")
    _, shape = B.MODELS[name]()
    extra = []
    if name.startswith("a2q"):
        np.save(tmp_path / "x.npy", np.random.default_rng(0).uniform(-1, 1, size=(32, *shape)).astype(np.float32))
        extra = ["--calib", str(tmp_path / "x.npy")]
    r = subprocess.run([sys.executable, "-m", "edgec.cli", "build", str(path), "-o", str(tmp_path / "out"), *extra],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-1500:]
    rep = json.loads((tmp_path / "out" / "report.json").read_text())
    sv = rep["sim_vs_reference"]
    # the ResNet's power-of-two requantization lands many values exactly on k + 0.5, where qonnx's float32
    # arithmetic may fall either side (5.4999995 for 5.5): those vectors are ties, counted apart (design.md §4)
    # so does MobileNet's (29 tensors): 29-37 of 100 vectors (ResNet) and 10-31 of 1,000 (MobileNet) in
    # benchmarks/real_models.py; the build checks few inputs of such nets (report.reference_vectors), 5 of 10 once
    deep = name.startswith("a2q") or "mobilenet" in name
    max_ties = sv["vectors"] // 2 if deep else sv["vectors"] // 100
    assert sv["mismatches"] == 0 and sv["tensors"] >= 1 and sv["ties"] <= max_ties, sv
    if name.startswith("a2q"):
        assert rep["input_quantizer"]["source"] == "calibration"
        assert not rep["hardware"]["fits"] and "does not fit" in rep["hardware"]["does_not_fit"]
    from edgec.verify import check_qonnx, inputs_in_range

    sim = sim_backend.load(tmp_path / "out" / "sim")
    c = check_qonnx(path if not extra else _with_calib_quant(path, tmp_path / "x.npy"),
                    Graph.load(tmp_path / "out" / "model"), sim, inputs_in_range(sim, 8 if extra else 50, seed=5))
    assert c["mismatches"] == 0 and c["vectors"] == (8 if extra else 50), c


def _with_calib_quant(path, calib):
    """The model with the input quantizer edgec calibrated, as the build normalises it."""
    from edgec.frontend.normalize import normalized, with_input_quantizer
    from edgec.frontend.onnx_import import load_onnx

    model, _, _ = with_input_quantizer(normalized(load_onnx(path), fuse=False), np.load(calib), 8)
    return model


@pytest.mark.parametrize("group", ["monotone", "falling"])
def test_brevitas_float_activations_between_quantizers(tmp_path, group):
    """Brevitas nets with a float activation between each conv and its quantizer (LeakyRelu,
    Hardtanh->Clip, Sigmoid, Tanh, Elu; SiLU, Hardswish, GELU and Mish, exported as several
    ops each and fused by normalize.py; PReLU with a slope per channel): the build equals
    qonnx execute_onnx on every quantized activation."""
    import torch
    from torch import nn

    acts = {"monotone": [nn.LeakyReLU(0.1), nn.Hardtanh(-1.0, 2.0), nn.Sigmoid(), nn.Tanh(), nn.ELU(0.5)],
            "falling": [nn.SiLU(), nn.Hardswish(), nn.GELU(), nn.Mish(), nn.PReLU(6, -0.2)]}[group]
    x = Q.images((1, 8, 8), 64, 3)
    m = Q.calibrate(Q.brevitas_activations(acts), x, seed=3)
    if group == "falling":
        with torch.no_grad():
            acts[-1].weight.uniform_(-0.5, 0.5)
    path = Q.export(m, (1, 8, 8), tmp_path / f"{group}.onnx")
    np.save(tmp_path / "x.npy", x)
    r = subprocess.run([sys.executable, "-m", "edgec.cli", "build", str(path), "-o", str(tmp_path / "out"),
                        "--calib", str(tmp_path / "x.npy")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert ops >= ({"LeakyRelu", "Clip", "Sigmoid", "Tanh", "Elu"} if group == "monotone" else
                   {"Sigmoid", "Mul", "HardSwish", "PRelu"}), ops  # SiLU as x * Sigmoid(x)
    svr = json.loads((tmp_path / "out" / "report.json").read_text())["sim_vs_reference"]
    assert svr["reference"] == "qonnx execute_onnx" and svr.get("vectors", 0) >= 64, svr
    assert svr.get("mismatches") == 0, svr
    assert svr["ties"] <= max(1, svr["vectors"] // 100), svr


def test_activation_without_a_quantizer_after_it_is_an_error(tmp_path):
    """An activation must be followed by a Quant (edgec computes it exactly as thresholds of
    that quantizer): at the output or before a matrix product it is one error naming the node."""
    for extra, needle in (([helper.make_node("Tanh", ["y"], ["ys"], name="last_tanh")],
                           "ends in the tanh activation"),
                          ([helper.make_node("Elu", ["y"], ["ye"], name="the_elu"),
                            helper.make_node("Elu", ["ye"], ["ys"], name="elu2")],
                           "elu activation with no Quant after")):
        path = _qonnx_graph(tmp_path / "g.onnx", "ROUND", 0, 0, 0.0, False, extra=extra)
        r = subprocess.run([sys.executable, "-m", "edgec.cli", "build", str(path), "-o", str(tmp_path / "out")],
                           capture_output=True, text=True)
        err = r.stderr.strip().splitlines()[-1]
        assert r.returncode == 2 and err.startswith("edgec: error:") and needle in err, err
        assert not (tmp_path / "out").exists()
