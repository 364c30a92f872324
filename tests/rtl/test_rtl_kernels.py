"""The hw/rtl kernels under cocotb, on Icarus and on Verilator: random instances sweep PE,
SIMD, widths and kernel kinds in one build per simulator; their outputs equal ir/ref.py
word for word (tlast included), without and with 30% random idle cycles on every input
and 30% random backpressure on every output. The kernels are also lint-clean under
verilator --lint-only -Wall."""
import subprocess

import pytest

from edgec import resources, tools

from . import cases_lookup, cases_requant, cases_sparse, cases_unet, cases_winograd, sweep

SIMS = ["icarus", "verilator"]


@pytest.fixture(scope="module", params=SIMS)
def built(request, tmp_path_factory):
    cases = sweep.make_cases(7)
    work = tmp_path_factory.mktemp(f"rtl_{request.param}")
    return sweep.build(request.param, cases, work), cases, work


@pytest.mark.parametrize("idle,backpressure", [(0.0, 0.0), (0.3, 0.3)])
def test_kernels_equal_ref(built, idle, backpressure):
    """Every kernel's cases, the requantizer's among them (edgec_mvau RQ = 1 and edgec_requant)."""
    runner, cases, work = built
    assert any(c.module == "edgec_requant" and c.params["IB"] > 25 for c in cases)  # a product of two DSPs
    fails = sweep.run(runner, cases, work, idle, backpressure, f"{idle}_{backpressure}")
    assert not fails, "\n".join(fails)


def test_a_wrong_expectation_fails(built):
    """The harness can fail: one expected word changed."""
    runner, cases, work = built
    bad = [dataclass_copy(c) for c in cases]
    bad[0].outs[0].words[0] ^= 1
    assert sweep.run(runner, bad, work, 0.0, 0.0, "bad")


def dataclass_copy(c):
    import copy

    return copy.deepcopy(c)


LINT_PARAMS = {
    "edgec_mvau.v": ["", "-GKIND=0 -GXB=1 -GXBIP=1 -GWB=1 -GNT=1 -GBIPOLAR=1 -GOB=1",
                     "-GKIND=1 -GXB=3 -GXS=1 -GWB=1 -GNT=3 -GOB=2 -GSIMD=2 -GPE=2",
                     "-GKIND=3 -GXB=8 -GWB=8 -GAB=20 -GCB=22 -GNT=0 -GOB=21 -GMW=8 -GSIMD=8 -GMH=1",
                     "-GKIND=2 -GXB=2 -GXS=1 -GWB=4 -GSIMD=4 -GMW=8 -GAB=6", "-GKIND=0 -GXB=2 -GWB=2",
                     "-GKIND=1 -GXB=3 -GXS=1 -GWB=1 -GNT=3 -GOB=2 -GSIMD=2 -GPE=2 -GMH=8 -GSIGNED_STEPS=1",
                     "-GKIND=0 -GXB=1 -GXBIP=1 -GWB=1 -GNT=2 -GBIPOLAR=1 -GOB=1 -GSIGNED_STEPS=1"],
    "edgec_fifo.v": ["", "-GDEPTH=8", "-GDEPTH=12", "-GDEPTH=1536"],
    "edgec_dwc.v": ["", "-GIN_E=3 -GOUT_E=2 -GB=4"],
    "edgec_skid.v": [""],
    "edgec_swg.v": ["", "-GIH=1 -GIW=1 -GC=3 -GKH=1 -GKW=1 -GPT=0 -GPL=0 -GPB=0 -GPR=0", "-GKH=1 -GKW=1 -GSH=2 -GSW=2",
                    "-GIBIP=1 -GIB=1 -GOB=1 -GPAD=-1", "-GIBIP=1 -GIB=1 -GOB=2 -GPAD=0 -GC=4 -GSIMD=2",
                    "-GKH=1 -GPT=1 -GPB=1 -GKW=2 -GSW=2 -GPL=0 -GPR=0"],
    "edgec_window.v": ["", "-GOP=1 -GIS=1 -GOB=2", "-GOP=2 -GNT=3 -GPE=2 -GC=4", "-GOP=0 -GIBIP=1 -GIB=1 -GOB=1",
                       "-GK=9 -GC=32 -GPE=8 -GPIXELS=16", "-GOP=2 -GNT=3 -GPE=2 -GC=4 -GSIGNED_STEPS=1"],
    "edgec_add.v": ["", "-GAS=1 -GPE=3", "-GABIP=1 -GBBIP=1 -GSB=3"],
    "edgec_threshold.v": ["", "-GNT=3 -GPE=2 -GC=4 -GIS=1", "-GNT=3 -GPE=2 -GC=4 -GIS=1 -GSIGNED_STEPS=1"],
    "edgec_dup.v": [""],
    "edgec_ctrl.v": ["", "-GIN_BEATS=64 -GOUT_BEATS=3", "-GIN_BEATS=7 -GOUT_BEATS=16"],
    "edgec_act.v": ["", "-GNT=0 -GOB=8", "-GNT=3 -GPE=2 -GCB=20 -GDW=12", "-GNT=1 -GBIPOLAR=1 -GOB=1",
                    "-GNT=3 -GPE=2 -GCB=20 -GDW=12 -GSIGNED_STEPS=1", "-GNT=2 -GBIPOLAR=1 -GOB=1 -GSIGNED_STEPS=1",
                    "-GNT=0 -GOB=8 -GSIGNED_STEPS=1"],
}


LINT_PARAMS.update(cases_winograd.LINT_PARAMS)
LINT_PARAMS.update(cases_sparse.LINT_PARAMS)
LINT_PARAMS.update(cases_unet.LINT_PARAMS)
LINT_PARAMS.update(cases_requant.LINT_PARAMS)
LINT_PARAMS.update(cases_lookup.LINT_PARAMS)
LINT_PARAMS["edgec_mvau.v"] = LINT_PARAMS["edgec_mvau.v"] + cases_requant.MVAU_LINT


@pytest.mark.parametrize("name", sorted(LINT_PARAMS))
def test_lint_clean(name):
    src = resources.path("hw") / "rtl" / name
    tools.use_simulator("verilator")
    for params in LINT_PARAMS[name]:
        r = subprocess.run([str(tools.verilator_bin()), "--lint-only", "-Wall", f"-I{src.parent}", *params.split(),
                            str(src),
                            *[str(p) for p in src.parent.glob("*.v") if p != src], "--top-module", src.stem],
                           capture_output=True, text=True)
        assert r.returncode == 0, f"{name} {params}:\n{r.stderr}"


def test_lint_covers_every_module():
    assert set(LINT_PARAMS) == {p.name for p in (resources.path("hw") / "rtl").glob("*.v")}
