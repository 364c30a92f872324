"""Post-training quantization and binarization: float graph + calibration data -> QNet.

Weights: per output channel, symmetric, narrow range (see ``quantize_weight``).
Activations: per tensor; unsigned after a ReLU, signed otherwise; bipolar (sign) at 1
bit, where a ReLU before the sign is dropped (XNOR-Net). The network input keeps
``input_bits`` (8). Tensors that meet in an Add share one scale, so the add is exact
on codes. Calibrators: ``minmax`` and ``percentile``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import EdgecError
from ..options import DEFAULT_PRESET, PRESETS, PRUNE_DOMAINS, PRUNE_MODES, REQUANT_MODES
from ..validate import choice, integer, known_keys, load_yaml, number
from .fgraph import FGraph, model_input_shape
from .qmodel import float_forward
from .qnet import COMPUTE, PASS_THROUGH, ActQuant, QNet, Segment, WeightQuant, attach_orphans, find_segments

CALIBRATORS = ("minmax", "percentile")
CONFIG_KEYS = ("preset", "wbits", "abits", "input_bits", "calibrator", "percentile", "layers", "prune", "prune_mode",
               "prune_domain", "clock_mhz", "requant")
LAYER_KEYS = ("wbits", "abits", "calibrator", "prune", "winograd", "sparse")


def parse_wbits(v, where: str) -> int:
    """Weight bits: 1 (binary), 2..8, or 'ternary' (stored as 0)."""
    if isinstance(v, str) and v.strip().lower() == "ternary":
        return 0
    try:
        return integer(v, where, 1, 8)
    except EdgecError:
        raise EdgecError(f"{where} {v!r}: weight bits must be 1 (binary), 2 to 8, or 'ternary'") from None


def parse_prune(v, where: str) -> float:
    return number(v, where, 0.0, 1.0, "the pruned share of weights: at least 0 and below 1, e.g. 0.9",
                  hi_open=True)


def prune_mask(w: np.ndarray, share: float, mode: str) -> np.ndarray:
    """Magnitude pruning: 1 for the weights kept, 0 for the ``share`` of smallest |w| in
    the layer (unstructured) or in every output channel (channel). Ties are broken by
    position, so the mask is deterministic."""
    flat = np.abs(w.reshape(w.shape[0], -1))
    mask = np.ones(flat.shape, np.int64)
    if share <= 0:
        return mask.reshape(w.shape)
    if mode == "channel":
        k = int(round(share * flat.shape[1]))
        order = np.argsort(flat, axis=1, kind="stable")[:, :k]
        np.put_along_axis(mask, order, 0, axis=1)
    else:
        k = int(round(share * flat.size))
        mask.ravel()[np.argsort(flat.ravel(), kind="stable")[:k]] = 0
    return mask.reshape(w.shape)


def parse_abits(v, where: str) -> int:
    try:
        return integer(v, where, 1, 8)
    except EdgecError:
        raise EdgecError(f"{where} {v!r}: activation bits must be 1 (bipolar sign) to 8") from None


@dataclass
class QuantConfig:
    wbits: int = 2
    abits: int = 2
    input_bits: int = 8
    calibrator: str = "percentile"
    percentile: float = 99.99
    layers: dict[str, dict] = field(default_factory=dict)
    preset: str = DEFAULT_PRESET
    prune: float = 0.0  # share of each conv/linear layer's weights set to zero (magnitude)
    prune_mode: str = "unstructured"  # or 'channel': every output channel loses that share
    prune_domain: str = "spatial"  # or 'winograd': 3x3 stride-1 convs pruned and quantized as U
    winograd_tile: int | None = None  # the tile of the Winograd domain (--winograd f2 / f4)
    clock_mhz: object = None  # the config's clock_mhz as written (BuildOptions checks it against the board)
    requant: str | None = None  # the config's requant (auto / on / off); --requant overrides it

    def prune_of(self, name: str) -> float:
        return parse_prune(self.layers.get(name, {}).get("prune", self.prune), f"config layers.{name}.prune")

    def layer(self, name: str) -> tuple[int, int, str]:
        o = self.layers.get(name, {})
        w = parse_wbits(o["wbits"], f"config layers.{name}.wbits") if "wbits" in o else self.wbits
        a = parse_abits(o["abits"], f"config layers.{name}.abits") if "abits" in o else self.abits
        return w, a, o.get("calibrator", self.calibrator)


def make_config(preset: str | None = None, config_path: str | None = None, wbits=None, abits=None, prune=None,
                prune_mode=None, prune_domain=None) -> QuantConfig:
    """The YAML config's preset unless ``preset`` is given (default w2a2), then the
    config's settings, then --wbits/--abits, each overriding the last."""
    raw: dict = {}
    if config_path:
        raw = load_yaml(config_path, "config")
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise EdgecError(f"config '{config_path}' must be a mapping (preset, wbits, abits, layers, ...)")
        known_keys(raw, f"config '{config_path}'", CONFIG_KEYS)
    preset = preset or raw.get("preset") or DEFAULT_PRESET
    if not isinstance(preset, str) or preset not in PRESETS:
        raise EdgecError(f"config preset {preset!r}: unknown preset; choose one of {', '.join(PRESETS)}")
    cfg = QuantConfig(*PRESETS[preset], preset=preset)
    if "wbits" in raw:
        cfg.wbits = parse_wbits(raw["wbits"], "config wbits")
    if "abits" in raw:
        cfg.abits = parse_abits(raw["abits"], "config abits")
    if "input_bits" in raw:
        cfg.input_bits = parse_abits(raw["input_bits"], "config input_bits")
        if cfg.input_bits == 1:
            raise EdgecError("config input_bits 1: the network input needs 2 to 8 bits")
    cfg.calibrator = choice(raw.get("calibrator", cfg.calibrator), "config calibrator", CALIBRATORS)
    cfg.percentile = number(raw.get("percentile", cfg.percentile), "config percentile", 50.0, 100.0,
                            "a percentile between 50 and 100")
    cfg.layers = raw.get("layers", {}) or {}
    if not isinstance(cfg.layers, dict):
        raise EdgecError("config layers: must map layer names to {wbits, abits, calibrator, prune, winograd, sparse}")
    for name, v in cfg.layers.items():
        if not isinstance(v, dict):
            raise EdgecError(f"config layers.{name}: {str(v)[:60]!r} is not a mapping; give "
                             "{wbits, abits, calibrator, prune, winograd, sparse}")
    cfg.layers = {str(k): v for k, v in cfg.layers.items()}
    for name, o in cfg.layers.items():
        known_keys(o, f"config layers.{name}", LAYER_KEYS)
    if "prune" in raw:
        cfg.prune = parse_prune(raw["prune"], "config prune")
    cfg.clock_mhz = raw.get("clock_mhz")
    if "requant" in raw:
        v = raw["requant"]  # YAML 1.1 reads a bare on / off as a boolean
        cfg.requant = choice(("on" if v else "off") if isinstance(v, bool) else v, "config requant", REQUANT_MODES)
    if prune is not None:
        cfg.prune = parse_prune(prune, "--prune")
    cfg.prune_mode = choice(prune_mode or raw.get("prune_mode", cfg.prune_mode), "prune_mode", PRUNE_MODES)
    cfg.prune_domain = choice(prune_domain or raw.get("prune_domain", cfg.prune_domain), "prune_domain",
                              PRUNE_DOMAINS)
    for name, o in cfg.layers.items():
        if "prune" in o:
            parse_prune(o["prune"], f"config layers.{name}.prune")
    if wbits is not None:
        cfg.wbits = parse_wbits(wbits, "--wbits")
    if abits is not None:
        cfg.abits = parse_abits(abits, "--abits")
    for name, o in cfg.layers.items():
        if "calibrator" in o:
            choice(o["calibrator"], f"config layers.{name}.calibrator", CALIBRATORS)
        for key in ("wbits", "abits"):
            if key in o:
                (parse_wbits if key == "wbits" else parse_abits)(o[key], f"config layers.{name}.{key}")
    return cfg


