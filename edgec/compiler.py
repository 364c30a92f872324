"""`edgec build` (edgec.build): model -> quantized integer IR -> OUT/ (sim/, ir/, report.json, edgec.json).

The output is written to a temporary sibling folder and renamed into place at the end,
so a failed build never leaves a half-written folder.
"""
from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from math import prod

from . import boards, outdir, validate
from .version import __version__
from .backend import html as html_report
from .backend import report as report_mod
from .backend import driver as driver_backend
from .backend import hls as hls_backend
from .backend import rtl as rtl_backend
from .backend import sim as sim_backend
from .backend import vivado as vivado_backend
from .cost.fold import check_fixed, fold, no_fit_message
from .cost.lowering import POLICY, alternatives, requant_layers
from .csim import test_codes
from .errors import EdgecError
from .frontend.fgraph import check_finite, model_input_shape
from .frontend.finetune import finetune
from .frontend.lower import lower, segment_arrays
from .frontend.lowrank import LowRank, factorize
from .frontend.qmodel import float_forward
from .frontend.quantize import PRESETS, check_layer_names, make_config, quantize
from .ir.check import check
from .ir.graph import Graph, dumps
from .ir.ops import Op
from .passes import run_pipeline
from .passes.sparse import MODES as SPARSE_MODES
from .passes.winograd import MODES as WINOGRAD_MODES
from .verify import REFERENCE_DIR, save_reference
from .options import REQUANT_MODES, VIVADO_IPS

# fine-tuning epochs used for the built-in example when --finetune-epochs is not given
EXAMPLE_FINETUNE = {"int8": 0, "int4": 0, "w2a2": 30, "w1a1": 30}
TB_FRAMES = 16  # test vectors written to hls/data for the Vitis HLS flow
UNLABELLED_CHECK = 1000  # calibration inputs without labels the simulator is checked on


@dataclass
class BuildResult:
    out: Path
    report: dict


def _stderr(msg: str) -> None:
    print(f"edgec: {msg}", file=sys.stderr, flush=True)


def _labelled(x, labels, what: str, shape=None, classes=None):
    """(inputs as float64, labels or None), checked: real, finite, (N, *shape), labels
    integer class indices below ``classes``."""
    x = validate.numeric(validate.load_array(x, what), what, shape).astype(np.float64)
    y = None if labels is None else validate.labels(validate.load_array(labels, "labels"), len(x), "--labels",
                                                    classes)
    return x, y


def _probe_folding(g: Graph, fixed: dict) -> None:
    """Check a folding file against the units of ``g`` run through the passes, before the
    first progress line (the build checks it again on the final graph)."""
    check_fixed(run_pipeline(g, POLICY), fixed)


def _classes(fg) -> int:
    """Outputs per sample of a float graph (the number of classes labels may index)."""
    from .frontend.fgraph import infer_shapes

    infer_shapes(fg)
    return prod(fg.node(fg.output).shape)


def _export_dest(dest, out: Path) -> Path:
    """The --export-qonnx file, checked before any work: a new or existing file (not a
    folder) in an existing folder, outside the build folder."""
    if str(dest).strip() == "" or "\0" in str(dest):
        raise EdgecError("--export-qonnx: give a file name ending in .onnx")
    d = Path(os.path.abspath(dest))
    if d.is_dir():
        raise EdgecError(f"--export-qonnx {dest}: that is a folder; give a file name ending in .onnx")
    if not d.parent.is_dir():
        raise EdgecError(f"--export-qonnx {dest}: folder '{d.parent}' does not exist")
    if d.suffix != ".onnx":
        raise EdgecError(f"--export-qonnx {dest}: give a file name ending in .onnx")
    if d == out or out in d.parents:
        raise EdgecError(f"--export-qonnx {dest}: the file would be inside the output folder, which the build "
                         "replaces; write it elsewhere")
    return d


