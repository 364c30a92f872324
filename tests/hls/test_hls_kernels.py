"""Every hw/hls kernel, compiled standalone with g++ against the ap_types headers, equals
ir/ref.py over random shapes, widths and foldings, and runs the loop count the cost
model assumes. All cases share one compile."""
import subprocess

import numpy as np
import pytest

from edgec import resources
from edgec.csim import CXXFLAGS, ap_types_dir, compiler

from . import cases_requant
from .kernel_cases import make_cases, program

SEEDS = [1, 2]


@pytest.fixture(scope="module", params=SEEDS)
def results(request, tmp_path_factory):
    return _compile_and_run(make_cases(request.param), tmp_path_factory.mktemp(f"kernels{request.param}"))


def _compile_and_run(cases, d):
    (d / "main.cpp").write_text(program(cases))
    exe = d / "main"
    cmd = [compiler(), *CXXFLAGS, "-isystem", str(ap_types_dir()), "-I", str(resources.path("hw") / "hls" / "compat"),
           "-I", str(resources.path("hw") / "hls"),
           str(d / "main.cpp"), "-o", str(exe)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    own = [ln for ln in r.stderr.splitlines() if "warning:" in ln and "ap_types" not in ln.split(":")[0]]
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    lines = {}
    for ln in out.splitlines():
        head, _, vals = ln.partition(":")
        tag, count = head.split()
        lines[tag] = (int(count), np.array([int(v) for v in vals.split()], dtype=np.int64))
    return cases, lines, own, out


def test_no_warnings_from_edgec_headers(results):
    assert results[2] == []
    assert "WARNING" not in results[3]  # no stream read while empty, no leftovers


@pytest.mark.parametrize("i", range(len(make_cases(SEEDS[0]))))
def test_kernel_equals_ref(results, i):
    cases, lines, _, _ = results
    c = cases[i]
    count, got = lines[f"case{i}"]
    np.testing.assert_array_equal(got, c.expected.ravel(), err_msg=c.name)
    assert count == c.cycles, f"{c.name}: {count} loop iterations, cost model says {c.cycles}"
    if f"case{i}b" in lines:  # the duplicate's second output
        np.testing.assert_array_equal(lines[f"case{i}b"][1], c.expected.ravel(), err_msg=c.name)


@pytest.fixture(scope="module")
def requant_results(tmp_path_factory):
    cases = cases_requant.make(np.random.default_rng(18), 0)
    return _compile_and_run(cases, tmp_path_factory.mktemp("requant"))


def test_requant_kernels_equal_ref(requant_results):
    """Requant<> fused into the mvau and in the stand-alone stage, alone (``-k requant``):
    every output equals ir/ref.py's requant, the loop counts the cost model's, and the
    cases reach a shift of 40, a zero multiplier and both ends of the clip."""
    cases, lines, own, out = requant_results
    assert own == [] and "WARNING" not in out
    for i, c in enumerate(cases):
        count, got = lines[f"case{i}"]
        np.testing.assert_array_equal(got, c.expected.ravel(), err_msg=c.name)
        assert count == c.cycles, c.name
    assert any("40" in c.name for c in cases if "stage" in c.name)
