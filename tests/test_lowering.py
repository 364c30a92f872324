"""Winograd tiles, sparse weight streams and sparse Winograd, end to end on a VGG-style
conv net (3x3 convolutions with and without padding, max pooling) and on the built-in
example: the Winograd simulator equals the direct convolution's exactly; simulator = C
simulation = RTL co-simulation for F2, F4, sparse streams at 50% and 90% and sparse
Winograd; the report's multiplication counts; pruning with fine-tuning at 8x fewer
multiplications; co-simulated cycles of a sparse layer against the cost model."""
import json

import numpy as np
import pytest

from edgec import build
from edgec.backend import sim as sim_backend
from edgec.cosim.run import run as cosim
from edgec.examples import digits
from edgec.ir import winograd as W
from edgec.ir.graph import Graph

from .nets import VGG, trained
from .test_csim import check_csim

# mode -> build options on top of int4 (pruned modes: the same pruning as their dense twin)
MODES = {
    "direct": {}, "f2": {"winograd": "f2"}, "f4": {"winograd": "f4"},
    "sparse50": {"prune": 0.5, "sparse": "on"}, "dense50": {"prune": 0.5},
    "sparse90": {"prune": 0.9, "sparse": "on"}, "dense90": {"prune": 0.9},
    "sparse_f2": {"prune": 0.5, "winograd": "f2", "sparse": "on"},
}


@pytest.fixture(scope="module")
def vgg(tmp_path_factory):
    d = tmp_path_factory.mktemp("vgg")
    net = trained(VGG(), epochs=6)
    cx = digits.train_split()[0][:300]
    return {m: build(net, d / m, input_shape=(1, 8, 8), preset="int4", calib=cx, progress=None, **o).out
            for m, o in MODES.items()}


def _sim(out, keep=None):
    return sim_backend.load(out / "sim").run(digits.test_split()[0], keep=keep)


def test_winograd_equals_direct_exactly(vgg):
    g = Graph.load(vgg["direct"] / "model")
    convs = [n.name for n in g.nodes if n.op.value == "MatMul" and n.attrs.get("layer", "").startswith("conv")]
    direct = {k: None for k in convs}
    q_direct, _ = _sim(vgg["direct"], direct)
    for mode, m in (("f2", 2), ("f4", 4)):
        gw = Graph.load(vgg[mode] / "model")
        assert [n.attrs["tile"] for n in gw.nodes if n.op.value == "Winograd"] == [m] * 4
        kept = {k: None for k in convs}
        q, _ = _sim(vgg[mode], kept)
        np.testing.assert_array_equal(q, q_direct)
        for k in convs:  # every Winograd accumulator is FACTOR times the direct one
            np.testing.assert_array_equal(kept[k], W.FACTOR[m] * direct[k])


def test_sparse_streams_leave_the_pruned_network_unchanged(vgg):
    for sparse, dense in (("sparse50", "dense50"), ("sparse90", "dense90")):
        np.testing.assert_array_equal(_sim(vgg[sparse])[0], _sim(vgg[dense])[0])
        g = Graph.load(vgg[sparse] / "model")
        mm = [n for n in g.nodes if n.op.value == "MatMul"]
        assert all(n.attrs.get("sparse") for n in mm if n.attrs["kernel_kind"] in ("lut-mac", "dsp-mac"))
        share = float(sparse[-2:]) / 100
        for n in mm:  # the pruned share of every layer, to rounding
            zero = (n.params["weight"] == 0).mean()
            assert zero >= share - 1 / n.params["weight"].size
    np.testing.assert_array_equal(_sim(vgg["sparse_f2"])[0], _sim(vgg["dense50"])[0])


def test_report_counts_multiplications(vgg):
    rep = json.loads((vgg["direct"] / "report.json").read_text())["multiplications"]
    g = Graph.load(vgg["direct"] / "model")
    for row in rep["layers"]:
        m = row["mults"]
        n = next(x for x in g.nodes if x.attrs.get("layer") == row["layer"] and x.op.value == "MatMul")
        assert m["direct"] == n.params["weight"].size * int(np.prod(n.shape[:-1]))
        if "winograd_f2" not in m:
            continue
        oh, ow = n.shape[:2]
        if oh % 2 == 0 and ow % 2 == 0:
            assert m["direct"] == 2.25 * m["winograd_f2"] and row["saving"]["winograd_f2"] == 2.25
        if oh % 4 == 0 and ow % 4 == 0:
            assert m["direct"] == 4 * m["winograd_f4"] and row["saving"]["winograd_f4"] == 4.0
    assert [r["layer"] for r in rep["layers"] if "winograd_f4" in r["mults"]] == ["conv2d", "conv2d_1", "conv2d_2",
                                                                               "conv2d_3"]
    assert rep["totals"]["chosen"] == rep["totals"]["direct"]
    # each execution is estimated for the board; the F2 build uses what the report foresaw
    assert set(rep["choices"]) == {"direct", "winograd_f2", "winograd_f4", "sparse", "sparse_winograd_f2",
                                   "sparse_winograd_f4"}
    f2 = json.loads((vgg["f2"] / "report.json").read_text())
    assert f2["multiplications"]["totals"]["chosen"] == rep["choices"]["winograd_f2"]["mults"]
    assert f2["hardware"]["fps"] == rep["choices"]["winograd_f2"]["fps"]
    sp = json.loads((vgg["sparse90"] / "report.json").read_text())["multiplications"]
    assert sp["totals"]["chosen"] == sp["totals"]["sparse"] < rep["totals"]["direct"] / 5


