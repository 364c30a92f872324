"""An Add of branches of different activation bits (issue 17 item 2): PTQ gives the narrower
branch a scale 2^k times the wider's, the Add shifts its codes onto the finer scale, and the
lowered network equals the fake-quant reference on every input; the QONNX importer does the
same for branches whose scales are a power of two apart and names the Add otherwise."""
import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from edgec.cost.lowering import POLICY
from edgec.errors import EdgecError
from edgec.frontend.lower import lower
from edgec.frontend.qmodel import FakeQuantModel
from edgec.frontend.qnet import add_shifts
from edgec.frontend.quantize import QuantConfig, quantize
from edgec.backend.sim import input_spec
from edgec.ir import ref
from edgec.ir.ops import Op
from edgec.passes import pipeline
from edgec.sim.kernels import quantize_input
from tests.nets import random_fgraph


def _lowered(g, x, cfg):
    q = quantize(g, x, cfg)
    ir = lower(q)
    codes = quantize_input(x, input_spec(ir.meta["input_quant"]))
    if codes.ndim == 4:
        codes = codes.transpose(0, 2, 3, 1)
    with torch.no_grad():
        want = np.rint(FakeQuantModel(q)(x)[0].numpy()).astype(np.int64)
    for _, fn in pipeline(POLICY):
        ir = fn(ir)
    got = ref.run(ir, codes)[ir.output]
    return q, ir, got, want


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 8), st.integers(2, 8), st.integers(2, 8))
def test_add_of_branches_of_different_bits_equals_the_reference(seed, a_main, a_branch, a_in):
    rng = np.random.default_rng(seed)
    g = random_fgraph(rng, residual=True, depthwise=False, pool="gap", mlp=False)
    x = rng.normal(size=(48, *g.input.attrs["shape"]))
    cfg = QuantConfig(wbits=3, abits=a_main, input_bits=a_in, layers={"c2": {"abits": a_branch}})
    q, ir, got, want = _lowered(g, x, cfg)
    np.testing.assert_array_equal(got, want)
    s1, s2 = q.quant_of("r1").scale, q.quant_of("r2").scale
    (k1, k2), _ = add_shifts(s1, s2)
    add = next(n for n in ir.nodes if n.op == Op.ADD)
    assert tuple(add.attrs.get("shift", (0, 0))) == (k2, k1)  # add(r2, r1): the narrower one shifted
    assert max(k1, k2) == abs(a_main - a_branch) and min(k1, k2) == 0


def test_add_shifts_only_for_powers_of_two():
    assert add_shifts(0.5, 0.125) == ((2, 0), 0.125)
    assert add_shifts(np.array([0.5, 1.0]), np.array([0.25, 0.5]))[0] == (1, 0)
    assert add_shifts(0.5, 0.3) is None
    assert add_shifts(np.array([0.5, 1.0]), np.array([0.25, 0.25])) is None  # ratios 2 and 4


def test_concat_of_different_bits_is_an_error():
    from edgec.frontend.fgraph import FGraph, FNode, infer_shapes

    rng = np.random.default_rng(0)
    conv = lambda n, i: FNode(n, "conv", [i], {"stride": (1, 1), "pad": (1, 1, 1, 1), "groups": 1},  # noqa: E731
                              {"weight": rng.normal(size=(3, 3, 3, 3)), "bias": np.zeros(3)})
    g = infer_shapes(FGraph([FNode("x", "input", [], {"shape": (3, 4, 4)}), conv("c1", "x"),
                             FNode("r1", "relu", ["c1"]), conv("c2", "r1"), FNode("r2", "relu", ["c2"]),
                             FNode("cat", "concat", ["r1", "r2"]), FNode("flat", "flatten", ["cat"])], "flat"))
    with pytest.raises(EdgecError, match="Concat.*different activation bits"):
        quantize(g, rng.normal(size=(8, 3, 4, 4)), QuantConfig(abits=4, layers={"c2": {"abits": 2}}))


