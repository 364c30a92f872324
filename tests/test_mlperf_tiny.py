"""The MLPerf Tiny reference topologies (tests/nets.py: ResNet-8, DS-CNN, MobileNetV1 0.25,
the FC autoencoder) and a small MobileNetV2, with seeded random weights, built for the
zynq7020 from the nn.Module, from a torch.export `.pt2` and from ONNX at int4: the three
builds give the same simulator outputs, each fits, the simulator equals the fake-quant
reference on every input (1,000 for the autoencoder, 300 or fewer for the convolutional nets,
whose numpy simulation is slower; the file took 508 s on 2 cores shared at load 8;
benchmarks/mlperf_tiny.py runs 1,000 on all), `edgec csim` is bit-exact on a few frames of each (about 12 s a net,
most of it the C++ compile), the RTL under Verilator on the autoencoder and DS-CNN (about
50 s, the Verilator build), and w2a2 and w1a1 (first and last layer at 8 bits) build, fit
and match the reference too; built from `.pt2` and ONNX at those presets they give the
module build's outputs. Each network is built once per format and preset."""
import json
import warnings

import numpy as np
import pytest
import torch

from edgec import build, csim
from edgec.compiler import load_model
from edgec.backend import sim as sim_backend
from edgec.frontend.quantize import make_config, quantize
from edgec.frontend.torch_import import import_torch
from edgec.verify import compare
from tests.nets import MLPERF_TINY, macs, mlperf_net

NETS = list(MLPERF_TINY)
VECTORS = {"autoencoder": 1000, "dscnn": 300, "mobilenet_v2": 300, "resnet8": 100, "mobilenet_v1": 50}
MACS = {"resnet8": 12_501_632, "dscnn": 2_656_768, "mobilenet_v1": 7_489_664, "autoencoder": 264_192,
        "mobilenet_v2": 756_864}
CSIM = NETS  # csim: 10-13 s each at 4 frames, nearly all of it the compile
CALIB = 64


def calib(name: str, n: int = CALIB, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, *MLPERF_TINY[name].INPUT)).astype(np.float32)


