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
from .ir.graph import dumps
from .errors import EdgecError

SCRIPT_VERSION = "2"
RESOURCES = ("LUT", "FF", "BRAM36", "DSP", "CARRY")
# LUTs of each Xilinx 7-series primitive yosys maps to (the LUTRAM and shift registers
# occupy LUTs of a SLICEM)
LUT_CELLS = {"LUT1": 1, "LUT2": 1, "LUT3": 1, "LUT4": 1, "LUT5": 1, "LUT6": 1, "INV": 1,
             "RAM32X1S": 1, "RAM64X1S": 1, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1S": 2, "RAM128X1D": 4,
             "RAM256X1S": 4, "RAM32M": 4, "RAM64M": 4, "SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1}
FF_CELLS = ("FDRE", "FDSE", "FDCE", "FDPE", "FDR", "FDS", "FDC", "FDP", "FDE", "FD", "LDCE", "LDPE")

# Timing (docs/hardware.md, Timing). yosys's `sta` adds up the cell delays of the specify
# blocks in its techlibs/xilinx/cells_sim.v (prjxray-db's Artix-7 figures) along the longest
# path; the estimate adds the setup time of the path's end and a routing delay per routed net.
NET_NS = 0.30  # routing delay per routed net on the path: an assumed margin (no published calibration found)
# setup before the clock at a flip-flop pin, as cells_sim.v gives it (D: prjxray's -46 ps, taken as 0)
SETUP_NS = {"D": 0.0, "CE": 0.109, "R": 0.404, "S": 0.404, "CLR": 0.404, "PRE": 0.404}
# inputs fed inside the slice (the carry chain, the wide-function muxes behind their LUTs, a LUT's
# own flip-flop): no routed net before them
DEDICATED = {("CARRY4", "CI"), ("CARRY4", "S"), ("MUXF7", "I0"), ("MUXF7", "I1"), ("MUXF8", "I0"),
             ("MUXF8", "I1"), *((ff, "D") for ff in FF_CELLS)}
_HOP = re.compile(r"^\s*(\d+)\s+.*\((\w+)\.([\w\[\]]+)(?:->([\w\[\]]+))?\)\s*$")


def timing(sta: str) -> dict:
    """The critical path of a ``sta`` report: its cell delays (``logic_delay_ns``, with
    the clock-to-out of its start and the setup of its end), the routing estimate of its
    nets (``route_delay_ns``), ``fmax_mhz`` from both, its cells (``path``, start first),
    ``levels`` (cells between start and end) and whether it ends at a flip-flop or a port."""
    m = re.search(r"Latest arrival time in '[^']*' is (\d+):\n(.*?)\n\s*\n", sta, re.S)
    if m is None:  # no path at all (a module of wires): nothing but the clock-to-out of a register
        return {"logic_delay_ns": 0.0, "route_delay_ns": 0.0, "fmax_mhz": None, "levels": 0, "nets": 0,
                "path": [], "endpoint": "none"}
    arrival = int(m.group(1))
    hops = []  # (cell type, input pin, output pin or None), end first as sta prints them
    for line in m.group(2).splitlines():
        h = _HOP.match(line)
        if h:
            hops.append((h.group(2), h.group(3), h.group(4)))
    hops.reverse()
    end = hops[-1] if hops and hops[-1][2] is None else None
    if not hops:
        return {"logic_delay_ns": round(arrival / 1000, 3), "route_delay_ns": 0.0,
                "fmax_mhz": round(1e6 / arrival, 1) if arrival else None, "levels": 0, "nets": 0, "path": [],
                "endpoint": "output"}
    setup = SETUP_NS.get(end[1], 0.0) if end and end[0] in FF_CELLS else 0.0
    # every hop after the start is entered through a net, routed unless the slice feeds it
    nets = sum(1 for t, pin, _ in hops[1:] if (t, re.sub(r"\[\d+\]$", "", pin)) not in DEDICATED)
    if end is None:
        nets += 1  # to the module's output port, and on into the next stage
    if hops[0][2] is not None and not (hops[0][1] == "C" or "CLK" in hops[0][1]):
        nets += 1  # the path starts at an input port, not at a clocked cell
    logic = arrival / 1000 + setup
    route = nets * NET_NS
    return {"logic_delay_ns": round(logic, 3), "route_delay_ns": round(route, 3),
            "fmax_mhz": round(1000 / (logic + route), 1) if logic + route > 0 else None,
            "levels": max(0, len(hops) - (2 if end else 1)), "nets": nets,
            "path": [f"{t}.{i}" + (f"->{o}" if o else "") for t, i, o in hops],
            "endpoint": f"{end[0]}.{end[1]}" if end else "output"}


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
    """One yosys run: ``module`` with ``params`` (ints, or {"mem": file} for an image, {"mem":
    prefix, "lanes": n} for one a lane)."""

    def __init__(self, name: str, module: str, params: dict, rtl: Path, work: Path, weight: float = 0):
        self.name, self.module, self.weight = name, module, weight
        self.dir = work / name
        sets, mems = [], []
        for k, v in params.items():
            if isinstance(v, dict):  # an image, or with "lanes" the prefix of one a lane (edgec_lookup)
                path = (rtl / "mem" / v["mem"]).resolve()
                mems += [path.with_name(f"{path.name}{p:04d}.mem") for p in range(v["lanes"])] if "lanes" in v \
                    else [path]
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
            # the timing arcs of the cells (yosys's specify blocks; synth_xilinx leaves CARRY4's out), then the
            # longest path through them
            "read_verilog -lib -specify -overwrite +/xilinx/cells_sim.v",
            "tee -q -o sta.txt sta",
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
        r = {"key": self.key, "module": self.module, "seconds": round(secs, 1), "cells": cells, **count(cells),
             "timing": timing((self.dir / "sta.txt").read_text())}
        (self.dir / "result.json").write_text(json.dumps(r, indent=1, sort_keys=True) + "\n")
        return r


def _sum(rows) -> dict:
    return {k: sum(r[k] for r in rows) for k in RESOURCES}


def run(build_dir: Path, jobs: int | None = None, progress=lambda m: None) -> dict:
    """Synthesize every stage and FIFO of ``build_dir``'s RTL; the per-stage figures with the
    cost model's estimates, the total, whether the design fits the board, and the timing
    estimate. The result is kept in OUT/synth/synth.json, and its timing section (stage,
    delays, fmax, whether it meets the build's clock) goes into OUT/report.json."""
    build_dir, _ = outdir.open_build(build_dir, "rtl", "report.json")
    with outdir.work_dir(build_dir, "synth") as work:
        r = _run(build_dir, work, jobs, progress)
        (work / "synth.json").write_text(json.dumps(r, indent=1, sort_keys=True) + "\n")
    rep = json.loads((build_dir / "report.json").read_text())
    rep["timing"] = r["timing"]
    outdir.rewrite(build_dir, "report.json", dumps(rep))
    return r


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
                       "estimate": {k: e[k] for k in ("LUT", "FF", "BRAM36", "DSP")}, "seconds": r["seconds"],
                       **_timing_fields(r["timing"])})
    fifo_rows = []
    for k, streams in sorted(fifo_kinds.items()):
        r = results[fifo_jobs[k].name]
        fifo_rows.append({"width": k[0], "depth": k[1], "count": len(streams), "streams": streams,
                          "yosys": {x: r[x] * len(streams) for x in RESOURCES}, **_timing_fields(r["timing"])})
    fifos = {"yosys": _sum([f["yosys"] for f in fifo_rows]), "estimate": hw.get("fifos"), "kinds": fifo_rows}
    total = _sum([s["yosys"] for s in stages] + [fifos["yosys"]])
    cap = hw["board"]
    used = {k: total[k] + PLATFORM.get(k, 0) for k in cap}
    over = [k for k in cap if used[k] > BUDGET * cap[k]]
    return {"board": hw["board"], "budget": BUDGET, "total": total, "platform": dict(PLATFORM),
            "with_platform": used, "utilisation": {k: round(100 * used[k] / cap[k], 1) for k in cap},
            "stages": stages, "fifos": fifos, "estimate_total": hw["total"], "fits": not over, "over": over,
            "timing": timing_section(stages, fifo_rows, float(hw["clock_mhz"])),
            "seconds": round(time.perf_counter() - t0, 1), "yosys": subprocess.run(
                [exe, "-V"], capture_output=True, text=True).stdout.strip()}