def f32(v: float) -> float:
    """Scales are float32 numbers, as in the frameworks that execute exported models."""
    return float(np.float32(v))


def _range(values: np.ndarray, calibrator: str, percentile: float) -> float:
    v = np.abs(values.ravel())
    r = float(v.max()) if calibrator == "minmax" or v.size == 0 else float(np.percentile(v, percentile))
    return r if r > 0 else 1.0


def winograd_domain(n, wbits: int) -> bool:
    """A dense 3x3 stride-1 convolution with multi-bit weights: it can be quantized as U."""
    return (n.op == "conv" and n.attrs.get("groups", 1) == 1 and tuple(n.params["weight"].shape[2:]) == (3, 3)
            and tuple(n.attrs["stride"]) == (1, 1) and wbits >= 2)


def check_layer_names(g: FGraph, cfg: QuantConfig) -> None:
    known = [n.name for n in g.nodes if n.op in COMPUTE]
    bad = sorted(set(cfg.layers) - set(known))
    if bad:
        raise EdgecError(f"config names layers {bad} that the model does not have; its layers: {known}")


def quantize(g: FGraph, calib_x: np.ndarray, cfg: QuantConfig) -> QNet:
    """Choose every quantizer and calibrate its scale on ``calib_x`` (float, NCHW)."""
    check_layer_names(g, cfg)
    g = attach_orphans(g)
    raw_segs = find_segments(g)
    x = np.asarray(calib_x, dtype=np.float64)
    shape = model_input_shape(g)
    if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != tuple(shape):
        raise EdgecError(f"calibration data has shape {x.shape}; "
                         f"the model takes (N, {', '.join(map(str, shape))})")
    keep = {(bn or c).name for c, bn, _ in raw_segs} | {(r or bn or c).name for c, bn, r in raw_segs}
    vals = float_forward(g, x, keep)
    segments: list[Segment] = []
    for c, bn, act in raw_segs:
        wbits, abits, calibrator = cfg.layer(c.name)
        wq = WeightQuant(wbits) if c.op in ("conv", "linear") else None
        end = (act or bn or c).name
        fn = act is not None and act.op == "act"
        if end == g.output and act is None:
            out = None
        elif abits == 1:
            out = ActQuant(1, True, f32(float(np.abs(vals[end if fn else (bn or c).name]).mean()) or 1.0))
        else:  # after a ReLU unsigned; after another activation signed where it gives negative values
            aq = ActQuant(abits, act is None or fn and bool(vals[end].min() < 0))
            aq.scale = f32(_range(vals[end], calibrator, cfg.percentile) / aq.hi)
            out = aq
        share = cfg.prune_of(c.name) if c.op != "add" else 0.0
        tile = cfg.winograd_tile if cfg.prune_domain == "winograd" and winograd_domain(c, wbits) else None
        if tile:  # pruned and quantized as the transformed kernel U (O, P, I)
            from .qmodel import winograd_weight

            u = winograd_weight(torch.as_tensor(c.params["weight"]), tile).numpy()
            mask = prune_mask(u, share, cfg.prune_mode) if share > 0 else None
        else:
            mask = prune_mask(c.params["weight"], share, cfg.prune_mode) if share > 0 else None
        segments.append(Segment(c, bn, act, wq, out, mask, tile))
    signed = bool(x.min() < 0)
    iq = ActQuant(cfg.input_bits, signed)
    iq.scale = f32(_range(x, "minmax", 100.0) / iq.hi)
    qnet = QNet(g, iq, segments)
    _share_add_scales(qnet)
    return qnet


