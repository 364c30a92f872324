"""Trained models published by others (../shared/models, SOURCES.md), built as a user
would with `edgec build MODEL --board zynq7020 -o OUT`: the QONNX ones with the widths
they state, the float ONNX ones at --preset int8 with --calib. On 1,000 generated inputs
of the right range each simulator matches its model's own executor: every quantized
activation of a QONNX model equals qonnx's execute_onnx (ties counted apart, at most
0.1%) and so do its outputs; a float model at int8 agrees with onnxruntime on top-1 for
at least 97% of the inputs, with a relative L2 error of at most 5%. `edgec csim` is
bit-exact on each one that fits, `edgec cosim` (Verilator) on the two QONNX MLPs.

The channels-last separable-conv model (512x512x3 input, LeakyRelu between quantizers) is
checked on fewer inputs here (each is 786k values); benchmarks/real_models.py runs 1,000.
Its normalisation to channels first, and the U-Net's, are checked against qonnx."""
import json
import subprocess
from collections import Counter
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from edgec import csim
from edgec.backend import sim as sim_backend
from edgec.cosim.run import run as cosim
from edgec.frontend.normalize import normalized
from edgec.frontend.onnx_import import load_onnx
from edgec.ir.graph import Graph
from edgec.verify import agreement, batch_for, inputs_in_range, onnxruntime_outputs, qonnx_compare, qonnx_execute

MODELS = Path(__file__).resolve().parent.parent.parent / "shared" / "models"
N = 1000
QONNX = {"TFC_2W2A": N, "kwsmlp_w3a3": N, "separable_conv_model_ch_last": 8}  # inputs compared
MLPS = ("TFC_2W2A", "kwsmlp_w3a3")
FLOAT = {"three_layer_keras": "normal", "two_layer_pytorch": "normal", "conv2d_small_keras": "image"}


def model(name: str) -> Path:
    p = MODELS / f"{name}.onnx"
    assert p.is_file(), f"{p} is missing: the shared models folder must sit beside the checkout (SOURCES.md)"
    return p


def float_inputs(name: str, n: int, seed: int) -> np.ndarray:
    """Inputs of the float models' kind: standardised features, or images in [0, 1]."""
    shape = [d.dim_value for d in onnx.load(str(model(name))).graph.input[0].type.tensor_type.shape.dim][1:]
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *shape)) if FLOAT[name] == "normal" else rng.uniform(0, 1, size=(n, *shape))
    return x.astype(np.float32)


