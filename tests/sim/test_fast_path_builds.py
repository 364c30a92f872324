"""The generated simulator's fast path (engine "torch") equals its numpy path (the
reference) on every output and every traced tensor, on the networks the suite builds:
the built-in example (w1a1), GoldenNet (tests/test_golden.py), the U-Net (upsample,
concat; tests/test_unet.py), the ConvTranspose autoencoder (zero-fill upsample;
tests/test_convtranspose_e2e.py), a build with signed-step thresholds
(tests/signed_steps.py), and the lowered graphs the other tests emit simulators of
(tests/test_golden.py CASES: Winograd F2/F4, sparse, residual, depthwise, avg and global
pooling, w1a1 xnor; pad and slice, tests/test_padsplit.py; the product of maps,
tests/test_se.py; Adds with shifts, tests/test_mixed_add.py). Also the engine choice and
the numpy-only fallback."""
import sys

import numpy as np
import pytest

from edgec import build
from edgec.backend import sim as sim_backend
from edgec.backend.sim import input_spec
from edgec.cost.lowering import POLICY
from edgec.frontend.lower import lower
from edgec.frontend.quantize import QuantConfig, quantize
from edgec.ir.graph import Graph
from edgec.passes import pipeline


def _codes(g: Graph, n: int, seed: int) -> np.ndarray:
    """Valid input codes (N, *input shape, channels last) of ``g``, its extremes included."""
    spec = input_spec(g.meta["input_quant"])
    rng = np.random.default_rng(seed)
    shape = (n,) + tuple(g.input.shape)
    if spec["bipolar"]:
        return rng.choice(np.array([-1, 1]), size=shape)
    q = rng.integers(spec["lo"], spec["hi"] + 1, size=shape)
    q[0], q[1] = spec["lo"], spec["hi"]
    return q


def _same_on_every_tensor(sim_dir, g: Graph, n: int = 40, seed: int = 0) -> set:
    """forward on both engines (the torch one in debug mode) on random valid codes: equal
    on every traced tensor; the step kinds the graph exercised."""
    sim = sim_backend.load(sim_dir)
    codes = _codes(g, n, seed)
    tn, tt = {}, {}
    qn = sim.forward(codes, trace=tn, engine="numpy")
    assert sim.ENGINE == "numpy"
    qt = sim.forward(codes, debug=True, trace=tt, engine="torch")
    assert sim.ENGINE == "torch"
    np.testing.assert_array_equal(qt, qn)
    assert set(tt) == set(tn) == {x.name for x in g.nodes}
    for k in tn:
        assert tt[k].dtype == np.int64, k
        np.testing.assert_array_equal(tt[k], tn[k], err_msg=f"tensor {k}")
    return {sim_backend.KINDS[x.op] for x in g.nodes} - {None}


def _same_outputs(sim_dir, x):
    sim = sim_backend.load(sim_dir)
    qn, yn = sim.run(x, engine="numpy")
    qt, yt = sim.run(x, engine="torch")
    np.testing.assert_array_equal(qt, qn)
    np.testing.assert_array_equal(yt, yn)
    assert sim.run(x[:3])[0].tolist() == qn[:3].tolist() and sim.ENGINE == "torch"  # auto: torch here


def _lowered(fg, x, cfg, modes=None, requant="off"):
    from edgec.compiler import mark_requant

    q = quantize(fg, x, cfg)
    mark_requant(q, requant)
    ir = lower(q)
    if modes:
        ir.meta["lowering"] = {**modes, "layers": {}}
    for _, fn in pipeline(POLICY):
        ir = fn(ir)
    return ir


