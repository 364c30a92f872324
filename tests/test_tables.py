"""One definition per stage kind: the cycles and the read schedule (dataflow.py), the cost model, the
shared render context, the HLS and the RTL backend each keep one table keyed by
dataflow.StageKind, every table covers the
whole enum, and a stage of a kind a table does not know fails loudly with an EdgecError
that names it (instead of costing nothing or rendering nothing)."""
import dataclasses

import pytest

from edgec import EdgecError, build
from edgec.backend import hls, rtl, stages
from edgec.cost import hw
from edgec import dataflow
from edgec.dataflow import StageKind, plan
from edgec.ir.graph import Graph

TABLES = {"dataflow.py CYCLES": dataflow.CYCLES, "dataflow.py NEED": dataflow.NEED,
          "cost/hw.py RESOURCES": hw.RESOURCES, "backend/stages.py PARAMS": stages.PARAMS,
          "backend/hls.py HLS": hls.HLS, "backend/rtl.py RTL": rtl.RTL}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_table_covers_the_enum(name):
    assert set(TABLES[name]) == set(StageKind), name


@pytest.fixture(scope="module")
def a_graph(tmp_path_factory):
    """The built-in example's final IR (w1a1: xnor, thresholds, pooling, a linear layer)."""
    out = tmp_path_factory.mktemp("tables") / "w1a1"
    build(None, out, preset="w1a1", finetune_epochs=0, progress=None)
    return Graph.load(out / "model")


@pytest.fixture(scope="module")
def a_plan(a_graph):
    return plan(a_graph)


def test_every_kind_of_a_plan_is_known(a_plan):
    assert all(isinstance(s.kind, StageKind) for s in a_plan.stages)


@pytest.mark.parametrize("where", ["cost", "need", "hls", "rtl"])
def test_an_unknown_stage_kind_fails_loudly(a_plan, where):
    p = dataclasses.replace(a_plan)
    p.stages = list(a_plan.stages)
    i = next(k for k, s in enumerate(p.stages) if s.kind == StageKind.MVAU)
    p.stages[i] = dataclasses.replace(p.stages[i], kind="lstm")
    with pytest.raises(EdgecError, match=f"stage '{p.stages[i].name}'.*'lstm'"):
        if where == "cost":
            hw.stage_resources(p.stages[i])
        elif where == "need":
            dataflow.stage_need(p.stages[i], [0.0, 0.5, 1.0])
        elif where == "hls":
            hls.context(p, type("B", (), {"part": "x", "clock_mhz": 100.0})(), 1)
        else:
            rtl.context(p, {})


# --- ops: one contract, one meaning, one range rule and one simulator kernel per op

from edgec.backend import sim as sim_backend  # noqa: E402
from edgec.ir import ranges, ref  # noqa: E402
from edgec.ir.check import IRCheckError, check  # noqa: E402
from edgec.ir.ops import CONTRACTS, Op  # noqa: E402

OP_TABLES = {"ir/ops.py CONTRACTS": CONTRACTS, "ir/ref.py RULES": ref.RULES, "ir/ranges.py RANGES": ranges.RANGES,
             "backend/sim.py KINDS": sim_backend.KINDS}


@pytest.mark.parametrize("name", sorted(OP_TABLES))
def test_every_op_table_covers_the_enum(name):
    assert set(OP_TABLES[name]) == set(Op), name


@pytest.mark.parametrize("where", ["check", "ref", "ranges", "sim"])
def test_an_unknown_op_fails_loudly(a_graph, where):
    import numpy as np

    g = a_graph.copy()
    n = next(x for x in g.nodes if x.op == Op.MATMUL or x.op == Op.XNOR_POPCOUNT)
    n.op = "Lstm"
    if where == "check":
        with pytest.raises(IRCheckError, match=f"{n.name}: op Lstm has no contract"):
            check(g)
        return
    with pytest.raises(EdgecError, match=f"node '{n.name}': op Lstm"):
        if where == "ref":
            ref.run(g, np.zeros((1, *g.input.shape), np.int64))
        elif where == "ranges":
            ranges.value_ranges(g)
        else:
            sim_backend.context(g, "net")


def test_every_simulator_kind_has_a_torch_kernel():
    """The fast path (sim/kernels_torch.py KERNELS) covers every step kind of KINDS, no more."""
    from edgec.sim import kernels_torch

    assert set(kernels_torch.KERNELS) == {k for k in sim_backend.KINDS.values() if k is not None}


def test_the_generated_simulator_offers_the_engines_of_options(a_graph, tmp_path):
    from edgec import cli, options as O

    sim_backend.emit(a_graph, tmp_path / "sim", "net")
    mod = sim_backend.load(tmp_path / "sim")
    acts = {a.dest: a for a in cli.parser()._subparsers._group_actions[0].choices["sim"]._actions}
    assert tuple(mod.ENGINES) == O.SIM_ENGINES == tuple(acts["engine"].choices)


def test_the_checker_enforces_the_contracts(a_graph):
    g = a_graph.copy()
    n = next(x for x in g.nodes if x.op == Op.MULTI_THRESHOLD)
    del n.attrs["out_lo"]
    with pytest.raises(IRCheckError, match="needs attr 'out_lo'"):
        check(g)


def test_the_cli_and_the_code_read_one_list_of_choices():
    """options.py is the one list: the CLI offers exactly its choices, and the modules that
    act on them take theirs from it (or cover it exactly)."""
    from edgec import cli, csim, options as O, tools
    from edgec.backend import vivado
    from edgec.frontend import lowrank, quantize
    from edgec.passes.sparse import MODES as SPARSE
    from edgec.passes.winograd import MODES as WINOGRAD

    acts = {a.dest: a for sub in cli.parser()._subparsers._group_actions[0].choices.values() for a in sub._actions}
    assert list(acts["preset"].choices) == list(O.PRESETS) and quantize.PRESETS is O.PRESETS
    assert tuple(acts["winograd"].choices) == O.WINOGRAD_MODES == WINOGRAD
    assert tuple(acts["sparse"].choices) == O.SPARSE_MODES == SPARSE
    assert tuple(acts["prune_mode"].choices) == O.PRUNE_MODES == quantize.PRUNE_MODES
    assert tuple(acts["prune_domain"].choices) == O.PRUNE_DOMAINS == quantize.PRUNE_DOMAINS
    assert tuple(acts["lowrank_conv"].choices) == O.LOWRANK_CONV == lowrank.METHODS
    assert tuple(acts["vivado_ip"].choices) == O.VIVADO_IPS == vivado.IP_CHOICES
    assert tuple(acts["view"].choices) == O.CSIM_VIEWS == tuple(csim.VIEWS)
    assert tuple(acts["simulator"].choices) == O.SIMULATORS == tools.SIMULATORS
