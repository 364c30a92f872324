"""`edgec synth`: yosys `synth_xilinx -family xc7` on a build's RTL (OUT/rtl), one run per
kernel instance (OUT/rtl/instances.json), with the cost model's estimate beside each.

Each stage's module is synthesized flat, with its parameters and memory images, without
I/O or clock buffers (it sits inside the design). Identical FIFOs are synthesized once.
The RTL total is the sum of the stages and FIFOs: the top adds only wires. Whether the
design fits adds the Zynq platform's share (the DMA and interconnect the RTL does not hold,
cost.hw.PLATFORM) and holds every resource to the same budget as the folding search.

Results are kept in OUT/synth/<job>/ and reused while the module, its parameters, its
memory images and the kernel library are unchanged.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .cost.hw import BUDGET, PLATFORM
from . import outdir
from .backend.names import ident
from .errors import EdgecError

SCRIPT_VERSION = "1"
RESOURCES = ("LUT", "FF", "BRAM36", "DSP", "CARRY")
# LUTs of each Xilinx 7-series primitive yosys maps to (the LUTRAM and shift registers
# occupy LUTs of a SLICEM)
LUT_CELLS = {"LUT1": 1, "LUT2": 1, "LUT3": 1, "LUT4": 1, "LUT5": 1, "LUT6": 1, "INV": 1,
             "RAM32X1S": 1, "RAM64X1S": 1, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1S": 2, "RAM128X1D": 4,
             "RAM256X1S": 4, "RAM32M": 4, "RAM64M": 4, "SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1}
FF_CELLS = ("FDRE", "FDSE", "FDCE", "FDPE", "FDR", "FDS", "FDC", "FDP", "FDE", "FD", "LDCE", "LDPE")


def yosys() -> str:
    exe = shutil.which("yosys")
    if exe is None:
        raise EdgecError("synthesis needs yosys: apt-get install yosys (scripts/setup.sh does this)")
    return exe


def count(cells: dict[str, int]) -> dict:
    """LUT, FF, BRAM36, DSP and CARRY of a synthesized module's cells."""
    unknown = sorted(c for c in cells if c.startswith("$"))
    if unknown:
        raise EdgecError(f"yosys left generic cells unmapped: {', '.join(unknown)}")
    return {"LUT": sum(n * LUT_CELLS.get(c, 0) for c, n in cells.items()),
            "FF": sum(cells.get(c, 0) for c in FF_CELLS),
            "BRAM36": cells.get("RAMB36E1", 0) + cells.get("RAMB18E1", 0) / 2,
            "DSP": cells.get("DSP48E1", 0),
            "CARRY": cells.get("CARRY4", 0)}


def _literal(v) -> str:
    # chparam reads Verilog constants; it rejects a minus sign, so negatives go sized
    return f"32'sh{v & 0xFFFFFFFF:08X}" if v < 0 else str(v)


def sources(lib: Path, module: str) -> list[Path]:
    """``module``'s file in the kernel library and those of the modules it instantiates."""
    out, todo = [], [module]
    while todo:
        f = lib / f"{todo.pop()}.v"
        if not f.is_file():
            raise EdgecError(f"{lib} has no {f.name}; rebuild the folder with `edgec build`")
        if f not in out:
            out.append(f)
            todo += re.findall(r"^\s*(edgec_\w+)\s+#\(", f.read_text(), re.M)
    return sorted(out)