@pytest.mark.parametrize("mode", ["f2", "f4", "sparse50", "sparse90", "sparse_f2"])
def test_vgg_csim_bit_exact(vgg, mode):
    r, rep = check_csim(vgg[mode], digits.test_split()[0][:200])
    kinds = {s["kind"] for s in rep["stages"]}
    assert ({"wino_in", "wino_out"} <= kinds) == (mode in ("f2", "f4", "sparse_f2"))
    assert ("smvau" in kinds) == mode.startswith("sparse")


@pytest.mark.parametrize("mode,sim", [("f2", "icarus"), ("f4", "verilator"), ("sparse50", "icarus"),
                                      ("sparse90", "verilator"), ("sparse_f2", "icarus")])
def test_vgg_cosim_bit_exact(vgg, mode, sim):
    r = cosim(vgg[mode], sim, digits.test_split()[0][:6], 6, idle=0.3, backpressure=0.3)
    assert r["ok"] and r["mismatches"] == 0, r


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    d = tmp_path_factory.mktemp("example")
    opts = {"f2": {"winograd": "f2"}, "f4": {"winograd": "f4"}, "sparse90": {"prune": 0.9, "sparse": "on"},
            "sparse_f2": {"prune": 0.5, "winograd": "f2", "sparse": "on"}}
    return {k: build(None, d / k, preset="int4", progress=None, **o).out for k, o in opts.items()}


@pytest.mark.parametrize("mode", ["f2", "f4", "sparse90", "sparse_f2"])
def test_example_triangle(example, mode):
    check_csim(example[mode], None, 100)
    r = cosim(example[mode], "verilator", digits.test_split()[0][:4], 4, idle=0.3, backpressure=0.3)
    assert r["ok"] and r["mismatches"] == 0, r


def test_sparse_layer_cycles_fall_with_density_as_the_cost_model_predicts(tmp_path):
    """An MLP fully folded (PE = SIMD = 1), its layers pruned to 50%, 75% and 90% with
    per-output-channel and unstructured magnitude pruning: the first layer's sparse unit
    is the bottleneck, and the co-simulated cycles per frame follow the report's (within
    10%) as they fall with the density."""
    from .nets import MLP

    net = trained(MLP(), epochs=3)
    cx = digits.train_split()[0][:300]
    x = digits.test_split()[0][:24]
    seen = []
    for share, mode in ((0.5, "channel"), (0.75, "unstructured"), (0.9, "channel")):
        out = build(net, tmp_path / f"p{share}", input_shape=(1, 8, 8), preset="int4", calib=cx, prune=share,
                    prune_mode=mode, sparse="on", folding="min", progress=None).out
        hw = json.loads((out / "report.json").read_text())["hardware"]
        bott = next(s for s in hw["stages"] if s["stage"] == hw["bottleneck"])
        assert bott["kind"] == "smvau"
        g = Graph.load(out / "model")
        w = g.node(bott["stage"]).params["weight"]
        assert bott["cycles"] == int((w != 0).sum(axis=1).clip(1).sum())  # PE = SIMD = 1: one cycle per non-zero
        r = cosim(out, "icarus", x, len(x))
        assert r["ok"], r
        assert abs(r["cycles_per_frame"] - hw["cycles_per_frame"]) <= 0.1 * hw["cycles_per_frame"], (r, hw)
        seen.append(r["cycles_per_frame"])
    assert seen[0] > seen[1] > seen[2]


def test_pruned_and_finetuned_example_needs_8x_fewer_multiplications_within_a_point(tmp_path):
    """The built-in example at int8, 90% of every layer's weights pruned by magnitude except
    the first convolution's (144 weights; 2% of the multiplications), fine-tuned 40 epochs,
    on sparse streams: at least 8x fewer multiplications than dense direct convolution, at
    most one point of accuracy below the float model on the digits test split."""
    import yaml

    cfg = tmp_path / "prune.yaml"
    cfg.write_text(yaml.safe_dump({"preset": "int8", "prune": 0.9, "layers": {"conv2d": {"prune": 0.0}}}))
    rep = build(None, tmp_path / "out", config=str(cfg), sparse="on", finetune_epochs=40, progress=None).report
    t = rep["multiplications"]["totals"]
    assert t["chosen"] == t["sparse"] and t["direct"] >= 8 * t["chosen"], t
    a = rep["accuracy"]
    assert a["sim"] == a["reference"] and a["float"] - a["sim"] <= 1.0, a
    assert rep["sim_vs_reference"]["mismatches"] == 0


