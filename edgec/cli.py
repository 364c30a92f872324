"""The `edgec` command line. Bad input: one `edgec: error: ...` line, exit code 2."""
from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from pathlib import Path

from . import options as O
from .errors import EdgecError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        raise EdgecError(f"{message} (see `{self.prog} --help`)")


def _shape(s: str):
    try:
        return tuple(int(v) for v in s.replace("x", ",").split(","))
    except ValueError:
        raise EdgecError(f"--input-shape {s!r}: give the per-sample shape like 1,8,8") from None


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="edgec", description="Compile trained networks into bit-exact FPGA accelerators.")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    # every command: -q (only errors and the final line) and --json (the final line is one JSON object)
    common = _Parser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="no progress; print errors and the final line only")
    common.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")
    sub.add_parser = functools.partial(sub.add_parser, parents=[common])
    b = sub.add_parser("build", help="compile a model (default: the built-in digits example)")
    b.add_argument("model", nargs="?", help=".onnx (float or QONNX) or .pt2 (torch.export); none: built-in example")
    b.add_argument("--board", default="zynq7020", help="board name or alias (see `edgec boards`)")
    b.add_argument("-o", "--out", required=True, help="output folder (new, empty, or an earlier edgec build)")
    b.add_argument("--preset", choices=list(O.PRESETS), help=f"quantization preset (default {O.DEFAULT_PRESET})")
    b.add_argument("--config",
                   help="YAML: preset, wbits, abits, input_bits, calibrator, percentile, requant, clock_mhz, "
                        "layers: {name: {...}}")
    b.add_argument("--wbits", help="weight bits for every layer: 1 (binary), 2-8, or ternary")
    b.add_argument("--abits", help="activation bits for every layer: 1 (bipolar) to 8")
    b.add_argument("--calib", help="calibration inputs, .npy shaped (N, *input shape)")
    b.add_argument("--labels", help="class labels of the calibration inputs, .npy shaped (N,)")
    b.add_argument("--input-bits", type=int,
                   help="bits of the input quantizer edgec calibrates on --calib (default 8; config: input_bits); "
                        "for a QONNX model only when its input is float")
    b.add_argument("--input-shape", type=_shape, help="per-sample input shape, e.g. 1,8,8 (when the model lacks it)")
    b.add_argument("--finetune-epochs", type=int,
                   help="straight-through fine-tuning epochs on the labelled calibration data")
    b.add_argument("--dump-ir", action="store_true", help="write OUT/ir/NN_<pass>.json/.npz after every pass")
    b.add_argument("--target-fps", type=float,
                   help="frames per second to fold for (default: the highest that fits the board)")
    b.add_argument("--clock-mhz", help="the accelerator's clock, to fold for and report frame rates at (default: "
                   "the board's; config: clock_mhz); `edgec synth` says whether every stage's estimate meets it")
    b.add_argument("--folding", default="auto",
                   help="auto: meet --target-fps within the board; min: fully folded, PE = SIMD = 1; or a YAML "
                        "file {layer: {pe: N, simd: M}} that fixes those layers (the others are folded to keep up)")
    b.add_argument("--winograd", default="off", choices=O.WINOGRAD_MODES,
                   help="3x3 stride-1 convolutions as Winograd tiles F(2x2,3x3) or F(4x4,3x3); auto: per layer, "
                        "where the cost model finds it cheaper")
    b.add_argument("--prune", type=float, metavar="S",
                   help="magnitude pruning: set the share S (e.g. 0.9) of every conv/linear layer's weights to zero "
                        "(per layer: prune in the config)")
    b.add_argument("--prune-mode", choices=O.PRUNE_MODES,
                   help="unstructured (default): smallest weights of the layer; channel: of every output channel")
    b.add_argument("--prune-domain", choices=O.PRUNE_DOMAINS,
                   help="winograd: quantize and prune the 3x3 stride-1 convolutions' transformed kernels U "
                        "directly (needs --winograd f2 or f4)")
    b.add_argument("--sparse", default="off", choices=O.SPARSE_MODES,
                   help="matrix units walk a compressed stream of the non-zero weights (skipping zeros); auto: "
                        "per layer, where the cost model finds it cheaper than dense")
    b.add_argument("--requant", choices=O.REQUANT_MODES,
                   help="output quantizers as an integer multiply, shift and clip (Requant) instead of thresholds: "
                        "auto (default; config: requant): layers of 5+ bits where the cost model finds it cheaper; "
                        "on: every layer that can; off")
    b.add_argument("--lowrank", metavar="E|Sx",
                   help="factorise layers before quantization: E (e.g. 0.95) keeps that share of the singular values' "
                        "energy, Sx (e.g. 2x) aims at S times fewer MACs per layer")
    b.add_argument("--lowrank-conv", default="tucker", choices=O.LOWRANK_CONV,
                   help="convolutions as Tucker-2 (1x1, kxk core, 1x1) or as a kx1 + 1xk pair")
    b.add_argument("--export-qonnx", metavar="FILE", help="also write the quantized model as QONNX (.onnx) to FILE")
    b.add_argument("--vivado-ip", default="hls", choices=O.VIVADO_IPS,
                   help="accelerator of OUT/vivado/build_bd.tcl: hls (the Vitis HLS export, default) or rtl "
                        "(OUT/rtl packaged as IP by OUT/vivado/package_ip.tcl); `-tclargs hls|rtl` overrides it")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--max-model-mb", type=int, help="largest model file (with its external data) to read, in MiB "
                   "(default 2048)")
    s = sub.add_parser("sim", help="run the generated bit-exact simulator of a build")
    s.add_argument("build_dir")
    s.add_argument("--inputs", required=True, help=".npy inputs: float, or integer codes")
    s.add_argument("--out", required=True, help=".npz to write with arrays q (integer outputs) and y (real values)")
    s.add_argument("--labels", help=".npy labels: also print the accuracy")
    s.add_argument("--debug", action="store_true", help="assert every value stays inside its proven type")
    s.add_argument("--engine", choices=O.SIM_ENGINES, default="auto",
                   help="auto: torch when it imports, else numpy (default); torch: the fast path (the same integers "
                        "in float32/float64/int64 by their proven bounds); numpy: the reference path")
    s.add_argument("--memory", default="1G", help="memory for the simulator's batches, e.g. 1G (default), 256M: the "
                   "inputs are read memory-mapped and the outputs written batch by batch")
    f = sub.add_parser("verify", help="the simulator on a whole data set against the build's reference (qonnx, "
                       "onnxruntime or the fake-quant torch model), sharded on Ray; csim/cosim on the first vectors")
    f.add_argument("build_dir")
    f.add_argument("--inputs", required=True, help=".npy inputs (float, or integer codes), read memory-mapped")
    f.add_argument("--labels", help=".npy class labels: also the simulator's accuracy")
    f.add_argument("--reference", choices=O.VERIFY_REFERENCES, default="auto",
                   help="auto (default): the one the build kept in OUT/reference: qonnx for a QONNX model, "
                        "onnxruntime for an int8 ONNX model, torch (the fake-quant reference) for a float model, "
                        "pytorch (PyTorch's execution of the program) for a PT2E-quantized .pt2")
    f.add_argument("--csim", type=int, default=0, metavar="N", help="also C-simulate the first N vectors")
    f.add_argument("--cosim", type=int, default=0, metavar="N", help="also co-simulate the RTL on the first N vectors")
    f.add_argument("--simulator", choices=O.SIMULATORS, default="icarus", help="the RTL simulator of --cosim")
    f.add_argument("--address", help="a Ray cluster to shard on (default: a local Ray; OUT and the inputs must be "
                   "at the same paths on its nodes)")
    f.add_argument("--jobs", type=int, help="shards at once on a local Ray (default: one per CPU; 1: in this "
                   "process, without Ray)")
    f.add_argument("--memory", default="1G", help="memory per shard for the batches, e.g. 1G (default)")
    r = sub.add_parser("report", help="print a build's per-layer report")
    r.add_argument("build_dir")
    c = sub.add_parser("csim", help="C-simulate the build's HLS code with g++ and compare with the simulator")
    c.add_argument("build_dir")
    c.add_argument("--vectors", type=int, help="number of input vectors (default: all the example's test inputs)")
    c.add_argument("--inputs", help=".npy inputs (float or integer codes); default: the example's test split, "
                   "or random codes for other models")
    c.add_argument("--view", choices=O.CSIM_VIEWS, default="csim",
                   help="csim: C simulation's types with loop counters (default); synth: what synthesis sees "
                        "(exact-width constant arrays, no counters), same beat type and testbench")
    v = sub.add_parser("cosim", help="co-simulate the build's RTL under cocotb, fed by the generated driver through "
                       "an AXI DMA model, and compare with the simulator")
    v.add_argument("build_dir")
    v.add_argument("--simulator", choices=O.SIMULATORS, default="icarus")
    v.add_argument("--vectors", type=int, help="number of frames (default: 100; inputs repeat when fewer)")
    v.add_argument("--inputs", help=".npy inputs (float or integer codes); default: the example's test split, "
                   "or random codes for other models")
    v.add_argument("--idle", type=float, default=0.0, help="probability of an idle cycle on the DMA's MM2S stream")
    v.add_argument("--backpressure", type=float, default=0.0, help="probability of tready low on the DMA's S2MM stream")
    v.add_argument("--rtl", help="other Verilog with the same top-level ports (the Vitis HLS export)")
    v.add_argument("--streams", action="store_true", help="also count, per internal stream, the cycles its producer "
                   "waited on a full FIFO and its consumer on an empty one (slower: a Python check every cycle)")
    y = sub.add_parser("synth", help="synthesize the build's RTL with yosys (synth_xilinx) beside the cost model")
    y.add_argument("build_dir")
    y.add_argument("--jobs", type=int, help="yosys runs at once (default: one per CPU)")
    sub.add_parser("boards", help="list the known boards")
    e = sub.add_parser("explore", help="search bits, Winograd, pruning, folding ... on Ray Tune for the Pareto "
                                       "designs (edgec/explore.py)")
    e.add_argument("model", nargs="?", help="as for build; none: the built-in example")
    e.add_argument("--board", default="zynq7020")
    e.add_argument("--space", required=True, help="the search space, YAML (see `edgec/explore.py`)")
    e.add_argument("-o", "--out", required=True, help="results folder (new or empty; with --resume, the earlier one)")
    e.add_argument("--budget", type=int, help="trials (default: the space's samples)")
    e.add_argument("--address", help="a Ray cluster to run on (default: a local Ray)")
    e.add_argument("--resume", action="store_true", help="continue an interrupted search in --out")
    e.add_argument("--jobs", type=int, help="trials at once on a local Ray (default: one per CPU)")
    e.add_argument("--calib", help="calibration inputs, .npy")
    e.add_argument("--labels", help="their labels, .npy (accuracy; else agreement with the float model)")
    e.add_argument("--input-shape", type=_shape, help="per-sample input shape (when the model lacks it)")
    return p


