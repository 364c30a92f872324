"""ONNX importer: an ``.onnx`` file -> :class:`FGraph`.

Every ONNX value evaluates to either a ``str`` (the FGraph node computing that per-sample
tensor) or a numpy array (a constant: initializer, ``Constant`` node, or folded from
constants). Shape arithmetic on constants (``Shape -> Gather -> Unsqueeze -> Concat``, as
``torch.onnx.export`` writes ``x.view(x.size(0), -1)`` for a dynamic batch) is folded, with
the batch size kept symbolic as the ``_BATCH`` marker.
"""
from __future__ import annotations

from math import prod
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from ..errors import EdgecError, node_error
from .fgraph import (SUPPORTED_SOURCE_OPS, FGraph, FNode, concat_channels, infer_shapes, input_attrs,
                     params_with_bias, prune, unique_name)

_BATCH = -(2**40)  # the (unknown) batch size inside folded shape constants


class _Padded(tuple):
    """(tensor, (top, left, bottom, right), name): a zero ``Pad`` waiting for the Conv
    consuming it; any other consumer reads it as a pad node ``name``."""


class _Outputs(tuple):
    """The values of a node's outputs, in order (Split)."""


class _Perm(tuple):
    """(tensor, perm): the model's tensor is FGraph tensor ``tensor`` (channels first) laid
    out by the Transpose ``perm`` (channels last). It may only be flattened (in that
    order), be the model output, or be transposed back (docs/frontends.md)."""


class _Head(tuple):
    """(tensor, steps): FGraph tensor ``tensor`` followed by host-side output ops
    (kernels.head steps). Nothing but another output op may follow."""


HEAD_OPS = ("Softmax", "LogSoftmax", "Sigmoid", "ArgMax")  # after the last layer only: run on the host
ACT_OPS = ("LeakyRelu", "PRelu", "Elu", "Selu", "Tanh", "HardSigmoid", "HardSwish", "Softplus", "Mish", "Gelu", "Clip")
FUSED_ACTS = ("Silu", "HardSwish", "Mish", "Gelu")  # normalize.fuse_activations writes these in the domain "edgec"
# ONNX's float32 defaults of Selu, which must be PyTorch's constants (ir/act.py evaluates F.selu)
_SELU = (1.67326319217681884765625, 1.05070102214813232421875)


# (coordinate_transformation_mode, nearest_mode) pairs whose nearest Resize by a whole factor f
# reads input pixel x // f for output pixel x (the others shift by one pixel)
_NEAREST_FLOOR = {("asymmetric", "floor"), ("half_pixel", "round_prefer_floor"), ("half_pixel", "round_prefer_ceil"),
                  ("pytorch_half_pixel", "round_prefer_floor"), ("pytorch_half_pixel", "round_prefer_ceil"),
                  ("tf_half_pixel_for_nn", "round_prefer_floor"), ("tf_half_pixel_for_nn", "round_prefer_ceil")}


def resize_factor(b, a, shape: tuple) -> tuple[int, int]:
    """The whole (fh, fw) of a nearest-neighbour Resize/Upsample of a (C, H, W) tensor."""
    op = b.node.op_type
    mode = str(a.get("mode", "nearest"))
    if mode != "nearest":
        raise b.fail(f"mode {mode!r}: only nearest-neighbour resizing is supported")
    if op == "Resize" and b.opset >= 11:
        ctm, nm = str(a.get("coordinate_transformation_mode", "half_pixel")), str(a.get("nearest_mode",
                                                                                      "round_prefer_floor"))
        if (ctm, nm) not in _NEAREST_FLOOR:
            raise b.fail(f"coordinate_transformation_mode {ctm!r} with nearest_mode {nm!r} shifts the image; use "
                         "asymmetric + floor or half_pixel + round_prefer_floor")
    if op == "Upsample" and "scales" in a:
        scales = np.asarray(a["scales"], np.float64)
    elif op == "Resize" and b.opset >= 11 and b.has(3):
        sizes = np.asarray(b.c(3, "sizes"), np.float64)
        scales = sizes / np.asarray((1, *shape), np.float64)
    else:
        scales = np.asarray(b.c(2 if op == "Resize" and b.opset >= 11 else 1, "scales"), np.float64)
    if len(shape) != 3 or scales.shape != (4,) or scales[0] != 1 or scales[1] != 1 or \
            np.any(scales[2:] < 1) or np.any(scales[2:] != np.round(scales[2:])):
        raise b.fail(f"scales {scales.tolist()}: only whole upsampling factors of the two spatial axes of a "
                     "(N, C, H, W) tensor are supported")
    return int(scales[2]), int(scales[3])


def onnx_act(b, a, channels: int) -> tuple[str, np.ndarray]:
    """(ir/act.py kind, args (channels, k)) of elementwise activation node ``b.node``."""
    from ..ir import act as acts

    op = b.node.op_type
    one = {"LeakyRelu": ("leaky_relu", [a.get("alpha", 0.01)]), "Elu": ("elu", [a.get("alpha", 1.0)]),
           "Selu": ("selu", []), "Tanh": ("tanh", []), "Sigmoid": ("sigmoid", []),
           "HardSigmoid": ("hardsigmoid_ab", [a.get("alpha", 0.2), a.get("beta", 0.5)]),
           "HardSwish": ("hardswish", []), "Softplus": ("softplus", [1.0, float("inf")]), "Mish": ("mish", []),
           "Silu": ("silu", [])}
    if op == "Selu" and (np.float32(a.get("alpha", _SELU[0])), np.float32(a.get("gamma", _SELU[1]))) != \
            tuple(np.float32(v) for v in _SELU):
        raise b.fail("Selu with alpha/gamma other than the standard constants is not supported")
    if op == "Gelu":
        mode = a.get("approximate", "none")
        if mode not in ("none", "tanh"):
            raise b.fail(f"Gelu approximate={mode!r}: use 'none' or 'tanh'")
        kind, args = ("gelu" if mode == "none" else "gelu_tanh"), []
    elif op == "Clip":
        lo, hi = (a.get("min", -np.inf), a.get("max", np.inf)) if b.opset < 11 else \
            tuple(float(np.asarray(b.c(i, w)).reshape(-1)[0]) if b.has(i) else d
                  for i, w, d in ((1, "min", -np.inf), (2, "max", np.inf)))
        kind, args = "clip", [lo, hi]
    elif op == "PRelu":
        slope = np.asarray(b.c(1, "slope"), np.float64).reshape(-1)
        if slope.size not in (1, channels):
            raise b.fail(f"slope of {slope.size} values for {channels} channels: give one, or one per channel")
        kind, args = "leaky_relu", np.broadcast_to(slope, (channels,))[:, None].copy()
    else:
        kind, args = one[op]
    args = np.asarray(args, np.float64)
    args = args if args.ndim == 2 else np.tile(args.reshape(1, -1), (channels, 1))
    acts.check(kind, args, f"node '{b.label}' ({op}): ")
    return kind, args
