"""The hardware of the IR's Requant on hand-built graphs: after a dense matrix unit it is
the mvau's activation (dataflow.RqAct; edgec::Requant<> in HLS, edgec_mvau RQ = 1 in RTL),
after an add or a sparse unit a stand-alone activation stage (edgec_requant); the cost model
counts its DSP48E1 (one a lane, two beyond a 25-bit input), and both backends render it."""
import numpy as np

from edgec import dataflow as D
from edgec.backend import hls, rtl
from edgec.cost import hw
from edgec.ir import ref
from edgec.ir.check import check
from edgec.ir.graph import Graph, Node
from edgec.ir.ops import Op
from edgec.ir.requant import params
from edgec.ir.types import IntType, int_type_for


def _rq(name, src, lo_hi, c, rng, acc_bits):
    p = params(2.0 ** -(acc_bits - 8) * rng.uniform(0.3, 3.0, size=c), rng.uniform(-50, 50, size=c), 1.0, *lo_hi)
    return Node(name, Op.REQUANT, [src], (c,), int_type_for(*lo_hi), {"lo": p["lo"], "hi": p["hi"]},
                {k: p[k] for k in ("mult", "bias", "shift")})


def graph(sparse=False, wide=False):
    rng = np.random.default_rng(3)
    w = rng.integers(-127, 128, size=(8, 16))
    if sparse:
        w[rng.random(w.shape) < 0.7] = 0
    xt = IntType(8, True)
    bound = int(np.abs(w).sum(axis=1).max()) * 128
    acc = int_type_for(-bound, bound)
    mm = Node("mm", Op.MATMUL, ["x"], (8,), acc, {"kernel_kind": "dsp-mac", **({"sparse": True} if sparse else {})},
              {"weight": w})
    rq = _rq("rq", "mm", (0, 255), 8, rng, acc.bits)
    add = Node("add", Op.ADD, ["rq", "rq"], (8,), IntType(10, False) if not wide else IntType(30, False),
               {"shift": (0, 0) if not wide else (20, 0)})
    rq2 = _rq("rq2", "add", (-8, 7), 8, rng, add.type.bits)
    return Graph([Node("x", Op.INPUT, [], (16,), xt), mm, rq, add, rq2], "rq2", {})


def test_requant_fuses_into_a_dense_mvau_and_stands_alone_after_an_add(tmp_path):
    g = graph()
    check(g)
    plan = D.plan(g)
    kinds = [s.kind for s in plan.stages]
    assert D.StageKind.MVAU in kinds and kinds.count(D.StageKind.THRESHOLD) == 1
    mv = next(s for s in plan.stages if s.kind == D.StageKind.MVAU)
    th = next(s for s in plan.stages if s.kind == D.StageKind.THRESHOLD)
    assert isinstance(mv.p.act, D.RqAct) and isinstance(th.p.act, D.RqAct)
    assert mv.outs[0].type == g.node("rq").type and th.outs[0].type == g.node("rq2").type
    assert mv.p.act.smin == int(g.node("rq").params["shift"].min())
    x = np.random.default_rng(0).integers(-128, 128, size=(5, 16))
    v = ref.run(g, x)
    assert len(np.unique(v["rq"])) > 3  # the codes vary
    # the cost model: the dsp-mac lane, and one DSP48E1 per requant lane
    est = {s.name: r for s, r in hw.estimate(plan, type("B", (), {"capacity": {}, "clock_mhz": 100})()).stages}
    assert est[mv.name].DSP == 1 + 1 and est[th.name].DSP == 1
    # HLS: the Requant<> activation in the mvau call and the stand-alone stage, its tables partitioned by lane
    ctx = hls.context(plan, type("B", (), {"part": "x", "clock_mhz": 100.0})(), 1)
    hm = next(h for h in ctx.stages if h.kind == "mvau")
    assert hm.act.form == "requant" and (f"act_{hm.id}.m", 1) in hm.partition
    from edgec.backend.render import render
    render("hls/weights.h.j2", tmp_path / "weights.h", ctx=ctx)
    render("hls/top.cpp.j2", tmp_path / "top.cpp", ctx=ctx)
    text = (tmp_path / "weights.h").read_text() + (tmp_path / "top.cpp").read_text()
    assert text.count("edgec::Requant<") >= 4  # two activations, each declared and named in its call
    # RTL: edgec_mvau with RQ = 1, an edgec_requant, their images
    rtl.emit(plan, tmp_path / "rtl")
    top = (tmp_path / "rtl" / "edgec_top.v").read_text()
    assert ".RQ(1)" in top and "edgec_requant #(" in top
    mems = {p.name for p in (tmp_path / "rtl" / "mem").iterdir()}
    assert {f"{k}_{mv.id}.mem" for k in "mbs"} <= mems and {f"{k}_{th.id}.mem" for k in "mbs"} <= mems
    lines = (tmp_path / "rtl" / "mem" / f"m_{mv.id}.mem").read_text().split()
    assert len(lines) == 8  # PE 1: a word per channel


def test_requant_after_a_sparse_unit_stands_alone():
    plan = D.plan(graph(sparse=True))
    sm = next(s for s in plan.stages if s.kind == D.StageKind.SMVAU)
    assert sm.p.act is None
    assert sum(isinstance(getattr(s.p, "act", None), D.RqAct) for s in plan.stages) == 2


def test_a_wide_input_takes_two_dsps_a_lane():
    g = graph(wide=True)
    plan = D.plan(g, {**D.min_folding(g), "rq2": {"pe": 4, "simd": 1}})
    th = next(s for s in plan.stages if s.kind == D.StageKind.THRESHOLD)
    assert th.p.act.xw > 25 and hw.stage_resources(th).DSP == 8
