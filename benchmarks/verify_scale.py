"""Verification at data-set scale (issue 21): 10,000 CNV-w1a1 inputs through `edgec sim` in
bounded memory, and `edgec verify` on them against qonnx's execution, sharded on a local Ray.

    .venv/bin/python benchmarks/verify_scale.py [--n 10000] [--jobs 2] [--out DIR]

CNV-w1a1 is brevitas_examples.bnn_pynq's (seeded random weights and BatchNorm statistics, as
tests/test_qonnx.py), exported to QONNX and built by the CLI. The inputs are random images in
[0, 1) saved as float32 .npy (10,000 x 3 x 32 x 32: 123 MB). Each command runs in its own
process; its peak resident memory is that process's ru_maxrss (Linux: KiB), read with
wait4. Prints a Markdown table: command, seconds, peak MB, and what it gave.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from tests import qonnx_nets as Q  # noqa: E402

EDGEC = [sys.executable, "-m", "edgec.cli"]


def measured(cmd: list[str]) -> tuple[float, float, str, str]:
    """Run cmd; its wall seconds, its peak resident MB (itself, not its children: Ray's workers
    are reported apart), stdout and stderr."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        secs = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        so, se = out.read().decode(), err.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{se[-3000:]}")
    return secs, usage.ru_maxrss / 1024, so, se


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--memory", default="1G", help="edgec sim's and each verify shard's batch memory")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    d = a.out or Path(tempfile.mkdtemp(prefix="verify_scale_"))
    d.mkdir(parents=True, exist_ok=True)
    model = Q.export(Q.bnn_pynq("cnv_1w1a"), Q.input_shape("cnv_1w1a"), d / "cnv_w1a1.onnx")
    x = d / "x.npy"
    np.save(x, Q.images(Q.input_shape("cnv_1w1a"), a.n, seed=1).astype(np.float32))
    build = d / "build"
    rows = []
    s, mb, _, _ = measured(EDGEC + ["build", "--board", "zynq7020", str(model), "-o", str(build), "-q"])
    rows.append(("edgec build", s, mb, "CNV-w1a1 QONNX"))
    s, mb, so, _ = measured(EDGEC + ["sim", str(build), "--inputs", str(x), "--out", str(d / "y.npz"),
                                     "--memory", a.memory])
    y = np.load(d / "y.npz")["q"]
    rows.append((f"edgec sim --memory {a.memory}", s, mb, f"{len(y):,} outputs, {a.n / s:,.0f} inputs/s"))
    s, mb, so, _ = measured(EDGEC + ["verify", str(build), "--inputs", str(x), "--reference", "qonnx", "--jobs",
                                     str(a.jobs), "--memory", a.memory, "--json"])
    r = json.loads(so.splitlines()[-1])
    rows.append((f"edgec verify --reference qonnx --jobs {a.jobs}", s, mb,
                 f"{r['vectors']:,} vectors, {r['mismatches']} mismatches, {r['ties']} ties, {r['shards']} shards "
                 f"on {r['ray']} Ray, engine {r['engine']}"))
    print(f"| command ({a.n:,} CNV-w1a1 inputs) | s | peak MB | result |")
    print("|---|---:|---:|---|")
    for cmd, s, mb, what in rows:
        print(f"| `{cmd}` | {s:,.1f} | {mb:,.0f} | {what} |")


if __name__ == "__main__":
    main()
