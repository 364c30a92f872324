"""One definition per stage kind: the cost model, the shared render context, the HLS and
the RTL backend each keep one table keyed by dataflow.StageKind, every table covers the
whole enum, and a stage of a kind a table does not know fails loudly with an EdgecError
that names it (instead of costing nothing or rendering nothing)."""
import dataclasses

import pytest

from edgec import EdgecError, build
from edgec.backend import hls, rtl, stages
from edgec.cost import hw
from edgec.dataflow import StageKind, plan
from edgec.ir.graph import Graph

TABLES = {"cost/hw.py RESOURCES": hw.RESOURCES, "backend/stages.py PARAMS": stages.PARAMS,
          "backend/hls.py HLS": hls.HLS, "backend/rtl.py RTL": rtl.RTL}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_table_covers_the_enum(name):
    assert set(TABLES[name]) == set(StageKind), name


@pytest.fixture(scope="module")
def a_plan(tmp_path_factory):
    out = tmp_path_factory.mktemp("tables") / "w1a1"
    build(None, out, preset="w1a1", finetune_epochs=0, progress=None)
    return plan(Graph.load(out / "model"))


def test_every_kind_of_a_plan_is_known(a_plan):
    assert all(isinstance(s.kind, StageKind) for s in a_plan.stages)


@pytest.mark.parametrize("where", ["cost", "hls", "rtl"])
def test_an_unknown_stage_kind_fails_loudly(a_plan, where):
    p = dataclasses.replace(a_plan)
    p.stages = list(a_plan.stages)
    i = next(k for k, s in enumerate(p.stages) if s.kind == StageKind.MVAU)
    p.stages[i] = dataclasses.replace(p.stages[i], kind="lstm")
    with pytest.raises(EdgecError, match=f"stage '{p.stages[i].name}'.*'lstm'"):
        if where == "cost":
            hw.stage_resources(p.stages[i])
        elif where == "hls":
            hls.context(p, type("B", (), {"part": "x", "clock_mhz": 100.0})(), 1)
        else:
            rtl.context(p, {})
