"""The MLPerf Tiny reference topologies (tests/nets.py, seeded random weights) through edgec.

    .venv/bin/python benchmarks/mlperf_tiny.py [--vectors N] [--out DIR]

Each of ResNet-8, DS-CNN, MobileNetV1 0.25, the FC autoencoder and the small MobileNetV2
is built from its nn.Module with `edgec.build(..., board="zynq7020", preset=P)` at int4 and
w2a2, calibrated on 64 standard normal inputs; the simulator is then compared with the
fake-quant reference (edgec.verify.compare) on `--vectors` other such inputs (default
1,000). fps, LUT, BRAM36 and DSP are the report's estimates for the Zynq-7020 at 100 MHz.
Prints a Markdown table on stdout (the cell format of benchmarks/real_models.py), progress
on stderr.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402

from edgec import build  # noqa: E402
from edgec.backend import sim as sim_backend  # noqa: E402
from edgec.frontend.quantize import make_config, quantize  # noqa: E402
from edgec.frontend.torch_import import import_torch  # noqa: E402
from edgec.verify import compare  # noqa: E402
from real_models import _md  # noqa: E402
from tests.nets import MLPERF_TINY, macs, mlperf_net  # noqa: E402

PRESETS = ("int4", "w2a2")
HEAD = ["network", "MACs", "bits", "build s", "vectors", "mismatches", "fps (zynq7020)", "LUT", "BRAM36", "DSP",
        "fits"]


def run(name: str, preset: str, d: Path, n: int, log) -> list[str]:
    shape = MLPERF_TINY[name].INPUT
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, *shape)).astype(np.float32)
    t = time.perf_counter()
    res = build(mlperf_net(name), d / f"{name}-{preset}", board="zynq7020", input_shape=shape, preset=preset,
                calib=x, progress=None)
    s = time.perf_counter() - t
    log(f"built in {s:.1f} s; comparing {n} vectors")
    qnet = quantize(import_torch(mlperf_net(name), shape), x.astype(np.float64), make_config(preset))
    xe = np.random.default_rng(2).normal(size=(n, *shape)).astype(np.float32)
    c = compare(qnet, sim_backend.load(res.out / "sim"), xe)
    h = res.report["hardware"]
    fps = h["fps"]
    return [name, f"{macs(MLPERF_TINY[name](), shape):,}", preset, f"{s:.1f}", str(c["vectors"]),
            _md(f"{c['mismatches']}" + (f" ({c['ties']} ties)" if c["ties"] else "")),
            f"{fps:,.0f}" if fps >= 10 else f"{fps:.1f}", f"{h['total']['LUT']:,.0f}",
            f"{h['total']['BRAM36']:,g}", f"{h['total']['DSP']:,.0f}", "yes" if h["fits"] else "no"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vectors", type=int, default=1000)
    ap.add_argument("--out", help="folder for the builds (default: a new temp dir)")
    args = ap.parse_args()
    d = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="edgec-mlperf-"))
    d.mkdir(parents=True, exist_ok=True)
    print("| " + " | ".join(HEAD) + " |")
    print("|" + "---|" * len(HEAD), flush=True)
    t0 = time.perf_counter()
    for name in MLPERF_TINY:
        for preset in PRESETS:
            def log(msg, name=name, preset=preset):
                print(f"[{time.perf_counter() - t0:6.0f} s] {name} {preset}: {msg}", file=sys.stderr, flush=True)

            print("| " + " | ".join(run(name, preset, d, args.vectors, log)) + " |", flush=True)
    print(f"done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
