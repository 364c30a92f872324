"""The built-in example through the CLI: `edgec build` with no model, then `edgec sim` on
the digits test split; the simulator's integer outputs equal the fake-quant reference
on every sample, report.json holds the accuracies, builds are byte-identical."""
import json
import subprocess
import sys

import numpy as np
import pytest

from edgec.compiler import EXAMPLE_FINETUNE
from edgec.examples import digits
from edgec.frontend.finetune import finetune
from edgec.frontend.quantize import make_config, quantize
from edgec.frontend.torch_import import import_torch
from edgec.verify import reference

EDGEC = [sys.executable, "-m", "edgec.cli"]


def edgec(*args, cwd=None):
    return subprocess.run(EDGEC + [str(a) for a in args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def example_w2a2(tmp_path_factory):
    d = tmp_path_factory.mktemp("example")
    r = edgec("build", "--board", "zynq7020", "-o", d / "out")
    assert r.returncode == 0, r.stderr
    return d / "out", r


def _reference_q(preset, x):
    fg = import_torch(digits.model(), digits.INPUT_SHAPE)
    cx, cy = digits.train_split()
    q = quantize(fg, cx, make_config(preset))
    if EXAMPLE_FINETUNE[preset]:
        q = finetune(q, cx, cy, EXAMPLE_FINETUNE[preset])
    return reference(q, x)


def test_example_sim_equals_reference_on_every_test_sample(example_w2a2, tmp_path):
    out, build = example_w2a2
    assert "accuracy on 540 samples" in build.stdout
    x, y = digits.test_split()
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    r = edgec("sim", out, "--inputs", tmp_path / "x.npy", "--labels", tmp_path / "y.npy", "--out", tmp_path / "s.npz")
    assert r.returncode == 0, r.stderr
    s = np.load(tmp_path / "s.npz")
    q_ref, y_ref, ties = _reference_q("w2a2", x)
    assert s["q"].dtype == np.int64 and s["q"].shape == (540, 10)
    mismatched = (s["q"] != q_ref).any(axis=1)
    assert not (mismatched & ~ties).any()
    assert mismatched.sum() == 0
    np.testing.assert_array_equal(s["y"], y_ref)
    rep = json.loads((out / "report.json").read_text())
    acc = rep["accuracy"]
    assert acc["samples"] == 540
    assert acc["sim"] == acc["reference"] == round(100 * float((s["y"].argmax(1) == y).mean()), 2)
    assert acc["float"] - acc["reference"] <= 2.0, acc
    assert rep["quantization"]["preset"] == "w2a2"
    assert f"accuracy {acc['sim']:.2f}%" in r.stdout
    assert "on engine torch" in r.stdout  # auto: torch, installed with edgec


def test_sim_cli_reports_its_engine(example_w2a2, tmp_path):
    """`edgec sim --engine` runs the engine asked for and says so; both write the same
    arrays; without torch, auto falls back to numpy and --engine torch is a one-line error."""
    out, _ = example_w2a2
    np.save(tmp_path / "x.npy", digits.test_split()[0][:50])
    arrays = {}
    for engine in ("numpy", "torch"):
        r = edgec("sim", out, "--inputs", tmp_path / "x.npy", "--out", tmp_path / f"{engine}.npz", "--engine", engine)
        assert r.returncode == 0, r.stderr
        assert f"simulated 50 inputs on engine {engine} -> " in r.stdout
        arrays[engine] = dict(np.load(tmp_path / f"{engine}.npz"))
    for k in ("q", "y", "out"):
        np.testing.assert_array_equal(arrays["torch"][k], arrays["numpy"][k])
    no_torch = "import sys; sys.modules['torch'] = None; from edgec.cli import main; sys.exit(main(sys.argv[1:]))"
    args = ["sim", str(out), "--inputs", str(tmp_path / "x.npy"), "--out", str(tmp_path / "b.npz")]
    r = subprocess.run([sys.executable, "-c", no_torch, *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "on engine numpy" in r.stdout
    r = subprocess.run([sys.executable, "-c", no_torch, *args, "--engine", "torch"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("edgec: error: --engine torch: engine 'torch'"), r.stderr


def test_example_int8_loses_at_most_half_a_point(tmp_path):
    r = edgec("build", "-o", tmp_path / "o", "--preset", "int8", "-q", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads((tmp_path / "o" / "report.json").read_text())
    # -q --json: no progress, and stdout is the one JSON line of the build's figures
    assert r.stderr == "" and len(r.stdout.splitlines()) == 1
    summary = json.loads(r.stdout)
    assert summary["out"] == str(tmp_path / "o") and summary["resources"] == rep["hardware"]["total"]
    assert (summary["fits"], summary["fps"]) == (rep["hardware"]["fits"], rep["hardware"]["fps"])
    assert summary["sim_vs_reference"] == rep["sim_vs_reference"]
    acc = rep["accuracy"]
    assert acc["float"] - acc["reference"] <= 0.5, acc
    assert rep["sim_vs_reference"] == {"vectors": 540, "mismatches": 0, "ties": 0, "reference": "fake-quant",
                                       "inputs": "calibration"}
    assert all(row["kernel"] == "dsp-mac" for row in rep["layers"] if row["op"] == "MatMul")


def test_report_rows_and_totals(example_w2a2):
    out, _ = example_w2a2
    rep = json.loads((out / "report.json").read_text())
    mm = [r for r in rep["layers"] if r["op"] == "MatMul"]
    assert [r["layer"] for r in mm] == ["conv2d", "conv2d_1", "conv2d_2", "linear"]
    # MACs of conv2d_1: 32 outputs x 16*3*3 inputs x 8*8 pixels
    assert mm[1]["macs"] == 32 * 16 * 9 * 64 and mm[1]["params"] == 32 * 16 * 9
    assert mm[1]["bitops"] == mm[1]["macs"] * 2 * 2
    assert mm[0]["abits"] == 8 and mm[0]["kernel"] == "dsp-mac"
    assert rep["totals"]["macs"] == sum(r["macs"] for r in rep["layers"])
    assert all(isinstance(r["acc_bits"], int) and r["acc_bits"] < 32 for r in mm)


def test_builds_are_byte_identical(example_w2a2, tmp_path):
    out, _ = example_w2a2
    r = edgec("build", "-o", tmp_path / "again", "--dump-ir", "-q")
    assert r.returncode == 0, r.stderr
    again = tmp_path / "again"
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file() and "ir" not in p.parts)
    for f in files:
        if f.name != "edgec.json":  # the manifest lists the ir/ files too
            assert (out / f).read_bytes() == (again / f).read_bytes(), f
    dumped = sorted(p.name for p in (again / "ir").iterdir())
    from edgec.passes import PASS_NAMES

    assert dumped[0] == "00_lower.json" and "01_infer_acc_widths.npz" in dumped
    assert len(dumped) == 2 * (1 + len(PASS_NAMES)) and f"{len(PASS_NAMES):02d}_{PASS_NAMES[-1]}.json" in dumped


def test_w1a1_example_uses_binary_kernels(tmp_path):
    r = edgec("build", "-o", tmp_path / "b", "--preset", "w1a1", "-q")
    assert r.returncode == 0, r.stderr
    assert r.stderr == "" and r.stdout == f"wrote {tmp_path / 'b'}/\n"  # -q: the final line only
    rep = json.loads((tmp_path / "b" / "report.json").read_text())
    kinds = {row["layer"]: row["kernel"] for row in rep["layers"] if row["op"] in ("MatMul", "XnorPopcount")}
    assert kinds["conv2d"] == "binary-addsub"  # 8-bit input pixels
    assert rep["sim_vs_reference"]["mismatches"] == 0


def test_boards_lists_zynq7020_and_aliases():
    r = edgec("boards")
    assert r.returncode == 0
    assert "zynq7020" in r.stdout and "xc7z020clg400-1" in r.stdout and "53,200" in r.stdout
    for alias in ("pynq-z2", "pynq-z1", "zedboard"):
        assert alias in r.stdout


def test_sim_takes_integer_codes_as_well_as_floats(example_w2a2):
    from edgec.backend import sim as sim_backend

    out, _ = example_w2a2
    sim = sim_backend.load(out / "sim")
    x, _ = digits.test_split()
    q_float, y_float = sim.run(x[:50])
    codes = sim.quantize(x[:50]).transpose(0, 3, 1, 2)  # back to the user's NCHW layout
    assert codes.dtype == np.int64 and codes.min() >= sim.INPUT_LO and codes.max() <= sim.INPUT_HI
    q_int, y_int = sim.run(codes)
    np.testing.assert_array_equal(q_int, q_float)
    np.testing.assert_array_equal(y_int, y_float)
    with pytest.raises(ValueError, match="integer inputs must lie in"):
        sim.run(codes + 1000)


def test_progress_lines_and_json_on_every_command(example_w2a2, tmp_path):
    """Not on a terminal, a build's progress is plain `edgec: ...` lines on stderr; `--json` makes the
    last line of report, sim and boards one JSON object, and -q leaves only that line."""
    out, r = example_w2a2
    lines = r.stderr.splitlines()
    assert len(lines) >= 5 and all(ln.startswith("edgec: ") for ln in lines), lines[:3]
    assert any("lowering" in ln for ln in lines) and "\x1b" not in r.stderr  # no terminal escapes in a pipe
    rep = edgec("report", out, "--json")
    assert rep.returncode == 0
    assert json.loads(rep.stdout.splitlines()[-1]) == json.loads((out / "report.json").read_text())
    x = np.random.default_rng(0).uniform(0, 1, size=(7, *digits.INPUT_SHAPE)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    s = edgec("sim", out, "--inputs", tmp_path / "x.npy", "--out", tmp_path / "y.npz", "--json", "-q")
    assert s.returncode == 0 and s.stderr == "" and len(s.stdout.splitlines()) == 1, s.stderr
    got = json.loads(s.stdout)
    assert got["inputs"] == 7 and got["q_shape"][0] == 7 and got["accuracy"] is None
    b = edgec("boards", "--json")
    names = [x["name"] for x in json.loads(b.stdout.splitlines()[-1])["boards"]]
    assert "zynq7020" in names


CHROMIUM = "/usr/bin/chromium"  # Debian's, installed by scripts/setup.sh


def test_report_html_is_offline_and_renders(example_w2a2, tmp_path):
    """OUT/report.html: one self-contained page (no scripts, no external references), which
    headless Chromium renders with every layer, every stage (the bottleneck marked), the
    resource bars and the accuracy of the report."""
    import re
    import shutil

    out, _ = example_w2a2
    rep = json.loads((out / "report.json").read_text())
    page = (out / "report.html").read_text()
    assert not re.search(r"<script|\b(src|href)\s*=|url\(|@import|https?:", page, re.I)
    assert shutil.which(CHROMIUM) or shutil.which("chromium"), "chromium is missing: run scripts/setup.sh"
    r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                        (out / "report.html").as_uri()], capture_output=True, text=True, timeout=120)
    dom = r.stdout
    assert r.returncode == 0 and "</html>" in dom, r.stderr[-500:]
    layers = re.search(r'<table id="layers">(.*?)</table>', dom, re.S).group(1)
    assert layers.count("<tr") == len(rep["layers"]) + 2  # the head and the total
    assert all(f">{row['layer']}<" in layers for row in rep["layers"])
    hw = rep["hardware"]
    stages = re.search(r'<table id="stages">(.*?)</table>', dom, re.S).group(1)
    marked = re.findall(r'<tr class="bottleneck"><td class="name">([^<]*)<', stages)
    assert marked == [hw["bottleneck"]] and stages.count("<tr") == len(hw["stages"]) + 1
    assert re.search(r'<svg id="resources".*?</svg>', dom, re.S).group(0).count("<rect") == 3 * 4
    assert f"simulator {rep['accuracy']['sim']:.2f}%" in dom and f"{hw['fps']:,.0f} frames/s" in dom


def test_report_html_escapes_the_models_names(example_w2a2, tmp_path):
    from edgec.backend import html

    out, _ = example_w2a2
    rep = json.loads((out / "report.json").read_text())
    rep["layers"][0]["layer"] = '<script>alert(1)</script>"\x00'
    html.write(rep, "<img src=x onerror=alert(1)>", tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert "<script" not in page and "<img" not in page and "\x00" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;\ufffd" in page
