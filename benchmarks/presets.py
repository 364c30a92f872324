"""Build the built-in example at every preset and measure accuracy and simulator speed.

    .venv/bin/python benchmarks/presets.py [OUT_DIR]

Prints a Markdown table: float / fake-quant reference / simulator accuracy on the
540-sample digits test split, mismatches against the reference, build time and the
simulator's throughput (samples per second, best of 3 runs over the test split).
"""
import sys
import tempfile
import time
from pathlib import Path

import edgec
from edgec.backend import sim as sim_backend
from edgec.examples import digits


def main(out_dir: Path) -> None:
    x, _ = digits.test_split()
    print("| preset | float | reference | simulator | mismatches | build s | sim samples/s |")
    print("|---|---|---|---|---|---|---|")
    for preset in ("int8", "int4", "w2a2", "w1a1"):
        t = time.perf_counter()
        res = edgec.build(None, out_dir / preset, preset=preset, progress=None)
        build_s = time.perf_counter() - t
        sim = sim_backend.load(res.out / "sim")
        best = min(_timed(sim.run, x) for _ in range(3))
        a, s = res.report["accuracy"], res.report["sim_vs_reference"]
        print(f"| {preset} | {a['float']:.2f}% | {a['reference']:.2f}% | {a['sim']:.2f}% | {s['mismatches']} "
              f"| {build_s:.1f} | {len(x) / best:,.0f} |")


def _timed(fn, x):
    t = time.perf_counter()
    fn(x)
    return time.perf_counter() - t


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