def edgec_build(*args) -> None:
    r = subprocess.run([sys.executable, "-m", "edgec.cli", "build", *map(str, args), "--board", "zynq7020"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("real")
    out = {}
    for name in QONNX:
        edgec_build(model(name), "-o", d / name)
        out[name] = d / name
    for name in FLOAT:
        np.save(d / f"{name}_calib.npy", float_inputs(name, 300, seed=1))
        edgec_build(model(name), "-o", d / name, "--preset", "int8", "--calib", d / f"{name}_calib.npy")
        out[name] = d / name
    return out


@pytest.mark.parametrize("name", QONNX)
def test_qonnx_model_equals_qonnx_execution(built, name):
    out, n = built[name], QONNX[name]
    sim = sim_backend.load(out / "sim")
    x = inputs_in_range(sim, n, seed=2)
    g = Graph.load(out / "model")
    tensors = g.meta["source_tensors"]
    # the model as the build normalised it (channels first: the names source_tensors uses), which
    # test_channels_last_qonnx_normalises_to_channels_first checks against qonnx on the published file
    ref_model = normalized(load_onnx(model(name)), fuse=False)[0]
    out_name = ref_model.graph.output[0].name
    total, seen = Counter(), {}
    step = batch_for(g)  # the 512x512 model: a few inputs at a time, in bounded memory
    for i in range(0, n, step):
        xs = x[i : i + step]
        ref = qonnx_execute(ref_model, xs, keep={out_name} | set(tensors) | {s["input"] for s in tensors.values()})
        keep = {s["ir"]: None for s in tensors.values()}
        _, y = sim.run(xs, keep=keep)
        r = qonnx_compare(ref, tensors, keep, g)
        assert r["tensors"] == len(tensors) >= 4
        total.update({k: r[k] for k in ("vectors", "mismatches", "ties")})
        for k, v in keep.items():
            seen.setdefault(k, set()).update(np.unique(v).tolist())
        y_ref = ref[out_name].reshape(len(xs), -1)
        np.testing.assert_allclose(y.reshape(len(xs), -1), y_ref, rtol=1e-5, atol=1e-5 * np.abs(y_ref).max())
        if name in MLPS:
            assert (y.reshape(len(xs), -1).argmax(1) == y_ref.argmax(1)).all()
    assert total["vectors"] == n and total["mismatches"] == 0 and total["ties"] <= n // 1000, total
    assert all(len(v) > 1 for v in seen.values())  # every activation varies: the check can fail


@pytest.mark.parametrize("name", list(FLOAT))
def test_float_model_at_int8_agrees_with_onnxruntime(built, name):
    sim = sim_backend.load(built[name] / "sim")
    x = float_inputs(name, N, seed=2)
    out, ref = sim.predict(x), onnxruntime_outputs(model(name), x)
    assert out.shape == ref.shape  # the model's own outputs: Softmax/Sigmoid run on the host
    a = agreement(out, ref)
    assert a["relative_l2"] <= 0.05, a
    if a["top1_agreement"] is not None:
        assert a["top1_agreement"] >= 0.97, a


@pytest.mark.parametrize("name", [*QONNX, *FLOAT])
def test_real_model_csim_bit_exact(built, name):
    rep = json.loads((built[name] / "report.json").read_text())["hardware"]
    assert rep["fits"]
    n = 64 if name in MLPS or name in FLOAT else 2  # a 512x512 frame is 262,144 pixels
    r = csim.run(built[name], None, n)
    assert r["mismatches"] == 0 and r["vectors"] == n, r


@pytest.mark.parametrize("name", MLPS)
def test_real_qonnx_model_cosim_verilator(built, name):
    sim = sim_backend.load(built[name] / "sim")
    r = cosim(built[name], "verilator", inputs_in_range(sim, 6, seed=3), 6, idle=0.2, backpressure=0.2)
    assert r["ok"] and r["mismatches"] == 0, r


@pytest.mark.parametrize("name", ["separable_conv_model_ch_last", "tiny_unet_ch_last"])
def test_channels_last_qonnx_normalises_to_channels_first(tmp_path, name):
    """The normalised model (channels-first ops, one Transpose after the input and one
    before the output) computes what qonnx computes on the published channels-last file."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    from edgec.frontend.normalize import normalize
    from edgec.frontend.onnx_import import load_onnx

    m, _ = load_onnx(model(name))
    norm = normalize(m)
    assert not [n for n in norm.graph.node if n.domain == "qonnx.custom_op.channels_last"]
    trans = [n for n in norm.graph.node if n.op_type == "Transpose"]
    assert len(trans) == 2 and trans[0].input[0] == norm.graph.input[0].name
    assert trans[-1].output[0] == norm.graph.output[0].name
    onnx.save(norm, str(tmp_path / "norm.onnx"))
    ref = onnx.load(str(model(name)))  # as published, its channels-last domain imported at the ONNX opset
    opsets = {o.domain: o for o in ref.opset_import}  # (qonnx's convention; unimported, qonnx runs it at opset 1,
    if "qonnx.custom_op.channels_last" not in opsets:  # where onnxruntime refuses MaxPool's ceil_mode)
        ref.opset_import.append(onnx.helper.make_opsetid("qonnx.custom_op.channels_last", opsets[""].version))
    ref_model = ModelWrapper(ref)
    shape = [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
    x = np.random.default_rng(0).uniform(-1, 1, size=shape).astype(np.float32)
    got = execute_onnx(ModelWrapper(norm), {norm.graph.input[0].name: x})[norm.graph.output[0].name]
    want = execute_onnx(ref_model, {ref_model.graph.input[0].name: x})[ref_model.graph.output[0].name]
    assert got.shape == want.shape and float(np.abs(want).max()) > 0
    np.testing.assert_array_equal(got, want)