SUPPORTED_ONNX = (SUPPORTED_SOURCE_OPS + ", Transpose (of a channels-last input, before a Flatten, or at the output), "
                  + "/".join(HEAD_OPS) + " after the last layer")


def head_step(b, a, rank: int, opset: int) -> list:
    """The kernels.head step of output op ``b.node`` on a rank-``rank`` tensor (batch axis included)."""
    op = b.node.op_type
    if op == "Sigmoid":
        return ["sigmoid"]
    if op == "ArgMax":
        if a.get("select_last_index", 0):
            raise b.fail("select_last_index=1 is not supported")
        return ["argmax", int(a.get("axis", 0)) % rank, int(a.get("keepdims", 1))]
    axis = int(a.get("axis", -1 if opset >= 13 else 1)) % rank
    if opset < 13 and axis != rank - 1:  # before opset 13 Softmax flattens from axis on
        raise b.fail(f"axis {axis} of opset {opset} {op} (over the flattened trailing axes) is not supported; "
                     "only the last axis")
    return [op.lower(), axis]


def head_error(b, i: int):
    return b.fail(f"input '{b.node.input[i]}' comes after an output op ({', '.join(HEAD_OPS)}); edgec runs those "
                  "on the host after the last layer only: move it to the end of the graph")


LAYOUT_OPS = ("Transpose", "Flatten", "Reshape", "Squeeze", "Identity", "Dropout")  # the ops that may see a _Perm


def to_cf(ndim: int) -> list[int]:
    """Transpose perm: channels last -> channels first (NHWC -> NCHW)."""
    return [0, ndim - 1, *range(1, ndim - 1)]


def to_cl(ndim: int) -> list[int]:
    """Transpose perm: channels first -> channels last (NCHW -> NHWC)."""
    return [0, *range(2, ndim), 1]


TRANSPOSE_USES = ("edgec reads a Transpose only as a channels-last model input (perm [0, 3, 1, 2] right after the "
                  "input), before a Flatten/Reshape or at the output (perm [0, 2, 3, 1]), or one that undoes the "
                  "previous one")


def transpose_perm(b, a, rank: int) -> list[int]:
    """A Transpose's perm (default: reversed axes), checked to keep the batch axis first."""
    perm = [int(p) % rank for p in a.get("perm", range(rank - 1, -1, -1))]
    if sorted(perm) != list(range(rank)) or perm[0] != 0:
        raise b.fail(f"perm {perm} must permute the axes of a rank-{rank} tensor and keep the batch axis first; "
                     + TRANSPOSE_USES)
    return perm


def layout_transpose(b, a, perm_of, shape: tuple, is_input: bool):
    """What a Transpose of a per-sample tensor means: (kind, perm) with kind 'input' (a
    channels-last model input read channels first), 'identity', 'to_cl' (the tensor laid
    channels last: may be flattened or output) or 'back' (a channels-last view transposed
    back). ``perm_of``: the view's current perm or None."""
    rank = len(shape) + 1
    perm = transpose_perm(b, a, rank)
    if perm == list(range(rank)):
        return "identity", None
    if perm_of is not None:
        if [perm_of[i] for i in perm] == list(range(rank)):
            return "back", None
    elif rank == 4 and perm == to_cf(rank) and is_input:
        return "input", perm
    elif rank == 4 and perm == to_cl(rank):
        return "to_cl", perm
    raise b.fail(f"Transpose perm {perm} of a rank-{rank} tensor: " + TRANSPOSE_USES)


class _Builder:
    """FGraph nodes and ONNX values of one import; ``node``/``label`` is the node being converted."""

    def __init__(self):
        self.nodes: list[FNode] = []
        self.taken: set[str] = set()
        self.vals: dict[str, str | np.ndarray] = {}
        self.node = None
        self.label = ""
        self.opset = 0
        self.batch = _BATCH  # the model's batch size, when fixed

    def fail(self, what: str) -> EdgecError:
        return node_error(self.label, self.node.op_type, what)

    def has(self, i: int) -> bool:
        return len(self.node.input) > i and self.node.input[i] != ""

    def val(self, i: int):
        name = self.node.input[i]
        if name not in self.vals:
            raise self.fail(f"input '{name}' is not produced by any supported node")
        return self.vals[name]

    def t(self, i: int) -> str:
        v = self.val(i)
        if isinstance(v, _Head) and v[1] == [["sigmoid"]]:  # a Sigmoid between layers: an activation
            v = self.vals[self.node.input[i]] = self._sigmoid(v[0])
        if isinstance(v, _Head):
            raise head_error(self, i)
        if isinstance(v, _Perm):
            raise self.fail(f"input '{self.node.input[i]}' is laid out channels last by a Transpose; edgec reads that "
                            "only before a Flatten/Reshape or at the output")
        if isinstance(v, _Padded):  # a zero Pad not folded into a Conv: a pad node of its own
            name = unique_name(v[2], self.taken)
            self.nodes.append(FNode(name, "pad", [v[0]], {"pad": v[1], "value": 0.0}, source_op="Pad"))
            v = self.vals[self.node.input[i]] = name
        if not isinstance(v, str):
            raise self.fail(f"input '{self.node.input[i]}' must be computed from the model input, not a constant")
        return v

    def _sigmoid(self, x: str) -> str:
        name = unique_name(f"{x}_sigmoid", self.taken)
        self.nodes.append(FNode(name, "act", [x], {"kind": "sigmoid"}, {"args": np.zeros((self.shape(x)[0], 0))},
                                source_op="Sigmoid"))
        return name

    def c(self, i: int, what: str = "weight") -> np.ndarray:
        v = self.val(i)
        if not isinstance(v, np.ndarray):
            raise self.fail(f"the {what} ('{self.node.input[i]}') must be a constant (an initializer)")
        return v

    def emit(self, op, inputs, attrs=None, params=None, name=None) -> str:
        name = unique_name(name or self.label, self.taken)
        self.nodes.append(FNode(name, op, list(inputs), dict(attrs or {}),
                                {k: np.asarray(v, dtype=np.float64) for k, v in (params or {}).items()},
                                source_op=self.node.op_type))
        return name

    def shape(self, name: str) -> tuple[int, ...]:
        """Per-sample shape of FGraph tensor ``name`` (infers shapes of the graph so far)."""
        infer_shapes(FGraph(self.nodes, name))
        return next(n.shape for n in self.nodes if n.name == name)


