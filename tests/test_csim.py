"""`edgec csim`: the emitted HLS C++, compiled with g++ against the ap_types headers, is
bit-exact against the generated simulator on the built-in example at every preset and on
an MLP and a conv net (stride, padding, residual add, depthwise), fully folded and at the
folding edgec picks; its per-stage loop counts equal the report's cycles."""
import json
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from edgec import EdgecError, build, csim
from edgec.examples import digits

from .nets import MLP, ConvNet, reseal, trained
from .signed_steps import build_with_signed_steps


def load_module(path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"m{abs(hash(str(path)))}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod

FOLDINGS = ["min", "auto"]


def check_csim(out, x=None, vectors=None):
    r = csim.run(out, x, vectors)
    assert r["mismatches"] == 0, r
    assert r["warnings"] == [], r["warnings"]  # g++ -Wall -Wextra: nothing from edgec's code
    rep = json.loads((out / "report.json").read_text())["hardware"]
    assert {s["stage"]: s["cycles"] for s in rep["stages"]} == r["cycles"]
    assert rep["cycles_per_frame"] == max(r["cycles"].values())
    return r, rep


@pytest.mark.parametrize("folding", FOLDINGS)
@pytest.mark.parametrize("preset", ["int8", "int4", "w2a2", "w1a1"])
def test_example_csim_bit_exact(tmp_path, preset, folding):
    # the auto-folded builds are the example as shipped (w2a2/w1a1 fine-tuned)
    res = build(None, tmp_path / "out", preset=preset, folding=folding,
                finetune_epochs=0 if folding == "min" else None, progress=None)
    r, rep = check_csim(tmp_path / "out")
    assert r["vectors"] == 540
    if folding == "min":
        assert all(s["pe"] == 1 for s in rep["stages"] if s["kind"] in ("mvau", "window"))
        assert all(s["simd"] == 1 for s in rep["stages"] if s["kind"] == "mvau")
    else:
        assert max(s["pe"] * (s["simd"] if s["simd"] != "-" else 1) for s in rep["stages"]) > 8
    assert rep["fits"] and res.report["hardware"] == rep


@pytest.fixture(scope="module")
def nets():
    return {"mlp": trained(MLP(), epochs=4), "conv": trained(ConvNet(), epochs=4)}


@pytest.mark.parametrize("folding", FOLDINGS)
@pytest.mark.parametrize("net,preset", [("mlp", "int8"), ("conv", "int4"), ("conv", "w1a1")])
def test_nets_csim_bit_exact(tmp_path, nets, net, preset, folding):
    cx = digits.train_split()[0][:300]
    build(nets[net], tmp_path / "out", input_shape=(1, 8, 8), preset=preset, calib=cx, folding=folding, progress=None)
    x = digits.test_split()[0]
    r, rep = check_csim(tmp_path / "out", x)
    kinds = {s["kind"] for s in rep["stages"]}
    if net == "conv":
        assert {"dup", "add", "window", "swg", "mvau"} <= kinds  # residual fork, add, depthwise


def test_cli_csim_json_and_the_vitis_testbench_data(tmp_path):
    out = tmp_path / "out"
    build(None, out, preset="w1a1", finetune_epochs=0, progress=None)
    r = subprocess.run([sys.executable, "-m", "edgec.cli", "csim", str(out), "--vectors", "25", "--json"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert set(j) == {"vectors", "mismatches", "compile_s", "run_s"} and j["vectors"] == 25 and j["mismatches"] == 0
    # the PYNQ driver packs and unpacks with the simulator's code: the bytes it would hand
    # the DMA are the bytes the C simulation consumed, and what it makes of the C
    # simulation's output bytes is the simulator's result
    drv = load_module(out / "driver" / "driver.py")
    x = digits.test_split()[0][:25]
    assert drv.pack(x).tobytes() == (out / "csim" / "in.bin").read_bytes()
    q, y = drv.unpack(np.frombuffer((out / "csim" / "out.bin").read_bytes(), np.uint8), 25)
    q_sim, y_sim = load_module(out / "sim" / "model.py").run(x)
    np.testing.assert_array_equal(q, q_sim)
    np.testing.assert_array_equal(y, y_sim)
    assert "edgec_top_0" in (out / "driver" / "driver.py").read_text()
    tcl = (out / "vivado" / "build_bd.tcl").read_text()
    assert "xc7z020clg400-1" in tcl and "edgec_top_0/s_axis" in tcl
    # the testbench data written for `vitis_hls -f build_hls.tcl` checks itself
    exe = next((out / "csim").glob("tb-*"))
    hls = out / "hls"
    t = subprocess.run([str(exe), hls / "data/in.bin", tmp_path / "o.bin", "16", tmp_path / "c.json",
                        hls / "data/expected.bin"], capture_output=True, text=True)
    assert t.returncode == 0 and "0 of" in t.stdout, t.stdout + t.stderr
    # a corrupted expectation is caught
    bad = bytearray((hls / "data/expected.bin").read_bytes())
    bad[3] ^= 1
    (tmp_path / "bad.bin").write_bytes(bytes(bad))
    t = subprocess.run([str(exe), hls / "data/in.bin", tmp_path / "o.bin", "16", tmp_path / "c.json",
                        tmp_path / "bad.bin"], capture_output=True, text=True)
    assert t.returncode == 1


def test_csim_counts_a_corrupted_weight_as_mismatches(tmp_path):
    """The comparison can fail: flip one weight bit in the emitted C++."""
    out = tmp_path / "out"
    build(None, out, preset="w2a2", finetune_epochs=0, folding="min", progress=None)
    w = out / "hls" / "weights.h"
    s = w.read_text()
    i = s.index("static const edgec::rom_word<2>::type w_")
    m = re.compile(r"0x([0-9a-f]+)ULL").search(s, i)
    s = s[:m.start()] + f"0x{int(m.group(1), 16) ^ 1:x}ULL" + s[m.end():]  # one weight bit flipped
    w.write_text(s)
    with pytest.raises(EdgecError, match="weights.h' is damaged"):  # the manifest's hash tells first
        csim.run(out, None, 100)
    reseal(out, "hls/weights.h")  # a build that is wrong through and through: the comparison tells
    r = csim.run(out, None, 100)
    assert r["mismatches"] > 0
    rr = subprocess.run([sys.executable, "-m", "edgec.cli", "csim", str(out), "--vectors", "100"],
                        capture_output=True, text=True)
    assert rr.returncode == 1 and "mismatches" in rr.stdout


@pytest.mark.parametrize("case", ["example-w2a2", "conv-int4", "conv-w2a2-f2-sparse"])
def test_synthesis_view_and_csim_view_agree_on_64_frames(tmp_path, nets, case):
    """What synthesis sees (EDGEC_SYNTH_VIEW: exact-width ap_int constant arrays, no loop
    counters) compiles with the same beat type and testbench as the C simulation view, and
    both are bit-exact on a batch of 64 frames (one TLAST, at the batch's end). The cases
    cover the mvau, thresholds, the depthwise window, the fork and add, Winograd and the
    sparse unit."""
    out = tmp_path / "out"
    cx = digits.train_split()[0][:300]
    if case == "example-w2a2":
        build(None, out, preset="w2a2", finetune_epochs=0, progress=None)
    else:
        _, preset, *rest = case.split("-")
        extra = dict(winograd="f2", prune=0.5, sparse="on", finetune_epochs=0) if rest else {}
        build(nets["conv"], out, input_shape=(1, 8, 8), preset=preset, calib=cx, progress=None, **extra)
    x = digits.test_split()[0][:64]
    plain = csim.run(out, x, 64)
    synth = csim.run(out, x, 64, view="synth")
    assert plain["mismatches"] == 0 and synth["mismatches"] == 0, (plain, synth)
    # the bytes the synthesis view consumed and produced are the driver's: its packing of
    # the batch, and its unpacking gives the simulator's outputs
    drv = load_module(out / "driver" / "driver.py")
    assert drv.pack(x).tobytes() == (out / "csim" / "in.bin").read_bytes()
    q, _ = drv.unpack(np.frombuffer((out / "csim" / "out.bin").read_bytes(), np.uint8), 64)
    np.testing.assert_array_equal(q, load_module(out / "sim" / "model.py").run(x)[0])
    assert synth["vectors"] == plain["vectors"] == 64 and synth["cycles"] is None and plain["cycles"]
    assert synth["warnings"] == [] and plain["warnings"] == []
    kinds = {s["kind"] for s in json.loads((out / "report.json").read_text())["hardware"]["stages"]}
    if rest := case.split("-")[3:]:
        assert {"wino_in", "wino_out"} <= kinds and "smvau" in kinds, kinds


@pytest.mark.parametrize("sparse", [False, True])
def test_layers_whose_weights_are_all_non_negative(tmp_path, nets, sparse):
    """A layer with no negative weight still gets a signed weight type wide enough for its
    largest one (int4 weights 0..7 are int4, not int3, which reads 7 as -1): the C
    simulation and the RTL equal the simulator, dense and sparse, on the conv layers, the
    depthwise window and the linear head."""
    import copy

    from edgec.cosim.run import run as cosim
    from edgec.ir.graph import Graph

    net = copy.deepcopy(nets["conv"])
    with torch.no_grad():
        for m in net.modules():  # BN scales positive too: no sign folded into the weights
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear, torch.nn.BatchNorm2d)):
                m.weight.abs_()
    out = tmp_path / "out"
    extra = dict(prune=0.5, sparse="on", finetune_epochs=0) if sparse else {}
    build(net, out, input_shape=(1, 8, 8), preset="int4", calib=digits.train_split()[0][:300], folding="min",
          progress=None, **extra)
    g = Graph.load(out / "model")
    ws = [n.params["weight"] for n in g.nodes if "weight" in n.params]
    assert ws and all(w.min() >= 0 for w in ws) and max(int(w.max()) for w in ws) == 7  # the case holds
    kinds = {s["kind"] for s in json.loads((out / "report.json").read_text())["hardware"]["stages"]}
    assert ("smvau" in kinds) == sparse and "window" in kinds
    check_csim(out, digits.test_split()[0][:100])
    r = cosim(out, "verilator", digits.test_split()[0][:4], 4)
    assert r["ok"] and r["mismatches"] == 0, r


@pytest.mark.parametrize("sparse", [False, True])
def test_activations_with_signed_steps_csim_and_cosim(tmp_path, nets, sparse):
    """Activations that fall somewhere (SiLU here) fold into thresholds with signed steps;
    the hardware carries them (Thresholds<..., true>, edgec_act SIGNED_STEPS): the C
    simulation and the RTL (Verilator, 30% idle and backpressure) equal the simulator on
    the mvau, the depthwise window, the stage after the residual add (a lookup table of
    the same function where the cost model prefers one, passes/lookup.py; else
    edgec_threshold with signed steps) and (sparse) the smvau, at the folding edgec picks."""
    from edgec.cosim.run import run as cosim
    from edgec.ir.graph import Graph
    from edgec.ir.ops import Op

    out = tmp_path / "out"
    extra = dict(prune=0.5, sparse="on", finetune_epochs=0) if sparse else {}
    build_with_signed_steps(nets["conv"], out, input_shape=(1, 8, 8), preset="int4",
                            calib=digits.train_split()[0][:300], **extra)
    g = Graph.load(out / "model")
    falling = [n.name for n in g.nodes if n.op == Op.MULTI_THRESHOLD and (n.params.get("steps", np.ones(1)) < 0).any()]
    assert len(falling) >= 3, falling  # the case holds: steps that fall, in several layers
    stages = json.loads((out / "rtl" / "instances.json").read_text())["stages"]
    held = {s["module"] for s in stages if s["params"].get("SIGNED_STEPS")}
    held |= {s["module"] for s in stages if s["module"] == "edgec_lookup"}
    assert {"edgec_window", "edgec_smvau" if sparse else "edgec_mvau"} <= held, held
    assert held & {"edgec_threshold", "edgec_lookup"}, held
    assert "true >" in (out / "hls" / "weights.h").read_text()
    x = digits.test_split()[0]
    check_csim(out, x[:200])
    r = cosim(out, "verilator", x[:16], 16, idle=0.3, backpressure=0.3)
    assert r["ok"] and r["mismatches"] == 0 and r["framing_ok"], r
