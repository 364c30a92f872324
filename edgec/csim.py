"""`edgec csim`: compile OUT/hls with g++ against the ap_types headers (shipped in the
hls4ml wheel; no vendor tools), run its testbench, and compare every output with the
generated simulator. The compiled testbench is kept in OUT/csim/ and reused while the
sources are unchanged.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

from .backend import sim as sim_backend
from . import outdir
from .errors import EdgecError

CXXFLAGS = ["-std=c++14", "-O2", "-Wall", "-Wextra", "-Wno-unknown-pragmas"]


def ap_types_dir() -> Path:
    spec = importlib.util.find_spec("hls4ml")
    if spec is None or not spec.origin:
        raise EdgecError("C simulation needs the ap_types headers of the hls4ml wheel: "
                         "pip install --no-deps hls4ml (scripts/setup.sh does this)")
    d = Path(spec.origin).parent / "templates" / "vivado" / "ap_types"
    if not (d / "ap_int.h").is_file():
        raise EdgecError(f"the hls4ml package at {d.parent.parent.parent} has no ap_types headers; reinstall hls4ml")
    return d


def compiler() -> str:
    cxx = shutil.which("g++")
    if cxx is None:
        raise EdgecError("C simulation needs g++: apt-get install g++ (scripts/setup.sh does this)")
    return cxx


def include_flags(hls_dir: Path) -> list[str]:
    """g++ include flags for OUT/hls: the ap_types headers (their warnings are theirs), the
    stand-in ap_axi_sdata.h in compat/, and the folder itself."""
    return ["-isystem", str(ap_types_dir()), "-I", str(Path(hls_dir) / "compat"), "-I", str(hls_dir)]


def compile_tb(hls_dir: Path, work: Path, extra_flags=()) -> tuple[Path, float, list[str]]:
    """(executable, seconds spent compiling (0 when reused), compiler warnings about edgec's
    own code — the ap_types headers' warnings are theirs, included with -isystem)."""
    hls_dir = Path(hls_dir)
    srcs = sorted(p for p in hls_dir.rglob("*") if p.suffix in (".h", ".cpp") and p.is_file())
    cmd = [compiler(), *CXXFLAGS, *extra_flags, *include_flags(hls_dir),
           str(hls_dir / "tb.cpp"), str(hls_dir / "top.cpp")]
    key = hashlib.sha256(("\0".join(cmd[1:]) + "".join(p.read_text() for p in srcs)).encode()).hexdigest()[:16]
    work.mkdir(parents=True, exist_ok=True)
    exe = work / f"tb-{key}"
    if exe.is_file():
        w = work / f"warnings-{key}.txt"
        return exe, 0.0, [ln for ln in w.read_text().splitlines() if ln] if w.is_file() else []
    t0 = time.perf_counter()
    r = subprocess.run([*cmd, "-o", str(exe)], capture_output=True, text=True)
    if r.returncode != 0:
        errs = [ln for ln in r.stderr.splitlines() if "error" in ln] or r.stderr.strip().splitlines()
        raise EdgecError(f"g++ failed on {hls_dir}: " + " | ".join(errs[:4]))
    ap = str(ap_types_dir())
    warnings = [ln for ln in r.stderr.splitlines() if "warning:" in ln and not ln.startswith(ap)]
    (work / f"warnings-{key}.txt").write_text("\n".join(warnings))
    return exe, time.perf_counter() - t0, warnings


def test_codes(manifest: dict, sim, x=None, vectors: int | None = None, seed: int = 0, repeat: bool = False):
    """Integer input codes (channels last) for checking a build: ``x`` (floats or codes), or
    the example's test split, or random codes; the first ``vectors`` of them (with
    ``repeat``, the inputs repeat when fewer)."""
    if vectors is not None and vectors < 1:
        raise EdgecError(f"--vectors {vectors}: give 1 or more")
    if x is None:
        if manifest.get("example") == "digits":
            from .examples import digits

            x = digits.test_split()[0]
        else:
            rng = np.random.default_rng(seed)
            x = rng.integers(sim.INPUT_LO, sim.INPUT_HI + 1, size=(vectors or 100, *sim.INPUT_SHAPE))
            if sim.INPUT_QUANT["bipolar"]:
                x = 2 * (x > 0) - 1
    x = np.asarray(x)
    if tuple(x.shape[1:]) != tuple(sim.INPUT_SHAPE) or not len(x):
        raise EdgecError(f"inputs must have shape (N, {', '.join(map(str, sim.INPUT_SHAPE))}), got {x.shape}")
    if vectors is not None:
        if repeat:
            x = np.concatenate([x] * -(-vectors // len(x)))
        x = x[:vectors]
    return sim.to_codes(x) if np.issubdtype(x.dtype, np.integer) else sim.quantize(x)


VIEWS = {"csim": (), "synth": ("-DEDGEC_SYNTH_VIEW",)}  # options.CSIM_VIEWS: the flags of each


def run(build_dir: Path, x: np.ndarray | None = None, vectors: int | None = None, seed: int = 0,
        view: str = "csim", progress=lambda m: None) -> dict:
    """Run the C simulation on ``x`` (float inputs or integer codes; default: the example's
    test split, or random input codes) and compare with the simulator. ``view``: "csim"
    (C simulation's types, with per-stage loop counters) or "synth" (what synthesis sees:
    exact-width constant arrays, no counters; the same beat type and testbench)."""
    if view not in VIEWS:
        raise EdgecError(f"--view {view}: give one of {', '.join(VIEWS)}")
    build_dir, manifest = outdir.open_build(build_dir, "sim", "hls", "report.json")
    report = json.loads((build_dir / "report.json").read_text())
    with outdir.work_dir(build_dir, "csim") as work:
        return _run(build_dir, manifest, report, work, x, vectors, seed, view, progress)


def _run(build_dir, manifest, report, work, x, vectors, seed, view="csim", progress=lambda m: None) -> dict:
    sim = sim_backend.load(build_dir / "sim")
    codes = test_codes(manifest, sim, x, vectors, seed)
    expected = sim.forward(codes).reshape(len(codes), -1)

    lin, lout = manifest["axis"]["in"], manifest["axis"]["out"]
    K = sim.K
    progress(f"csim: compiling the HLS C++ ({view} view) with g++")
    exe, compile_s, warnings = compile_tb(build_dir / "hls", work, VIEWS[view])
    n = len(codes)
    progress(f"csim: running {n} vectors through the compiled accelerator")
    (work / "in.bin").write_bytes(
        K.pack_beats(codes.reshape(n, -1), lin["bits"], lin["bipolar"], lin["per_word"], lin["beat_bytes"]).tobytes())
    t0 = time.perf_counter()
    r = subprocess.run([str(exe), str(work / "in.bin"), str(work / "out.bin"), str(n), str(work / "cycles.json")],
                       capture_output=True, text=True)
    run_s = time.perf_counter() - t0
    stream_warnings = [ln for ln in (r.stdout + r.stderr).splitlines() if "WARNING" in ln or ln.startswith("tb:")]
    if r.returncode != 0 or stream_warnings:
        raise EdgecError(f"the C simulation failed (exit {r.returncode}): " + " | ".join(stream_warnings[:4]))
    got = K.unpack_beats((work / "out.bin").read_bytes(), n, lout["bits"], lout["signed"], lout["bipolar"],
                         lout["per_word"], lout["beat_bytes"], lout["elems"])
    bad = (got != expected).any(axis=1)
    cyc = json.loads((work / "cycles.json").read_text())
    names = [s["stage"] for s in report["hardware"]["stages"]]
    if view != "csim":  # no counters in what synthesis sees
        cyc["stages"] = [{"stage": i, "iterations": 0} for i in range(len(names))]
    if len(names) != len(cyc["stages"]):
        raise EdgecError(f"{build_dir / 'report.json'} lists {len(names)} stages but hls/ has {len(cyc['stages'])}; "
                         "rebuild the folder with `edgec build`")
    per_frame = {names[s["stage"]]: s["iterations"] / n for s in cyc["stages"]} if view == "csim" else None
    return {"view": view, "vectors": int(n), "mismatches": int(bad.sum()), "compile_s": round(compile_s, 2),
            "run_s": round(run_s, 2), "cycles": per_frame, "warnings": warnings,
            "first_mismatch": int(np.argmax(bad)) if bad.any() else None}
