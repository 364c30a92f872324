"""The MLPerf Tiny reference topologies (tests/nets.py, seeded random weights) through edgec.

    .venv/bin/python benchmarks/mlperf_tiny.py [--vectors N] [--nets NAME ...] [--formats F ...]
        [--presets P ...] [--csim FRAMES] [--cosim FRAMES] [--out DIR]

Each of ResNet-8, DS-CNN, MobileNetV1 0.25, the FC autoencoder and the small MobileNetV2
is built with `edgec.build(..., board="zynq7020", preset=P)` at int4 and w2a2 from each of
its nn.Module, a torch.export `.pt2` and an ONNX export, calibrated on 64 standard normal
inputs; the simulator is then compared with the fake-quant reference of the graph read
from that format (edgec.verify.compare) on `--vectors` other such inputs (default 1,000),
and its outputs with the module build's ("= module"). `--csim FRAMES` runs `edgec csim`
on that many frames of each module build, `--cosim FRAMES` the RTL under Verilator (20%
random idle and backpressure); each prints the result and its seconds. fps, LUT, BRAM36
and DSP are the report's estimates for the Zynq-7020 at 100 MHz. Prints a Markdown table
on stdout (the cell format of benchmarks/real_models.py), progress on stderr.
"""
import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from edgec import build, csim  # noqa: E402
from edgec.backend import sim as sim_backend  # noqa: E402
from edgec.compiler import load_model  # noqa: E402
from edgec.frontend.quantize import make_config, quantize  # noqa: E402
from edgec.verify import compare  # noqa: E402
from real_models import _md  # noqa: E402
from tests.nets import MLPERF_TINY, macs, mlperf_net  # noqa: E402

PRESETS = ("int4", "w2a2")
FORMATS = ("module", "pt2", "onnx")
HEAD = ["network", "MACs", "from", "bits", "build s", "vectors", "mismatches", "= module", "csim", "cosim",
        "fps (zynq7020)", "LUT", "BRAM36", "DSP", "fits"]


def exports(name: str, d: Path) -> dict:
    """The module, its `.pt2` and its ONNX file, and the calibration inputs (d/NAME.npy)."""
    m, shape = mlperf_net(name), MLPERF_TINY[name].INPUT
    np.save(d / f"{name}.npy", np.random.default_rng(1).normal(size=(64, *shape)).astype(np.float32))
    ex = (torch.zeros(1, *shape),)
    torch.export.save(torch.export.export(m, ex), str(d / f"{name}.pt2"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, ex, str(d / f"{name}.onnx"), dynamo=False)
    return {"module": m, "pt2": str(d / f"{name}.pt2"), "onnx": str(d / f"{name}.onnx")}


def check(what: str, fn, log) -> str:
    """A csim or cosim run: 'ok' / 'N mismatches' / 'failed', with its seconds."""
    t = time.perf_counter()
    try:
        r = fn()
        ok = r["mismatches"] == 0 and r.get("ok", True) and r.get("framing_ok", True)
        cell = f"{r['vectors']} ok" if ok else f"{r['mismatches']} of {r['vectors']} differ"
    except Exception as e:  # noqa: BLE001 -- a benchmark row, not a crash of the whole table
        cell = "failed"
        log(f"{what} failed: {type(e).__name__}: {str(e)[:300]}")
    s = time.perf_counter() - t
    log(f"{what}: {cell} in {s:.1f} s")
    return f"{cell} ({s:.0f} s)"


def run(name: str, fmt: str, model, preset: str, d: Path, n: int, ref_q: dict, args, log) -> list[str]:
    shape = MLPERF_TINY[name].INPUT
    kw = {"input_shape": shape} if fmt == "module" else {}
    t = time.perf_counter()
    res = build(model, d / f"{name}-{fmt}-{preset}", board="zynq7020", preset=preset, calib=d / f"{name}.npy",
                progress=None, **kw)
    s = time.perf_counter() - t
    log(f"built in {s:.1f} s; comparing {n} vectors")
    x = np.load(d / f"{name}.npy").astype(np.float64)
    qnet = quantize(load_model(model, shape)[0], x, make_config(preset))
    xe = np.random.default_rng(2).normal(size=(n, *shape)).astype(np.float32)
    c = compare(qnet, sim_backend.load(res.out / "sim"), xe)
    same = "-"
    if fmt == "module":
        ref_q[name, preset] = c["q"]
    elif (name, preset) in ref_q:
        same = "yes" if np.array_equal(c["q"], ref_q[name, preset]) else "no"
    cs = co = "-"
    if fmt == "module" and args.csim:
        cs = check("csim", lambda: csim.run(res.out, xe[:args.csim], args.csim), log)
    if fmt == "module" and args.cosim:
        from edgec.cosim.run import run as cosim

        co = check("cosim", lambda: cosim(res.out, "verilator", xe[:args.cosim], args.cosim, idle=0.2,
                                          backpressure=0.2), log)
    h = res.report["hardware"]
    fps = h["fps"]
    return [name, f"{macs(MLPERF_TINY[name](), shape):,}", fmt, preset, f"{s:.1f}", str(c["vectors"]),
            _md(f"{c['mismatches']}" + (f" ({c['ties']} ties)" if c["ties"] else "")), same, cs, co,
            f"{fps:,.0f}" if fps >= 10 else f"{fps:.1f}", f"{h['total']['LUT']:,.0f}",
            f"{h['total']['BRAM36']:,g}", f"{h['total']['DSP']:,.0f}", "yes" if h["fits"] else "no"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vectors", type=int, default=1000)
    ap.add_argument("--nets", nargs="+", choices=list(MLPERF_TINY), default=list(MLPERF_TINY))
    ap.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    ap.add_argument("--presets", nargs="+", choices=PRESETS, default=list(PRESETS))
    ap.add_argument("--csim", type=int, default=0, metavar="FRAMES", help="edgec csim on the module builds")
    ap.add_argument("--cosim", type=int, default=0, metavar="FRAMES",
                    help="Verilator cosim on the module builds (minutes on the larger nets)")
    ap.add_argument("--out", help="folder for the builds (default: a new temp dir)")
    args = ap.parse_args()
    d = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="edgec-mlperf-"))
    d.mkdir(parents=True, exist_ok=True)
    print("| " + " | ".join(HEAD) + " |")
    print("|" + "---|" * len(HEAD), flush=True)
    t0, ref_q = time.perf_counter(), {}
    for name in args.nets:
        models = exports(name, d)
        for preset in args.presets:
            for fmt in args.formats:
                def log(msg, name=name, preset=preset, fmt=fmt):
                    print(f"[{time.perf_counter() - t0:6.0f} s] {name} {fmt} {preset}: {msg}", file=sys.stderr,
                          flush=True)

                row = run(name, fmt, models[fmt], preset, d, args.vectors, ref_q, args, log)
                print("| " + " | ".join(row) + " |", flush=True)
    print(f"done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