class Job:
    """One yosys run: ``module`` with ``params`` (ints, or {"mem": file} for an image)."""

    def __init__(self, name: str, module: str, params: dict, rtl: Path, work: Path, weight: float = 0):
        self.name, self.module, self.weight = name, module, weight
        self.dir = work / name
        sets, mems = [], []
        for k, v in params.items():
            if isinstance(v, dict):
                path = (rtl / "mem" / v["mem"]).resolve()
                mems.append(path)
                sets.append(f'-set {k} "{path}"')
            else:
                sets.append(f"-set {k} {_literal(int(v))}")
        lib = sources(rtl / "lib", module)
        self.script = "\n".join([
            "read_verilog -defer " + " ".join(str(p.resolve()) for p in lib),
            f"chparam {' '.join(sets)} {module}",
            f"hierarchy -top {module}",
            "synth_xilinx -family xc7 -flatten -noiopad -noclkbuf",
            "tee -q -o stat.json stat -json",
        ]) + "\n"
        h = hashlib.sha256((SCRIPT_VERSION + self.script).encode())
        for p in [*lib, *mems]:
            h.update(p.read_bytes())
        self.key = h.hexdigest()[:16]

    def cached(self) -> dict | None:
        f = self.dir / "result.json"
        if f.is_file():
            r = json.loads(f.read_text())
            if r.get("key") == self.key:
                return r
        return None

    def run(self, exe: str) -> dict:
        r = self.cached()
        if r is not None:
            return r
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        (self.dir / "synth.ys").write_text(self.script)
        t0 = time.perf_counter()
        p = subprocess.run([exe, "-q", "-l", "yosys.log", "synth.ys"], cwd=self.dir, capture_output=True, text=True)
        secs = time.perf_counter() - t0
        if p.returncode != 0:
            err = [ln for ln in (p.stderr + p.stdout).splitlines() if "ERROR" in ln] or p.stderr.splitlines()[-3:]
            raise EdgecError(f"yosys failed on {self.name} ({self.module}): {' | '.join(err)} "
                             f"(log: {self.dir / 'yosys.log'})")
        stat = json.loads((self.dir / "stat.json").read_text())
        cells = stat["design"]["num_cells_by_type"]
        r = {"key": self.key, "module": self.module, "seconds": round(secs, 1), "cells": cells, **count(cells)}
        (self.dir / "result.json").write_text(json.dumps(r, indent=1, sort_keys=True) + "\n")
        return r


def _sum(rows) -> dict:
    return {k: sum(r[k] for r in rows) for k in RESOURCES}


def run(build_dir: Path, jobs: int | None = None, progress=lambda m: None) -> dict:
    """Synthesize every stage and FIFO of ``build_dir``'s RTL; the per-stage figures with the
    cost model's estimates, the total, and whether the design fits the board."""
    build_dir, _ = outdir.open_build(build_dir, "rtl", "report.json")
    with outdir.work_dir(build_dir, "synth") as work:
        return _run(build_dir, work, jobs, progress)


def _run(build_dir: Path, work: Path, jobs, progress) -> dict:
    rtl = build_dir / "rtl"
    inst_file = rtl / "instances.json"
    if not inst_file.is_file():
        raise EdgecError(f"'{build_dir}' has no rtl/instances.json; rebuild it with this edgec (`edgec build`)")
    inst = json.loads(inst_file.read_text())
    hw = json.loads((build_dir / "report.json").read_text())["hardware"]
    exe = yosys()
    est = {s["stage"]: s for s in hw["stages"]}

    stage_jobs = [Job(f"stage{s['id']}_{ident(s['name'])}", s["module"], s["params"], rtl, work, est[s["name"]]["LUT"])
                  for s in inst["stages"]]
    fifo_kinds: dict[tuple, list[str]] = {}
    for f in inst["fifos"]:
        fifo_kinds.setdefault((f["params"]["W"], f["params"]["DEPTH"]), []).append(f["stream"])
    fifo_jobs = {k: Job(f"fifo_w{k[0]}_d{k[1]}", "edgec_fifo", {"W": k[0], "DEPTH": k[1]}, rtl, work)
                 for k in sorted(fifo_kinds)}
    todo = stage_jobs + list(fifo_jobs.values())
    # the largest first, so that the longest run does not start last
    order = sorted(todo, key=lambda j: -j.weight)
    results: dict[str, dict] = {}
    t0 = time.perf_counter()

    def one(j: Job):
        fresh = j.cached() is None
        r = j.run(exe)
        results[j.name] = r
        progress(f"synth: {j.name} ({j.module}): {r['LUT']} LUT, {r['FF']} FF"
                 + (f" in {r['seconds']:.1f} s" if fresh else " (cached)")
                 + f" [{len(results)}/{len(todo)}]")

    workers = max(1, jobs or os.cpu_count() or 1)
    with ThreadPoolExecutor(workers) as pool:
        for f in [pool.submit(one, j) for j in order]:
            f.result()

    stages = []
    for s, j in zip(inst["stages"], stage_jobs):
        r = results[j.name]
        e = est[s["name"]]
        stages.append({"id": s["id"], "stage": s["name"], "kind": e["kind"], "module": s["module"],
                       "yosys": {k: r[k] for k in RESOURCES},
                       "estimate": {k: e[k] for k in ("LUT", "FF", "BRAM36", "DSP")}, "seconds": r["seconds"]})
    fifo_rows = []
    for k, streams in sorted(fifo_kinds.items()):
        r = results[fifo_jobs[k].name]
        fifo_rows.append({"width": k[0], "depth": k[1], "count": len(streams), "streams": streams,
                          "yosys": {x: r[x] * len(streams) for x in RESOURCES}})
    fifos = {"yosys": _sum([f["yosys"] for f in fifo_rows]), "estimate": hw.get("fifos"), "kinds": fifo_rows}
    total = _sum([s["yosys"] for s in stages] + [fifos["yosys"]])
    cap = hw["board"]
    used = {k: total[k] + PLATFORM.get(k, 0) for k in cap}
    over = [k for k in cap if used[k] > BUDGET * cap[k]]
    return {"board": hw["board"], "budget": BUDGET, "total": total, "platform": dict(PLATFORM),
            "with_platform": used, "utilisation": {k: round(100 * used[k] / cap[k], 1) for k in cap},
            "stages": stages, "fifos": fifos, "estimate_total": hw["total"], "fits": not over, "over": over,
            "seconds": round(time.perf_counter() - t0, 1), "yosys": subprocess.run(
                [exe, "-V"], capture_output=True, text=True).stdout.strip()}