def _pads(b, a, kernel) -> tuple[int, int, int, int]:
    auto = a.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):  # output size ceil(in / stride); UPPER pads the odd pixel last
        _, h, w = b.shape(b.t(0))
        total = [max((-(-n // s) - 1) * s + k - n, 0) for n, s, k in zip((h, w), a.get("strides", (1, 1)), kernel)]
        first = [t // 2 if auto == "SAME_UPPER" else t - t // 2 for t in total]
        return (first[0], first[1], total[0] - first[0], total[1] - first[1])
    if auto not in ("NOTSET", "VALID"):
        raise b.fail(f"auto_pad={auto} is not supported")
    pads = [int(p) for p in a.get("pads", [0, 0, 0, 0])] if auto == "NOTSET" else [0, 0, 0, 0]
    if len(pads) != 4:
        raise b.fail(f"only 2-D pads are supported, got {pads}")
    return tuple(pads)  # ONNX [x1_begin, x2_begin, x1_end, x2_end] is already (top, left, bottom, right)


def as_2d(a: dict, kernel_rank: int) -> dict:
    """Attributes of a 1-D Conv/MaxPool/AveragePool (on (N, C, L), read as (N, C, 1, L))
    as the 2-D op's: kernel (1, k), strides (1, s), pads (0, p0, 0, p1), dilations (1, d)."""
    if kernel_rank != 1:
        return a
    a = dict(a)
    for key, one in (("kernel_shape", 1), ("strides", 1), ("dilations", 1)):
        if key in a:
            a[key] = [one, *a[key]]
    if "pads" in a:
        a["pads"] = [0, a["pads"][0], 0, a["pads"][1]]
    return a


def _check_2d(b, a, key="kernel_shape"):
    if len(a.get(key, [0, 0])) != 2:
        raise b.fail(f"only 2-D operation is supported, got {key}={a[key]}")
    if any(d != 1 for d in a.get("dilations", [1, 1])):
        raise b.fail(f"dilations {list(a['dilations'])} are not supported; only dilation 1")


# ---- op handlers: (builder, attrs) -> value of the node's first output -----------------

def _conv(b, a):
    w = b.c(1)
    if w.ndim == 3:  # Conv1d
        w, a = w[:, :, None, :], as_2d(a, 1)
    if w.ndim != 4:
        raise b.fail(f"only 2-D convolutions are supported, weight has shape {w.shape}")
    _check_2d(b, a)
    if "kernel_shape" in a and tuple(a["kernel_shape"]) != tuple(w.shape[2:]):
        raise b.fail(f"kernel_shape {list(a['kernel_shape'])} does not match the weight's {list(w.shape[2:])}")
    bias = b.c(2, "bias") if b.has(2) else np.zeros(w.shape[0])
    x, extra = b.val(0)[:2] if isinstance(b.val(0), _Padded) else (b.t(0), (0, 0, 0, 0))
    c = b.shape(x)[0]
    if c != w.shape[1] * int(a.get("group", 1)):
        raise b.fail(f"the input has {c} channels but the weight takes {w.shape[1]} x group {int(a.get('group', 1))}")
    pad = tuple(p + q for p, q in zip(_pads(b, a, w.shape[2:]), extra))
    return b.emit("conv", [x], {"stride": tuple(a.get("strides", (1, 1))), "pad": pad,
                                "groups": int(a.get("group", 1))}, {"weight": w, "bias": bias})


def conv_transpose_lowered(b, a, w: np.ndarray, c: int):
    """The checked lowering (frontend/convtranspose.py: ``lowered``) of ConvTranspose node
    attrs ``a`` with weight ``w`` (Cin, Cout, k) or (Cin, Cout, kh, kw) (group 1, dilation 1,
    auto_pad NOTSET) on an input of ``c`` channels: (conv weight, factors, conv pad)."""
    from .convtranspose import lowered

    if w.ndim == 3:  # on (N, C, L): the 2-D op with H = 1
        w, a = w[:, :, None, :], dict(as_2d(a, 1), **({"output_padding": [0, *a["output_padding"]]}
                                                       if "output_padding" in a else {}))
    if w.ndim != 4:
        raise b.fail(f"only 1-D and 2-D transposed convolutions are supported, weight has shape {w.shape}")
    _check_2d(b, a)
    if a.get("auto_pad", "NOTSET") != "NOTSET":
        raise b.fail(f"auto_pad={a['auto_pad']} is not supported; give explicit pads (auto_pad NOTSET)")
    if int(a.get("group", 1)) != 1:  # float ONNX ungroups first (_conv_transpose); QONNX weight codes do not
        raise b.fail(f"group={a['group']} is not supported for a quantized (QONNX) transposed convolution; "
                     "only group 1")
    if "output_shape" in a:
        raise b.fail("output_shape is not supported; give pads and output_padding")
    if "kernel_shape" in a and tuple(a["kernel_shape"]) != tuple(w.shape[2:]):
        raise b.fail(f"kernel_shape {list(a['kernel_shape'])} does not match the weight's {list(w.shape[2:])}")
    if c != w.shape[0]:
        raise b.fail(f"the input has {c} channels but the weight takes {w.shape[0]}")
    return lowered(b.label, b.node.op_type, w, a.get("strides", (1, 1)), a.get("pads", (0, 0, 0, 0)),
                   a.get("output_padding", (0, 0)))


def _conv_transpose(b, a):
    """ConvTranspose as a zero-fill upsample + a stride-1 convolution; group > 1 as the equal
    group-1 one (frontend/convtranspose.py: ``ungrouped``, a block-diagonal weight)."""
    from .convtranspose import ungrouped

    w, x = b.c(1), b.t(0)
    if int(a.get("group", 1)) != 1:
        try:
            w = ungrouped(w, int(a["group"]), b.shape(x)[0])
        except EdgecError as e:
            raise b.fail(str(e)) from None
        a = {k: v for k, v in a.items() if k != "group"}
    conv_w, factors, pad = conv_transpose_lowered(b, a, w, b.shape(x)[0])
    up = b.emit("upsample", [x], {"factor": factors, "fill": "zero"}, name=f"{b.label}_zeros")
    bias = b.c(2, "bias") if b.has(2) else np.zeros(w.shape[1])
    return b.emit("conv", [up], {"stride": (1, 1), "pad": pad, "groups": 1}, {"weight": conv_w, "bias": bias})


def pad_spec(b, a, rank: int) -> tuple[tuple, float]:
    """A constant Pad of H and W (a 1-D signal: of L) of a rank-``rank`` tensor: pads as an
    attribute (opset < 11) or an input, with the axes input of opset 18; ((top, left, bottom,
    right), value). An error naming the node for another mode or padded axis."""
    mode = a.get("mode", "constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode != "constant":
        raise b.fail(f"mode '{mode}' is not supported; only constant padding (mode 'constant')")
    pads = [int(p) for p in (np.asarray(b.c(1, "pads")).reshape(-1) if b.has(1) else a.get("pads", []))]
    value = float(np.asarray(b.c(2, "constant value")).reshape(-1)[0]) if b.has(2) else float(a.get("value", 0.0))
    if b.has(3):  # opset 18: pads for the listed axes only
        axes = [int(v) % rank for v in np.asarray(b.c(3, "axes")).reshape(-1)]
        full = [0] * (2 * rank)
        for j, ax in enumerate(axes):
            full[ax], full[rank + ax] = pads[j], pads[len(axes) + j]
        pads = full
    if len(pads) != 2 * rank:
        raise b.fail(f"pads {pads} do not match a rank-{rank} input")
    if any(pads[i] for i in (0, 1, rank, rank + 1)) or min(pads) < 0:
        raise b.fail(f"pads {pads}: only non-negative padding of H and W (or L) is supported")
    return ((pads[2], pads[3], pads[6], pads[7]) if rank == 4 else (0, pads[2], 0, pads[5])), value


def _pad(b, a):
    """Zero: waits for a Conv to fold into; another constant: a pad node."""
    x = b.t(0)
    tlbr, value = pad_spec(b, a, _rank(b, x))
    if value == 0:
        return _Padded((x, tlbr, b.label))
    return b.emit("pad", [x], {"pad": tlbr, "value": value})


def _rank(b, x) -> int:
    """The ONNX rank of FGraph tensor ``x`` (batch axis included): a 1-D model's maps are (N, C, L)."""
    shape = b.shape(x)
    return 3 if b.nodes[0].attrs.get("layout") == "cl" and len(shape) == 3 else len(shape) + 1


def _channel_axis(b, axis, x) -> bool:
    return int(axis) % _rank(b, x) == 1


def split_sizes(b, a, c: int) -> list[int]:
    """The channel counts of a Split of ``c`` channels into its outputs: sizes as an attribute
    (opset < 13) or an input, or equal parts (num_outputs in opset 18; the last part smaller)."""
    n = len(b.node.output)
    if b.has(1):
        sizes = [int(v) for v in np.asarray(b.c(1, "split")).reshape(-1)]
    elif "split" in a:
        sizes = [int(v) for v in a["split"]]
    else:
        k = -(-c // int(a.get("num_outputs", n)))
        sizes = [min(k, c - i) for i in range(0, c, k)]
    if sum(sizes) != c or len(sizes) != n or min(sizes) < 1:
        raise b.fail(f"split {sizes} into {n} outputs does not cut {c} channels")
    return sizes


def _split(b, a):
    """Split along channels: one slice node per output."""
    x = b.t(0)
    if not _channel_axis(b, a.get("axis", 0), x):
        raise b.fail(f"axis {a.get('axis', 0)}: only a split along channels (axis 1) is supported")
    out, lo = [], 0
    for o, k in zip(b.node.output, split_sizes(b, a, b.shape(x)[0])):
        name = unique_name(o or f"{b.label}_{len(out)}", b.taken)
        b.nodes.append(FNode(name, "slice", [x], {"lo": lo, "hi": lo + k}, source_op="Split"))
        out.append(name)
        lo += k
    return _Outputs(out)


def slice_range(b, a, rank: int, dims: tuple) -> tuple[int, int]:
    """The channels [lo, hi) a Slice keeps (step 1) of a tensor of per-axis sizes ``dims``
    (batch first, any size); starts/ends/axes/steps as attributes (opset < 10) or inputs.
    Full ranges of other axes are allowed; anything else is an error naming the node."""
    get = (lambda i, key, d: [int(v) for v in np.asarray(b.c(i, key)).reshape(-1)] if b.has(i) else d) \
        if b.opset >= 10 else (lambda i, key, d: [int(v) for v in a[key]] if key in a else d)
    starts, ends = get(1, "starts", []), get(2, "ends", [])
    axes = get(3, "axes", list(range(len(starts))))
    steps = get(4, "steps", [1] * len(starts)) if b.opset >= 10 else [1] * len(starts)
    lo, hi = 0, dims[1]
    for st, en, ax, sp in zip(starts, ends, axes, steps):
        ax = ax % rank
        first, last, _ = slice(st, en, sp).indices(dims[ax])
        if ax == 1 and sp == 1 and first < last:
            lo, hi = first, last
        elif not (sp == 1 and first == 0 and last == dims[ax]):
            raise b.fail(f"slicing axis {ax} [{st}:{en}:{sp}]: only a range of channels (axis 1, step 1)")
    return lo, hi


def _slice(b, a):
    """Slice of a range of channels; a Slice keeping everything is the tensor itself."""
    x = b.t(0)
    shape = b.shape(x)
    rank = _rank(b, x)
    dims = (1 << 62, shape[0], shape[2]) if rank == 3 and len(shape) == 3 else (1 << 62, *shape)
    lo, hi = slice_range(b, a, rank, dims)
    if (lo, hi) == (0, shape[0]):
        return x
    return b.emit("slice", [x], {"lo": lo, "hi": hi})


def _linear(b, x, w, bias):
    if w.ndim != 2:
        raise b.fail(f"the weight must be a 2-D matrix, got shape {w.shape}")
    if bias.size not in (1, w.shape[0]):
        raise b.fail(f"bias of shape {bias.shape} does not match {w.shape[0]} outputs")
    shape = b.shape(x)
    if len(shape) != 1 or shape[0] != w.shape[1]:
        raise b.fail(f"the input has shape {list(shape)} per sample but the weight takes {w.shape[1]} features")
    return b.emit("linear", [x], {}, {"weight": w, "bias": np.broadcast_to(bias.reshape(-1), (w.shape[0],))})


def _gemm(b, a):
    if a.get("transA", 0):
        raise b.fail("transA=1 is not supported")
    w = b.c(1)
    w = a.get("alpha", 1.0) * (w if a.get("transB", 0) else w.T)
    bias = a.get("beta", 1.0) * b.c(2, "bias") if b.has(2) else np.zeros(1)
    return _linear(b, b.t(0), w, bias)


def _matmul(b, a):
    return _linear(b, b.t(0), b.c(1).T, np.zeros(1))


def _add(b, a):  # (two constants are folded before handlers run)
    if isinstance(b.val(0), str) and isinstance(b.val(1), str):
        return b.emit("add", [b.t(0), b.t(1)])
    i = 0 if isinstance(b.val(0), str) else 1
    return _fuse_bias(b, b.t(i), b.c(1 - i, "operand"))


def _mul(b, a):  # (two constants are folded before handlers run; a Sigmoid gate is a tensor here)
    if not isinstance(b.val(0), np.ndarray) and not isinstance(b.val(1), np.ndarray):
        return b.emit("mul", [b.t(0), b.t(1)])
    raise b.fail("only the product of two tensors (or of a tensor and a per-channel gate, as in "
                 "squeeze-and-excitation) is supported; fold a constant factor into the layer before it")


def _resize(b, a):
    x = b.t(0)
    return b.emit("upsample", [x], {"factor": resize_factor(b, a, b.shape(x))})


def _concat(b, a):
    """Constants (shape arithmetic) are folded; tensors join along channels, two at a time."""
    if not any(isinstance(b.val(i), str) for i in range(len(b.node.input))):
        return np.concatenate([b.c(i, "input") for i in range(len(b.node.input))], axis=a["axis"])
    ts = [b.t(i) for i in range(len(b.node.input))]
    return concat_channels(b, ts, a["axis"], len(b.shape(ts[0])) + 1)


def _fuse_bias(b, t: str, c: np.ndarray) -> str:
    """tensor + constant: only as the bias of the Gemm/MatMul/Conv producing ``t``. The result
    is a copy of that node with the bias added; the original is pruned if unused."""
    p = next(n for n in b.nodes if n.name == t)
    try:
        params = params_with_bias(p, c)
    except ValueError:
        raise b.fail(f"adding a constant of shape {c.shape} is only supported as the bias of a "
                     "preceding Gemm, MatMul or Conv") from None
    return b.emit(p.op, p.inputs, p.attrs, params)


def _batchnorm(b, a):
    training = a.get("training_mode", 0) or len([o for o in b.node.output if o]) > 1  # opset < 14: by outputs
    if training or not a.get("spatial", 1):
        raise b.fail("only inference mode (training_mode=0, spatial=1) is supported")
    gamma, beta, mean, var = (b.c(i, what) for i, what in enumerate(("scale", "bias", "mean", "var"), 1))
    return b.emit("bn", [b.t(0)], {"eps": float(a.get("epsilon", 1e-5))},
                  {"gamma": gamma, "beta": beta, "mean": mean, "var": var})


def _pool(op):
    def handler(b, a):
        a = as_2d(a, len(a.get("kernel_shape", (0, 0))))
        _check_2d(b, a)
        if a.get("ceil_mode", 0):
            raise b.fail("ceil_mode=1 is not supported")
        attrs = {"kernel": tuple(a["kernel_shape"]), "stride": tuple(a.get("strides", (1, 1)))}
        pad = _pads(b, a, attrs["kernel"])
        if op == "maxpool":
            attrs["pad"] = pad
        elif any(pad):
            raise b.fail(f"padding {list(pad)} is not supported for average pooling; only 0")
        return b.emit(op, [b.t(0)], attrs)
    return handler


def _viewed(b):
    """(FGraph tensor, flatten order, its shape as the model sees it) of input 0."""
    v = b.val(0)
    if isinstance(v, _Perm):
        shape = b.shape(v[0])
        return v[0], "hwc", tuple(shape[p - 1] for p in v[1][1:])
    x = b.t(0)
    return x, "chw", b.shape(x)


def _flat(b, x, order):
    return b.emit("flatten", [x], {"order": order}) if len(b.shape(x)) > 1 else x


def flatten_axis_ok(b, a, rank: int) -> bool:
    """Flatten's axis keeps the batch apart: 1, or 0 when the model's batch is fixed at 1
    (Keras exports write axis 0: (1, N*F) is (N, F) for N = 1)."""
    axis = a.get("axis", 1) % (rank + 1)
    return axis == 1 or axis == 0 and b.batch == 1


def _flatten(b, a):
    x, order, ins = _viewed(b)
    if not flatten_axis_ok(b, a, len(ins) + 1):
        raise b.fail(f"only axis=1 is supported (or 0 with a batch of 1), got axis={a['axis']}")
    return _flat(b, x, order)


def _act(b, a):
    x = b.t(0)
    kind, args = onnx_act(b, a, b.shape(x)[0])
    return b.emit("act", [x], {"kind": kind}, {"args": args})


def _head(b, a):
    v = b.val(0)
    x, steps = v if isinstance(v, _Head) else (b.t(0), [])
    if steps and steps[-1][0] == "argmax":
        raise head_error(b, 0)
    return _Head((x, [*steps, head_step(b, a, len(b.shape(x)) + 1, b.opset)]))


def _transpose(b, a):
    v = b.val(0)
    if isinstance(v, np.ndarray):  # (constants are folded before handlers run)
        raise b.fail("a Transpose of a constant that was not folded")
    x = v[0] if isinstance(v, _Perm) else b.t(0)
    is_input = x == b.nodes[0].name and not any(x in n.inputs for n in b.nodes)
    kind, perm = layout_transpose(b, a, v[1] if isinstance(v, _Perm) else None, b.shape(x), is_input)
    if kind == "input":  # the model takes channels last; the FGraph input is channels first
        inp = b.nodes[0]
        inp.attrs.update(shape=tuple(inp.attrs["shape"][p - 1] for p in perm[1:]), layout="hwc")
        b.vals[b.node.input[0]] = _Perm((x, to_cl(len(perm))))  # no other node may read it as it was
        return x
    return _Perm((x, perm)) if kind == "to_cl" else x


def _reshape(b, a):
    x, order, ins = _viewed(b)
    target = [int(v) for v in b.c(1, "shape")]
    batch = (_BATCH, 1) if a.get("allowzero", 0) else (_BATCH, 1, 0)  # 0 copies the batch dim
    if len(target) == len(ins) + 1 and target[0] in batch + (-1,) and tuple(target[1:]) == ins:
        return b.val(0)  # no-op reshape
    if target in ([r, c] for r in batch for c in (-1, prod(ins))) or target == [-1, prod(ins)]:
        return _flat(b, x, order)
    shown = ["N" if d == _BATCH else d for d in target]
    raise b.fail(f"only reshaping to (N, -1) is supported, got per-sample {list(ins)} -> {shown}")


def _reduce_mean(b, a):  # torch.onnx's dynamo exporter writes AdaptiveAvgPool2d(1) this way
    x = b.t(0)
    rank = len(b.shape(x)) + 1
    if rank != 4 or sorted(d % rank for d in _axes(b, a)) != [2, 3]:
        raise b.fail(f"only the mean over the spatial axes [2, 3] of an NCHW tensor is supported, "
                     f"got axes {_axes(b, a)}")
    g = b.emit("gap", [x])
    return g if a.get("keepdims", 1) else b.emit("flatten", [g])


def _dropout(b, a):
    if b.has(2) and bool(np.asarray(b.c(2, "training_mode")).item()):
        raise b.fail("training_mode=True is not supported")
    return b.val(0)


def _fold(b, opset: int):
    """Evaluate a node whose inputs are all constants with ONNX's reference implementation
    (Constant, ConstantOfShape, Slice, Transpose... as exporters write them). Ops that make
    large tensors from small ones are sized first: nothing over MAX_ELEMENTS is allocated."""
    from onnx.reference import ReferenceEvaluator

    feeds = {i: b.vals[i] for i in b.node.input if i}
    n = _folded_size(b.node.op_type, [feeds.get(i) for i in b.node.input])
    if n is not None and n > MAX_ELEMENTS:
        raise b.fail(f"makes a constant of {n:,} elements; edgec folds at most {MAX_ELEMENTS:,}")
    return ReferenceEvaluator(b.node, opsets={"": opset}).run(None, feeds)[0]


def _folded_size(op: str, ins: list) -> int | None:
    """Elements of the output of a shape-making op, from its constant inputs (None: not one)."""
    try:
        if op == "ConstantOfShape":
            return prod(int(d) for d in np.asarray(ins[0]).reshape(-1))
        if op == "Expand":
            return prod(np.broadcast_shapes(np.shape(ins[0]), tuple(int(d) for d in np.asarray(ins[1]).reshape(-1))))
        if op == "Tile":
            return int(np.size(ins[0])) * prod(int(d) for d in np.asarray(ins[1]).reshape(-1))
        if op == "Range":
            start, limit, delta = (float(np.asarray(v).reshape(-1)[0]) for v in ins[:3])
            return max(0, int(np.ceil((limit - start) / delta))) if delta else MAX_ELEMENTS + 1
    except (ValueError, TypeError, IndexError, OverflowError):
        return MAX_ELEMENTS + 1
    return None


def _is_const(v) -> bool:
    """A constant that does not involve the batch size."""
    return isinstance(v, np.ndarray) and not (v.dtype.kind == "i" and (v == _BATCH).any())


# shape arithmetic that keeps the batch size symbolic (x.view(x.size(0), -1) with a dynamic batch)
def _shape(b, a):
    v = b.val(0)
    shape = np.array(v.shape if isinstance(v, np.ndarray) else (_BATCH, *b.shape(v)), dtype=np.int64)
    return shape[a.get("start", 0): a.get("end", len(shape))]


def _axes(b, a):
    return [int(v) for v in (b.c(1, "axes") if b.has(1) else a.get("axes", []))]


def _unsqueeze(b, a):
    x = b.c(0, "input")
    for ax in sorted(d % (x.ndim + len(_axes(b, a))) for d in _axes(b, a)):
        x = np.expand_dims(x, ax)
    return x


def squeezes_to_features(b, a, shape: tuple) -> bool:
    """A Squeeze of a per-sample tensor that leaves (F,): of a (C, 1, 1) map (after a
    global pool), over its unit axes (or all of them, the default). Anything else: an error."""
    rank = len(shape) + 1
    axes = sorted(d % rank for d in _axes(b, a)) or [i + 1 for i, d in enumerate(shape) if d == 1]
    if len(shape) == 3 and shape[1:] == (1, 1) and axes == [2, 3]:
        return True
    if len(shape) == 1 and not axes:
        return False
    raise b.fail(f"a Squeeze of axes {axes} of a per-sample {list(shape)} tensor: edgec reads a Squeeze only of "
                 "the 1x1 spatial axes after a global pool (as a Flatten)")


def _squeeze(b, a):
    if isinstance(b.val(0), str):
        x = b.t(0)
        return _flat(b, x, "chw") if squeezes_to_features(b, a, b.shape(x)) else x
    x = b.c(0, "input")
    axes = _axes(b, a)
    return np.squeeze(x, axis=tuple(axes)) if axes else np.squeeze(x)


_ONNX_OPS = {
    "Conv": _conv, "ConvTranspose": _conv_transpose, "Pad": _pad, "Gemm": _gemm, "MatMul": _matmul, "Add": _add,
    "Mul": _mul,
    "BatchNormalization": _batchnorm,
    "Relu": lambda b, a: b.emit("relu", [b.t(0)]), **{op: _act for op in ACT_OPS},
    "MaxPool": _pool("maxpool"), "AveragePool": _pool("avgpool"),
    "GlobalAveragePool": lambda b, a: b.emit("gap", [b.t(0)]), "ReduceMean": _reduce_mean,
    "Flatten": _flatten, "Reshape": _reshape, "Transpose": _transpose, **{op: _head for op in HEAD_OPS},
    "Identity": lambda b, a: b.val(0), "Dropout": _dropout,
    "Shape": _shape,
    "Gather": lambda b, a: np.take(b.c(0, "input"), b.c(1, "indices"), axis=a.get("axis", 0)),
    "Unsqueeze": _unsqueeze, "Squeeze": _squeeze,
    "Concat": _concat, "Resize": _resize, "Upsample": _resize, "Split": _split, "Slice": _slice,
    "Cast": lambda b, a: b.c(0, "input"),
}
_FUSED = {("edgec", op): _act for op in FUSED_ACTS}


# ---- public API ---------------------------------------------------------------------------

_POSITIVE_ATTRS = ("strides", "kernel_shape", "dilations")


def _attrs(node) -> dict:
    """A node's attributes; geometry checked here, so the error names this node: strides,
    kernel sizes and dilations are positive, pads are not negative, group is positive."""
    out = {}
    for at in node.attribute:
        v = onnx.helper.get_attribute_value(at)
        out[at.name] = v.decode("utf-8", "replace") if isinstance(v, bytes) else v
    label = node.name or node.op_type
    for key in _POSITIVE_ATTRS + ("pads", "group"):
        if key in out:
            vals = list(out[key]) if isinstance(out[key], (list, tuple)) else [out[key]]
            lo = 0 if key == "pads" else 1
            if not all(isinstance(x, int) and x >= lo for x in vals):
                raise node_error(label, node.op_type, f"{key} {vals}: every value must be "
                                 + ("0 or more" if lo == 0 else "1 or more"))
    return out


def _opset(model) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


MAX_MODEL_BYTES = 2 << 30  # the .onnx file and its external data (`--max-model-mb` raises it)
MAX_ELEMENTS = 1 << 28  # one tensor, declared or folded
MAX_INPUT_ELEMENTS = 1 << 22  # one input sample
OPSETS = (7, onnx.defs.onnx_opset_version())


def _reason(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _declared(t, where: str) -> int:
    """Bytes a TensorProto declares (dims x element size), checked against the limits."""
    dims = [int(d) for d in t.dims]
    if any(d < 0 for d in dims):
        raise EdgecError(f"{where}: negative dimension in {dims}")
    n = prod(dims)
    if n > MAX_ELEMENTS:
        raise EdgecError(f"{where} declares shape {dims} ({n:,} elements); edgec reads at most {MAX_ELEMENTS:,}")
    try:
        size = onnx.helper.tensor_dtype_to_np_dtype(t.data_type).itemsize
    except (KeyError, TypeError, ValueError):
        raise EdgecError(f"{where}: unknown element type {t.data_type}") from None
    return n * size


def _external(t, base: Path, where: str, limit: int) -> None:
    """External data of ``t``: a file inside the model's folder, large enough for what it
    declares. Checked before anything is read."""
    info = {e.key: e.value for e in t.external_data}
    loc = info.get("location", "")
    target = (base / loc).resolve()
    if not loc or Path(loc).is_absolute() or base.resolve() not in target.parents:
        raise EdgecError(f"{where}: external data '{loc}' lies outside the model's folder; edgec reads weights only "
                         "from files beside the model")
    if not target.is_file():
        raise EdgecError(f"{where}: external data file '{loc}' is missing (copy it next to the model)")
    need, offset = _declared(t, where), int(info.get("offset", 0) or 0)
    length = int(info.get("length", need) or need)
    if need > limit:
        raise EdgecError(f"{where}: {need:,} bytes of external data, over the {limit >> 20:,} MiB limit "
                         "(--max-model-mb raises it)")
    if offset < 0 or length < need or offset + need > target.stat().st_size:
        raise EdgecError(f"{where}: external data file '{loc}' is shorter than the {need:,} bytes it must hold "
                         "(truncated?)")


def _with_custom_domains(model):
    """``model``, or a copy that imports every custom op domain its nodes use: exporters
    (Brevitas, qonnx) often leave them out, and onnx.checker would refuse the whole file."""
    have = {o.domain for o in model.opset_import}
    missing = sorted({n.domain for n in model.graph.node if n.domain not in ("", "ai.onnx")} - have)
    if not missing:
        return model
    m = onnx.ModelProto()
    m.CopyFrom(model)
    m.opset_import.extend(onnx.helper.make_opsetid(d, 1) for d in missing)
    return m


def _tensors(model):
    """(where, TensorProto) of every initializer and Constant value of the main graph."""
    for t in model.graph.initializer:
        yield f"initializer '{t.name}'", t
    for node in model.graph.node:
        for at in node.attribute:
            if at.type == onnx.AttributeProto.TENSOR:
                yield f"node '{node.name or node.op_type}' ({node.op_type})", at.t


def load_onnx(path, max_bytes: int | None = None) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """(model, initializers as numpy) of an ONNX file, external data followed (only inside
    the model's folder); one `edgec: error:` for a missing, truncated, foreign, oversized
    or invalid file. Sizes are checked from the declarations before data is read; then
    onnx.checker, the opset range and finite weights."""
    try:
        return _load_onnx(path, max_bytes)
    except EdgecError as e:
        raise EdgecError(f"cannot read ONNX file '{path}': {e}") from None


def _load_onnx(path, max_bytes):
    from onnx.external_data_helper import load_external_data_for_model

    limit = MAX_MODEL_BYTES if max_bytes is None else int(max_bytes)
    p = Path(path)
    try:
        if not p.is_file():
            raise ValueError("no such file")
        if p.stat().st_size > limit:
            raise ValueError(f"{p.stat().st_size:,} bytes, over the {limit >> 20:,} MiB limit "
                             "(--max-model-mb raises it)")
        model = onnx.load(str(p), load_external_data=False)
        if not model.graph.node and not model.graph.output and not _opset(model):
            raise ValueError("no graph with an opset import (truncated, or not an ONNX model?)")
        if not model.graph.node:
            raise ValueError("the graph has no nodes; there is nothing to compile")
        if not model.graph.output or not _opset(model):
            raise ValueError("the graph has no output or no opset import (truncated, or not an ONNX model?)")
    except Exception as e:  # noqa: BLE001 - missing, unreadable, truncated or foreign files
        raise EdgecError(_reason(e)) from None
    opset = _opset(model)
    if not OPSETS[0] <= opset <= OPSETS[1]:
        raise EdgecError(f"it uses ONNX opset {opset}; edgec reads opsets {OPSETS[0]} to {OPSETS[1]} "
                         "(re-export the model with a supported opset)")
    total = 0
    for where, t in _tensors(model):
        total += _declared(t, where)
        if t.data_location == onnx.TensorProto.EXTERNAL:
            _external(t, p.parent, where, limit)
    if total > limit:
        raise EdgecError(f"it declares {total:,} bytes of weights, over the {limit >> 20:,} MiB limit "
                         "(--max-model-mb raises it)")
    try:
        load_external_data_for_model(model, str(p.parent))
        onnx.checker.check_model(_with_custom_domains(model))
    except Exception as e:  # noqa: BLE001 - onnx.checker.ValidationError and damaged external data
        raise EdgecError(f"not a valid ONNX model: {_reason(e)}") from None
    inits = {}
    for t in model.graph.initializer:
        try:
            a = numpy_helper.to_array(t)
        except Exception as e:  # noqa: BLE001
            raise EdgecError(f"initializer '{t.name}' cannot be read: {_reason(e)}") from None
        if a.dtype.kind in "fc" and not np.isfinite(a).all():
            raise EdgecError(f"initializer '{t.name}' holds NaN or infinite values; every weight must be "
                             "finite")
        inits[t.name] = a
    return model, inits


_FLOAT_TYPES = (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16)


def _input_shape(vi) -> tuple[int, ...]:
    if not vi.type.HasField("tensor_type") or vi.type.tensor_type.elem_type not in _FLOAT_TYPES:
        kind = onnx.TensorProto.DataType.Name(vi.type.tensor_type.elem_type) if vi.type.HasField("tensor_type") \
            else vi.type.WhichOneof("value")
        raise EdgecError(f"the model input '{vi.name}' is of type {kind}; edgec takes a float tensor")
    dims = vi.type.tensor_type.shape.dim
    if len(dims) < 2 or any(not d.HasField("dim_value") or d.dim_value < 1 for d in dims[1:]):
        shown = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims]
        raise EdgecError(f"the model input '{vi.name}' has shape {shown}; edgec needs a batch "
                         "dimension followed by fixed sizes, e.g. [N, 1, 28, 28]")
    shape = tuple(int(d.dim_value) for d in dims[1:])
    if prod(shape) > MAX_INPUT_ELEMENTS:
        raise EdgecError(f"the model input '{vi.name}' has shape {list(shape)} per sample ({prod(shape):,} values); "
                         f"edgec takes at most {MAX_INPUT_ELEMENTS:,}")
    return shape


def single_input(model, inits):
    """The model's one data input (value info); an error unless one input and one output."""
    g = model.graph
    inputs = [vi for vi in g.input if vi.name not in inits]
    if len(inputs) != 1:
        raise EdgecError(f"the model has {len(inputs)} inputs; edgec supports exactly one")
    if len(g.output) != 1:
        raise EdgecError(f"the model has {len(g.output)} outputs; edgec supports exactly one")
    return inputs[0]


def import_onnx(path, loaded=None) -> FGraph:
    """Import an ONNX model file (float weights; one input, one output). ``loaded``: its
    ``load_onnx`` result, when the caller has it already."""
    model, inits = loaded or load_onnx(path)
    g = model.graph
    inputs = [single_input(model, inits)]
    opset = _opset(model)
    b = _Builder()
    b.opset = opset
    dim0 = inputs[0].type.tensor_type.shape.dim[0]
    b.batch = int(dim0.dim_value) if dim0.HasField("dim_value") else _BATCH
    b.vals.update(inits)
    in_name = unique_name(inputs[0].name, b.taken)
    b.nodes.append(FNode(in_name, "input", [], input_attrs(_input_shape(inputs[0])), source_op="input"))
    b.vals[inputs[0].name] = in_name
    for index, node in enumerate(g.node):
        b.node, b.label = node, node.name or f"{node.op_type}_{index}"
        standard = node.domain in ("", "ai.onnx")
        foldable = standard and all(_is_const(b.vals.get(i)) for i in node.input if i)
        handler = _ONNX_OPS.get(node.op_type) if standard else _FUSED.get((node.domain, node.op_type))
        if handler is None and not foldable:
            raise node_error(b.label, node.op_type, "unsupported op; supported: " + SUPPORTED_ONNX)
        try:
            v = _fold(b, opset) if foldable else handler(b, _attrs(node))
            if isinstance(v, _Outputs):
                b.vals.update(zip(node.output, v))
                continue
            b.vals[node.output[0]] = v if isinstance(v, (str, _Padded, _Perm, _Head)) else np.asarray(v)
        except EdgecError:
            raise
        except Exception as e:  # noqa: BLE001 - malformed attributes/inputs, failed folding
            raise b.fail(f"unsupported attributes or inputs: {e}") from e
    out = b.vals.get(g.output[0].name)
    out, head = out if isinstance(out, _Head) else (out, [])
    if isinstance(out, _Perm):
        raise EdgecError(f"the model output '{g.output[0].name}' is a channels-last map (a Transpose at the end); "
                         "edgec's float path returns maps channels first: drop the final Transpose")
    if not isinstance(out, str):
        raise EdgecError(f"the model output '{g.output[0].name}' is not computed from the model input")
    fg = infer_shapes(prune(FGraph(b.nodes, out)))
    fg.head = head
    return fg
