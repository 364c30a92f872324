"""Activations folded into thresholds (passes/fold_thresholds.py): for every kind of
ir/act.py, over every accumulator value of the proven range, the MultiThreshold equals
the AffineQuant it replaces (ir/ref.py), and the simulator's kernel equals both."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgec.ir import act as acts
from edgec.ir import ref
from edgec.ir.graph import Graph, Node
from edgec.ir.ops import Op
from edgec.ir.types import Bipolar, IntType
from edgec.passes.fold_thresholds import fold_thresholds
from edgec.sim import kernels

ARGS = {"clip": [0.0, 6.0], "leaky_relu": [0.1], "elu": [1.0], "hardsigmoid_ab": [0.2, 0.5],
        "softplus": [1.0, 20.0]}
VALLEY = ("hardswish", "silu", "gelu", "gelu_tanh", "mish")


def _graph(kind, args, a, c0, bits, signed, scale, in_bits=6, bipolar=False):
    c = len(a)
    t = Bipolar() if bipolar else IntType(bits, signed)
    lo, hi = (-1, 1) if bipolar else (t.lo, t.hi)
    nodes = [Node("x", Op.INPUT, [], (c,), IntType(in_bits, True)),
             Node("q", Op.AFFINE_QUANT, ["x"], (c,), t,
                  {"scale": scale, "lo": lo, "hi": hi, "bipolar": bipolar, "act": kind},
                  {"a": np.asarray(a, np.float64), "c0": np.asarray(c0, np.float64),
                   "act_args": np.tile(np.asarray(args, np.float64).reshape(1, -1), (c, 1))})]
    return Graph(nodes, "q", {})


def _all_inputs(c, in_bits):
    v = np.arange(-(2 ** (in_bits - 1)), 2 ** (in_bits - 1))
    return np.tile(v[:, None], (1, c))


def _check(g, in_bits=6):
    folded = fold_thresholds(g)
    x = _all_inputs(g.nodes[0].shape[0], in_bits)
    want = ref.run(g, x)["q"]
    mt = folded.nodes[1]
    assert mt.op == Op.MULTI_THRESHOLD
    got = ref.run(folded, x)["q"]
    np.testing.assert_array_equal(got, want)
    p = mt.params
    sim = kernels.multi_threshold(x, p["thresholds"], p["sign"], mt.attrs["out_lo"], mt.attrs["bipolar"],
                                  p.get("steps"))
    np.testing.assert_array_equal(sim, want)
    return mt


@pytest.mark.parametrize("kind", acts.KINDS)
def test_every_activation_folds_exactly(kind):
    args = ARGS.get(kind, [])
    a = np.array([0.11, -0.07, 0.031, 0.2])
    c0 = np.array([0.3, -0.5, 0.0, -1.1])
    mt = _check(_graph(kind, args, a, c0, 4, True, 0.25))
    # an activation that falls somewhere needs signed steps; a monotone one never does
    assert ("steps" in mt.params) == (kind in VALLEY)


def test_negative_slopes_give_signed_steps():
    mt = _check(_graph("leaky_relu", [-0.5], [0.1, -0.1], [0.0, 0.2], 3, True, 0.3))
    assert "steps" in mt.params and (mt.params["steps"] < 0).any()


def test_per_channel_slopes_prelu():
    g = _graph("leaky_relu", [0.0], [0.1, 0.1, 0.1], [0.0, 0.0, 0.0], 4, True, 0.2)
    g.nodes[1].params["act_args"] = np.array([[0.25], [-0.3], [1.5]])
    _check(g)


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(acts.KINDS), seed=st.integers(0, 2**31 - 1), bits=st.integers(2, 6),
       signed=st.booleans(), bipolar=st.booleans())
def test_activations_fold_exactly_for_any_affine_map(kind, seed, bits, signed, bipolar):
    rng = np.random.default_rng(seed)
    c = 3
    a = rng.uniform(-0.3, 0.3, c)
    a[np.abs(a) < 1e-3] = 0.01
    c0 = rng.uniform(-2, 2, c)
    args = ARGS.get(kind, [])
    if kind == "leaky_relu":
        args = [float(rng.uniform(-1, 1))]
    _check(_graph(kind, args, a, c0, bits, signed, float(rng.uniform(0.02, 0.5)), bipolar=bipolar))


def test_unknown_or_malformed_activation_is_an_error():
    from edgec.errors import EdgecError

    with pytest.raises(EdgecError, match="unknown activation"):
        acts.check("swish2", np.zeros((1, 0)))
    with pytest.raises(EdgecError, match="takes 2 argument"):
        acts.check("clip", np.zeros((1, 1)))
    with pytest.raises(EdgecError, match="lower bound is above"):
        acts.check("clip", np.array([[1.0, 0.0]]))


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(acts.KINDS), seed=st.integers(0, 2**32 - 1), wbits=st.sampled_from([1, 2, 3, 4, 6]),
       abits=st.integers(1, 6), residual=st.booleans(), depthwise=st.booleans(),
       pool=st.sampled_from(["max", "avg", "gap"]), mlp=st.booleans(), per_channel=st.booleans(),
       winograd=st.sampled_from(["off", "f2", "auto"]))
def test_networks_with_activations_equal_the_fake_quant_reference(kind, seed, wbits, abits, residual, depthwise,
                                                                   pool, mlp, per_channel, winograd):
    """Any network of tests/nets.random_fgraph with its ReLUs replaced by an activation:
    the lowered IR, after every pass, equals the fake-quant reference (qmodel.py) exactly."""
    import torch

    from edgec.backend.sim import input_spec
    from edgec.cost.lowering import POLICY
    from edgec.frontend.lower import lower
    from edgec.frontend.qmodel import FakeQuantModel
    from edgec.frontend.quantize import QuantConfig, quantize
    from edgec.ir.check import check
    from edgec.passes import pipeline
    from edgec.sim.kernels import quantize_input
    from tests.nets import random_fgraph, with_activation

    rng = np.random.default_rng(seed)
    g = with_activation(random_fgraph(rng, residual, depthwise, pool, mlp), kind, rng, per_channel)
    x = rng.normal(size=(24,) + g.input.shape)
    q = quantize(g, x, QuantConfig(wbits=wbits, abits=abits))
    ir = lower(q)
    assert any(n.op == Op.AFFINE_QUANT and n.attrs.get("act") == kind for n in ir.nodes)
    ir.meta["lowering"] = {"winograd": winograd, "sparse": "off", "layers": {}}
    codes = quantize_input(x, input_spec(ir.meta["input_quant"]))
    codes = codes.transpose(0, 2, 3, 1) if codes.ndim == 4 else codes
    with torch.no_grad():
        q_ref, _, _ = FakeQuantModel(q)(x)
    expect = np.rint(q_ref.numpy()).astype(np.int64)
    np.testing.assert_array_equal(ref.run(ir, codes)[ir.output], expect)
    for name, fn in pipeline(POLICY):
        ir = fn(ir)
        vals = ref.run(ir, codes)
        check(ir, vals)
        np.testing.assert_array_equal(vals[ir.output], expect, err_msg=f"pass {name}")
