"""Data-set scale (issue 21 items 2 and 3): the generated simulator's run in batches sized
from a memory limit (identical outputs), `edgec sim` reading its .npy memory-mapped and
writing its .npz batch by batch (the same outputs), and `edgec verify` against the
reference the build keeps in OUT/reference: qonnx's execution of a QONNX build on 500
inputs sharded on a local Ray (0 mismatches), the fake-quant reference of a float build
read back from its JSON + npz (0 mismatches, the report's accuracy, csim on the first
vectors), and bad input."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgec import build
from edgec.backend import sim as sim_backend
from edgec.cli import main
from edgec.examples import digits

from . import qonnx_nets as Q
from .test_cli_errors import assert_one_line_error, run_main

EDGEC = [sys.executable, "-m", "edgec.cli"]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tfc(tmp_path_factory):
    """A small QONNX build (BNN-PYNQ TFC-w1a1, seeded random weights) and 500 inputs."""
    d = tmp_path_factory.mktemp("verify")
    path = Q.export(Q.bnn_pynq("tfc_1w1a", seed=0), (1, 28, 28), d / "tfc.onnx")
    build(str(path), d / "out", progress=None)
    np.save(d / "x.npy", Q.images((1, 28, 28), 500, seed=1))
    return d


def test_the_build_keeps_its_reference(tfc):
    ref = tfc / "out" / "reference"
    assert json.loads((ref / "reference.json").read_text()) == {"files": ["model.onnx"], "reference": "qonnx"}
    listed = json.loads((tfc / "out" / "edgec.json").read_text())["files"]
    assert {"reference/model.onnx", "reference/reference.json"} <= set(listed)


def test_verify_500_inputs_against_qonnx_on_local_ray(tfc):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    labels = np.random.default_rng(0).integers(0, 10, 500)
    np.save(tfc / "labels.npy", labels)
    r = subprocess.run(EDGEC + ["verify", str(tfc / "out"), "--inputs", str(tfc / "x.npy"), "--labels",
                                str(tfc / "labels.npy"), "--jobs", "2", "--json"],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["vectors"] == 500 and res["mismatches"] == 0 and res["ties"] == 0, res
    assert res["reference"] == "qonnx" and res["ray"] == "local" and res["shards"] > 1 and res["ok"]
    _, y = sim_backend.load(tfc / "out" / "sim").run(np.load(tfc / "x.npy"))
    assert res["accuracy"] == round(100 * float((y.argmax(1) == labels).mean()), 2)
    assert "verify [" in r.stderr and "500/500" in r.stderr  # the progress bar, off a terminal one line a shard


def test_a_tie_is_a_one_step_difference_at_a_rounding_boundary_of_the_first_differing_quantizer():
    from edgec.verify import QONNX_TIE, qonnx_compare

    # two quantizers in graph order, scale 1: "a" reads "a_pre", "b" (after "a") reads "b_pre"
    tensors = {"a": {"ir": "ia", "input": "a_pre", "scale": 1.0, "zero_point": 0.0, "bipolar": False},
               "b": {"ir": "ib", "input": "b_pre", "scale": 1.0, "zero_point": 0.0, "bipolar": False}}
    a_pre = np.array([[0.2, 1.0, 2.0]] * 6)
    a_pre[1, 1] = 2.5 + 3e-7  # qonnx rounds it to 3, the exact value 2.5 goes to 2: a tie ...
    a_pre[3, 1] = 2.5 + 3e-7  # ... but not when edgec is two steps off
    a_pre[4, 1], a_pre[4, 2] = 2.5 + 3e-7, 1.3  # nor when another differing value is far from a boundary
    a_pre[5, 1] = 6.5 + 3e-4  # a float32 sum a little further off a larger half: inside QONNX_TIE * 6.5
    b_pre = np.array([[3.0, 4.0]] * 6)
    b_pre[2, 0] = 1.2  # "a" equal, "b" differs far from a boundary: a mismatch
    ref = {"a_pre": a_pre, "a": np.rint(a_pre), "b_pre": b_pre, "b": np.rint(b_pre)}
    ia, ib = np.rint(a_pre), np.rint(b_pre)
    ia[1, 1], ib[1] = 2, [9, 9]  # downstream of the tie "b" differs anyhow: still the tie's
    ia[3, 1] = 1
    ia[4, 1], ia[4, 2] = 2, 2
    ia[5, 1] = 6
    ib[2, 0] = 5
    r = qonnx_compare(ref, tensors, {"ia": ia, "ib": ib}, {"ia": 0, "ib": 1})
    assert r["vectors"] == 6 and r["tensors"] == 2
    assert r["ties"] == 2 and r["mismatches"] == 3 and list(r["mismatched"]) == [2, 3, 4], r
    assert abs(r["tie_distance"] - 3e-4) < 1e-9 and 3e-4 > QONNX_TIE  # outside a fixed window, inside the relative
    # the order is the graph's, not the dict's: with "b" first, vector 1 first differs far from a boundary
    r = qonnx_compare(ref, tensors, {"ia": ia, "ib": ib}, {"ib": 0, "ia": 1})
    assert r["ties"] == 1 and list(r["mismatched"]) == [1, 2, 3, 4], r


def test_run_in_a_tiny_memory_limit_gives_the_same_outputs_in_several_batches(tfc):
    sim = sim_backend.load(tfc / "out" / "sim")
    x = np.load(tfc / "x.npy")[:50]
    memory = 3 * sim.PER_SAMPLE_BYTES  # three inputs at a time
    assert sim.batch_for(memory) == 3 and sim.batch_for(1) == 1 and sim.batch_for() > 3
    starts = [s for s, q, y in sim.batches(x, memory=memory)]
    assert starts == list(range(0, 50, 3))
    for engine in ("numpy", "torch"):
        q, y = sim.run(x, engine=engine)
        for mem in (memory, 1):
            q2, y2 = sim.run(x, engine=engine, memory=mem)
            np.testing.assert_array_equal(q2, q)
            np.testing.assert_array_equal(y2, y)


def test_run_keeps_traced_tensors_across_batches(tfc):
    from edgec.ir.graph import Graph

    g = Graph.load(tfc / "out" / "model")
    sim = sim_backend.load(tfc / "out" / "sim")
    x = np.load(tfc / "x.npy")[:20]
    names = [n.name for n in g.nodes[1:]]
    whole, small = dict.fromkeys(names), dict.fromkeys(names)
    sim.run(x, keep=whole)
    sim.run(x, keep=small, memory=sim.PER_SAMPLE_BYTES * 4)
    for k in names:
        assert len(whole[k]) == 20
        np.testing.assert_array_equal(small[k], whole[k])


def test_edgec_sim_reads_memory_mapped_and_writes_the_same_outputs(tfc, tmp_path, capsys):
    from edgec import validate

    assert isinstance(validate.load_array(tfc / "x.npy", "--inputs", mmap=True), np.memmap)
    sim = sim_backend.load(tfc / "out" / "sim")
    x = np.load(tfc / "x.npy")
    q, y = sim.run(x)
    mem = str(7 * sim.PER_SAMPLE_BYTES)  # batches of 7: 72 of them, the last one short
    code = main(["sim", str(tfc / "out"), "--inputs", str(tfc / "x.npy"), "--out", str(tmp_path / "o.npz"),
                 "--memory", mem, "--json", "-q"])
    out = capsys.readouterr().out
    assert code == 0
    res = json.loads(out.strip().splitlines()[-1])
    assert res["batch"] == 7 and res["inputs"] == 500
    with np.load(tmp_path / "o.npz", allow_pickle=False) as f:
        assert sorted(f.files) == ["out", "q", "y"]
        np.testing.assert_array_equal(f["q"], q)
        np.testing.assert_array_equal(f["y"], y)
        np.testing.assert_array_equal(f["out"], sim.outputs(y))
    assert sorted(os.listdir(tmp_path)) == ["o.npz"]  # the memory-mapped parts are gone


def test_verify_a_float_build_against_its_fake_quant_reference(tmp_path, capsys):
    res = build(None, tmp_path / "out", preset="int4", progress=None)
    x, y = digits.test_split()
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    code = main(["verify", str(tmp_path / "out"), "--inputs", str(tmp_path / "x.npy"), "--labels",
                 str(tmp_path / "y.npy"), "--jobs", "1", "--csim", "3", "--json", "-q"])
    r = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and r["reference"] == "torch" and r["ray"] is None
    assert r["vectors"] == len(x) and r["mismatches"] == 0
    assert r["accuracy"] == res.report["accuracy"]["sim"]
    assert r["csim"]["vectors"] == 3 and r["csim"]["mismatches"] == 0 and r["cosim"] is None


def test_bad_input_is_one_error_line(tfc, tmp_path, capsys):
    out = tfc / "out"
    np.save(tmp_path / "wrong.npy", np.zeros((4, 3, 32, 32), np.float32))
    np.save(tmp_path / "pickled.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.save(tmp_path / "nan.npy", np.full((4, 1, 28, 28), np.nan, np.float32))
    np.save(tmp_path / "labels.npy", np.zeros(3, np.int64))
    x = str(tfc / "x.npy")
    cases = [
        (["verify", tmp_path / "nosuch", "--inputs", x], "nosuch"),
        (["verify", out, "--inputs", tmp_path / "wrong.npy"], "shape"),
        (["verify", out, "--inputs", tmp_path / "pickled.npy"], "pickle"),
        (["verify", out, "--inputs", tmp_path / "nan.npy"], "NaN"),
        (["verify", out, "--inputs", tmp_path / "missing.npy"], "missing.npy"),
        (["verify", out, "--inputs", x, "--labels", tmp_path / "labels.npy"], "--labels"),
        (["verify", out, "--inputs", x, "--reference", "torch"], "--reference torch"),
        (["verify", out, "--inputs", x, "--reference", "tflite"], "--reference"),
        (["verify", out, "--inputs", x, "--jobs", "0"], "--jobs"),
        (["verify", out, "--inputs", x, "--csim", "-1"], "--csim"),
        (["verify", out, "--inputs", x, "--memory", "lots"], "--memory"),
        (["sim", out, "--inputs", x, "--out", tmp_path / "o.npz", "--memory", "0"], "--memory"),
        (["sim", out, "--inputs", tmp_path / "pickled.npy", "--out", tmp_path / "o.npz"], "pickle"),
        (["sim", out, "--inputs", tmp_path / "wrong.npy", "--out", tmp_path / "o.npz"], "shape"),
    ]
    for args, needle in cases:
        code, err = run_main(capsys, *args)
        assert_one_line_error(code, err, needle)
    assert sorted(os.listdir(tmp_path)) == ["labels.npy", "nan.npy", "pickled.npy", "wrong.npy"]


def test_a_damaged_or_missing_reference_is_one_error_line(tfc, tmp_path, capsys):
    import shutil

    x = str(tfc / "x.npy")
    damaged = shutil.copytree(tfc / "out", tmp_path / "damaged")
    (damaged / "reference" / "model.onnx").write_bytes(b"not a model")
    code, err = run_main(capsys, "verify", damaged, "--inputs", x, "--jobs", "1")
    assert_one_line_error(code, err, "model.onnx", "damaged")
    old = shutil.copytree(tfc / "out", tmp_path / "old")  # a build from before OUT/reference
    shutil.rmtree(old / "reference")
    m = json.loads((old / "edgec.json").read_text())
    m["files"] = {k: v for k, v in m["files"].items() if not k.startswith("reference/")}
    (old / "edgec.json").write_text(json.dumps(m))
    code, err = run_main(capsys, "verify", old, "--inputs", x, "--jobs", "1")
    assert_one_line_error(code, err, "keeps no reference", "rebuild")
