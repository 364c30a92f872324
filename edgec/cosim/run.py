"""`edgec cosim`: co-simulate OUT/rtl (or other Verilog with the same ports) under cocotb on
Icarus or Verilator and compare every output beat with the generated simulator."""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from .. import tools
from ..backend import sim as sim_backend
from ..csim import test_codes
from ..errors import EdgecError
from .. import outdir
from ..backend.names import ident


_MAKE_SAFE = re.compile(r"[A-Za-z0-9_./+,=@%-]+")


def run(build_dir: Path, simulator: str = "icarus", x=None, vectors: int | None = None, idle: float = 0.0,
        backpressure: float = 0.0, rtl_dir: Path | None = None, seed: int = 0, reset_after: int = 0,
        max_transfer: int | None = None, progress=lambda m: None, streams: bool = False) -> dict:
    """The generated driver (OUT/driver) sends the frames through a model of the AXI DMA
    to the RTL top (OUT/rtl, or ``rtl_dir``) and back (edgec/cosim/tb_network.py).
    ``reset_after``: reset the design after that many beats of a first frame, which is
    then dropped (it must not disturb the frames that follow). ``max_transfer``: the
    driver's DMA transfer limit in bytes (default: the block design's, 2**26 - 1), lower
    to make a batch take several runs. ``streams``: also count, per internal stream of edgec's
    RTL, the cycles its producer waited on a full FIFO and its consumer on an empty one
    (result "streams", in stream order: where a pipeline loses cycles to its FIFOs)."""
    build_dir, manifest = outdir.open_build(Path(build_dir).resolve(), "sim", "report.json", "driver",
                                            *(() if rtl_dir else ("rtl",)))
    report = json.loads((build_dir / "report.json").read_text())
    with outdir.work_dir(build_dir, "cosim") as cw:
        return _run(build_dir, manifest, report, cw, simulator, x, vectors, idle, backpressure, rtl_dir, seed,
                    reset_after, max_transfer, progress, streams)


def _run(build_dir, manifest, report, cw, simulator, x, vectors, idle, backpressure, rtl_dir, seed, reset_after,
         max_transfer, progress, streams):
    for name, v in (("--idle", idle), ("--backpressure", backpressure)):
        if not 0 <= v < 1:
            raise EdgecError(f"{name} {v}: give a probability in [0, 1)")
    if streams and rtl_dir:
        raise EdgecError("--streams counts the FIFOs of edgec's own RTL (OUT/rtl); leave out --rtl")
    tools.use_simulator(simulator)
    sim = sim_backend.load(build_dir / "sim")
    codes = test_codes(manifest, sim, x, vectors, seed, repeat=True)
    n = len(codes)
    expected = sim.forward(codes).reshape(n, -1)
    lin, lout = manifest["axis"]["in"], manifest["axis"]["out"]
    K = sim.K
    in_per = lin["elems"] // lin["per_word"]
    out_per = lout["elems"] // lout["per_word"]
    x_drv = sim.from_codes(codes)  # the driver takes the model's own input layout

    rtl = Path(rtl_dir).resolve() if rtl_dir else build_dir / "rtl"
    sources = [rtl / ln for ln in (rtl / "files.f").read_text().split()] if (rtl / "files.f").is_file() \
        else sorted(rtl.rglob("*.v"))
    if not sources:
        raise EdgecError(f"--rtl '{rtl}': no Verilog files (*.v) there")
    work = cw / f"{simulator}{'-' + ident(rtl.name) if rtl_dir else ''}"
    work.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if simulator == "verilator" and not (_MAKE_SAFE.fullmatch(str(work)) and _MAKE_SAFE.fullmatch(str(rtl))):
            # Verilator's make cannot build below a path with spaces or other specials:
            # build and run in a temporary folder with a copy of the RTL, then drop it
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="edgec-cosim-")))
            shutil.copytree(rtl, tmp / "rtl")
            sources = [tmp / "rtl" / s.relative_to(rtl) for s in sources]
            rtl, work = tmp / "rtl", tmp / "work"
            work.mkdir()
        return _simulate(build_dir, report, work, runner_name=simulator, sources=sources, rtl=rtl, rtl_dir=rtl_dir,
                         x_drv=x_drv, in_per=in_per, out_per=out_per, n=n, idle=idle, backpressure=backpressure,
                         seed=seed, reset_after=reset_after, expected=expected, lout=lout, K=K,
                         max_transfer=max_transfer, progress=progress, streams=streams)


def stream_ends(rtl: Path) -> list[dict]:
    """The internal streams of edgec's top (rtl/edgec_top.v), in order: each FIFO's wire name,
    depth, and the stages (rtl/instances.json) that write and read it ("input"/"output": the
    top's own ports)."""
    top = (rtl / "edgec_top.v").read_text()
    names = {s["id"]: s["name"] for s in json.loads((rtl / "instances.json").read_text())["stages"]}
    writes, reads = {}, {}
    for i, body in re.findall(r"\bstage(\d+) \((.*?)\);", top):
        for w in re.findall(r"\((\w+)_p_tdata\)", body):
            writes[w] = names[int(i)]
        for w in re.findall(r"\((\w+)_c_tdata\)", body):
            reads[w] = names[int(i)]
    return [{"stream": w, "depth": int(d), "producer": writes.get(w, "input"), "consumer": reads.get(w, "output")}
            for d, w in re.findall(r"edgec_fifo #\(\.W\(\d+\), \.DEPTH\((\d+)\)\) fifo_(\w+) ", top)]


