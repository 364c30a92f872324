"""Third-party models and Brevitas topologies through `edgec build`, as a user would run it.

    .venv/bin/python benchmarks/real_models.py [--models NAME ...] [--out DIR] [--vectors N]

The models: every file of ../shared/models (SOURCES.md there says what each is), the
eleven brevitas_examples.bnn_pynq networks (seeded random weights and BatchNorm
statistics, exported as tests/test_qonnx.py does) and the Brevitas topologies of
tests/brevitas_models.py (MODELS, export). Each is built with
`python -m edgec.cli build MODEL.onnx --board zynq7020 -o OUT`:

* a QONNX file with the widths it states; one whose input is float (no quantizer follows
  it) with `--calib` of 64 random inputs uniform in [-1, 1], from which edgec calibrates
  an 8-bit input quantizer;
* a float ONNX file with `--preset int8 --calib` of 300 inputs (standard normal for
  vector inputs, uniform in [0, 1] for images).

Then the simulator (OUT/sim) is checked against the model's own executor on `--vectors`
generated inputs (default 1,000; fewer for the models in FEWER, whose numpy simulation
takes over a second per input): a QONNX build with edgec.verify.check_qonnx (every
quantized activation against qonnx's execute_onnx, on edgec.verify.inputs_in_range;
rounding ties in the reference counted apart; a float-input model is executed with the
input quantizer edgec adds to it), a float build with edgec.verify.agreement of
sim.predict against onnxruntime (top-1 agreement, relative L2 error). The frame rate,
LUT and BRAM36 are OUT/report.json's estimates for the Zynq-7020 at 100 MHz.

With ``--jobs N`` (N > 1) a QONNX model's check runs as `edgec verify OUT --reference qonnx
--jobs N` instead (the same check against the reference the build stored, sharded on a
local Ray): the channels-last hls4ml maps take seconds an input in qonnx.

Prints a Markdown table (one row per model as it finishes) on stdout, progress on stderr.
A model edgec refuses shows its `edgec: error:` line instead of numbers.
"""
import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import onnx  # noqa: E402

from edgec.backend import sim as sim_backend  # noqa: E402
from edgec.frontend.normalize import input_kind, normalized, with_input_quantizer  # noqa: E402
from edgec.frontend.onnx_import import load_onnx  # noqa: E402
from edgec.frontend.qonnx_import import is_qonnx  # noqa: E402
from edgec.ir.graph import Graph  # noqa: E402
from edgec.verify import agreement, check_qonnx, inputs_in_range, onnxruntime_outputs  # noqa: E402

SHARED = ROOT.parent / "shared" / "models"
BOARD = "zynq7020"
QONNX_CALIB = 64  # float-input QONNX models: random inputs uniform in [-1, 1] for --calib
FLOAT_CALIB = 300  # float ONNX models at --preset int8
ERROR_CHARS = 150  # an `edgec: error:` line is cut at its first "; " (hints, supported ops), then to this length
# the numpy simulation of these takes over a second per input (ResNet-18 at 32x32): checked on this
# many vectors. The models of ../shared/models are all checked on --vectors (the two channels-last
# hls4ml maps, 512x512x3 and 256x256x3, take about 2 and 5 s per input: an hour or more at 1,000)
FEWER = {"a2q_resnet18_w4a4_16b": 100, "a2q_resnet18_w4a4_16b_qin": 100}


# ---- the models -------------------------------------------------------------------------------

