"""`edgec cosim`: the generated PYNQ driver sends batches of 64 frames through a model of
the AXI DMA (simple mode) to the RTL top over hw/rtl and back, under cocotb on Icarus and
Verilator, with 30% random idle cycles on MM2S and 30% random backpressure on S2MM, on the
built-in example (w1a1, w2a2) and on the MLP and the conv net (stride, padding, residual
add, depthwise; also at int8 with every quantizer an integer requantizer, fused into the
matrix units and stand-alone after the add and the depthwise window): 64 frames come back
bit-exact against the simulator, in order, one S2MM transfer per run of the driver's plan,
each ended by the run's one TLAST. Without pressure the RTL runs at the report's cycles
per frame."""
import json
import subprocess
import sys

import pytest

from edgec import EdgecError, build
from edgec.cosim.run import run
from edgec.examples import digits

from .nets import MLP, ConvNet, reseal, trained

SIMS = ["icarus", "verilator"]


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    d = tmp_path_factory.mktemp("cosim")
    out = {}
    for preset in ("w1a1", "w2a2"):
        out[preset] = build(None, d / preset, preset=preset, finetune_epochs=0, progress=None).out
    cx = digits.train_split()[0][:300]
    out["mlp"] = build(trained(MLP(), epochs=3), d / "mlp", input_shape=(1, 8, 8), preset="int4", calib=cx,
                       progress=None).out
    out["conv"] = build(trained(ConvNet(), epochs=3), d / "conv", input_shape=(1, 8, 8), preset="w2a2", calib=cx,
                        progress=None).out
    out["rq"] = build(trained(ConvNet(), epochs=3), d / "rq", input_shape=(1, 8, 8), preset="int8", calib=cx,
                      requant="on", progress=None).out
    return out


# Icarus is some 20 times slower than Verilator on the example's larger networks: the
# two small ones run on both
CASES = [("w1a1", "verilator"), ("w2a2", "verilator"), ("mlp", "verilator"), ("conv", "verilator"),
         ("mlp", "icarus"), ("conv", "icarus"), ("rq", "verilator")]


def test_the_requant_build_has_requantizers_in_and_out_of_matrix_units(builds):
    """The "rq" case above co-simulates Requant both as an mvau's activation and as a stage of its own."""
    rep = json.loads((builds["rq"] / "report.json").read_text())
    acts = {r["layer"]: r["act"] for r in rep["layers"]}
    kinds = {s["stage"]: s["kind"] for s in rep["hardware"]["stages"]}
    fused = [n for n, a in acts.items() if a.startswith("requant") and kinds.get(n) == "mvau"]
    alone = [n for n, a in acts.items() if a.startswith("requant") and kinds.get(f"{n}_quant") == "threshold"]
    assert fused and alone, (acts, kinds)


@pytest.mark.parametrize("net,sim", CASES)
def test_dma_batch_of_64_bit_exact_under_pressure(builds, net, sim):
    out = builds[net]
    x = digits.test_split()[0][:64]
    r = run(out, sim, x, 64, idle=0.3, backpressure=0.3)
    assert r["ok"] and r["mismatches"] == 0 and r["framing_ok"] and r["runs"] == 1 and not r["failures"], r
    assert r["vectors"] == 64


@pytest.mark.parametrize("net", ["w1a1", "w2a2", "mlp", "conv"])
def test_rtl_runs_at_the_reports_cycles_per_frame(builds, net):
    out = builds[net]
    free = run(out, "verilator", digits.test_split()[0][:16], 16)
    assert free["ok"]
    report = json.loads((out / "report.json").read_text())["hardware"]["cycles_per_frame"]
    assert abs(free["cycles_per_frame"] - report) <= 0.05 * report, (free["cycles_per_frame"], report)


def test_stream_counts_add_up(builds):
    """`cosim --streams`: every FIFO of the top is counted, each carried the same words per frame
    in every frame, the first and the last the DMA's beats, and the DMA, faster than the
    network, waited on the full input FIFO."""
    from edgec.cosim.run import stream_ends

    out, n = builds["conv"], 4
    r = run(out, "verilator", digits.test_split()[0][:n], n, backpressure=0.5, streams=True)
    assert r["ok"], r
    s = r["streams"]
    assert [e["stream"] for e in s] == [e["stream"] for e in stream_ends(out / "rtl")] and len(s) > 5
    lay = json.loads((out / "edgec.json").read_text())["axis"]
    assert s[0]["producer"] == "input" and s[-1]["consumer"] == "output"
    assert s[0]["words"] == n * lay["in"]["elems"] // lay["in"]["per_word"]
    assert s[-1]["words"] == n * lay["out"]["elems"] // lay["out"]["per_word"]
    assert all(e["words"] % n == 0 and e["words"] > 0 for e in s)
    assert s[0]["full"] > 0


