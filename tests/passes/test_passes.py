"""Every pass leaves the IR's integer semantics unchanged (ir/ref.py on the graph
output), and the checker accepts every intermediate graph with its values; the
lowered IR equals the fake-quant reference exactly."""
import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from edgec.backend.sim import input_spec
from edgec.compiler import mark_requant
from edgec.frontend.lower import lower
from edgec.frontend.qmodel import FakeQuantModel
from edgec.frontend.quantize import QuantConfig, quantize
from edgec.ir import ref
from edgec.ir.check import check
from edgec.ir.ops import Op
from edgec.cost.lowering import POLICY
from edgec.passes import pipeline
from edgec.sim.kernels import quantize_input
from tests.nets import random_fgraph


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), wbits=st.sampled_from([0, 1, 2, 3, 4, 6, 8]), abits=st.integers(1, 8),
       residual=st.booleans(), depthwise=st.booleans(), pool=st.sampled_from(["max", "avg", "gap"]),
       mlp=st.booleans(), calibrator=st.sampled_from(["minmax", "percentile"]),
       winograd=st.sampled_from(["off", "f2", "f4", "auto"]), sparse=st.sampled_from(["off", "on", "auto"]),
       prune=st.sampled_from([0.0, 0.5, 0.9]), requant=st.sampled_from(["off", "auto", "on"]))
def test_passes_preserve_semantics(seed, wbits, abits, residual, depthwise, pool, mlp, calibrator, winograd, sparse,
                                   prune, requant):
    """Also with Winograd F2/F4 (padded, partial edge tiles, strides that keep a layer
    direct), pruning, sparse streams and integer requantizers."""
    rng = np.random.default_rng(seed)
    g = random_fgraph(rng, residual, depthwise, pool, mlp)
    x = rng.normal(size=(24,) + g.input.shape)
    q = quantize(g, x, QuantConfig(wbits=wbits, abits=abits, calibrator=calibrator, prune=prune))
    mark_requant(q, requant)
    ir = lower(q)
    ir.meta["lowering"] = {"winograd": winograd, "sparse": sparse, "layers": {}}
    codes = quantize_input(x, input_spec(ir.meta["input_quant"]))
    codes = codes.transpose(0, 2, 3, 1) if codes.ndim == 4 else codes
    vals = ref.run(ir, codes)
    check(ir, vals)
    with torch.no_grad():
        q_ref, _, _ = FakeQuantModel(q)(x)
    expect = vals[ir.output]
    np.testing.assert_array_equal(expect, np.rint(q_ref.numpy()).astype(np.int64))
    for name, fn in pipeline(POLICY):
        before = ir
        ir = fn(ir)
        assert ir is not before
        vals = ref.run(ir, codes)
        check(ir, vals)
        np.testing.assert_array_equal(vals[ir.output], expect, err_msg=f"pass {name}")
    assert not any(n.op == Op.AFFINE_QUANT for n in ir.nodes)
    assert all((n.params["sign"] == 1).all() for n in ir.nodes
               if n.op == Op.MULTI_THRESHOLD and ir.node(n.inputs[0]).op in (Op.MATMUL, Op.XNOR_POPCOUNT))


def _lowered_w1a1(seed, **net):
    rng = np.random.default_rng(seed)
    g = random_fgraph(rng, **net)
    return lower(quantize(g, rng.normal(size=(8,) + g.input.shape), QuantConfig(wbits=1, abits=1)))


def test_passes_do_not_mutate_their_input():
    ir = _lowered_w1a1(1, residual=True, depthwise=True, pool="max", mlp=False)
    for _, fn in pipeline(POLICY):
        snap = ir.copy()
        out = fn(ir)
        for a, b in zip(ir.nodes, snap.nodes):
            assert a.op == b.op and a.attrs == b.attrs and a.type == b.type
            for k in a.params:
                np.testing.assert_array_equal(a.params[k], b.params[k])
        ir = out


def test_xnor_popcount_pass_fires_on_w1a1_linear_layers():
    ir = _lowered_w1a1(3, residual=False, depthwise=False, pool="max", mlp=True)
    for _, fn in pipeline(POLICY):
        ir = fn(ir)
    kinds = [n.attrs.get("kernel_kind") for n in ir.nodes if n.op in (Op.MATMUL, Op.XNOR_POPCOUNT)]
    # fc1 sees 8-bit inputs (add/sub), fc2 is bipolar x bipolar, fc3 feeds the output
    assert kinds == ["binary-addsub", "xnor-popcount", "binary-addsub"]
