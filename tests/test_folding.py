"""The folding search and the cost model: the target frame rate is met when it can be, the
design stays within the board's budget, the report's figures follow from the plan, and
models that cannot fit or targets out of reach get one clear error."""
import dataclasses
import json
import subprocess
import sys

import pytest

from edgec import boards, build
from edgec.backend.report import hardware
from edgec.cost.fold import fold, no_fit_message
from edgec.cost.hw import BUDGET, memory
from edgec.dataflow import min_folding, plan
from edgec.ir.graph import Graph


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    out = tmp_path_factory.mktemp("fold") / "out"
    build(None, out, preset="w2a2", finetune_epochs=0, progress=None)
    return Graph.load(out / "model"), out


def test_target_fps_is_met_with_the_least_folding(example):
    g, _ = example
    b = boards.get("pynq-z2")
    _, _, fastest = fold(g, b)
    _, p_min, slowest = fold(g, b, mode="min")
    target = (slowest.fps + fastest.fps) / 4
    f, p, est = fold(g, b, target_fps=target)
    assert slowest.fps < target <= est.fps < fastest.fps
    assert est.fits and fastest.fits
    assert est.total.LUT < fastest.total.LUT
    # the cycle counts themselves are the planner's (dataflow.CYCLES): tests/test_csim.py and
    # tests/test_cosim.py hold them against what the C simulation counts and the RTL takes


def test_auto_folding_stays_within_the_budget_of_a_small_board(example):
    g, _ = example
    small = dataclasses.replace(boards.get("zynq7020"), lut=9000, dsp=20)
    _, _, big = fold(g, boards.get("zynq7020"))
    _, _, est = fold(g, small)
    assert est.fits and est.total.LUT <= BUDGET * 9000 and est.total.DSP <= BUDGET * 20
    assert est.fps < big.fps


def test_a_model_that_cannot_fit_names_the_largest_stage(example):
    """Too large even fully folded: returned fully folded, and the message says what, by
    how much and what to change (the build writes it to the report)."""
    g, _ = example
    tiny = dataclasses.replace(boards.get("zynq7020"), lut=4000)
    f, _, est = fold(g, tiny)
    assert not est.fits and f == min_folding(g)
    msg = no_fit_message(est, tiny)
    assert "does not fit" in msg and "LUT" in msg and "largest stage is 'conv2d" in msg and "try" in msg
    assert "x the budget" in msg and "even fully folded" in msg
    rep = hardware(f, est, tiny)
    assert rep["fits"] is False and rep["does_not_fit"] == msg


def test_unreachable_target_fps_is_one_error_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "edgec.cli", "build", "--preset", "w1a1", "--finetune-epochs", "0",
                        "--target-fps", "1e9", "-o", tmp_path / "o"], capture_output=True, text=True)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert lines[-1].startswith("edgec: error: --target-fps 1e+09 is out of reach") and "Traceback" not in r.stderr
    assert "limited by stage" in lines[-1] and not (tmp_path / "o").exists()


def test_report_hardware_section(example):
    _, out = example
    h = json.loads((out / "report.json").read_text())["hardware"]
    assert h["fits"] and h["bottleneck"] in {s["stage"] for s in h["stages"]}
    assert h["cycles_per_frame"] == max(s["cycles"] for s in h["stages"])
    assert sum(s["LUT"] for s in h["stages"]) < h["total"]["LUT"]  # + DMA platform and FIFOs
    r = subprocess.run([sys.executable, "-m", "edgec.cli", "report", str(out)], capture_output=True, text=True)
    assert "frames/s, bottleneck" in r.stdout and "fits" in r.stdout


def test_memory_model():
    assert memory(16, 8).LUT == 8 and memory(16, 8).BRAM36 == 0  # small: LUTRAM
    assert memory(9216, 8).BRAM36 == 2.5  # 5 BRAM18 in 2048 x 9
    assert memory(32, 3315).BRAM36 == 0  # wide and shallow: LUTRAM is cheaper
    assert memory(4096, 36, banks=2).BRAM36 == 8


def test_plan_inserts_converters_and_forks(example):
    g, _ = example
    f, p, _ = fold(g, boards.get("zynq7020"))
    for s in p.stages:  # every converter joins streams of the same element sequence
        if s.kind == "dwc":
            assert s.ins[0].elems == s.outs[0].elems and s.ins[0].per_word != s.outs[0].per_word
    assert [s.kind for s in plan(g).stages].count("dwc") == 0  # fully folded: all words 1 element
