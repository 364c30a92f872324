"""`edgec synth`: yosys synth_xilinx on the built-in example's RTL, stage by stage, beside
the cost model: every stage's LUT estimate within 25% of yosys, the totals add up, the
DSP multipliers are where the model puts them, and the runs are cached; the timing
estimate of every stage, and `edgec build --clock-mhz`."""
import json
import os
import re
import subprocess
import sys

import pytest

from edgec import build, synth
from edgec.boards import get as board

TOLERANCE = 0.25


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    out = build(None, tmp_path_factory.mktemp("synth") / "example", progress=None).out
    r = subprocess.run([sys.executable, "-m", "edgec.cli", "synth", str(out), "--json", "-q"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out, json.loads(r.stdout)


def test_every_stage_within_25_percent_of_yosys(example):
    out, r = example
    hw = json.loads((out / "report.json").read_text())["hardware"]
    rtl_stages = [s["stage"] for s in hw["stages"] if s["kind"] not in ("axis_in", "axis_out")]
    assert [s["stage"] for s in r["stages"]] == rtl_stages
    rows = [(s["stage"], s["yosys"], s["estimate"]) for s in r["stages"]]
    rows.append(("FIFOs", r["fifos"]["yosys"], r["fifos"]["estimate"]))
    off = [(n, y["LUT"], e["LUT"]) for n, y, e in rows if abs(e["LUT"] - y["LUT"]) > TOLERANCE * y["LUT"]]
    assert not off, f"estimate off by more than 25% (stage, yosys, estimate): {off}"
    for n, y, e in rows:
        assert y["LUT"] > 0 and y["FF"] > 0, n
        assert y["DSP"] == e["DSP"], n  # a dsp-mac lane is one DSP48E1, the others none


def test_totals_and_fit(example):
    out, r = example
    for k in ("LUT", "FF", "BRAM36", "DSP", "CARRY"):
        assert r["total"][k] == sum(s["yosys"][k] for s in r["stages"]) + r["fifos"]["yosys"][k]
    # every FIFO the emitted top instantiates was synthesized, at its width and depth
    top = (out / "rtl" / "edgec_top.v").read_text()
    fifos = sorted((int(w), int(d)) for w, d in re.findall(r"edgec_fifo #\(\.W\((\d+)\), \.DEPTH\((\d+)\)\)", top))
    assert fifos and fifos == sorted((k["width"], k["depth"]) for k in r["fifos"]["kinds"] for _ in range(k["count"]))
    b = board("zynq7020")
    cap = {"LUT": b.lut, "FF": b.ff, "BRAM36": b.bram36, "DSP": b.dsp}
    used = {k: r["total"][k] + r["platform"][k] for k in cap}
    assert r["with_platform"] == used
    assert r["fits"] == all(used[k] <= r["budget"] * cap[k] for k in cap) and r["fits"]
    assert r["total"]["DSP"] > 0 and r["total"]["CARRY"] > 0


def test_cached_rerun_and_table(example):
    out, r = example
    again = synth.run(out)  # every yosys result is reused: same figures
    assert again["total"] == r["total"] and again["stages"] == r["stages"]
    text = synth.table(again)
    assert "total RTL" in text and "fits" in text and "conv2d_1" in text


def test_errors(tmp_path, example):
    r = subprocess.run([sys.executable, "-m", "edgec.cli", "synth", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("edgec: error:") and len(r.stderr.splitlines()) == 1
    out, _ = example
    env = dict(os.environ, PATH=str(tmp_path))  # no yosys on PATH
    r = subprocess.run([sys.executable, "-m", "edgec.cli", "synth", str(out)], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "needs yosys" in r.stderr and len(r.stderr.splitlines()) == 1


def test_timing_estimate_per_stage(example):
    """Every stage and FIFO has a positive delay and fmax, the design's fmax is the least, a
    wider adder tree is slower, and the timing section is in OUT/report.json (the manifest
    still vouches for it) and OUT/synth/synth.json."""
    from edgec import outdir

    out, r = example
    rows = r["stages"] + r["fifos"]["kinds"]
    for x in rows:
        assert x["logic_delay_ns"] > 0 and x["route_delay_ns"] >= 0 and x["fmax_mhz"] > 0, x
        assert x["fmax_mhz"] == pytest.approx(1000 / (x["logic_delay_ns"] + x["route_delay_ns"]), rel=1e-3)
        assert x["critical_path"] and x["levels"] >= 0
    t = r["timing"]
    assert t["fmax_mhz"] == min(x["fmax_mhz"] for x in rows) and t["clock_mhz"] == 100
    assert t["meets"] == (t["fmax_mhz"] >= 100) and t["failing"] == [x["stage"] for x in t["stages"] if not x["meets"]]
    # the dense units of one kind: the wider the SIMD (the adder tree, then the accumulator and
    # the threshold comparators), the longer the path
    inst = {s["name"]: s["params"] for s in json.loads((out / "rtl" / "instances.json").read_text())["stages"]}
    mvau = sorted((inst[s["stage"]]["SIMD"], s["logic_delay_ns"], s["stage"]) for s in r["stages"]
                  if s["module"] == "edgec_mvau" and inst[s["stage"]]["KIND"] == 2)
    assert len(mvau) >= 3 and len({m[0] for m in mvau}) == len(mvau)
    assert [m[1] for m in mvau] == sorted(m[1] for m in mvau), mvau
    assert mvau[-1][1] > 1.5 * mvau[0][1], mvau
    rep = outdir.read_report(out)  # checked against the manifest
    assert rep["timing"] == t
    assert json.loads((out / "synth" / "synth.json").read_text())["timing"] == t
    from edgec.backend.report import table

    text = table(rep)
    assert "timing estimate" in text and f"fmax {t['fmax_mhz']:.0f} MHz" in text


def test_clock_mhz(tmp_path, capsys, example):
    """--clock-mhz F: the report's frame rate is F over the bottleneck's cycles (half the
    default clock's for F = 50), the HLS period and the block design's FCLK follow, and the
    folding for a frame rate is found at F."""
    import dataclasses

    import numpy as np

    from edgec.cli import main
    from edgec.cost.fold import fold
    from edgec.ir.graph import Graph

    from . import robustness_cases as R

    m = R.save(R.mlp(), tmp_path / "mlp.onnx")
    np.save(tmp_path / "x.npy", np.random.default_rng(0).uniform(0, 1, (32, 1, 8, 8)).astype(np.float32))
    o = tmp_path / "o50"
    assert main(["build", str(m), "--preset", "int4", "--calib", str(tmp_path / "x.npy"), "-o", str(o),
                 "--clock-mhz", "50", "-q", "--json"]) == 0
    got = json.loads(capsys.readouterr().out.splitlines()[-1])
    rep = json.loads((o / "report.json").read_text())
    h = rep["hardware"]
    assert got["clock_mhz"] == h["clock_mhz"] == rep["board"]["clock_mhz"] == 50
    assert h["fps"] == pytest.approx(50e6 / h["cycles_per_frame"], abs=0.1)
    _, _, at100 = fold(Graph.load(o / "model"), board("zynq7020"))
    assert at100.cycles == h["cycles_per_frame"] and h["fps"] == pytest.approx(at100.fps / 2, abs=0.1)
    assert "create_clock -period 20 " in (o / "hls" / "build_hls.tcl").read_text()
    assert "FREQMHZ {50}" in (o / "vivado" / "build_bd.tcl").read_text()
    # the folding: the example's top rate at 100 MHz needs less parallelism at 200 MHz
    g, b = Graph.load(example[0] / "model"), board("zynq7020")
    _, _, fast = fold(g, b)
    _, _, at200 = fold(g, b.at(200), target_fps=fast.fps)
    assert at200.fps >= fast.fps and at200.total.LUT < fast.total.LUT
    assert dataclasses.replace(b, clock_mhz=200.0) == b.at(200)


@pytest.mark.parametrize("args,msg", [(["--clock-mhz", "0"], "--clock-mhz '0': give a positive clock"),
                                      (["--clock-mhz", "-5"], "--clock-mhz '-5': give a positive clock"),
                                      (["--clock-mhz", "fast"], "--clock-mhz 'fast': give a positive clock"),
                                      (["--clock-mhz", "nan"], "--clock-mhz 'nan'"),
                                      (["--clock-mhz", "251"], "at most at 250 MHz"),
                                      (["--config", "CFG"], "config clock_mhz 400: zynq7020 is clocked at most")])
def test_clock_mhz_errors(tmp_path, capsys, args, msg):
    from edgec.cli import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text("clock_mhz: 400\n")
    out = tmp_path / "out"
    assert main(["build", "-o", str(out), *[str(cfg) if a == "CFG" else a for a in args]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("edgec: error:") and len(err.splitlines()) == 1 and msg in err, err
    assert not out.exists()


@pytest.mark.parametrize("kind", ["slice", "pad", "upsample", "mul"])
def test_stream_stage_rules_within_25_percent_of_yosys(tmp_path, kind):
    """The rules of the slice, pad, zero-fill upsample and mul stages (fitted on the instances of
    benchmarks/stage_fits.py) on the first of those instances, synthesised here."""
    import importlib.util
    from pathlib import Path

    from edgec.cost.hw import RESOURCES

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "stage_fits.py"
    spec = importlib.util.spec_from_file_location("stage_fits", path)
    fits = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fits)
    name, module, params, st = next(iter(fits.KINDS[kind]()))
    (tmp_path / "rtl").mkdir()
    (tmp_path / "rtl" / "lib").symlink_to(fits.HW)
    r = synth.Job(kind, module, params, tmp_path / "rtl", tmp_path).run(synth.yosys())
    est = RESOURCES[st.kind](st).LUT
    assert abs(est - r["LUT"]) <= TOLERANCE * r["LUT"], (name, est, r["LUT"])


def test_requant_rule_against_yosys(tmp_path):
    """The requantizer (edgec_requant; the Requant activation, stand-alone or fused) on every
    second of the 14 instances of benchmarks/stage_fits.py (which fits the rule on all 14;
    the other seven would double the test's yosys time): the DSP48E1 count equals yosys's on
    every one (one per lane up to a 25-bit input, two beyond); the LUT estimate is within 25%
    of yosys on every one and the total within 10%; the FF estimate within 25% on at least 70%
    (a table in block RAM takes its registers along, and yosys folds constant table bits)."""
    import importlib.util
    from pathlib import Path

    from edgec.cost.hw import RESOURCES

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "stage_fits.py"
    spec = importlib.util.spec_from_file_location("stage_fits", path)
    fits = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fits)
    (tmp_path / "rtl").mkdir()
    (tmp_path / "rtl" / "lib").symlink_to(fits.HW)
    exe = synth.yosys()
    rows = []
    for i, (name, module, params, st) in list(enumerate(fits.KINDS["requant"]()))[1::2]:
        r = synth.Job(f"rq{i}", module, params, tmp_path / "rtl", tmp_path).run(exe)
        rows.append((name, r, RESOURCES[st.kind](st)))
    assert [(n, y["DSP"]) for n, y, e in rows] == [(n, e.DSP) for n, y, e in rows]
    assert any(y["DSP"] == 2 * int(n.split("pe=")[1].split()[0]) for n, y, e in rows)  # a wide input: two a lane
    off = [(n, y["LUT"], round(e.LUT)) for n, y, e in rows if abs(e.LUT - y["LUT"]) > TOLERANCE * y["LUT"]]
    assert not off, off
    close = [n for n, y, e in rows if abs(e.FF - y["FF"]) <= TOLERANCE * y["FF"]]
    assert len(close) >= 0.7 * len(rows), [(n, y["FF"], round(e.FF)) for n, y, e in rows]
    ty, te = sum(y["LUT"] for _, y, _ in rows), sum(e.LUT for _, _, e in rows)
    assert abs(te - ty) <= 0.1 * ty, (ty, te)