def _build_dir(d: str, *parts: str) -> Path:
    from .outdir import open_build

    return open_build(d, *parts)[0]


def _out_file(path: str, flag: str, suffix: str) -> Path:
    """A file to write: its folder exists, it is not a folder itself."""
    p = Path(path)
    if str(path).strip() == "" or "\0" in str(path):
        raise EdgecError(f"{flag}: give a file name ending in {suffix}")
    if p.is_dir():
        raise EdgecError(f"{flag} {path}: that is a folder; give a file name ending in {suffix}")
    if not p.parent.is_dir():
        raise EdgecError(f"{flag} {path}: folder '{p.parent}' does not exist")
    return p


def _inputs(path, d: Path, mmap: bool = False):
    from . import validate

    shape = tuple(json.loads((d / "edgec.json").read_text())["input_shape"])
    return validate.numeric(validate.load_array(path, "--inputs", mmap), "--inputs", shape)


def _json(obj) -> None:
    """The command's result: one JSON object on one line, the last of its output."""
    print(json.dumps(obj, sort_keys=True))


def build_summary(out: Path, rep: dict) -> dict:
    """The figures of a build's report that `edgec build --json` prints."""
    hw = rep.get("hardware", {})
    return {"out": str(out), "board": rep.get("board"), "fits": hw.get("fits"), "fps": hw.get("fps"),
            "cycles_per_frame": hw.get("cycles_per_frame"), "clock_mhz": hw.get("clock_mhz"),
            "resources": hw.get("total"), "sim_vs_reference": rep.get("sim_vs_reference"),
            "accuracy": rep.get("accuracy")}