def load_folding(folding) -> dict:
    """A folding given as a dict or a YAML/JSON file: {unit: {pe: N, simd: M}}."""
    if isinstance(folding, dict):
        raw, where = folding, "folding"
    else:
        p = Path(folding)
        if not p.is_file():
            raise EdgecError(f"--folding {folding!r}: choose 'auto', 'min', or a YAML file of {{layer: {{pe, simd}}}}")
        raw, where = validate.load_yaml(p, "folding"), f"folding '{p}'"
    if not isinstance(raw, dict):
        raise EdgecError(f"{where} must map layer names to {{pe: N, simd: M}}")
    for u, v in raw.items():
        if not isinstance(v, dict):
            raise EdgecError(f"{where}: '{u}': give {{pe: N, simd: M}}, got {v!r}"[:300])
        validate.known_keys(v, f"{where}: '{u}'", ("pe", "simd"))
        for key in v:
            validate.integer(v[key], f"{where}: {u}.{key}", 1, None, "a whole number")
    return {str(u): {k: int(x) for k, x in v.items()} for u, v in raw.items()}


def load_model(model, input_shape, max_model_mb=None, calib=None, input_bits: int = 8):
    """(float graph, or for a QONNX file the integer IR graph it states; example name or
    None; for a QONNX file the normalised ONNX model the graph was read from, else None).
    A QONNX model whose input has no quantizer gets one (normalize.with_input_quantizer:
    from its finn_datatype annotation, or calibrated on ``calib`` at ``input_bits``),
    recorded in the graph's meta["input_quantizer"]."""
    from .frontend.torch_import import import_torch, load_pt2

    if model is None:
        from .examples import digits

        return import_torch(digits.model(), digits.INPUT_SHAPE), "digits", None
    if isinstance(model, (str, os.PathLike)):
        p = Path(model)
        if p.suffix == ".onnx":
            from .frontend.normalize import fused, normalized, with_input_quantizer
            from .frontend.onnx_import import import_onnx, load_onnx
            from .frontend.int8_onnx import is_int8_onnx, prepare_int8_onnx
            from .frontend.qonnx_import import import_qonnx, is_qonnx

            raw = load_onnx(p, None if max_model_mb is None else int(max_model_mb) << 20)
            if is_int8_onnx(raw[0]) and not is_qonnx(raw[0]):  # read as written: its codes are the quantization
                m8, i8, origin, fused8 = prepare_int8_onnx(raw)
                g = import_qonnx(p, (m8, i8), ort=True, origin=origin, fused=fused8)
                g.meta["input_quantizer"] = {"source": "QuantizeLinear"}
                return g, None, raw[0]  # onnxruntime executes it as the reference
            loaded = normalized(raw, fuse=False)
            if not is_qonnx(loaded[0]):
                return import_onnx(p, fused(loaded)), None, None
            *loaded, info = with_input_quantizer(loaded, calib, input_bits)
            g = import_qonnx(p, fused(loaded))  # loaded[0], unfused, is what qonnx executes as the reference
            g.meta["input_quantizer"] = info
            return g, None, loaded[0]
        if p.suffix == ".pt2":
            from .frontend.pt2e import is_pt2e, prepare
            from .frontend.qonnx_import import import_qonnx

            ep = load_pt2(p)
            if is_pt2e(ep):  # PT2E-quantized: its quantize/dequantize ops are the quantization
                m, inits, origin = prepare(ep)
                g = import_qonnx(p, (m, inits), ort=True, origin=origin, pytorch=True)
                g.meta["input_quantizer"] = {"source": "quantize_per_tensor"}
                return g, None, ep  # PyTorch executes the program as the reference
            return import_torch(ep), None, None
        raise EdgecError(f"cannot build '{model}': give a float or QONNX .onnx file or a torch.export .pt2 program")
    if input_shape is None:
        raise EdgecError("building an nn.Module needs its per-sample input shape: input_shape=(C, H, W)")
    return import_torch(model, tuple(input_shape)), None, None


