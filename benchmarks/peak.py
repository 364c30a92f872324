"""The seed's peak figures as measured numbers: achieved GOPS on the Zynq-7020.

    .venv/bin/python benchmarks/peak.py [--presets P ...] [--nets NAME ...] [--no-bnn] [--out DIR]

Achieved GOPS = 2 x MACs x fps, with MACs the report's total multiply-accumulates per
inference and fps the report's estimate at the board clock (100 MHz), after edgec's own
folding for the Zynq-7020 (85% of its LUT, BRAM36 and DSP). The MLPerf Tiny networks
(tests/nets.py, seeded random weights, built from the nn.Module, calibrated on 64
standard normal inputs) at int8, int4, w2a2 and w1a1; the eleven BNN-PYNQ networks
(tests/qonnx_nets.py, QONNX exports of brevitas_examples.bnn_pynq with seeded random
weights) at their own precision. Beside each, the seed's figure for that precision on a
Zynq-7020: INT8 0.05 TOPS, INT4 0.2 TOPS, binary 3.2 TOPS (w2a2 is set against INT4's).
A build that does not fit shows the report's `fits: no`. Markdown on stdout.
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from edgec import build  # noqa: E402
from edgec.errors import EdgecError  # noqa: E402
from tests import qonnx_nets as Q  # noqa: E402
from tests.nets import MLPERF_TINY, mlperf_net  # noqa: E402

PRESETS = ("int8", "int4", "w2a2", "w1a1")
SEED_GOPS = {"int8": 50.0, "int4": 200.0, "w2a2": 200.0, "w1a2": 3200.0, "w1a1": 3200.0}
HEAD = ["network", "bits", "MACs", "fps (zynq7020)", "achieved GOPS", "seed's GOPS", "share", "LUT", "BRAM36", "DSP",
        "fits", "build s"]


def row(name: str, bits: str, out: Path, build_s: float) -> list:
    r = json.loads((out / "report.json").read_text())
    hw, macs = r["hardware"], r["totals"]["macs"]
    gops = 2 * macs * hw["fps"] / 1e9
    use = hw.get("total", hw.get("resources", {}))
    return [name, bits, f"{macs:,}", f"{hw['fps']:,.0f}", f"{gops:,.1f}", f"{SEED_GOPS[bits]:,.0f}",
            f"{gops / SEED_GOPS[bits]:.2f}", _res(use, "LUT"), _res(use, "BRAM36"), _res(use, "DSP"),
            "yes" if hw["fits"] else "no", f"{build_s:.0f}"]


def _res(use: dict, k: str) -> str:
    v = use.get(k)
    return "-" if v is None else f"{v:,.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    ap.add_argument("--nets", nargs="+", default=[n for n in MLPERF_TINY if n != "mobilenet_v2"],
                    choices=list(MLPERF_TINY))
    ap.add_argument("--no-bnn", action="store_true", help="leave out the BNN-PYNQ networks")
    ap.add_argument("--out", type=Path, help="keep the builds here (default: a temporary folder)")
    a = ap.parse_args()
    d = a.out or Path(tempfile.mkdtemp(prefix="edgec-peak-"))
    d.mkdir(parents=True, exist_ok=True)
    print("| " + " | ".join(HEAD) + " |")
    print("|" + "---|" * len(HEAD))
    for name in a.nets:
        m, shape = mlperf_net(name), MLPERF_TINY[name].INPUT
        x = np.random.default_rng(1).normal(size=(64, *shape)).astype(np.float32)
        for p in a.presets:
            out = d / f"{name}-{p}"
            t = time.perf_counter()
            try:
                build(m, out, input_shape=shape, preset=p, calib=x, progress=None)
            except EdgecError as e:
                print(f"| {name} | {p} | edgec: error: {str(e)[:120]} |" + " |" * (len(HEAD) - 3), flush=True)
                continue
            print("| " + " | ".join(row(name, p, out, time.perf_counter() - t)) + " |", flush=True)
    if not a.no_bnn:
        for i, name in enumerate(Q.BNN_PYNQ):
            shape = Q.input_shape(name)
            path = Q.export(Q.bnn_pynq(name, seed=i), shape, d / f"{name}.onnx")
            t = time.perf_counter()
            build(str(path), d / name, progress=None)
            print("| " + " | ".join(row(name, name.split("_")[1], d / name, time.perf_counter() - t)) + " |",
                  flush=True)


if __name__ == "__main__":
    main()
