"""Golden files: the generated text of one tiny network, pinned byte for byte; and the IR
save/load round trip.

The network (GoldenNet below: conv+BN+ReLU, max pool, conv+ReLU, max pool, linear; int4)
is built from a fixed seed without training, calibrated on the first 64 digits training
images, with torch on one thread, so every build gives the same bytes. Four of its
files are compared with the copies in tests/golden/ (named by their last path part):

    OUT/hls/top.cpp       -> tests/golden/top.cpp
    OUT/rtl/edgec_top.v   -> tests/golden/edgec_top.v
    OUT/sim/model.py      -> tests/golden/model.py
    OUT/report.html       -> tests/golden/report.html

A difference fails with a unified diff. When the change is intended, rewrite the golden
files (the tests then pass) and commit them with the change that caused it:

    EDGEC_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q -p no:logging tests/test_golden.py

The round trip: the final IR of that build (OUT/model.json + model.npz) and a few random
float graphs lowered through the passes are saved with Graph.save, loaded back, and must
have equal nodes (ops, inputs, shapes, types, attrs, params) and equal ir/ref.py values
on every tensor for random valid input codes.
"""
from __future__ import annotations

import difflib
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from edgec.backend.sim import input_spec
from edgec.cost.lowering import POLICY
from edgec.frontend.lower import lower
from edgec.frontend.quantize import QuantConfig, quantize
from edgec.ir import ref
from edgec.ir.graph import Graph
from edgec.passes import pipeline
from tests.nets import random_fgraph

GOLDEN = Path(__file__).resolve().parent / "golden"
FILES = ["hls/top.cpp", "rtl/edgec_top.v", "sim/model.py", "report.html"]  # golden copy: GOLDEN / Path(rel).name
UPDATE = os.environ.get("EDGEC_UPDATE_GOLDEN", "") not in ("", "0")
UPDATE_CMD = "EDGEC_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q -p no:logging tests/test_golden.py"
DIFF_LINES = 60