def lowering_meta(cfg, winograd: str, sparse: str) -> dict:
    """graph.meta['lowering']: the --winograd and --sparse modes and the config's per-layer
    overrides (layers: {name: {winograd: f2, sparse: on}})."""
    layers = {}
    for name, o in cfg.layers.items():
        for key, modes in (("winograd", WINOGRAD_MODES), ("sparse", SPARSE_MODES)):
            if key in o:
                v = str(o[key]).lower() if not isinstance(o[key], bool) else ("on" if o[key] else "off")
                if v not in modes:
                    raise EdgecError(f"config layers.{name}.{key} {o[key]!r}: choose one of {', '.join(modes)}")
                layers.setdefault(name, {})[key] = v
    return {"winograd": winograd, "sparse": sparse, "layers": layers}


def check_clock(board: boards.Board, v, where: str) -> float:
    """A clock to fold for and report at: a positive number of MHz, at most the board's limit."""
    f = validate.number(v, where, 0, None, "a positive clock in MHz", lo_open=True)
    if f > board.max_clock_mhz:
        raise EdgecError(f"{where} {v!r}: {board.name} is clocked at most at {board.max_clock_mhz:g} MHz "
                         f"(its default: {board.clock_mhz:g} MHz)")
    return f


@dataclass(frozen=True)
class BuildOptions:
    """The options of one build, each checked once (``check``) before any work."""
    model: object
    out: Path
    board: boards.Board
    cfg: object  # frontend.quantize.QuantConfig
    given: tuple  # the quantization options the caller gave (a QONNX model takes none)
    lowrank: object  # frontend.lowrank.LowRank or None
    lowrank_raw: object
    export_qonnx: Path | None
    folding: str
    fixed: dict | None
    winograd: str
    sparse: str
    vivado_ip: str
    target_fps: float | None
    seed: int
    max_model_mb: int | None
    finetune_epochs: int | None
    input_shape: tuple | None
    calib: np.ndarray | None
    labels: np.ndarray | None
    dump_ir: bool
    input_bits_given: bool = False
    requant: str = "auto"

    @staticmethod
    def check(model, out, board, preset, config, wbits, abits, calib, labels, input_shape, finetune_epochs, dump_ir,
              seed, target_fps, folding, export_qonnx, winograd, sparse, lowrank, lowrank_conv, prune, prune_mode,
              prune_domain, max_model_mb, vivado_ip, input_bits=None, requant=None,
              clock_mhz=None) -> "BuildOptions":
        brd = boards.get(board)
        out = outdir.prepare(out)
        cfg = make_config(preset, config, wbits, abits, prune, prune_mode, prune_domain)
        brd = brd.at(check_clock(brd, clock_mhz, "--clock-mhz") if clock_mhz is not None else
                     check_clock(brd, cfg.clock_mhz, "config clock_mhz") if cfg.clock_mhz is not None else None)
        if input_bits is not None:
            cfg.input_bits = validate.integer(input_bits, "--input-bits", 2, 8, "2 to 8 bits")
        if cfg.prune_domain == "winograd":
            if winograd not in ("f2", "f4"):
                raise EdgecError("--prune-domain winograd prunes the transformed kernels of one tile size: "
                                 "give --winograd f2 or f4")
            cfg.winograd_tile = int(winograd[1])
            if export_qonnx:
                raise EdgecError("--export-qonnx: QONNX has no Winograd-domain weights; drop --prune-domain winograd")
        lr_spec = LowRank.parse(lowrank, lowrank_conv) if lowrank is not None else None
        if export_qonnx is not None:
            export_qonnx = _export_dest(export_qonnx, out)
        fixed = None
        if isinstance(folding, dict) or folding not in ("auto", "min"):
            fixed, folding = load_folding(folding), "auto"
        if requant is None:  # --requant, else the config's, else auto
            requant = cfg.requant or "auto"
        for flag, v, modes in (("--winograd", winograd, WINOGRAD_MODES), ("--sparse", sparse, SPARSE_MODES),
                               ("--vivado-ip", vivado_ip, VIVADO_IPS), ("--requant", requant, REQUANT_MODES)):
            if v not in modes:
                raise EdgecError(f"{flag} {v!r}: choose one of {', '.join(modes)}")
        if export_qonnx is not None:  # the exported quantizers are the float ones
            if requant == "on":
                raise EdgecError("--export-qonnx: QONNX has no integer requantizer; use --requant auto (off when "
                                 "exporting) or off")
            requant = "off"
        if target_fps is not None:
            target_fps = float(validate.number(target_fps, "--target-fps", 0, None, "a positive frame rate",
                                               lo_open=True))
        seed = validate.integer(seed, "--seed", 0, 2**32 - 1, "a whole number")
        if max_model_mb is not None:
            max_model_mb = validate.integer(max_model_mb, "--max-model-mb", 1, 1 << 20, "a size in MiB")
        if finetune_epochs is not None:
            finetune_epochs = validate.integer(finetune_epochs, "--finetune-epochs", 0, 100_000, "a whole number")
        if input_shape is not None:
            input_shape = tuple(validate.integer(v, "--input-shape", 1, 1 << 16, "sizes") for v in input_shape)
        if (calib is None) != (labels is None) and calib is None:
            raise EdgecError("--labels needs --calib: the labels are the classes of the calibration inputs")
        # arrays are read and checked (numbers, finite, not empty) before the model
        calib = None if calib is None else validate.numeric(validate.load_array(calib, "--calib"), "--calib")
        labels = None if labels is None else validate.load_array(labels, "--labels")
        given = tuple(f for f, v in (("--preset", preset), ("--config", config), ("--wbits", wbits),
                                     ("--abits", abits), ("--finetune-epochs", finetune_epochs), ("--prune", prune),
                                     ("--lowrank", lowrank)) if v)
        return BuildOptions(model, out, brd, cfg, given, lr_spec, lowrank, export_qonnx, folding, fixed, winograd,
                            sparse, vivado_ip, target_fps, seed, max_model_mb, finetune_epochs, input_shape, calib,
                            labels, bool(dump_ir), input_bits is not None, requant)