@pytest.mark.parametrize("method", ["tucker", "separable"])
def test_lowrank_at_full_rank_reproduces_the_float_network(method):
    """Every factorisation at full rank is the original layer (to float64 rounding), so
    truncation is the only approximation; a speed-up target is met per layer."""
    from edgec.frontend.fgraph import FGraph
    from edgec.frontend.lowrank import LowRank, _linear, _separable, _tucker
    from edgec.frontend.qmodel import float_forward
    from edgec.frontend.torch_import import import_torch

    fg = import_torch(digits.model(), digits.INPUT_SHAPE)
    x = digits.test_split()[0][:50]
    want = float_forward(fg, x)
    full = LowRank(energy=1.0, conv=method)
    nodes = []
    for n in fg.nodes:
        if n.op == "linear":
            nodes += _linear(n, fg, full)[0]
        elif n.op == "conv":
            nodes += (_tucker if method == "tucker" else _separable)(n, fg, full)[0]
        else:
            nodes.append(n)
    np.testing.assert_allclose(float_forward(FGraph(nodes, fg.output), x), want, rtol=1e-9, atol=1e-9)
    from edgec.frontend.lowrank import factorize

    _, rows = factorize(fg, LowRank.parse("2x", method))
    assert rows and all(2 * r["macs_after"] <= r["macs_before"] for r in rows)


def test_lowrank_example_report_and_triangle(tmp_path):
    """--lowrank on the built-in example: the rank / parameter / MAC table and the float
    accuracy before and after in the report, and the factorised network bit-exact through
    the simulator, the C simulation and the RTL co-simulation."""
    out = build(None, tmp_path / "lr", preset="int4", lowrank="0.9", finetune_epochs=10, progress=None).out
    rep = json.loads((out / "report.json").read_text())
    lr = rep["lowrank"]
    assert [r["layer"] for r in lr["layers"]] == ["conv2d_1", "conv2d_2", "linear"]
    assert all(r["macs_after"] < r["macs_before"] and r["params_after"] < r["params_before"] for r in lr["layers"])
    assert lr["accuracy"]["float_before"] > lr["accuracy"]["float_after"] > 95
    assert rep["accuracy"]["sim"] == rep["accuracy"]["reference"] and rep["sim_vs_reference"]["mismatches"] == 0
    layers = [r["layer"] for r in rep["layers"]]
    assert {"conv2d_1_reduce", "conv2d_1_core", "conv2d_1", "linear_lr"} <= set(layers)
    check_csim(out, None, 100)
    r = cosim(out, "verilator", digits.test_split()[0][:4], 4, idle=0.3, backpressure=0.3)
    assert r["ok"] and r["mismatches"] == 0, r


def test_sparse_winograd_pruned_in_the_winograd_domain(tmp_path):
    """--prune-domain winograd: the VGG's transformed 4x4 kernels U themselves quantized
    and 75% pruned, fine-tuned through U (30 epochs), walked by sparse units: the simulator equals the
    Winograd-domain fake-quant reference on every vector, the accuracy survives, the
    multiplications fall to about a quarter of dense F2, and C simulation and RTL
    co-simulation are bit-exact."""
    net = trained(VGG(), epochs=6)
    cx, cy = digits.train_split()
    x, y = digits.test_split()
    out = build(net, tmp_path / "swd", input_shape=(1, 8, 8), preset="int4", calib=cx, labels=cy, winograd="f2",
                prune=0.75, prune_domain="winograd", sparse="on", finetune_epochs=30, progress=None).out
    rep = json.loads((out / "report.json").read_text())
    assert rep["sim_vs_reference"]["mismatches"] == 0
    g = Graph.load(out / "model")
    wino = [n for n in g.nodes if n.op.value == "Winograd"]
    assert len(wino) == 4 and all(n.attrs["domain"] == "winograd" and n.attrs.get("sparse") for n in wino)
    for n in wino:  # 75% of every layer's U is zero (the transform of no direct kernel is this sparse)
        assert (n.params["weight"] == 0).mean() >= 0.74
    t = rep["multiplications"]["totals"]
    assert t["chosen"] == t["sparse_winograd_f2"] <= 0.3 * t["winograd_f2"]
    _, yq = sim_backend.load(out / "sim").run(x)
    assert (yq.argmax(1) == y).mean() >= 0.95
    check_csim(out, x[:100])
    r = cosim(out, "icarus", x[:4], 4, idle=0.3, backpressure=0.3)
    assert r["ok"] and r["mismatches"] == 0, r