class GoldenNet(nn.Module):
    """A sliding window + MVAU (DSP and LUT MACs, thresholds), width converters, max
    pooling, and a linear head, on the 1x8x8 digits input."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 4, 3, padding=1)
        self.b1 = nn.BatchNorm2d(4)
        self.c2 = nn.Conv2d(4, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 2 * 2, 10)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.b1(self.c1(x))), 2)
        x = nn.functional.max_pool2d(torch.relu(self.c2(x)), 2)
        return self.fc(torch.flatten(x, 1))


def golden_net() -> GoldenNet:
    """GoldenNet from seed 0 (no training), with non-trivial BatchNorm statistics."""
    torch.manual_seed(0)
    m = GoldenNet()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        m.b1.running_mean.copy_(torch.randn(4, generator=gen) * 0.2)
        m.b1.running_var.copy_(torch.rand(4, generator=gen) + 0.5)
        m.b1.weight.copy_(torch.randn(4, generator=gen))
        m.b1.bias.copy_(torch.randn(4, generator=gen) * 0.2)
    return m.eval()


def build_golden(out: Path):
    """Build GoldenNet into ``out`` (int4, zynq7020), torch on one thread."""
    from edgec import build
    from edgec.examples import digits

    x, y = digits.train_split()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return build(golden_net(), out, input_shape=(1, 8, 8), preset="int4", calib=x[:64], labels=y[:64],
                     progress=None)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_golden(tmp_path_factory.mktemp("golden") / "out")


def test_golden_build_is_bit_exact(built):
    rep = built.report["sim_vs_reference"]
    assert rep["mismatches"] == 0 and rep["ties"] == 0


@pytest.mark.parametrize("rel", FILES)
def test_generated_text_matches_golden(built, rel):
    new = (built.out / rel).read_bytes()
    gold = GOLDEN / Path(rel).name
    if UPDATE:
        if not gold.exists() or gold.read_bytes() != new:
            gold.write_bytes(new)
        return
    assert gold.exists(), f"no golden copy {gold} of OUT/{rel}: create it with\n    {UPDATE_CMD}"
    old = gold.read_bytes()
    if old == new:
        return
    diff = list(difflib.unified_diff(old.decode(errors="replace").splitlines(),
                                     new.decode(errors="replace").splitlines(),
                                     f"tests/golden/{gold.name}", f"OUT/{rel}", lineterm=""))
    shown = diff[:DIFF_LINES] + ([f"... ({len(diff) - DIFF_LINES} more diff lines)"] if len(diff) > DIFF_LINES else [])
    if not diff:  # same lines, different bytes (line endings, final newline)
        shown = [f"same lines, different bytes ({len(old)} golden, {len(new)} generated)"]
    pytest.fail(f"OUT/{rel} differs from tests/golden/{gold.name}:\n" + "\n".join(shown)
                + f"\n\nIf the change is intended, update the golden files and commit them:\n    {UPDATE_CMD}",
                pytrace=False)


# ---- IR save/load round trip ------------------------------------------------------------
def _codes(g: Graph, rng: np.random.Generator, n: int = 12) -> np.ndarray:
    """Random valid input codes (N, *input shape) of ``g``."""
    spec = input_spec(g.meta["input_quant"])
    shape = (n,) + tuple(g.input.shape)
    if spec["bipolar"]:
        return rng.choice(np.array([-1, 1]), size=shape)
    return rng.integers(spec["lo"], spec["hi"] + 1, size=shape)


def _assert_same_graph(a: Graph, b: Graph) -> None:
    assert a.output == b.output
    assert a.meta == b.meta
    assert [n.name for n in a.nodes] == [n.name for n in b.nodes]
    for x, y in zip(a.nodes, b.nodes):
        where = f"node {x.name}"
        assert x.op == y.op, where
        assert x.inputs == y.inputs, where
        assert tuple(x.shape) == tuple(y.shape), where
        assert x.type == y.type, where
        assert x.attrs == y.attrs, where
        assert sorted(x.params) == sorted(y.params), where
        for k in x.params:
            px, py = np.asarray(x.params[k]), np.asarray(y.params[k])
            assert px.dtype == py.dtype and px.shape == py.shape, f"{where} param {k}"
            np.testing.assert_array_equal(px, py, err_msg=f"{where} param {k}")


def _round_trip(g: Graph, tmp: Path, seed: int) -> None:
    g.save(tmp / "a")
    h = Graph.load(tmp / "a")
    _assert_same_graph(g, h)
    codes = _codes(g, np.random.default_rng(seed))
    va, vb = ref.run(g, codes), ref.run(h, codes)
    assert list(va) == list(vb)
    for k in va:
        np.testing.assert_array_equal(va[k], vb[k], err_msg=f"tensor {k}")
    h.save(tmp / "b")  # deterministic bytes: saving the loaded graph writes the same files
    for suffix in (".json", ".npz"):
        assert (tmp / f"a{suffix}").read_bytes() == (tmp / f"b{suffix}").read_bytes(), suffix


def test_ir_round_trip_of_the_build(built, tmp_path):
    g = Graph.load(built.out / "model")
    _round_trip(g, tmp_path, 0)
    assert (tmp_path / "a.json").read_bytes() == (built.out / "model.json").read_bytes()
    assert (tmp_path / "a.npz").read_bytes() == (built.out / "model.npz").read_bytes()


# (seed, random_fgraph options, quantization, lowering modes)
CASES = {
    "conv-residual-dw-max-int4-winograd-f2-sparse": (
        1, dict(residual=True, depthwise=True, pool="max", mlp=False), dict(wbits=4, abits=4, prune=0.5),
        dict(winograd="f2", sparse="on")),
    "conv-avg-ternary-winograd-f4": (
        2, dict(residual=False, depthwise=False, pool="avg", mlp=False), dict(wbits=0, abits=3),
        dict(winograd="f4", sparse="off")),
    "conv-gap-w1a1": (
        3, dict(residual=True, depthwise=False, pool="gap", mlp=False), dict(wbits=1, abits=1),
        dict(winograd="off", sparse="off")),
    "mlp-w1a1-xnor": (
        4, dict(residual=False, depthwise=False, pool="max", mlp=True), dict(wbits=1, abits=1),
        dict(winograd="off", sparse="off")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_ir_round_trip_of_lowered_random_graphs(case, tmp_path):
    seed, net, qcfg, modes = CASES[case]
    rng = np.random.default_rng(seed)
    fg = random_fgraph(rng, **net)
    ir = lower(quantize(fg, rng.normal(size=(16,) + fg.input.shape), QuantConfig(**qcfg)))
    ir.meta["lowering"] = {**modes, "layers": {}}
    for _, fn in pipeline(POLICY):
        ir = fn(ir)
    _round_trip(ir, tmp_path, seed)


if __name__ == "__main__":  # python -m tests.test_golden OUT: build GoldenNet into OUT (to compare two processes)
    build_golden(Path(sys.argv[1]))