@dataclass
class Source:
    """The loaded model: a float graph to quantize (``fg``) or a QONNX integer graph
    (``qonnx``), with its calibration (cx, cy) and evaluation (eval_x, eval_y) data."""
    fg: object = None
    qonnx: Graph | None = None
    qonnx_model: object = None  # the normalised onnx.ModelProto of a QONNX file: qonnx executes it as the reference
    example: str | None = None
    cx: np.ndarray | None = None
    cy: np.ndarray | None = None
    eval_x: np.ndarray | None = None
    eval_y: np.ndarray | None = None
    finetune_epochs: int = 0


def _load(o: BuildOptions) -> Source:
    """Read the model and its data; everything is checked before the first progress line."""
    fg, example, onnx_model = load_model(o.model, o.input_shape, o.max_model_mb, o.calib, o.cfg.input_bits)
    if not isinstance(fg, Graph):
        check_finite(fg)
    src = Source(example=example)
    epochs = o.finetune_epochs
    if isinstance(fg, Graph):
        src.qonnx, src.qonnx_model = fg, onnx_model
        if o.given:
            kind = {"int8_onnx": "an int8 ONNX model", "pt2e": "a PT2E-quantized program"}.get(
                fg.meta.get("source"), "a QONNX model")
            raise EdgecError(f"{', '.join(o.given)}: {kind} states its own quantization; drop "
                             + ("it" if len(o.given) == 1 else "them"))
        if o.export_qonnx:
            raise EdgecError("--export-qonnx: the model states its quantization already (QONNX, int8 ONNX or "
                             "PT2E); its quantization is the file itself")
        if o.input_bits_given and fg.meta["input_quantizer"]["source"] != "calibration":
            raise EdgecError("--input-bits: the model states its input quantizer "
                             f"({fg.meta['input_quantizer']['source']}); drop --input-bits")
        if o.calib is not None:  # the input quantizer of a float input, the check against qonnx, the accuracy
            src.eval_x, src.eval_y = _labelled(o.calib, o.labels, "--calib", fg.meta["input_shape"],
                                               prod(fg.meta["output_shape"]))
    elif example:
        from .examples import digits

        src.fg = fg
        src.cx, src.cy = digits.train_split()
        src.eval_x, src.eval_y = digits.test_split()
        if epochs is None:
            cfg_given = any(f in o.given for f in ("--config", "--wbits", "--abits"))
            epochs = EXAMPLE_FINETUNE.get(o.cfg.preset, 0) if not cfg_given else 0
    else:
        src.fg = fg
        if o.calib is None:
            raise EdgecError("quantization needs calibration data: --calib X.npy with inputs shaped (N, "
                             + ", ".join(map(str, model_input_shape(fg))) + ")")
        src.cx, src.cy = _labelled(o.calib, o.labels, "--calib", model_input_shape(fg), _classes(fg))
        # the simulator is checked against the fake-quant reference on the calibration inputs
        # (all of them with labels, for the accuracy; else at most UNLABELLED_CHECK)
        src.eval_x, src.eval_y = (src.cx, src.cy) if src.cy is not None else (src.cx[:UNLABELLED_CHECK], None)
    src.finetune_epochs = int(epochs or 0)
    return src


