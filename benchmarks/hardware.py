"""Fold the built-in example for the Zynq-7020 at every preset, fully folded and at the
highest frame rate that fits, and C-simulate each build on the digits test split.

    .venv/bin/python benchmarks/hardware.py [OUT_DIR]

Prints a Markdown table: estimated frames per second at the board clock, the bottleneck
stage, estimated LUT / BRAM36 / DSP, and the C simulation's mismatches against the
simulator with its compile and run times.
"""
import sys
import tempfile
from pathlib import Path

import edgec
from edgec import csim


def main(out_dir: Path) -> None:
    print("| preset | folding | fps @ 100 MHz | bottleneck (cycles) | LUT | BRAM36 | DSP | csim vectors | "
          "mismatches | compile s | run s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for preset in ("int8", "int4", "w2a2", "w1a1"):
        for folding in ("min", "auto"):
            res = edgec.build(None, out_dir / f"{preset}-{folding}", preset=preset, folding=folding, progress=None)
            h = res.report["hardware"]
            r = csim.run(res.out)
            t = h["total"]
            print(f"| {preset} | {folding} | {h['fps']:,.0f} | {h['bottleneck']} ({h['cycles_per_frame']:,}) | "
                  f"{t['LUT']:,} | {t['BRAM36']:g} | {t['DSP']} | {r['vectors']} | {r['mismatches']} | "
                  f"{r['compile_s']:.1f} | {r['run_s']:.1f} |", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as d:
            main(Path(d))