def test_cli_cosim_json(builds):
    r = subprocess.run([sys.executable, "-m", "edgec.cli", "cosim", str(builds["w1a1"]), "--vectors", "3", "--json",
                        "--idle", "0.3", "--backpressure", "0.3"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(j) == {"vectors", "mismatches", "cycles_per_frame", "fps"} and j["mismatches"] == 0 and j["vectors"] == 3


def test_cosim_catches_a_corrupted_weight(builds, tmp_path):
    import shutil

    out = tmp_path / "w1a1"
    shutil.copytree(builds["w1a1"], out)
    shutil.rmtree(out / "cosim", ignore_errors=True)
    mem = sorted((out / "rtl" / "mem").glob("w_*.mem"))[-1]
    lines = mem.read_text().split()
    lines[0] = format(int(lines[0], 16) ^ 1, f"0{len(lines[0])}x")
    mem.write_text("\n".join(lines) + "\n")
    with pytest.raises(EdgecError, match="is damaged"):  # the manifest's hash tells first
        run(out, "verilator", digits.test_split()[0][:8], 8)
    reseal(out, mem.relative_to(out).as_posix())  # wrong through and through: the comparison tells
    r = run(out, "verilator", digits.test_split()[0][:8], 8)  # (on fewer frames the flipped bit never shows)
    assert r["mismatches"] > 0 and not r["ok"]


def test_a_thousand_frames_in_several_runs_in_order_and_a_reset_mid_frame(builds):
    """1,000 distinct frames under backpressure, with the driver's DMA limit lowered so the
    batch takes many runs (one start, one MM2S and one S2MM transfer each, the last run
    shorter): none lost, duplicated or reordered (each output equals its own input's);
    then a reset in the middle of a frame, and the frames after it are exact."""
    import numpy as np

    out = builds["mlp"]
    lay = json.loads((out / "edgec.json").read_text())["axis"]
    in_bytes = lay["in"]["elems"] // lay["in"]["per_word"] * lay["in"]["beat_bytes"]
    x = np.random.default_rng(5).integers(0, 256, size=(1000, 1, 8, 8))
    r = run(out, "verilator", x, 1000, idle=0.1, backpressure=0.3, max_transfer=in_bytes * 137 + 5)
    assert r["vectors"] == 1000 and r["mismatches"] == 0 and r["framing_ok"] and r["runs"] == 8, r
    beats = lay["in"]["elems"] // lay["in"]["per_word"]
    r = run(out, "icarus", x[:20], 20, idle=0.3, backpressure=0.3, reset_after=beats // 2 + 1)
    assert r["mismatches"] == 0 and r["framing_ok"], r


def test_control_map_of_the_rtl_top(builds, tmp_path):
    """edgec_ctrl as the driver and an interrupt handler see it, in the MLP's top on Icarus:
    idle after reset, no input before a start, a run of 0 frames, ap_done/ap_ready cleared
    on read, interrupts, a run taking exactly its frames of input with one TLAST, and
    auto_restart (tests/rtl/tb_ctrl.py)."""
    from pathlib import Path

    from cocotb_tools.runner import get_runner

    from edgec import tools

    out = builds["mlp"]
    lay = json.loads((out / "edgec.json").read_text())["axis"]
    tools.use_simulator("icarus")
    rtl = out / "rtl"
    runner = get_runner("icarus")
    runner.build(sources=[rtl / f for f in (rtl / "files.f").read_text().split()], includes=[str(rtl / "lib")],
                 hdl_toplevel="edgec_top",
                 build_dir=tmp_path / "b", timescale=("1ns", "1ps"), parameters={"MEM_DIR": f'"{rtl / "mem"}"'})
    spec = {"in_beats": lay["in"]["elems"] // lay["in"]["per_word"],
            "out_beats": lay["out"]["elems"] // lay["out"]["per_word"]}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    results = runner.test(test_module="tests.rtl.tb_ctrl", hdl_toplevel="edgec_top", build_dir=tmp_path / "b",
                          test_dir=Path(__file__).resolve().parent.parent,
                          extra_env={"EDGEC_CTRL_SPEC": str(tmp_path / "spec.json")},
                          parameters={"MEM_DIR": f'"{rtl / "mem"}"'}, results_xml=str(tmp_path / "results.xml"),
                          log_file=tmp_path / "run.log")
    import xml.etree.ElementTree as ET

    root = ET.parse(results).getroot()
    fails = [f.get("message", "") for f in root.iter("failure")]
    assert list(root.iter("testcase")) and not fails, fails