def _graphs():
    """(name, lowered IR) of the graphs other tests emit simulators of."""
    import torch

    from edgec.frontend.torch_import import import_torch
    from tests import test_golden, test_padsplit, test_se
    from tests.nets import random_fgraph

    out = []
    for case, (seed, net, qcfg, modes) in test_golden.CASES.items():
        rng = np.random.default_rng(seed)
        fg = random_fgraph(rng, **net)
        out.append((case, _lowered(fg, rng.normal(size=(16,) + fg.input.shape), QuantConfig(**qcfg), modes)))
    for mode, one_d in (("chunk", False), ("slice", True)):
        m = test_padsplit._net(mode, one_d)
        shape = test_padsplit.SHAPE_1D if one_d else test_padsplit.SHAPE
        x = test_padsplit._x(shape)
        out.append((f"padsplit-{mode}-{one_d}", _lowered(import_torch(m, shape), x, QuantConfig(wbits=4, abits=4))))
    m = test_se._net(0, torch.nn.Sigmoid())
    out.append(("se", _lowered(import_torch(m, test_se.SHAPE), test_se._x(), QuantConfig(wbits=4, abits=4))))
    rng = np.random.default_rng(7)
    fg = random_fgraph(rng, residual=True, depthwise=False, pool="gap", mlp=False)
    cfg = QuantConfig(wbits=3, abits=6, input_bits=4, layers={"c2": {"abits": 3}})  # the Add shifts one branch
    out.append(("mixed-add", _lowered(fg, rng.normal(size=(48, *fg.input.attrs["shape"])), cfg)))
    rng = np.random.default_rng(8)  # int8 Requant, fused and after the Add, and under Winograd F4
    fg = random_fgraph(rng, residual=True, depthwise=False, pool="max", mlp=False)
    for wino in ("off", "f4"):
        out.append((f"requant-{wino}", _lowered(fg, rng.normal(size=(32, *fg.input.attrs["shape"])),
                                               QuantConfig(wbits=8, abits=8), {"winograd": wino, "sparse": "off"},
                                               requant="on")))
    return out


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """(name, build folder, float inputs) of a few builds the suite makes."""
    from tests import test_convtranspose_e2e as ct
    from tests import test_golden, test_unet
    from tests.signed_steps import build_with_signed_steps
    from edgec.examples import digits

    d = tmp_path_factory.mktemp("fastpath")
    x_digits = digits.test_split()[0][:64]
    out = [("example-w1a1", build(None, d / "w1a1", preset="w1a1", finetune_epochs=0, progress=None).out, x_digits),
           ("golden", test_golden.build_golden(d / "golden").out, x_digits)]
    path = test_unet.unet_qonnx(d / "unet.onnx", **test_unet.NETS["8x8-skip-first"][0])
    out.append(("unet", build(str(path), d / "unet", progress=None).out, None))
    x = ct._x()
    out.append(("convtranspose", build(ct._ae(), d / "ae", input_shape=ct.SHAPE, calib=x, preset="int4",
                                       progress=None).out, x))
    out.append(("signed-steps", build_with_signed_steps(None, d / "steps", preset="int4", finetune_epochs=0).out,
                x_digits))
    return out


def test_fast_path_equals_numpy_path_on_the_suites_networks(builds, tmp_path):
    kinds = set()
    for name, out, x in builds:
        kinds |= _same_on_every_tensor(out / "sim", Graph.load(out / "model"))
        if x is not None:
            _same_outputs(out / "sim", x)
    for name, g in _graphs():
        sim_backend.emit(g, tmp_path / name, name)
        kinds |= _same_on_every_tensor(tmp_path / name, g, seed=len(name))
    assert kinds == {k for k in sim_backend.KINDS.values() if k is not None}, "some step kind was never run"


def test_the_fused_window_is_not_materialised(builds):
    """A window read by one MatMul/XnorPopcount only runs as the conv: without trace or
    debug the torch forward never calls sliding_window."""
    name, out, x = builds[0]
    sim = sim_backend.load(out / "sim")
    kt = sim.torch_kernels()
    calls = []
    orig = kt.sliding_window
    kt.sliding_window = lambda *a, **k: calls.append(1) or orig(*a, **k)
    try:
        sim.run(x[:8], engine="torch")
        assert not calls
        sim.run(x[:8], engine="torch", keep={"conv2d_window": None})
        assert calls
    finally:
        kt.sliding_window = orig


def test_engine_choice_and_the_numpy_only_fallback(builds, monkeypatch):
    """auto is torch where torch imports; without torch, auto is numpy and torch an
    ImportError; an unknown engine a ValueError."""
    name, out, x = builds[0]
    sim = sim_backend.load(out / "sim")
    assert sim.choose_engine() == "torch" and sim.choose_engine("numpy") == "numpy"
    with pytest.raises(ValueError, match="engine must be one of auto, torch, numpy"):
        sim.run(x[:2], engine="onnx")
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    bare = sim_backend.load(out / "sim")
    q, _ = bare.run(x[:4])
    assert bare.ENGINE == "numpy"
    np.testing.assert_array_equal(q, sim.run(x[:4], engine="torch")[0])
    with pytest.raises(ImportError, match="engine 'torch'"):
        bare.run(x[:4], engine="torch")