def _brevitas_residual(bits_a: int, bits_b: int, fixed_point: bool):
    """Two quantized branches of ``bits_a`` and ``bits_b`` bits meeting in an Add: with
    power-of-two (fixed-point) activation scales, or with float ones."""
    import brevitas.nn as qnn
    from brevitas.quant import (Int8WeightPerTensorFloat, Uint8ActPerTensorFixedPoint, Uint8ActPerTensorFloat,
                                Int8ActPerTensorFixedPoint)
    from torch import nn

    act = Uint8ActPerTensorFixedPoint if fixed_point else Uint8ActPerTensorFloat
    w = dict(weight_quant=Int8WeightPerTensorFloat, weight_bit_width=4)
    torch.manual_seed(bits_a * 10 + bits_b)

    class Res(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, return_quant_tensor=True)
            self.c1 = qnn.QuantConv2d(2, 6, 3, padding=1, **w)
            # float outputs: Brevitas adds QuantTensors of one scale only; the export is Quant -> Add
            self.r1 = qnn.QuantReLU(act_quant=act, bit_width=bits_a, return_quant_tensor=False)
            self.c2 = qnn.QuantConv2d(6, 6, 3, padding=1, **w)
            self.r2 = qnn.QuantReLU(act_quant=act, bit_width=bits_b, return_quant_tensor=False)
            self.r3 = qnn.QuantReLU(act_quant=act, bit_width=4, return_quant_tensor=True)
            self.fc = qnn.QuantLinear(6 * 6 * 6, 5, bias=True, **w)

        def forward(self, x):
            a = self.r1(self.c1(self.inp(x)))
            y = self.r3(a + self.r2(self.c2(a)))
            return self.fc(torch.flatten(y, 1))

    return Res().eval()


def test_qonnx_add_of_branches_of_different_bits_matches_qonnx(tmp_path):
    from edgec import build, csim
    from edgec.backend import sim as sim_backend
    from edgec.cosim.run import run as cosim
    from edgec.ir.graph import Graph
    from edgec.verify import check_qonnx, inputs_in_range

    from . import qonnx_nets as Q

    path = Q.export(_brevitas_residual(3, 7, True), (2, 6, 6), tmp_path / "res.onnx")
    build(str(path), tmp_path / "out", progress=None)
    g = Graph.load(tmp_path / "out" / "model")
    add = next(n for n in g.nodes if n.op == Op.ADD)
    assert any(add.attrs["shift"])
    sim = sim_backend.load(tmp_path / "out" / "sim")
    x = inputs_in_range(sim, 300, seed=3)
    c = check_qonnx(path, g, sim, x)
    assert c["mismatches"] == 0 and c["ties"] <= 3 and c["tensors"] >= 4, c
    # the shifted add in the hardware: the C simulation and the RTL (Verilator, idle and backpressure)
    stages = json.loads((tmp_path / "out" / "rtl" / "instances.json").read_text())["stages"]
    assert any(s["module"] == "edgec_add" and (s["params"].get("SA") or s["params"].get("SB")) for s in stages)
    r = csim.run(tmp_path / "out", x[:32], 32)
    assert r["mismatches"] == 0 and r["vectors"] == 32, r
    v = cosim(tmp_path / "out", "verilator", x[:6], 6, idle=0.3, backpressure=0.3)
    assert v["ok"] and v["mismatches"] == 0, v


def test_qonnx_add_of_unrelated_scales_names_the_add(tmp_path):
    from edgec import build

    from . import qonnx_nets as Q

    path = Q.export(_brevitas_residual(3, 7, False), (2, 6, 6), tmp_path / "res.onnx")
    with pytest.raises(EdgecError, match="Add.*neither equal nor a power of two apart"):
        build(str(path), tmp_path / "out", progress=None)
    assert not (tmp_path / "out").exists()