def _quantize(o: BuildOptions, src: Source, lmeta: dict, progress, on_epoch=None):
    """(the quantized network, or None for a QONNX model; the low-rank report or None)."""
    cfg = o.cfg
    if src.qonnx is not None:
        src.qonnx.meta["lowering"] = lmeta
        if o.fixed:
            _probe_folding(src.qonnx, o.fixed)
        n_q = sum(1 for n in src.qonnx.nodes if n.op == Op.AFFINE_QUANT)
        what = {"int8_onnx": "int8 ONNX", "pt2e": "PT2E"}.get(src.qonnx.meta.get("source"), "QONNX")
        progress(f"read {what}: {n_q} activation quantizers and their widths from the model")
        return None, None
    if src.finetune_epochs and src.cy is None:
        raise EdgecError("--finetune-epochs needs labels for the calibration data: --labels Y.npy")
    lowrank_rep = None
    if o.lowrank is not None:
        orig = src.fg
        src.fg, lr_rows = factorize(src.fg, o.lowrank)
        lowrank_rep = {"layers": lr_rows, "spec": str(o.lowrank_raw), "conv": o.lowrank.conv}
        if src.eval_x is not None and src.eval_y is not None:
            lowrank_rep["accuracy"] = {
                "samples": int(len(src.eval_y)),
                "float_before": report_mod.accuracy(float_forward(orig, src.eval_x), src.eval_y),
                "float_after": report_mod.accuracy(float_forward(src.fg, src.eval_x), src.eval_y)}
    check_layer_names(src.fg, cfg)  # all input is validated before the first progress line
    if o.fixed:
        probe = lower(quantize(src.fg, src.cx[:16], cfg))
        probe.meta["lowering"] = lmeta
        _probe_folding(probe, o.fixed)
    if o.lowrank is not None:
        progress(f"low-rank: {len(lr_rows)} layers factorised ({o.lowrank.conv} for convolutions), MACs "
                 f"{sum(r['macs_before'] for r in lr_rows):,} -> {sum(r['macs_after'] for r in lr_rows):,}")
    progress(f"quantizing ({cfg.preset}: weights {cfg.wbits or 'ternary'} bit, activations {cfg.abits} bit, "
             f"{cfg.calibrator} calibration on {len(src.cx)} inputs)")
    qnet = quantize(src.fg, src.cx, cfg)
    if src.finetune_epochs:
        qnet = finetune(qnet, src.cx, src.cy, src.finetune_epochs, seed=o.seed, progress=progress, on_epoch=on_epoch)
    mark_requant(qnet, o.requant, progress)
    return qnet, lowrank_rep


def mark_requant(qnet, mode: str, progress=None) -> None:
    """Segments whose quantizer becomes the integer Requant (--requant; cost/lowering.py
    decides per layer under auto); the fake-quant reference follows the same rule."""
    chosen = requant_layers(lower(qnet), mode)
    arrays = segment_arrays(qnet) if chosen else {}
    n = 0
    for s in qnet.segments:
        s.requant = (f"{s.name}_quant" in chosen and s.out is not None
                     and s.requant_params(arrays[s.name][1], arrays[s.name][2]) is not None)
        n += s.requant
    if n and progress is not None:
        progress(f"requantizers: {n} of {len(qnet.segments)} layers quantize with an integer multiplier and shift "
                 f"(Requant), the others with thresholds (--requant {mode})")