def cmd_build(a) -> int:
    from .backend.report import table
    from .compiler import build

    res = build(a.model, a.out, board=a.board, preset=a.preset, config=a.config, wbits=a.wbits, abits=a.abits,
                calib=a.calib, labels=a.labels, input_shape=a.input_shape, finetune_epochs=a.finetune_epochs,
                dump_ir=a.dump_ir, seed=a.seed, target_fps=a.target_fps, folding=a.folding,
                export_qonnx=a.export_qonnx, winograd=a.winograd, prune=a.prune, prune_mode=a.prune_mode,
                sparse=a.sparse, lowrank=a.lowrank, lowrank_conv=a.lowrank_conv, prune_domain=a.prune_domain,
                max_model_mb=a.max_model_mb, vivado_ip=a.vivado_ip, input_bits=a.input_bits, requant=a.requant,
                clock_mhz=a.clock_mhz, progress=_progress(a))
    _done(a)
    if not a.quiet:
        print(table(res.report))
    if a.json:
        _json(build_summary(res.out, res.report))
    else:
        print(f"wrote {res.out}/")
    return 0


def _memory(s) -> int:
    """--memory: bytes, as 1G, 512M, 64k or a plain number of bytes."""
    t = str(s).strip().upper().removesuffix("B")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(t[-1:], 1)
    try:
        v = float(t[:-1] if mult > 1 else t) * mult
    except ValueError:
        v = float("nan")
    if not v >= 1:
        raise EdgecError(f"--memory {s!r}: give a size like 1G, 512M or 64k")
    return int(v)