def _ratio(est, got) -> str:
    if est is None:
        return "-"
    if got == 0:
        return "-" if est == 0 else "inf"
    return f"{100 * (est - got) / got:+.0f}%"


def table(r: dict) -> str:
    """The per-stage table: yosys beside the cost model's estimate."""
    from .backend.report import _grid

    def row(name, kind, y, e):
        e = e or {}
        return {"stage": name, "kind": kind, "LUT": f"{y['LUT']:,}", "LUT_e": f"{e['LUT']:,}" if e else "-",
                "dLUT": _ratio(e.get("LUT"), y["LUT"]), "FF": f"{y['FF']:,}", "FF_e": f"{e['FF']:,}" if e else "-",
                "BRAM36": f"{y['BRAM36']:g}", "BRAM36_e": f"{e['BRAM36']:g}" if e else "-",
                "DSP": str(y["DSP"]), "DSP_e": str(e["DSP"]) if e else "-", "CARRY": f"{y['CARRY']:,}"}

    cols = [("stage", "stage"), ("kind", "kind"), ("LUT", "LUT"), ("LUT_e", "est."), ("dLUT", "diff"),
            ("FF", "FF"), ("FF_e", "est."), ("BRAM36", "BRAM36"), ("BRAM36_e", "est."), ("DSP", "DSP"),
            ("DSP_e", "est."), ("CARRY", "CARRY4")]
    rows = [row(s["stage"], s["kind"], s["yosys"], s["estimate"]) for s in r["stages"]]
    f = r["fifos"]
    rows.append(row(f"FIFOs ({sum(k['count'] for k in f['kinds'])})", "fifo", f["yosys"], f["estimate"]))
    est_rtl = {k: r["estimate_total"][k] - r["platform"].get(k, 0) for k in ("LUT", "FF", "BRAM36", "DSP")}
    lines = _grid(cols, rows, row("total RTL", "", r["total"], est_rtl), 2)
    b = r["board"]
    use = "  ".join(f"{k} {r['utilisation'][k]:.1f}%" for k in b)
    lines.append(f"with the platform's estimated share (DMA, interconnect: LUT {r['platform']['LUT']:,}, "
                 f"FF {r['platform']['FF']:,}, BRAM36 {r['platform']['BRAM36']:g}): {use} of the board: "
                 + ("fits" if r["fits"] else f"does NOT fit ({', '.join(r['over'])} above {r['budget']:.0%})"))
    lines.append(f"{r['yosys']}, synth_xilinx -family xc7, each stage flattened; diff: estimate against yosys")
    return "\n".join(lines)