def _share_add_scales(q: QNet) -> None:
    """Give the quantizers that meet in an Add or a Concat one scale (the larger range wins),
    or, for an Add of branches of different bits, scales a power of two apart."""
    g = q.graph

    def owner(t: str) -> str:
        while t != g.input.name and q.segment_of(t) is None and g.node(t).op in PASS_THROUGH:
            t = g.node(t).inputs[0]
        return t

    parent: dict[str, str] = {}

    def find(t):
        parent.setdefault(t, t)
        while parent[t] != t:
            t = parent[t]
        return t

    concats = [n for n in g.nodes if n.op == "concat"]
    joins = [s.compute for s in q.segments if s.compute.op == "add"] + concats
    for n in joins:
        a, b = (owner(i) for i in n.inputs)
        parent[find(a)] = find(b)
    groups: dict[str, list[str]] = {}
    for t in list(parent):
        groups.setdefault(find(t), []).append(t)
    in_concat = {find(owner(i)) for n in concats for i in n.inputs}
    for root, members in groups.items():
        quants = [q.quant_of(t) for t in members]
        bits = {a.bits for a in quants}
        if len(bits) != 1 and root in in_concat:
            raise EdgecError(
                f"a Concat joins tensors {sorted(members)} of different activation bits {sorted(bits)}; give both "
                "branches the same bits in the config")
        # one scale for equal bits; a branch of b < B bits gets the scale 2^(B - b) times the
        # widest's, so that its codes, shifted left by B - b, are codes of the wider scale
        # (the Add's shift) and the ranges stay about equal. No scale shrinks.
        wide = max(bits)
        unit = max(a.scale / 2.0 ** (wide - a.bits) for a in quants)
        for a in quants:
            a.scale = unit * 2.0 ** (wide - a.bits)
