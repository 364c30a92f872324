"""Constant Pad and split/chunk/slice along channels (issue 17 item 2) from PyTorch and
ONNX: the imported float graph computes what PyTorch computes, the generated simulator
equals the fake-quant reference on every input (hypothesis over shapes, bits and signs),
at int8 it agrees with the float model, and what cannot be read is an error naming the node."""
import copy
import warnings

import numpy as np
import onnx
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper
from torch import nn

from edgec.backend import sim as sim_backend
from edgec.cost.lowering import POLICY
from edgec.errors import EdgecError
from edgec.frontend.lower import lower
from edgec.frontend.normalize import normalized
from edgec.frontend.onnx_import import import_onnx, load_onnx
from edgec.frontend.qmodel import FakeQuantModel, float_forward
from edgec.frontend.quantize import QuantConfig, quantize
from edgec.frontend.torch_import import import_torch
from edgec.ir import check
from edgec.ir.ops import Op
from edgec.passes import pipeline


class PadSplitNet(nn.Module):
    """conv -> split into two channel groups (chunk, or split sizes, or a slice) -> each a conv;
    one branch padded asymmetrically (a Pad stage before a max pool), the other through an
    F.pad folded into its conv; concat; flatten; linear. ``c`` channels, ``cut`` the first group's."""

    def __init__(self, c=6, cut=3, mode="chunk", one_d=False):
        super().__init__()
        conv = nn.Conv1d if one_d else nn.Conv2d
        self.one_d, self.mode, self.cut = one_d, mode, cut
        self.c1 = conv(1, c, 3, padding=1)
        self.a = conv(cut, 4, 1)
        self.b = conv(c - cut, 4, 3)
        self.fc = nn.Linear(8 * (4 if one_d else 16), 5)

    def forward(self, x):
        f = nn.functional
        y = f.relu(self.c1(x))
        if self.mode == "chunk":
            p, q = torch.chunk(y, 2, dim=1)
        elif self.mode == "split":
            p, q = torch.split(y, [self.cut, y.shape[1] - self.cut], dim=1)
        else:
            p, q = y[:, : self.cut], y[:, self.cut:]
        pads = (1, 0) if self.one_d else (1, 0, 0, 1)  # asymmetric
        pool = f.max_pool1d if self.one_d else f.max_pool2d
        p = pool(f.pad(self.a(p), pads), 2)  # signed codes: the zero pad is a Pad stage
        q = pool(f.relu(self.b(f.pad(q, (1, 1) if self.one_d else (1, 1, 1, 1)))), 2)
        return self.fc(torch.cat([p, q], dim=1).flatten(1))


SHAPE, SHAPE_1D = (1, 8, 8), (1, 8)


def _net(mode="chunk", one_d=False, seed=0):
    torch.manual_seed(seed)
    return PadSplitNet(6, 3, mode, one_d).eval()


def _onnx(m, path, shape, opset):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(copy.deepcopy(m).double().eval(), (torch.zeros(1, *shape, dtype=torch.float64),),
                          str(path), dynamo=False, opset_version=opset)
    return path


def _import_onnx(path):
    return import_onnx(path, normalized(load_onnx(path)))


def _x(shape, n=64, seed=0):
    return np.random.default_rng(seed).normal(size=(n, *shape)) * 1.5


def _sim_equals_reference(g, x, wbits, abits, sim_dir, signed=False):
    """The generated simulator of the lowered, passed graph equals the fake-quant reference."""
    q = quantize(g, x, QuantConfig(wbits=wbits, abits=abits, input_bits=8 if signed else None)
                 if signed else QuantConfig(wbits=wbits, abits=abits))
    ir = lower(q)
    for _, fn in pipeline(POLICY):
        ir = fn(ir)
    check.check(ir)
    with torch.no_grad():
        want = np.rint(FakeQuantModel(q)(x)[0].numpy()).astype(np.int64)
    sim_backend.emit(ir, sim_dir, "padsplit")
    got, _ = sim_backend.load(sim_dir).run(x, debug=True)
    np.testing.assert_array_equal(got, want)
    return q, ir


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    """The float graphs of every variant, from PyTorch and ONNX (one export each)."""
    d = tmp_path_factory.mktemp("padsplit")
    out = {}
    for mode, one_d, opset in (("chunk", False, 13), ("split", False, 11), ("slice", False, 18),
                               ("split", True, 18), ("slice", True, 9)):
        m = _net(mode, one_d)
        shape = SHAPE_1D if one_d else SHAPE
        out[(mode, one_d, "torch")] = (m, shape, import_torch(m, shape))
        out[(mode, one_d, "onnx")] = (m, shape, _import_onnx(_onnx(m, d / f"{mode}{one_d}.onnx", shape, opset)))
    return out