def _simulate(build_dir, report, work, runner_name, sources, rtl, rtl_dir, x_drv, in_per, out_per, n, idle,
              backpressure, seed, reset_after, expected, lout, K, max_transfer, progress, streams) -> dict:
    from cocotb_tools.runner import get_runner

    simulator = runner_name
    runner = get_runner(simulator)
    # relative to the simulator's working folder (``work``): the build folder's own name,
    # which may hold any characters, never reaches a Verilog string
    params = {"MEM_DIR": f'"{os.path.relpath(rtl / "mem", work)}"'} if not rtl_dir else {}
    progress(f"cosim: compiling the RTL with {simulator}")
    try:
        # include path: the folders of the sources (hw/rtl's edgec_mulc.vh sits in lib/)
        runner.build(sources=sources, hdl_toplevel="edgec_top", build_dir=work / "build", timescale=("1ns", "1ps"),
                     parameters=params, build_args=["-Wno-fatal"] if simulator == "verilator" else [],
                     includes=sorted({str(Path(s).parent) for s in sources}), log_file=work / "build.log")
    except (RuntimeError, SystemExit, OSError) as e:
        log = (work / "build.log").read_text(errors="replace").splitlines() if (work / "build.log").is_file() else []
        errs = [ln for ln in log if "rror" in ln][:3] or log[-3:] or [str(e)]
        raise EdgecError(f"the {simulator} build of the RTL failed: {' | '.join(errs)[:400]}") from None
    np.save(work / "inputs.npy", np.ascontiguousarray(x_drv, dtype=np.int64), allow_pickle=False)
    per_frame = int(report["hardware"]["cycles_per_frame"])
    spec = {"driver": str(build_dir / "driver" / "driver.py"), "top": "edgec_top", "inputs": str(work / "inputs.npy"),
            "idle": idle, "backpressure": backpressure, "seed": seed, "result": str(work / "result.json"),
            "reset_after": int(reset_after), "max_transfer": max_transfer,
            "streams": [e["stream"] for e in stream_ends(rtl)] if streams else [],
            "max_cycles": 200 * (n + 2) * max(in_per, out_per) + 100 * (n + 2) * per_frame + 10000}
    (work / "spec.json").write_text(json.dumps(spec))
    results = work / "results.xml"
    progress(f"cosim: {n} frames through the DMA model and the RTL under cocotb")
    try:
        runner.test(test_module="edgec.cosim.tb_network", hdl_toplevel="edgec_top", build_dir=work / "build",
                    test_dir=work, extra_env={"EDGEC_COSIM_SPEC": str(work / "spec.json")},
                    results_xml=str(results), log_file=work / "run.log", parameters=params)
    except SystemExit:
        pass
    fails = [f.get("message", "") for f in ET.parse(results).getroot().iter("failure")]
    if not (work / "result.json").is_file():
        raise EdgecError(f"the co-simulation did not finish: {' | '.join(fails)[:300]} (log: {work / 'run.log'})")
    res = json.loads((work / "result.json").read_text())
    raw = bytes.fromhex(res["raw"])
    got = K.unpack_beats(raw, n, lout["bits"], lout["signed"], lout["bipolar"], lout["per_word"],
                         lout["beat_bytes"], lout["elems"])
    bad = (got != expected).any(axis=1)
    runs = res["transfers"]
    # one S2MM transfer per run of the driver's plan, each ended by the run's one TLAST
    # exactly at its length; every MM2S transfer sent whole; nothing left over
    plan_ok = len(runs) == len(res["plan"]) and all(
        t["start"] == first * out_per * lout["beat_bytes"]
        and t["nbytes"] == t["length"] == count * out_per * lout["beat_bytes"]
        for t, (first, count) in zip(runs, res["plan"]))
    lasts_ok = plan_ok and all(t["lasts"] == [0] * (len(t["lasts"]) - 1) + [1] for t in runs)
    framing_ok = (lasts_ok and not res["overrun"] and res["idle_after"] and all(t["partial_beats"] == 0 for t in runs)
                  and all(t["length"] == t["nbytes"] for t in res["sent"]))
    cycles = [c for t in runs for c in t["cycles"]]
    ends = np.array(cycles[out_per - 1:: out_per], np.int64)
    steady = np.diff(ends[len(ends) // 2:]) if len(ends) > 3 else np.diff(ends)
    cpf = float(np.mean(steady)) if len(steady) else float("nan")
    clock = float(report["board"]["clock_mhz"])
    out = {"vectors": int(n), "mismatches": int(bad.sum()), "tlast_ok": lasts_ok, "framing_ok": framing_ok,
           "runs": len(runs), "failures": fails, "ok": not bad.any() and framing_ok and not fails,
           "cycles_per_frame": round(cpf, 1), "fps": None if math.isnan(cpf) else round(clock * 1e6 / cpf, 1)}
    if streams:
        out["streams"] = [e | dict(zip(("full", "empty", "words"), res["streams"][e["stream"]]))
                          for e in stream_ends(rtl)]
    return out