def w1a1_config(path, g) -> str:
    """w1a1 with the first and the last layer kept at 8 bits (the config's per-layer bits)."""
    layers = [n.name for n in g.nodes if n.op in ("conv", "linear")]
    path.write_text(f"preset: w1a1\nlayers:\n  {layers[0]}: {{wbits: 8, abits: 8}}\n  {layers[-1]}: {{wbits: 8}}\n")
    return str(path)


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """(name, format) -> build folder, at int4; and each net's module and calibration data."""
    d = tmp_path_factory.mktemp("mlperf")
    out = {}
    for name in NETS:
        m, shape, x = mlperf_net(name), MLPERF_TINY[name].INPUT, calib(name)
        np.save(d / f"{name}.npy", x)
        ex = (torch.zeros(1, *shape),)
        torch.export.save(torch.export.export(m, ex), str(d / f"{name}.pt2"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(m, ex, str(d / f"{name}.onnx"), dynamo=False)
        for fmt, model in (("module", m), ("pt2", str(d / f"{name}.pt2")), ("onnx", str(d / f"{name}.onnx"))):
            kw = {"input_shape": shape} if fmt == "module" else {}
            out[name, fmt] = build(model, d / f"{name}-{fmt}", preset="int4", calib=d / f"{name}.npy",
                                   progress=None, **kw).out
    return out


@pytest.mark.parametrize("name", NETS)
def test_macs_are_the_published_counts(name):
    assert macs(MLPERF_TINY[name](), MLPERF_TINY[name].INPUT) == MACS[name]


@pytest.mark.parametrize("name", NETS)
def test_int4_fits_and_equals_the_reference(builds, name):
    out = builds[name, "module"]
    rep = json.loads((out / "report.json").read_text())["hardware"]
    assert rep["fits"], rep.get("does_not_fit")
    assert rep["fps"] > 100
    g = import_torch(mlperf_net(name), MLPERF_TINY[name].INPUT)
    qnet = quantize(g, calib(name).astype(np.float64), make_config("int4"))
    c = compare(qnet, sim_backend.load(out / "sim"), calib(name, VECTORS[name], seed=2))
    assert c["vectors"] == VECTORS[name] and c["mismatches"] == 0 and c["ties"] == 0, c
    assert len(np.unique(c["q"])) > 8  # the outputs vary: the check can fail


@pytest.mark.parametrize("name", NETS)
def test_module_pt2_and_onnx_builds_agree(builds, name):
    x = calib(name, 32, seed=3)
    q = {fmt: sim_backend.load(builds[name, fmt] / "sim").run(x)[0] for fmt in ("module", "pt2", "onnx")}
    np.testing.assert_array_equal(q["pt2"], q["module"])
    np.testing.assert_array_equal(q["onnx"], q["module"])


@pytest.mark.parametrize("name", CSIM)
def test_csim_bit_exact(builds, name):
    r = csim.run(builds[name, "module"], None, 4)
    assert r["vectors"] == 4 and r["mismatches"] == 0, r


@pytest.mark.parametrize("name,frames", [("autoencoder", 4), ("dscnn", 2)])
def test_cosim_bit_exact(builds, name, frames):
    """The smaller nets' RTL under Verilator, with random idle and backpressure (DS-CNN:
    about 50 s, most of it the Verilator build; benchmarks/mlperf_tiny.py --cosim for the others)."""
    from edgec.cosim.run import run as cosim

    x = np.random.default_rng(7).normal(size=(frames, *MLPERF_TINY[name].INPUT)).astype(np.float32)
    r = cosim(builds[name, "module"], "verilator", x, frames, idle=0.2, backpressure=0.2)
    assert r["ok"] and r["mismatches"] == 0 and r["framing_ok"] and r["vectors"] == frames, r


# w1a1 on MobileNetV2: its first residual add joins the 8-bit first layer with a bipolar branch,
# whose codes the add shifts onto the 8-bit scale
@pytest.mark.parametrize("name,preset", [("autoencoder", "w2a2"), ("dscnn", "w2a2"), ("mobilenet_v2", "w2a2"),
                                         ("autoencoder", "w1a1"), ("dscnn", "w1a1"), ("mobilenet_v2", "w1a1")])
def test_low_bit_builds_fit_and_equal_the_reference(tmp_path, name, preset):
    shape, x = MLPERF_TINY[name].INPUT, calib(name)
    g = import_torch(mlperf_net(name), shape)
    kw = {"preset": "w2a2"} if preset == "w2a2" else {"config": w1a1_config(tmp_path / "w1a1.yaml", g)}
    res = build(mlperf_net(name), tmp_path / "o", input_shape=shape, calib=x, progress=None, **kw)
    assert res.report["hardware"]["fits"]
    cfg = make_config(**kw) if preset == "w2a2" else make_config(None, kw["config"])
    c = compare(quantize(g, x.astype(np.float64), cfg), sim_backend.load(res.out / "sim"), calib(name, 100, seed=2))
    assert c["mismatches"] == 0 and c["ties"] == 0, c
    assert len(np.unique(c["q"])) > 2


@pytest.mark.parametrize("name,preset", [("autoencoder", "w2a2"), ("dscnn", "w2a2"), ("autoencoder", "w1a1")])
def test_low_bit_pt2_and_onnx_builds_agree_with_the_module(builds, tmp_path, name, preset):
    """w2a2, and w1a1 with the first and last layer at 8 bits (named as each format names
    them), from the `.pt2` and the ONNX file of the fixture: the module build's outputs."""
    d, shape = builds[name, "module"].parent, MLPERF_TINY[name].INPUT
    x, q = calib(name, 32, seed=3), {}
    for fmt, model in (("module", mlperf_net(name)), ("pt2", str(d / f"{name}.pt2")),
                       ("onnx", str(d / f"{name}.onnx"))):
        kw = {"input_shape": shape} if fmt == "module" else {}
        if preset == "w2a2":
            kw["preset"] = "w2a2"
        else:
            kw["config"] = w1a1_config(tmp_path / f"{fmt}.yaml", load_model(model, shape)[0])
        res = build(model, tmp_path / fmt, calib=d / f"{name}.npy", progress=None, **kw)
        assert res.report["hardware"]["fits"] and res.report["sim_vs_reference"]["mismatches"] == 0, fmt
        q[fmt] = sim_backend.load(res.out / "sim").run(x)[0]
    assert len(np.unique(q["module"])) > 2
    np.testing.assert_array_equal(q["pt2"], q["module"])
    np.testing.assert_array_equal(q["onnx"], q["module"])


@pytest.mark.parametrize("name", ["mobilenet_v1", "resnet8", "dscnn"])
def test_fifos_around_window_generators_hold_an_output_rows_reads(builds, name):
    """A window generator reads the SH input rows of an output row, then writes its windows:
    the FIFOs on both its sides hold those SH * IW * C / SIMD words (or a whole frame), else
    its producer or consumer stalls at the budget (MobileNetV1 ran at 45,288 cycles a frame
    in Verilator cosim instead of the report's 36,864 with 512-word FIFOs on 1,536-word
    rows; sized so, at 36,864)."""
    from edgec.cosim.run import stream_ends

    rtl = builds[name, "module"] / "rtl"
    ends = stream_ends(rtl)
    checked = []
    for st in json.loads((rtl / "instances.json").read_text())["stages"]:
        if st["module"] != "edgec_swg":
            continue
        p = st["params"]
        cf = p["C"] // p["SIMD"]
        oh = (p["IH"] + p["PT"] + p["PB"] - p["KH"]) // p["SH"] + 1
        ow = (p["IW"] + p["PL"] + p["PR"] - p["KW"]) // p["SW"] + 1
        row = p["SH"] * p["IW"] * cf
        (i,) = [e["depth"] for e in ends if e["consumer"] == st["name"]]
        (o,) = [e["depth"] for e in ends if e["producer"] == st["name"]]
        assert i >= min(row, p["IH"] * p["IW"] * cf), (st["name"], i, row)
        assert o >= min(row, oh * ow * p["KH"] * p["KW"] * cf), (st["name"], o, row)
        checked.append(row)
    assert checked and (name != "mobilenet_v1" or max(checked) > 512)  # MobileNetV1's rows exceed the 512 cap