def _lower(o: BuildOptions, qnet, src: Source, lmeta: dict, tmp: Path, progress):
    """The integer IR through the passes, checked after each; (final graph, [(i, pass, graph)])."""
    progress("lowering to the integer IR and running passes")
    g = lower(qnet) if qnet is not None else src.qonnx
    g.meta["lowering"] = lmeta
    stages = [(0, "lower", g)]
    g = run_pipeline(g, POLICY, lambda i, name, gg: stages.append((i, name, gg)))
    for _, _, gg in stages:
        check(gg)
    if o.dump_ir:
        (tmp / "ir").mkdir()
        for i, name, gg in stages:
            gg.save(tmp / "ir" / f"{i:02d}_{name}")
    g.save(tmp / "model")
    return g, stages


def _emit(o: BuildOptions, g: Graph, src: Source, name: str, tmp: Path, progress):
    """The simulator, the folding, the HLS and RTL accelerators, the driver and the block
    design; (folding, plan, estimate, AXI4-Stream layouts)."""
    brd = o.board
    progress("emitting the simulator")
    sim_backend.emit(g, tmp / "sim", name)
    progress("folding to " + brd.name + (f" at {o.target_fps:g} fps" if o.target_fps else ""))
    fold_cfg, plan, est = fold(g, brd, o.target_fps, o.folding, o.fixed)
    if not est.fits:
        progress("warning: " + no_fit_message(est, brd, not o.fixed) + "; the simulator, the HLS and the RTL are "
                 "written all the same, the report lists what does not fit")
    progress("emitting the HLS accelerator")
    sim = sim_backend.load(tmp / "sim")
    # testbench data: the first evaluation inputs, or random codes
    vec = test_codes({}, sim, None if src.eval_x is None else src.eval_x[:TB_FRAMES], TB_FRAMES, o.seed)
    step = sim_backend.batch_size(g)  # a large map: a few frames at a time, in bounded memory
    hls_backend.emit(plan, brd, tmp / "hls", vec, np.concatenate([sim.forward(vec[i : i + step])
                                                                  for i in range(0, len(vec), step)]))
    axis = {w: hls_backend.stream_layout(plan, w) for w in ("in", "out")}
    progress("emitting the RTL network")
    rtl_backend.emit(plan, tmp / "rtl")
    driver_backend.emit(g, brd, name, axis, tmp)
    vivado_backend.emit(brd, axis, tmp, o.vivado_ip)
    return fold_cfg, plan, est, axis


def _report(o: BuildOptions, g: Graph, qnet, src: Source, lowered: Graph, hw, axis: dict, lowrank_rep, tmp: Path,
            progress, name: str) -> dict:
    """Every execution estimated, the simulator's accuracy (the verification against the
    source), report.json, report.html and the manifest."""
    brd, cfg = o.board, o.cfg
    quant = {"source": "qonnx"} if qnet is None else dict(preset=cfg.preset, wbits=cfg.wbits, abits=cfg.abits,
                                                           finetune_epochs=src.finetune_epochs)
    progress("estimating every execution (direct, Winograd, sparse) for the report")
    choices = alternatives(lowered, brd, o.target_fps, progress)
    rep = report_mod.make(g, qnet, brd, quant, tmp / "sim", src.eval_x, src.eval_y, progress, float_graph=src.fg,
                          hw=hw, choices=choices, qonnx_model=src.qonnx_model, seed=o.seed)
    if qnet is not None and lowrank_rep is not None:
        rep["lowrank"] = lowrank_rep
    (tmp / "report.json").write_text(dumps(rep))
    html_report.write(rep, name, tmp / "report.html")
    outdir.write_manifest(tmp, {"edgec": __version__, "board": brd.name, "part": brd.part,
                                "input_shape": g.meta["input_shape"], "output_shape": g.meta["output_shape"],
                                "input_quant": g.meta["input_quant"], "example": src.example, "axis": axis})
    return rep