class _StreamedNpz:
    """An .npz written incrementally: each array is a memory-mapped .npy beside the file
    (np.lib.format.open_memmap) filled batch by batch, then streamed into the .npz (fixed
    timestamps, as ir.graph.save_npz), which is renamed into place at the end."""

    def __init__(self, path: Path, n: int):
        self.path, self.n, self.arrays = path, n, {}
        self.tmp = path.parent / f".{path.name}.edgec-{os.getpid()}"

    def write(self, name: str, start: int, v) -> None:
        import numpy as np

        v = np.asarray(v)
        if name not in self.arrays:
            self.tmp.mkdir(exist_ok=True)
            self.arrays[name] = np.lib.format.open_memmap(self.tmp / f"{name}.npy", "w+", v.dtype,
                                                          (self.n, *v.shape[1:]))
        self.arrays[name][start : start + len(v)] = v

    def close(self) -> None:
        import shutil
        import zipfile

        part = self.tmp / "out.npz"
        with zipfile.ZipFile(part, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as z:
            for name in sorted(self.arrays):
                self.arrays[name].flush()
                info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
                with open(self.tmp / f"{name}.npy", "rb") as src, z.open(info, "w", force_zip64=True) as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        self.arrays.clear()
        part.replace(self.path)

    def discard(self) -> None:
        import shutil

        self.arrays.clear()
        shutil.rmtree(self.tmp, ignore_errors=True)


def cmd_sim(a) -> int:
    from .backend import sim as sim_backend
    from . import validate

    d = _build_dir(a.build_dir, "sim")
    out = _out_file(a.out, "--out", ".npz")
    memory = _memory(a.memory)
    x = _inputs(a.inputs, d, mmap=True)
    lab = validate.labels(validate.load_array(a.labels, "--labels"), len(x), "--labels") if a.labels else None
    mod = sim_backend.load(d / "sim")
    try:
        engine = mod.choose_engine(a.engine)
    except ImportError as e:
        raise EdgecError(f"--engine {a.engine}: {e}") from None
    w = _StreamedNpz(out, len(x))
    correct, shapes = 0, {}
    if not hasattr(mod, "batches"):
        raise EdgecError(f"'{a.build_dir}': its simulator comes from an older edgec, without batches sized to a "
                         "memory limit; rebuild it")
    batch = mod.batch_for(memory)
    try:
        try:
            for start, q, y in mod.batches(x, debug=a.debug, engine=engine, memory=memory):
                model_out = mod.outputs(y)
                for k, v in (("q", q), ("y", y), ("out", model_out)):
                    w.write(k, start, v)
                    shapes[k] = (v.dtype, (len(x), *v.shape[1:]))
                if lab is not None:
                    correct += int((y.reshape(len(y), -1).argmax(1) == lab[start : start + len(y)]).sum())
        except ValueError as e:
            raise EdgecError(f"--inputs '{a.inputs}': {e}") from None
        w.close()
    finally:
        w.discard()
    (qd, qs), (yd, _), (od, os_) = shapes["q"], shapes["y"], shapes["out"]
    msg = f"simulated {len(x)} inputs on engine {mod.ENGINE} -> {a.out} (q {qd} {qs}, y {yd}, " \
          f"out {od} {os_}: the model's own outputs; batches of {batch})"
    acc = None if lab is None else round(100 * correct / len(x), 2)
    if acc is not None:
        msg += f"; accuracy {acc:.2f}%"
    if a.json:
        _json({"inputs": len(x), "out": str(out), "engine": mod.ENGINE, "q_shape": list(qs),
               "out_shape": list(os_), "accuracy": acc, "batch": batch, "memory": memory})
    else:
        print(msg)
    return 0


def cmd_verify(a) -> int:
    from .verify_run import verify

    if a.jobs is not None and a.jobs < 1:
        raise EdgecError(f"--jobs {a.jobs}: give at least 1")
    for flag, v in (("--csim", a.csim), ("--cosim", a.cosim)):
        if v < 0:
            raise EdgecError(f"{flag} {v}: give a number of vectors, 0 or more")
    r = verify(a.build_dir, a.inputs, a.labels, a.reference, a.csim, a.cosim, a.address, a.jobs, _memory(a.memory),
               a.simulator, progress=_progress(a))
    _done(a)
    if a.json:
        _json(r)
    else:
        msg = (f"verified {r['vectors']:,} vectors against {r['reference']}: {r['mismatches']} mismatches, "
               f"{r['ties']} ties ({r['shards']} shards, {r['seconds']:.1f} s)")
        if r["accuracy"] is not None:
            msg += f"; simulator accuracy {r['accuracy']:.2f}%"
        if r["first_mismatches"]:
            msg += f"; first mismatching vectors {', '.join(map(str, r['first_mismatches']))}"
        for k in ("csim", "cosim"):
            if r[k] is not None:
                msg += f"; {k} {r[k]['vectors']} vectors, {r[k]['mismatches']} mismatches"
        print(msg)
    return 0 if r["ok"] else 1


def cmd_report(a) -> int:
    from .backend.report import table

    rep = json.loads((_build_dir(a.build_dir, "report.json") / "report.json").read_text())
    if a.json:
        _json(rep)
    else:
        print(table(rep))
    return 0


def cmd_csim(a) -> int:
    from . import csim

    d = _build_dir(a.build_dir, "sim", "hls", "report.json")
    x = _inputs(a.inputs, d) if a.inputs else None  # --vectors: csim.test_codes checks it
    r = csim.run(d, x, a.vectors, view=a.view, progress=_progress(a))
    _done(a)
    if a.json:
        _json({k: r[k] for k in ("vectors", "mismatches", "compile_s", "run_s")})
    elif r["cycles"] is None:
        print(f"C simulation of the synthesis view: {r['vectors']} vectors, {r['mismatches']} mismatches against "
              f"the simulator (compile {r['compile_s']:.1f} s, run {r['run_s']:.1f} s)")
    else:
        rep = json.loads((d / "report.json").read_text()).get("hardware", {})
        slow = max(r["cycles"].items(), key=lambda kv: kv[1])
        print(f"C simulation: {r['vectors']} vectors, {r['mismatches']} mismatches against the simulator "
              f"(compile {r['compile_s']:.1f} s, run {r['run_s']:.1f} s); slowest stage {slow[0]} "
              f"{slow[1]:,.0f} cycles per frame (report: {rep.get('cycles_per_frame', '?'):,})")
        if r["mismatches"]:
            print(f"first mismatch at vector {r['first_mismatch']}")
    return 0 if r["mismatches"] == 0 else 1


def _print_streams(streams: list[dict], top: int = 12) -> None:
    """The streams whose producers waited longest on a full FIFO: where the pipeline stalls."""
    worst = sorted(streams, key=lambda e: -e["full"])[:top]
    print(f"streams by cycles their producer waited on a full FIFO (top {len(worst)} of {len(streams)}):")
    print(f"  {'stream':8} {'producer -> consumer':50} {'depth':>6} {'words':>9} {'full':>9} {'empty':>9}")
    for e in worst:
        print(f"  {e['stream']:8} {(e['producer'] + ' -> ' + e['consumer'])[:50]:50} {e['depth']:>6,} "
              f"{e['words']:>9,} {e['full']:>9,} {e['empty']:>9,}")


def cmd_cosim(a) -> int:
    from .cosim.run import run

    d = _build_dir(a.build_dir, "sim", "report.json", *(() if a.rtl else ("rtl",)))
    x = _inputs(a.inputs, d) if a.inputs else None  # --vectors and the probabilities: cosim.run checks them
    r = run(d, a.simulator, x, a.vectors if a.vectors is not None else 100, a.idle, a.backpressure, a.rtl,
            progress=_progress(a), streams=a.streams)
    _done(a)
    if a.json:
        _json({k: r[k] for k in ("vectors", "mismatches", "cycles_per_frame", "fps", *(("streams",) * a.streams))})
    else:
        rep = json.loads((d / "report.json").read_text())["hardware"]
        print(f"co-simulation on {a.simulator}: {r['vectors']} frames, {r['mismatches']} mismatches against the "
              f"simulator; {r['cycles_per_frame']:,.1f} cycles per frame (report: {rep['cycles_per_frame']:,}), "
              f"{r['fps']:,.0f} frames/s at {rep['clock_mhz']:g} MHz")
        if not r["framing_ok"]:
            print("the DMA transfers did not end as planned (TLAST once per run, at its last beat; every byte "
                  "sent and received; the accelerator idle after)")
        for f in r["failures"]:
            print(f"failure: {f}", file=sys.stderr)
        if a.streams:
            _print_streams(r["streams"])
    return 0 if r["ok"] else 1


def cmd_synth(a) -> int:
    from . import synth

    d = _build_dir(a.build_dir, "rtl", "report.json")
    if a.jobs is not None and a.jobs < 1:
        raise EdgecError(f"--jobs {a.jobs}: give at least 1")
    r = synth.run(d, a.jobs, progress=_progress(a))
    _done(a)
    if a.json:
        _json(r)
    else:
        print(synth.table(r))
    return 0


def cmd_explore(a) -> int:
    try:
        from .explore import explore
        import ray  # noqa: F401
    except ImportError:
        raise EdgecError("explore needs Ray Tune: pip install 'edgec[explore]' (scripts/setup.sh does this)") from None
    if a.jobs is not None and a.jobs < 1:
        raise EdgecError(f"--jobs {a.jobs}: give at least 1")
    r = explore(a.model, a.board, a.space, a.out, a.budget, a.address, a.resume, a.calib, a.labels, a.input_shape,
                a.jobs, progress=_progress(a))
    _done(a)
    if a.json:
        _json(r)
    elif r["best"]:
        b = r["best"]
        print(f"{r['trials']} trials, {len(r['pareto'])} on the Pareto front; best under the constraints: "
              f"{b['trial']} (accuracy {b['accuracy']:.2f}%, {b['LUT']:,.0f} LUT, {b['fps']:,.0f} fps) in "
              f"{Path(a.out) / b['build']}; rebuild: {b['command']}")
    else:
        print(f"{r['trials']} trials; none meets the constraints (see {Path(a.out) / 'trials.csv'})")
    return 0


def cmd_boards(a) -> int:
    from .boards import boards

    if a.json:
        _json({"boards": [{"name": b.name, "part": b.part, "LUT": b.lut, "FF": b.ff, "BRAM36": b.bram36, "DSP": b.dsp,
                           "clock_mhz": b.clock_mhz, "aliases": list(b.aliases)} for b in boards()]})
        return 0
    for b in boards():
        print(f"{b.name:10s} {b.part:18s} LUT {b.lut:,}  FF {b.ff:,}  BRAM36 {b.bram36}  DSP {b.dsp}  "
              f"{b.clock_mhz:g} MHz  aliases: {', '.join(b.aliases)}")
    return 0


def _progress(a):
    """The command's progress display (edgec.progress), closed by main when the command ends."""
    from .progress import Progress

    a._progress = Progress(quiet=a.quiet)
    return a._progress


def _done(a) -> None:
    """End the command's progress display before its result is printed."""
    if getattr(a, "_progress", None) is not None:
        a._progress.close()


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is so that a build cleans up as for Ctrl-C."""


def _on_sigterm(signum, frame):
    raise _Terminated()


COMMANDS = {"build": cmd_build, "sim": cmd_sim, "verify": cmd_verify, "report": cmd_report, "csim": cmd_csim,
            "cosim": cmd_cosim, "synth": cmd_synth, "boards": cmd_boards, "explore": cmd_explore}


def main(argv=None) -> int:
    """Run one command. Set up before anything heavy is imported: SIGTERM and Ctrl-C end
    in one line and a clean folder, warnings of the libraries are kept off stderr, and
    bad input is one `edgec: error:` line with exit code 2."""
    import signal
    import threading
    import warnings

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = parser().parse_args(argv)
            try:
                return COMMANDS[a.cmd](a)
            finally:
                _done(a)
    except EdgecError as e:
        print(f"edgec: error: {_one_line(str(e))}", file=sys.stderr)
        return 2
    except _Terminated:
        print("edgec: error: terminated (SIGTERM)", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("edgec: error: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("edgec: error: out of memory; give a smaller model or data set", file=sys.stderr)
        return 2


def _one_line(msg: str) -> str:
    """An error message as one printable line of bounded length (names inside it are the model's text)."""
    s = "".join(ch if ch.isprintable() else "?" for ch in " ".join(msg.split()))
    return s if len(s) <= 1000 else s[:997] + "..."


if __name__ == "__main__":
    sys.exit(main())