def _timing_fields(t: dict) -> dict:
    return {"logic_delay_ns": t["logic_delay_ns"], "route_delay_ns": t["route_delay_ns"], "fmax_mhz": t["fmax_mhz"],
            "levels": t["levels"], "endpoint": t["endpoint"], "critical_path": t["path"]}


def timing_section(stages: list, fifo_rows: list, clock_mhz: float) -> dict:
    """Per stage (and FIFO kind) its delays, fmax estimate and whether it meets the build's
    clock; the design's fmax is the least of them."""
    rows = [{"stage": s["stage"], "kind": s["kind"], "logic_delay_ns": s["logic_delay_ns"],
             "route_delay_ns": s["route_delay_ns"], "fmax_mhz": s["fmax_mhz"]} for s in stages]
    rows += [{"stage": f"fifo_w{f['width']}_d{f['depth']}", "kind": "fifo", "logic_delay_ns": f["logic_delay_ns"],
              "route_delay_ns": f["route_delay_ns"], "fmax_mhz": f["fmax_mhz"]} for f in fifo_rows]
    for r in rows:
        r["meets"] = r["fmax_mhz"] is None or r["fmax_mhz"] >= clock_mhz
    timed = [r for r in rows if r["fmax_mhz"] is not None]
    worst = min(timed, key=lambda r: r["fmax_mhz"]) if timed else None
    return {"clock_mhz": clock_mhz, "fmax_mhz": worst["fmax_mhz"] if worst else None,
            "limited_by": worst["stage"] if worst else None, "meets": all(r["meets"] for r in rows),
            "failing": [r["stage"] for r in rows if not r["meets"]], "net_ns": NET_NS,
            "method": "yosys sta over the specify delays of techlibs/xilinx/cells_sim.v (prjxray-db), plus "
                      f"{NET_NS:g} ns per routed net (assumed) and the endpoint's setup", "stages": rows}


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

    def timed(d: dict, t: dict | None) -> dict:
        if t is not None:
            d["delay"] = f"{t['logic_delay_ns']:.2f}+{t['route_delay_ns']:.2f}"
            d["fmax"] = "-" if t["fmax_mhz"] is None else f"{t['fmax_mhz']:.0f}"
        return d

    cols = [("stage", "stage"), ("kind", "kind"), ("LUT", "LUT"), ("LUT_e", "est."), ("dLUT", "diff"),
            ("FF", "FF"), ("FF_e", "est."), ("BRAM36", "BRAM36"), ("BRAM36_e", "est."), ("DSP", "DSP"),
            ("DSP_e", "est."), ("CARRY", "CARRY4"), ("delay", "delay ns"), ("fmax", "fmax MHz")]
    rows = [timed(row(s["stage"], s["kind"], s["yosys"], s["estimate"]), s) for s in r["stages"]]
    f = r["fifos"]
    slowest = min((k for k in f["kinds"] if k["fmax_mhz"] is not None), key=lambda k: k["fmax_mhz"], default=None)
    rows.append(timed(row(f"FIFOs ({sum(k['count'] for k in f['kinds'])})", "fifo", f["yosys"], f["estimate"]),
                      slowest))
    est_rtl = {k: r["estimate_total"][k] - r["platform"].get(k, 0) for k in ("LUT", "FF", "BRAM36", "DSP")}
    lines = _grid(cols, rows, row("total RTL", "", r["total"], est_rtl), 2)
    b = r["board"]
    use = "  ".join(f"{k} {r['utilisation'][k]:.1f}%" for k in b)
    lines.append(f"with the platform's estimated share (DMA, interconnect: LUT {r['platform']['LUT']:,}, "
                 f"FF {r['platform']['FF']:,}, BRAM36 {r['platform']['BRAM36']:g}): {use} of the board: "
                 + ("fits" if r["fits"] else f"does NOT fit ({', '.join(r['over'])} above {r['budget']:.0%})"))
    t = r["timing"]
    if t["fmax_mhz"] is not None:
        lines.append(f"timing estimate: fmax {t['fmax_mhz']:.0f} MHz ({t['limited_by']}): "
                     + (f"meets the build's {t['clock_mhz']:g} MHz" if t["meets"] else
                        f"does NOT meet the build's {t['clock_mhz']:g} MHz ({', '.join(t['failing'])})"))
    lines.append(f"{r['yosys']}, synth_xilinx -family xc7, each stage flattened; diff: estimate against yosys; "
                 f"delay: cells (sta) + routing ({t['net_ns']:g} ns a routed net, assumed)")
    return "\n".join(lines)