def _export(o: BuildOptions, qnet, progress):
    """The quantized model as QONNX (--export-qonnx), written beside and renamed into place;
    returns the partial file while it is being written, for the caller to remove on failure."""
    from .frontend.qonnx_export import export_qonnx as write_qonnx

    progress(f"writing the quantized model as QONNX to {o.export_qonnx}")
    part = o.export_qonnx.parent / f".edgec-{o.export_qonnx.name[:40]}-new-{os.getpid()}"
    try:
        write_qonnx(qnet, part)
        with outdir.signals_held():
            part.replace(o.export_qonnx)
    finally:
        part.unlink(missing_ok=True)


def build(model=None, out="out", *, board="zynq7020", preset=None, config=None, wbits=None, abits=None,
          calib=None, labels=None, input_shape=None, finetune_epochs=None, dump_ir=False, seed=0,
          target_fps=None, folding="auto", export_qonnx=None, winograd="off", prune=None, prune_mode=None, sparse="off",
          lowrank=None, lowrank_conv="tucker", prune_domain=None, max_model_mb=None, progress=_stderr,
          vivado_ip: str = "hls", input_bits=None, on_epoch=None, requant=None, clock_mhz=None) -> BuildResult:
    """Compile ``model`` (None: the built-in digits example; a path to .onnx/.pt2; or an
    nn.Module with ``input_shape``) for ``board`` into the folder ``out``. ``export_qonnx``:
    also write the quantized model as QONNX to that file. ``winograd``: off, f2, f4 or auto
    (per layer by the cost model) for the 3x3 stride-1 convolutions. ``vivado_ip``: the
    accelerator OUT/vivado/build_bd.tcl instantiates by default, hls (the Vitis HLS export)
    or rtl (OUT/rtl packaged by OUT/vivado/package_ip.tcl). ``input_bits``: the input
    quantizer edgec calibrates (PTQ; a QONNX model's float input), 2 to 8, default 8.
    ``clock_mhz``: the clock to fold for and report the frame rate at (default: the
    board's; also the config's ``clock_mhz``), at most the board's ``max_clock_mhz``.
    ``on_epoch(epoch, epochs, loss)``: called after each fine-tuning epoch.

    The stages: options (BuildOptions.check), load, quantize, lower (the passes), emit
    (simulator, folding, HLS, RTL, driver, block design), report (estimates, the
    simulator against the source, manifest), export."""
    progress = progress or (lambda m: None)
    o = BuildOptions.check(model, out, board, preset, config, wbits, abits, calib, labels, input_shape,
                           finetune_epochs, dump_ir, seed, target_fps, folding, export_qonnx, winograd, sparse, lowrank,
                           lowrank_conv, prune, prune_mode, prune_domain, max_model_mb, vivado_ip, input_bits, requant,
                           clock_mhz)
    src = _load(o)
    lmeta = lowering_meta(o.cfg, o.winograd, o.sparse)
    qnet, lowrank_rep = _quantize(o, src, lmeta, progress, on_epoch)
    tmp = outdir.temporary(o.out)
    try:
        g, stages = _lower(o, qnet, src, lmeta, tmp, progress)
        name = src.example or (Path(model).stem if isinstance(model, (str, os.PathLike)) else type(model).__name__)
        fold_cfg, plan, est, axis = _emit(o, g, src, name, tmp, progress)
        save_reference(tmp / REFERENCE_DIR, qnet, src.qonnx_model, g.meta.get("source"),  # for `edgec verify`
                       o.model if isinstance(o.model, (str, os.PathLike)) else None)
        rep = _report(o, g, qnet, src, stages[0][2], (fold_cfg, est), axis, lowrank_rep, tmp, progress, name)
        if o.export_qonnx:
            _export(o, qnet, progress)
        outdir.commit(tmp, o.out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return BuildResult(o.out, rep)


__all__ = ["build", "BuildResult", "BuildOptions", "PRESETS"]