@pytest.mark.parametrize("key", [(m, o, s) for m, o in (("chunk", False), ("split", False), ("slice", False),
                                                         ("split", True), ("slice", True)) for s in ("torch", "onnx")])
def test_float_graph_and_ir(graphs, key):
    m, shape, g = graphs[key]
    ops = [n.op for n in g.nodes]
    assert ops.count("slice") == 2 and ops.count("pad") == 1, ops  # the pad before the conv is folded
    conv_b = next(n for n in g.nodes if n.op == "conv" and n.params["weight"].shape[1] == 3
                  and n.params["weight"].shape[-1] == 3 and n.inputs[0] != g.input.name)
    assert tuple(conv_b.attrs["pad"]) == ((0, 1, 0, 1) if key[1] else (1, 1, 1, 1))
    x = _x(shape)
    with torch.no_grad():
        want = m.double()(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(float_forward(g, x), want, rtol=1e-9, atol=1e-9)
    ir = lower(quantize(g, x, QuantConfig(wbits=4, abits=4)))
    pad = next(n for n in ir.nodes if n.op == Op.PAD)
    assert tuple(pad.attrs["pad"]) == ((0, 1, 0, 0) if key[1] else (0, 1, 1, 0)) and pad.attrs["value"] == 0
    assert sorted((n.attrs["lo"], n.attrs["hi"]) for n in ir.nodes if n.op == Op.SLICE) == [(0, 3), (3, 6)]


@settings(max_examples=12, deadline=None)
@given(key=st.sampled_from([("chunk", False, "torch"), ("split", False, "onnx"), ("slice", False, "onnx"),
                            ("split", True, "torch"), ("slice", True, "onnx"), ("slice", False, "torch")]),
       wbits=st.sampled_from([2, 3, 4, 8]), abits=st.integers(2, 6), seed=st.integers(0, 2**16),
       scale=st.sampled_from([0.3, 1.5, 4.0]))
def test_simulator_equals_the_reference(graphs, tmp_path_factory, key, wbits, abits, seed, scale):
    _, shape, g = graphs[key]
    x = np.random.default_rng(seed).normal(size=(48, *shape)) * scale
    _sim_equals_reference(g, x, wbits, abits, tmp_path_factory.mktemp("sim"))


def test_int8_agrees_with_the_float_model(graphs, tmp_path):
    m, shape, g = graphs[("chunk", False, "torch")]
    x = _x(shape, 400, 1)
    q, _ = _sim_equals_reference(g, x, 8, 8, tmp_path)
    with torch.no_grad():
        _, y, _ = FakeQuantModel(q)(x)
    y, f = y.numpy(), float_forward(g, x)
    assert (y.argmax(1) == f.argmax(1)).mean() >= 0.97
    assert np.linalg.norm(y - f) / np.linalg.norm(f) <= 0.05


class ConstPad(nn.Module):
    """relu(conv) -> constant pad -> max pool (``then`` "pool") or a 3x3 conv without padding ("conv")."""

    def __init__(self, value, mode="constant", then="pool"):
        super().__init__()
        self.c, self.value, self.mode, self.then = nn.Conv2d(1, 2, 3), value, mode, then
        self.d = nn.Conv2d(2, 3, 3)

    def forward(self, x):
        y = nn.functional.relu(self.c(x))
        y = nn.functional.pad(y, (1, 0, 2, 1), mode=self.mode, **({"value": self.value} if self.mode == "constant"
                                                                   else {}))
        return (nn.functional.max_pool2d(y, 2) if self.then == "pool" else self.d(y)).flatten(1)


def test_a_pad_constant_is_quantized_exactly(tmp_path):
    """A constant the input's quantizer holds exactly becomes its code; any other is an error
    naming the node."""
    m = ConstPad(0.0)
    g = import_torch(m, SHAPE)
    x = _x(SHAPE)
    q = quantize(g, x, QuantConfig(wbits=4, abits=4))
    s = q.quant_of(next(n.name for n in g.nodes if n.op == "pad")).scale
    m.value = 3 * s
    g = import_torch(m, SHAPE)
    q = quantize(g, x, QuantConfig(wbits=4, abits=4))
    assert q.quant_of(next(n.name for n in g.nodes if n.op == "pad")).scale == s
    ir = lower(q)
    assert next(n for n in ir.nodes if n.op == Op.PAD).attrs["value"] == 3  # not the pool's padding code
    _sim_equals_reference(g, x, 4, 4, tmp_path / "pad3")
    m.then = "conv"  # folded into the window: pad_value 3
    g = import_torch(m, SHAPE)
    _, ir = _sim_equals_reference(g, x, 4, 4, tmp_path / "conv3")
    assert not any(n.op == Op.PAD for n in ir.nodes)
    win = next(n for n in ir.nodes if n.op == Op.SLIDING_WINDOW and n.attrs["pad_value"] == 3)
    assert tuple(win.attrs["pad"]) == (2, 1, 1, 0)
    m.value, m.then = 0.0, "pool"  # a zero pad of unsigned codes folds into the max pool's padding
    g = import_torch(m, SHAPE)
    _, ir = _sim_equals_reference(g, x, 4, 4, tmp_path / "pool0")
    assert not any(n.op == Op.PAD for n in ir.nodes)
    assert tuple(next(n for n in ir.nodes if n.op == Op.MAX_POOL).attrs["pad"]) == (2, 1, 1, 0)
    m.value = 0.37 * s
    g = import_torch(m, SHAPE)
    with pytest.raises(EdgecError, match=r"node 'pad' .*pads with .*cannot hold exactly"):
        lower(quantize(g, x, QuantConfig(wbits=4, abits=4)))


def test_non_constant_pad_modes_are_errors_naming_the_node(tmp_path):
    with pytest.raises(EdgecError, match=r"node 'pad' .*padding mode 'reflect' is not supported; only constant"):
        import_torch(ConstPad(0.0, "reflect"), SHAPE)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 6, 6])
    pads = helper.make_tensor("pads", TensorProto.INT64, [8], [0, 0, 1, 1, 0, 0, 1, 1])
    node = helper.make_node("Pad", ["x", "pads"], ["y"], name="edge_pad", mode="edge")
    model = helper.make_model(helper.make_graph([node], "g", [x], [y], [pads]),
                              opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path / "edge.onnx"
    onnx.save(model, str(path))
    with pytest.raises(EdgecError, match=r"node 'edge_pad' \(Pad\): mode 'edge' is not supported; only constant"):
        _import_onnx(path)


def test_splits_along_other_axes_are_errors(tmp_path):
    class W(nn.Module):
        def forward(self, x):
            a, b = torch.chunk(x, 2, dim=2)
            return torch.cat([a, a], dim=1)

    with pytest.raises(EdgecError, match=r"node 'chunk' .*only a split along channels"):
        import_torch(W(), (2, 4, 4))


# --- the hardware: slice and pad stages (dataflow.StageKind.SLICE / PAD) built, C-simulated and co-simulated

BUILDS = [("chunk", False, "torch"), ("split", True, "onnx"), ("slice", False, "onnx"), ("slice", True, "torch")]
# the first build's folding: both slices of the 6 channels and the pad of 4 several channels a word
FOLD = {"conv2d": {"pe": 6}, "chunk_0": {"pe": 3}, "chunk_1": {"pe": 3}, "pad": {"pe": 2}}


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """One int4 build of each of four variants (2-D and 1-D, PyTorch and ONNX): its folder
    and a few float inputs."""
    from edgec import build

    d = tmp_path_factory.mktemp("padsplit_build")
    out = {}
    for mode, one_d, src in BUILDS:
        m, shape = _net(mode, one_d), SHAPE_1D if one_d else SHAPE
        x = _x(shape, 64, 3).astype(np.float32)
        np.save(d / f"x{mode}{one_d}.npy", x)
        model = str(_onnx(m, d / f"{mode}{one_d}.onnx", shape, 13)) if src == "onnx" else m
        o = d / f"{mode}{one_d}{src}"
        fold = FOLD if (mode, one_d, src) == BUILDS[0] else "auto"
        build(model, o, preset="int4", calib=str(d / f"x{mode}{one_d}.npy"), input_shape=shape, folding=fold,
              progress=None)
        out[(mode, one_d, src)] = (o, x)
    return out


@pytest.mark.parametrize("key", BUILDS)
def test_build_has_slice_and_pad_stages(builds, key):
    """Two slices of one tensor (read through a fork) and the pad that does not fold."""
    import json

    out, _ = builds[key]
    rep = json.loads((out / "report.json").read_text())
    assert rep["sim_vs_reference"]["mismatches"] == 0
    kinds = [s["kind"] for s in rep["hardware"]["stages"]]
    assert kinds.count("slice") == 2 and kinds.count("pad") == 1 and "dup" in kinds, kinds
    if key == BUILDS[0]:
        pes = {s["stage"]: s["pe"] for s in rep["hardware"]["stages"] if s["kind"] in ("slice", "pad")}
        assert pes == {"chunk_0": 3, "chunk_1": 3, "pad": 2}, pes


@pytest.mark.parametrize("key", BUILDS[:2])
def test_csim_bit_exact(builds, key):
    from edgec import csim

    out, x = builds[key]
    c = csim.run(out, x[:16], 16)
    assert c["mismatches"] == 0 and c["vectors"] == 16 and not c["warnings"], c


def test_cosim_bit_exact_under_backpressure(builds):
    from edgec.cosim.run import run as cosim

    out, x = builds[("chunk", False, "torch")]
    v = cosim(out, "verilator", x[:4], 4, idle=0.3, backpressure=0.3)
    assert v["ok"] and v["mismatches"] == 0, v


PAD_TB = """`timescale 1ns / 1ps
module tb;
    reg clk = 0, rst_n = 0;
    always #5 clk = ~clk;
    reg [15:0] sd = 0;
    reg sv = 0;
    wire sr, ml, mv;
    wire [31:0] md;
    edgec_pad #(.H(%(H)d), .W(%(W)d), .C(%(C)d), .PT(%(PT)d), .PL(%(PL)d), .PB(%(PB)d), .PR(%(PR)d), .PE(%(PE)d),
                .IB(4), .OB(4), .VALUE(0)) u (.clk(clk), .rst_n(rst_n), .s_tdata(sd[%(PE)d*4-1:0]), .s_tlast(1'b0),
                .s_tvalid(sv), .s_tready(sr), .m_tdata(md[%(PE)d*4-1:0]), .m_tlast(ml), .m_tvalid(mv), .m_tready(1'b1));
    integer cyc = 0, taken = 0;
    always @(posedge clk) begin
        cyc <= cyc + 1;
        if (cyc == 2) rst_n <= 1;
        if (cyc == 2 + %(D)d) sv <= 1;  // the first input word is offered D cycles after reset
        if (rst_n && u.fire) $display("fire %%0d %%0d %%0d %%0d", cyc, taken, sv, u.body);
        if (mv && ml) $display("last %%0d", cyc);
        if (sv && sr) taken = taken + 1;
        if (cyc > 2000) $finish;
    end
endmodule
"""


@pytest.mark.parametrize("h,w,c,pe,pad", [(3, 4, 4, 2, (1, 2, 1, 1)), (2, 3, 3, 1, (0, 1, 2, 0)),
                                          (4, 2, 2, 2, (2, 0, 0, 1))])
def test_pad_rtl_cycles_and_first_word_wait(tmp_path, h, w, c, pe, pad):
    """hw/rtl/edgec_pad.v under Icarus, its input offered from 7 cycles after reset and its
    output always taken: a frame every stage_cycles cycles (the wait for a frame's first
    word costs none while the input keeps up), no word before the first input word is
    offered, and each word written only once what pad_need says it needs was offered."""
    import shutil
    import subprocess

    from edgec.dataflow import PadP, StageKind, pad_need, stage_cycles
    from edgec.ir.types import IntType
    from edgec.resources import path as resource

    assert shutil.which("iverilog"), "iverilog is required (apt-get install iverilog)"
    delay, cf = 7, c // pe
    (tmp_path / "tb.v").write_text(PAD_TB % dict(H=h, W=w, C=c, PE=pe, PT=pad[0], PL=pad[1], PB=pad[2], PR=pad[3],
                                                 D=delay))
    subprocess.run(["iverilog", "-g2005", "-o", str(tmp_path / "tb"), str(tmp_path / "tb.v"),
                    str(resource("hw") / "rtl" / "edgec_pad.v")], check=True)
    lines = subprocess.run(["vvp", str(tmp_path / "tb")], capture_output=True, text=True, check=True).stdout.split()
    it = iter(lines)
    fires, lasts = [], []
    for tok in it:
        if tok == "fire":
            fires.append(tuple(int(next(it)) for _ in range(4)))
        elif tok == "last":
            lasts.append(int(next(it)))
    p = PadP(h, w, c, pad, 0, pe, IntType(4, False), IntType(4, False))
    words = (h + pad[0] + pad[2]) * (w + pad[1] + pad[3]) * cf
    assert stage_cycles(StageKind.PAD, p) == words
    assert len(lasts) >= 3 and all(b - a == words for a, b in zip(lasts[1:], lasts[2:])), (lasts, words)
    assert fires[0][0] >= 2 + delay  # nothing leaves before the first input word is offered
    need = np.rint(pad_need(p, (np.arange(words) + 1) / words)[0] * h * w * cf).astype(int)
    for k, (_, taken, offered, body) in enumerate(fires[:words]):
        waits = taken + (1 if body or k == 0 else 0)  # what the RTL waits for: a frame's first word, border or not
        assert waits <= need[k] <= taken + offered, (k, need[k], taken, offered, body)


# --- QONNX: a Brevitas export with Split, Slice and Pad between the quantizers

def _brevitas_padsplit():
    import brevitas.nn as qnn
    from brevitas.quant import Int8WeightPerTensorFloat, Uint8ActPerTensorFloat

    w = dict(weight_quant=Int8WeightPerTensorFloat, weight_bit_width=4)
    a = dict(act_quant=Uint8ActPerTensorFloat, bit_width=4)
    torch.manual_seed(5)

    class QPadSplit(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(return_quant_tensor=True)
            self.c1, self.r1 = qnn.QuantConv2d(1, 6, 3, padding=1, **w), qnn.QuantReLU(**a)
            self.ca, self.ra = qnn.QuantConv2d(2, 4, 1, **w), qnn.QuantReLU(**a)
            self.cb, self.rb = qnn.QuantConv2d(4, 4, 3, **w), qnn.QuantReLU(**a)
            self.q = qnn.QuantIdentity(bit_width=4, return_quant_tensor=True)
            self.fc = qnn.QuantLinear(8 * 4 * 4, 5, bias=True, **w)

        def forward(self, x):
            f = nn.functional
            y = self.r1(self.c1(self.inp(x)))
            p, q = torch.split(y, [2, 4], dim=1)  # Split
            p = self.ra(self.ca(f.max_pool2d(f.pad(p, (1, 0, 0, 1)), 2, stride=1)))  # a Pad before a max pool
            q = self.rb(self.cb(f.pad(q, (1, 1, 1, 1))))  # (the exporter folds this Pad into the Conv)
            z = torch.cat([p[:, 1:], q, p[:, :1]], dim=1)  # Slices of one tensor
            return self.fc(torch.flatten(self.q(f.max_pool2d(z, 2)), 1))

    return QPadSplit().eval()


def test_qonnx_split_slice_pad_match_qonnx(tmp_path):
    from edgec import build
    from edgec.ir.graph import Graph
    from edgec.verify import check_qonnx, inputs_in_range

    from . import qonnx_nets as Q

    m = _brevitas_padsplit()
    Q.calibrate(m, np.random.default_rng(0).uniform(-1, 1, size=(64, *SHAPE)).astype(np.float32))
    path = Q.export(m, SHAPE, tmp_path / "padsplit.onnx")
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert {"Split", "Slice", "Pad"} <= set(ops), ops
    build(str(path), tmp_path / "out", progress=None)
    g = Graph.load(tmp_path / "out" / "model")
    assert [n.op for n in g.nodes].count(Op.SLICE) == 4 and [n.op for n in g.nodes].count(Op.PAD) == 1
    sim = sim_backend.load(tmp_path / "out" / "sim")
    c = check_qonnx(path, g, sim, inputs_in_range(sim, 200, seed=3))
    assert c["mismatches"] == 0 and c["ties"] <= 3, c
