"""A lowering with thresholds of signed steps on every quantizer, for the tests that hold
the C simulation, the RTL and the HLS pragmas of signed-step thresholds on several stage
kinds at once."""
import numpy as np

from edgec import build


def with_signed_steps(g):
    """The lowered IR with SiLU (ir/act.py) before every unsigned quantizer, its zero point
    a quarter up the code range, so that the codes fall below it and rise again: the fold
    gives thresholds with signed steps (MultiThreshold ``steps``). The quantizer after a
    residual add (whose input is never negative) gets its offset moved down by 4, so that
    its SiLU sees the valley too."""
    from edgec.ir.ops import Op

    op = {n.name: n.op for n in g.nodes}
    for n in g.nodes:
        if n.op == Op.AFFINE_QUANT and not n.attrs["bipolar"] and n.attrs["lo"] == 0:
            n.attrs.update(act="silu", zero_point=float((n.attrs["hi"] + 1) // 4))
            n.params["act_args"] = np.zeros((len(n.params["a"]), 0))
            if op[n.inputs[0]] == Op.ADD:
                n.params["c0"] = n.params["c0"] - 4.0
    return g


def build_with_signed_steps(model, out, **kw):
    """``build`` with the lowering of with_signed_steps (signed steps on every layer, where
    the frontend makes them only for non-monotone activations): the simulator, the HLS and
    the RTL are generated from that IR."""
    from unittest import mock

    from edgec import compiler

    lower = compiler.lower
    with mock.patch.object(compiler, "lower", lambda qnet: with_signed_steps(lower(qnet))):
        return build(model, out, progress=None, **kw)