def shared_sources() -> dict[str, str]:
    """name -> origin (its first part) from the shared folder's SOURCES.md table."""
    out = {}
    for line in (SHARED / "SOURCES.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].endswith(".onnx"):
            out[cells[0][: -len(".onnx")]] = cells[1].split(",")[0].strip()
    return out


def brevitas_source(name: str) -> str:
    if name.startswith("layer_"):
        return "brevitas.nn layer (random weights)"
    qin = " + 8-bit input QuantIdentity" if name.endswith("_qin") else ""
    return f"brevitas_examples imagenet_classification (random weights){qin}"


def models():
    """(name, source, export) for every model, in table order; export(dir) -> the .onnx path."""
    from tests import brevitas_models as B
    from tests import qonnx_nets as Q

    origins = shared_sources()
    for p in sorted(SHARED.glob("*.onnx"), key=lambda p: (list(origins).index(p.stem) if p.stem in origins
                                                           else len(origins), p.stem)):
        yield p.stem, origins.get(p.stem, "../shared/models"), lambda d, p=p: p
    for i, name in enumerate(Q.BNN_PYNQ):
        yield name, "brevitas_examples bnn_pynq (random weights)", \
            lambda d, n=name, i=i: Q.export(Q.bnn_pynq(n, seed=i), Q.input_shape(n), d / f"{n}.onnx")
    for name in B.MODELS:
        yield name, brevitas_source(name), lambda d, n=name: B.export(n, d / f"{n}.onnx")


# ---- one model ---------------------------------------------------------------------------------

def ops(path: Path) -> str:
    """The file's ONNX op types with their counts, most frequent first."""
    c = Counter(n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node)
    return ", ".join(f"{op}×{k}" for op, k in sorted(c.items(), key=lambda t: (-t[1], t[0])))


def input_shape(path: Path) -> tuple:
    dims = onnx.load(str(path), load_external_data=False).graph.input[0].type.tensor_type.shape.dim
    return tuple(d.dim_value for d in dims[1:])


def float_inputs(path: Path, n: int, seed: int) -> np.ndarray:
    """Standard normal features for a vector input, images uniform in [0, 1] otherwise."""
    shape, rng = input_shape(path), np.random.default_rng(seed)
    x = rng.normal(size=(n, *shape)) if len(shape) == 1 else rng.uniform(0, 1, size=(n, *shape))
    return x.astype(np.float32)


def edgec_build(path: Path, out: Path, extra: list[str]) -> tuple[float, str | None]:
    """Run the CLI; (seconds, None) or (seconds, the shortened error line)."""
    cmd = [sys.executable, "-m", "edgec.cli", "build", str(path), "--board", BOARD, "-o", str(out), "-q", *extra]
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    s = time.perf_counter() - t
    if r.returncode == 0:
        return s, None
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    err = next((x for x in lines if x.startswith("edgec: error:")), None)
    last = lines[-1] if lines else "(no output)"
    err = err.split("; ")[0] if err else f"exit {r.returncode}: {last}"
    return s, err if len(err) <= ERROR_CHARS else err[: ERROR_CHARS - 1] + "…"


def verify_cli(out: Path, x: np.ndarray, jobs: int) -> dict:
    """`edgec verify OUT --reference qonnx --jobs N` on x (saved beside OUT): the same
    check_qonnx, sharded over a local Ray."""
    xp = out.parent / f"{out.name}_inputs.npy"
    np.save(xp, x)
    r = subprocess.run([sys.executable, "-m", "edgec.cli", "verify", str(out), "--inputs", str(xp), "--reference",
                        "qonnx", "--jobs", str(jobs), "--json"], capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        raise RuntimeError((r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1])
    return json.loads(r.stdout.strip().splitlines()[-1])


def run_model(name: str, source: str, export, d: Path, n_vectors: int, log, jobs: int = 1) -> dict:
    row = {"model": name, "source": source}
    path = export(d / "onnx")
    row["ops"] = ops(path)
    log(f"{path}: {row['ops']}")
    raw = onnx.load(str(path), load_external_data=False)
    qonnx, out, extra, calib = is_qonnx(raw), d / name, [], None
    if qonnx and input_kind(raw)[0] == "float":
        calib = np.random.default_rng(0).uniform(-1, 1, size=(QONNX_CALIB, *input_shape(path))).astype(np.float32)
    elif not qonnx:
        calib = float_inputs(path, FLOAT_CALIB, seed=1)
        extra += ["--preset", "int8"]
    if calib is not None:
        np.save(d / f"{name}_calib.npy", calib)
        extra += ["--calib", str(d / f"{name}_calib.npy")]
    log(f"edgec build {' '.join(extra)}".rstrip())
    row["build_s"], row["error"] = edgec_build(path, out, extra)
    if row["error"]:
        log(f"failed after {row['build_s']:.1f} s: {row['error']}")
        return row
    rep = json.loads((out / "report.json").read_text())
    row["hardware"] = rep["hardware"]
    sim = sim_backend.load(out / "sim")
    n = min(n_vectors, FEWER.get(name, n_vectors))
    log(f"built in {row['build_s']:.1f} s (report: {rep.get('sim_vs_reference')}); checking {n} vectors")
    t = time.perf_counter()
    try:
        if qonnx:
            coded = rep.get("input_quantizer", {}).get("source") == "annotation"  # its values are the codes
            x = inputs_in_range(sim, n, seed=2, jitter=0.0 if coded else 0.4)
            if jobs > 1:  # the build's own stored reference (OUT/reference), sharded
                c = verify_cli(out, x, jobs)
                row["vectors"], row["check"] = c["vectors"], f"{c['mismatches']}" + (
                    f" ({c['ties']} tie{'s' * (c['ties'] > 1)})" if c["ties"] else "")
                log(f"{row['vectors']} vectors: {row['check']} ({time.perf_counter() - t:.0f} s, {jobs} jobs)")
                return row
            # the model as the build normalised it (channels first: the tensor names the build records),
            # for a float input with the input quantizer edgec added to it
            loaded = normalized(load_onnx(path), fuse=False)
            model = loaded[0] if calib is None else with_input_quantizer(loaded, calib, 8)[0]
            c = check_qonnx(model, Graph.load(out / "model"), sim, x)
            row["vectors"], row["check"] = c["vectors"], f"{c['mismatches']}" + (
                f" ({c['ties']} tie{'s' * (c['ties'] > 1)})" if c["ties"] else "")
        else:
            x = float_inputs(path, n, seed=2)
            a = agreement(sim.predict(x), onnxruntime_outputs(path, x))
            row["vectors"] = a["vectors"]
            row["check"] = (f"top-1 {100 * a['top1_agreement']:.1f}%, " if a["top1_agreement"] is not None
                            else "") + f"L2 {100 * a['relative_l2']:.1f}%"
    except Exception as e:  # noqa: BLE001 - a reference that cannot run is reported in the row
        row["vectors"], row["check"] = n, f"check failed: {(str(e).strip().splitlines() or [type(e).__name__])[0]}"
    log(f"{row['vectors']} vectors: {row['check']} ({time.perf_counter() - t:.0f} s)")
    return row


# ---- the table ---------------------------------------------------------------------------------

HEAD = ["model", "source", "ops", "build s", "vectors", "mismatches", "fps (zynq7020)", "LUT", "BRAM36", "fits"]


def line(row: dict) -> str:
    cells = [row["model"], row["source"], row["ops"], f"{row['build_s']:.1f}"]
    if row.get("error"):
        cells += [_md(row["error"]), "", "", "", "", ""]
    else:
        h = row["hardware"]
        fps = h["fps"]
        cells += [str(row["vectors"]), _md(row["check"]), f"{fps:,.0f}" if fps >= 10 else f"{fps:.1f}",
                  f"{h['total']['LUT']:,.0f}", f"{h['total']['BRAM36']:,g}", "yes" if h["fits"] else "no"]
    return "| " + " | ".join(cells) + " |"


def _md(s: str) -> str:
    return re.sub(r"([|])", r"\\\1", s)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", metavar="NAME", help="build only these (default: all)")
    ap.add_argument("--out", help="folder for the exports, calibration inputs and builds (default: a new temp dir)")
    ap.add_argument("--vectors", type=int, default=1000, help="inputs compared with the reference (default 1000)")
    ap.add_argument("--jobs", type=int, default=1,
                    help="QONNX models: check through `edgec verify --jobs N` on a local Ray (default 1: in-process)")
    args = ap.parse_args()
    todo = list(models())
    if args.models:
        known = [m[0] for m in todo]
        unknown = [m for m in args.models if m not in known]
        if unknown:
            ap.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(known)}")
        todo = [m for m in todo if m[0] in args.models]
    d = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="edgec-real-models-"))
    (d / "onnx").mkdir(parents=True, exist_ok=True)
    print(f"output in {d}", file=sys.stderr)
    print("| " + " | ".join(HEAD) + " |")
    print("|" + "---|" * len(HEAD), flush=True)
    t0 = time.perf_counter()
    for i, (name, source, export) in enumerate(todo, 1):
        def log(msg, name=name, i=i):
            print(f"[{i}/{len(todo)} {time.perf_counter() - t0:6.0f} s] {name}: {msg}", file=sys.stderr, flush=True)

        print(line(run_model(name, source, export, d, args.vectors, log, args.jobs)), flush=True)
    print(f"{len(todo)} models in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
