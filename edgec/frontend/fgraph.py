"""The float graph: what every importer (PyTorch, ONNX) produces, before quantization.

Tensors are named by the node that produces them (one output per node) and laid out as
in PyTorch: (C, H, W) or (F,) per sample, batch dimension left out. Nodes are kept in
topological order. Supported ops and their fields:

========  ===========================================  ===============================
op        attrs                                        params (float64 numpy arrays)
========  ===========================================  ===============================
input     shape (channels first), layout ("chw";       -
          "hwc": the model takes (H, W, C); "cl": a
          1-D model takes (C, L), read as (C, 1, L))
conv      stride (sh, sw), pad (top, left, bottom,     weight (O, I/groups, kh, kw),
          right), groups                               bias (O,)
linear    -                                            weight (O, I), bias (O,)
bn        eps                                          gamma, beta, mean, var (C,)
relu      -                                            -
act       kind (ir/act.py: clip, leaky_relu, sigmoid,     args (C, k): the activation's
          silu, gelu, ...)                             arguments per channel
maxpool   kernel (kh, kw), stride (sh, sw),            -
          pad (top, left, bottom, right)
avgpool   kernel (kh, kw), stride (sh, sw)             -
gap       -  (global average pool, keeps (C, 1, 1))    -
flatten   order ("chw": (C, H, W) -> (C*H*W,) row-    -
          major; "hwc": as laid out channels last)
add       -  (two inputs, same shape)                  -
concat    -  (two inputs, joined along channels)       -
upsample  factor (fh, fw): nearest, whole factors;    -
          fill "zero": x at (i·fh, j·fw), 0 elsewhere
          (a ConvTranspose's zero insertion, before
          its stride-1 conv: frontend/convtranspose.py)
pad       pad (top, left, bottom, right), value:      -
          constant padding of a (C, H, W) map
slice     lo, hi: the channels [lo, hi) (split,       -
          chunk, x[:, lo:hi])
========  ===========================================  ===============================

Identity and Dropout never appear: importers drop them. ``source_op`` keeps the op name
the node had in its source model, for error messages.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import EdgecError, node_error

OPS = ("input", "conv", "linear", "bn", "relu", "act", "maxpool", "avgpool", "gap", "flatten", "add", "concat",
       "upsample", "mul", "identity", "pad", "slice")
ACTIVATIONS = ("relu", "act")  # the elementwise activations a segment may end in

SUPPORTED_SOURCE_OPS = (
    "Linear/Gemm/MatMul, Conv2d (groups 1 or depthwise, dilation 1), "
    "ConvTranspose1d/2d (dilation 1; groups > 1 as a block-diagonal groups 1), "
    "BatchNorm, ReLU, ReLU6/Hardtanh/Clip, "
    "LeakyReLU, PReLU, ELU, SELU, Sigmoid, Hardsigmoid, Tanh, Hardswish, SiLU, GELU, Mish, Softplus, "
    "concatenation along channels, nearest upsampling by whole factors, constant Pad, "
    "split/chunk/slice along channels, "
    "MaxPool2d, AvgPool2d, GlobalAveragePool/AdaptiveAvgPool2d(1), Flatten/Reshape to "
    "(N, -1), Add, Mul of two tensors (or of a per-channel gate: squeeze-and-excitation), Identity, Dropout"
)


def model_input_shape(g) -> tuple[int, ...]:
    """The per-sample input shape as the model takes it (channels last for layout hwc)."""
    a = g.input.attrs
    s = tuple(int(d) for d in a["shape"])
    layout = a.get("layout", "chw")
    return (*s[1:], s[0]) if layout == "hwc" else (s[0], s[2]) if layout == "cl" else s


def input_attrs(shape) -> dict:
    """The input node's attrs for a per-sample input ``shape``: a 2-D (C, L) input is a 1-D
    signal, read as (C, 1, L) (layout "cl"): 1-D convolutions and pools are 2-D ones with H = 1."""
    shape = tuple(int(d) for d in shape)
    return {"shape": (shape[0], 1, shape[1]), "layout": "cl"} if len(shape) == 2 else {"shape": shape}


def channels_first(x, g):
    """Inputs as the model takes them -> channels first, as the float graph computes."""
    layout = g.input.attrs.get("layout", "chw")
    if layout == "cl":  # (N, C, L) -> (N, C, 1, L)
        return x[:, :, None, :]
    if layout != "hwc":
        return x
    return x.permute(0, 3, 1, 2) if hasattr(x, "permute") else np.asarray(x).transpose(0, 3, 1, 2)


def flatten_order(x, order: str):
    """Flatten a (N, C, H, W) batch in ``order`` (chw, or hwc: channels last first)."""
    if order == "hwc" and x.ndim == 4:
        x = x.permute(0, 2, 3, 1) if hasattr(x, "permute") else x.transpose(0, 2, 3, 1)
    return x.reshape(x.shape[0], -1)


@dataclass
class FNode:
    name: str
    op: str
    inputs: list[str]
    attrs: dict = field(default_factory=dict)
    params: dict[str, np.ndarray] = field(default_factory=dict)
    source_op: str = ""
    shape: tuple[int, ...] = ()


@dataclass
class FGraph:
    nodes: list[FNode]
    output: str
    head: list = field(default_factory=list)  # host-side output ops after the last layer (kernels.head)

    def node(self, name: str) -> FNode:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    @property
    def input(self) -> FNode:
        return self.nodes[0]

    def consumers(self, name: str) -> list[FNode]:
        return [n for n in self.nodes if name in n.inputs]


NAME_MAX = 120


def clean_name(name) -> str:
    """A model's node or tensor name as edgec keeps it: control characters (newline, NUL,
    ...) as '?', at most NAME_MAX characters (a long name keeps its start and a hash).
    Quotes, backslashes and the like stay: every backend encodes names (backend/names.py)."""
    import hashlib
    import unicodedata

    s = "".join("?" if unicodedata.category(ch) in ("Cc", "Cs") else ch for ch in str(name))
    if len(s) > NAME_MAX:
        s = s[: NAME_MAX - 9] + "~" + hashlib.sha256(str(name).encode("utf-8", "backslashreplace")).hexdigest()[:8]
    return s or "unnamed"


def check_finite(g: "FGraph") -> "FGraph":
    """An error naming the first node whose weights hold NaN or infinite values."""
    for n in g.nodes:
        for k, v in n.params.items():
            if not np.isfinite(v).all():
                raise EdgecError(f"node '{n.name}' ({n.source_op or n.op}): its {k} holds NaN or infinite values; "
                                 "every weight must be a finite number")
    return g


def unique_name(base: str, taken: set[str]) -> str:
    """``base`` (cleaned), or ``base_1``, ``base_2``... the first not in ``taken``; records it there."""
    base = clean_name(base)
    name, k = base, 1
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def params_with_bias(p: FNode, c: np.ndarray) -> dict:
    """The params of linear/conv node ``p`` once the constant ``c`` is added to its output
    (the pattern ``x @ W + b`` importers see). ValueError unless ``c`` is a per-channel
    or scalar constant on a linear/conv."""
    if p.op not in ("linear", "conv"):
        raise ValueError(p.op)
    o = p.params["bias"].shape[0]
    extra = np.broadcast_to(c, (1, o) if p.op == "linear" else (1, o, 1, 1)).reshape(o)
    return dict(p.params, bias=p.params["bias"] + extra)


def concat_channels(b, ts: list, axis: int, rank: int) -> str:
    """Tensors ``ts`` (each of ``rank`` dims with the batch) joined along channels by a chain
    of two-input concat nodes emitted by builder ``b`` (any importer's: ``emit``, ``fail``)."""
    if int(axis) % rank != 1:
        raise b.fail(f"a concatenation along dimension {axis}: only along channels (dimension 1) is supported")
    out = ts[0]
    for t in ts[1:]:
        out = b.emit("concat", [out, t])
    return out


def prune(g: FGraph) -> FGraph:
    """Drop the nodes the output does not depend on (e.g. a linear whose bias an
    importer fused into a copy of it)."""
    live = {g.output}
    for n in reversed(g.nodes):
        if n.name in live:
            live.update(n.inputs)
    return FGraph([n for n in g.nodes if n.name in live or n.op == "input"], g.output, g.head)


def _out_hw(h, w, k, s, p):
    return (h + p[0] + p[2] - k[0]) // s[0] + 1, (w + p[1] + p[3] - k[1]) // s[1] + 1


def infer_shapes(g: FGraph) -> FGraph:
    """Fill ``shape`` on every node and check the graph is well formed; raises EdgecError
    naming the node on any inconsistency."""
    shapes: dict[str, tuple[int, ...]] = {}
    if not g.nodes or g.nodes[0].op != "input":
        raise EdgecError("the model has no input")
    for n in g.nodes:
        if n.op not in OPS:
            raise node_error(n.name, n.source_op or n.op, f"unsupported op; supported: {SUPPORTED_SOURCE_OPS}")
        for i in n.inputs:
            if i not in shapes:
                raise node_error(n.name, n.source_op or n.op, f"input '{i}' is not produced by an earlier node")
        ins = [shapes[i] for i in n.inputs]
        src = n.source_op or n.op
        if n.op == "input":
            out = tuple(int(d) for d in n.attrs["shape"])
        elif n.op == "conv":
            if len(ins[0]) != 3:
                raise node_error(n.name, src, f"expects a (C, H, W) input, got {ins[0]}")
            w = n.params["weight"]
            c, h, wd = ins[0]
            groups = n.attrs.get("groups", 1)
            if w.shape[1] * groups != c:
                raise node_error(n.name, src,
                                 f"weight {w.shape} with groups={groups} does not match {c} input channels")
            if groups != 1 and (groups != c or w.shape[0] != c):
                raise node_error(n.name, src, f"groups={groups} is not supported: use groups=1 or depthwise "
                                              "(groups = in = out channels)")
            oh, ow = _out_hw(h, wd, w.shape[2:], n.attrs["stride"], n.attrs["pad"])
            if oh < 1 or ow < 1:
                raise node_error(n.name, src, f"kernel {w.shape[2:]} does not fit the {h}x{wd} input")
            out = (w.shape[0], oh, ow)
        elif n.op == "linear":
            w = n.params["weight"]
            if len(ins[0]) != 1 or ins[0][0] != w.shape[1]:
                raise node_error(n.name, src,
                                 f"weight {w.shape} does not match input shape {ins[0]}; flatten the input first")
            out = (w.shape[0],)
        elif n.op == "bn":
            if n.params["gamma"].shape[0] != ins[0][0]:
                raise node_error(n.name, src, f"{n.params['gamma'].shape[0]} channels, input has {ins[0][0]}")
            out = ins[0]
        elif n.op == "relu":
            out = ins[0]
        elif n.op == "act":
            from ..ir import act as acts

            args = n.params["args"]
            acts.check(n.attrs["kind"], args, f"node '{n.name}' ({src}): ")
            if args.shape[0] != ins[0][0]:
                raise node_error(n.name, src, f"{args.shape[0]} channels of arguments, input has {ins[0][0]}")
            out = ins[0]
        elif n.op in ("maxpool", "avgpool"):
            if len(ins[0]) != 3:
                raise node_error(n.name, src, f"expects a (C, H, W) input, got {ins[0]}")
            pad = n.attrs.get("pad", (0, 0, 0, 0))
            oh, ow = _out_hw(ins[0][1], ins[0][2], n.attrs["kernel"], n.attrs["stride"], pad)
            out = (ins[0][0], oh, ow)
        elif n.op == "gap":
            out = (ins[0][0], 1, 1)
        elif n.op == "flatten":
            out = (int(np.prod(ins[0])),)
        elif n.op == "concat":
            if len(ins) != 2 or ins[0][1:] != ins[1][1:]:
                raise node_error(n.name, src, f"joins tensors of shapes {ins}; only the channels may differ")
            out = (ins[0][0] + ins[1][0], *ins[0][1:])
        elif n.op == "upsample":
            if len(ins[0]) != 3:
                raise node_error(n.name, src, f"expects a (C, H, W) input, got {ins[0]}")
            fh, fw = n.attrs["factor"]
            if n.attrs.get("fill", "nearest") not in ("nearest", "zero"):
                raise node_error(n.name, src, f"fill {n.attrs['fill']!r}: only 'nearest' or 'zero'")
            out = (ins[0][0], ins[0][1] * fh, ins[0][2] * fw)
        elif n.op == "mul":  # elementwise; a (C, 1, 1) gate broadcasts over a map (squeeze-and-excitation)
            if len(ins) == 2 and ins[0] != ins[1] and ins[0] == (ins[1][0],) + (1,) * (len(ins[1]) - 1):
                n.inputs, ins = [n.inputs[1], n.inputs[0]], [ins[1], ins[0]]  # the map first, the gate second
            if len(ins) != 2 or ins[1] not in (ins[0], (ins[0][0],) + (1,) * (len(ins[0]) - 1)):
                raise node_error(n.name, src, f"multiplies tensors of shapes {ins}; both must have the same shape, "
                                 "or one be a per-channel (C, 1, 1) gate of the other")
            out = ins[0]
        elif n.op == "identity":  # the start of a segment on quantized codes (qnet.attach_orphans)
            out = ins[0]
        elif n.op == "pad":
            if len(ins[0]) != 3:
                raise node_error(n.name, src, f"expects a (C, H, W) input, got {ins[0]}")
            pt, pl, pb, pr = n.attrs["pad"]
            out = (ins[0][0], ins[0][1] + pt + pb, ins[0][2] + pl + pr)
        elif n.op == "slice":
            lo, hi = n.attrs["lo"], n.attrs["hi"]
            if not 0 <= lo < hi <= ins[0][0]:
                raise node_error(n.name, src, f"channels [{lo}, {hi}) of a tensor of {ins[0][0]} channels")
            out = (hi - lo, *ins[0][1:])
        elif n.op == "add":
            if len(ins) != 2 or ins[0] != ins[1]:
                raise node_error(n.name, src, f"adds tensors of shapes {ins}; both inputs must have the same shape")
            out = ins[0]
        n.shape = out
        shapes[n.name] = out
    if g.output not in shapes:
        raise EdgecError(f"the model output '{g.output}' is not produced by any node")
    return g


