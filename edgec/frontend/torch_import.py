"""PyTorch importer: an ``nn.Module`` or a ``torch.export`` program -> :class:`FGraph`.

The model is exported with ``torch.export`` and its aten graph is walked node by node.
Both the default (pre-dispatch) op set and the core-aten set of
``ExportedProgram.run_decompositions()`` are understood. Every fx node evaluates to one of:

* ``_T(name)``: a per-sample tensor computed by the FGraph node ``name``;
* a float64 numpy array: a constant (parameter, buffer, or folded from constants);
* a tuple of those (multi-output ops such as ``_native_batch_norm_legit_no_training``).
"""
from __future__ import annotations

import logging
import operator
from contextlib import contextmanager
from dataclasses import dataclass
from math import prod

import numpy as np
import torch
import torch.fx

from ..errors import EdgecError, node_error
from .fgraph import (SUPPORTED_SOURCE_OPS, FGraph, FNode, concat_channels, infer_shapes, input_attrs,
                     params_with_bias, prune, unique_name)


@dataclass(frozen=True)
class _T:
    name: str


@dataclass(frozen=True)
class _Padded:
    """``x`` zero-padded by ``pad`` (top, left, bottom, right), waiting for the convolution
    that consumes it (``F.pad`` before a conv; ``padding='same'`` once decomposed); any other
    consumer reads it as a pad node named ``name``."""
    x: _T
    pad: tuple
    name: str = ""


def _pair(v) -> tuple[int, int]:
    v = [int(x) for x in (v if isinstance(v, (list, tuple)) else [v])]
    return (v[0], v[0]) if len(v) == 1 else (v[0], v[1])


class _Builder:
    """Collects FGraph nodes for one fx graph walk; ``n`` is the fx node being converted."""

    def __init__(self):
        self.nodes: list[FNode] = []
        self.taken: set[str] = set()
        self.pads: dict = {}  # _Padded -> the pad node read by a consumer other than a convolution
        self.n = None

    def fail(self, what: str) -> EdgecError:
        return node_error(self.n.name, str(self.n.target), what)

    def emit(self, op, inputs, attrs=None, params=None, name=None) -> _T:
        name = unique_name(name or self.n.name, self.taken)
        self.nodes.append(FNode(name, op, [t.name for t in inputs], dict(attrs or {}),
                                {k: np.asarray(v, dtype=np.float64) for k, v in (params or {}).items()},
                                source_op=str(self.n.target) if self.n.op == "call_function" else "input"))
        return _T(name)

    def tensor(self, v) -> _T:
        if v is None:
            raise self.fail("uses an output edgec does not compute (batch-norm statistics or pool indices)")
        if isinstance(v, _Padded):  # a zero pad not folded into a convolution: a pad node of its own
            if v not in self.pads:
                self.pads[v] = _T(unique_name(v.name, self.taken))
                self.nodes.append(FNode(self.pads[v].name, "pad", [v.x.name], {"pad": v.pad, "value": 0.0},
                                        source_op="aten.pad"))
            return self.pads[v]
        if not isinstance(v, _T):
            raise self.fail("this input must be computed from the model input, not a constant")
        return v

    def const(self, v, what="weight") -> np.ndarray:
        if not isinstance(v, np.ndarray):
            raise self.fail(f"the {what} must be a constant (a parameter or buffer)")
        return v

    def producer(self, t: _T) -> FNode:
        return next(m for m in self.nodes if m.name == t.name)


def _per_sample(n: torch.fx.Node) -> tuple[int, ...]:
    """Per-sample shape (batch dimension dropped) of the tensor fx node ``n`` computes."""
    shape = tuple(n.meta["val"].shape)[1:]
    try:
        return tuple(int(d) for d in shape)
    except Exception:  # noqa: BLE001 - a symbolic dimension
        raise node_error(n.name, str(n.target), f"dynamic shape {list(shape)}; only the batch "
                         "dimension may be dynamic") from None


def _in_shape(n, i=0) -> tuple:
    """Per-sample shape of the i-th argument of fx node ``n``."""
    return _per_sample(n.args[i])


# ---- op handlers: (builder, args, kwargs) -> value ------------------------------------

def _one_d(v, h: int = 1):
    """A 1-D kernel/stride/dilation (``h`` = 1) or padding (``h`` = 0) as the 2-D op's, with H = 1."""
    v = [int(x) for x in (v if isinstance(v, (list, tuple)) else [v])]
    return (h, v[0])


def _conv1d(b, x, w, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Conv1d on (N, C, L) as a 2-D convolution with H = 1 (kernel (1, k))."""
    w = b.const(w)
    if w.ndim != 3:
        raise b.fail(f"a 1-D convolution needs a (O, I, k) weight, got {w.shape}")
    pad = padding if isinstance(padding, str) else _one_d(padding, 0)
    return _conv(b, x, w[:, :, None, :], bias, _one_d(stride), pad, _one_d(dilation), groups)


def _conv(b, x, w, bias=None, stride=1, padding=0, dilation=1, groups=1):
    w = b.const(w)
    if w.ndim != 4:
        raise b.fail(f"only 2-D convolutions are supported, weight has shape {w.shape}")
    if _pair(dilation) != (1, 1):
        raise b.fail(f"dilation {list(_pair(dilation))} is not supported; only dilation 1")
    if isinstance(padding, str):  # conv2d.padding overload: 'valid' or 'same' (stride 1)
        th, tw = (w.shape[2] - 1, w.shape[3] - 1) if padding == "same" else (0, 0)
        pad = (th // 2, tw // 2, th - th // 2, tw - tw // 2)  # torch puts the odd pixel last
    else:
        ph, pw = _pair(padding)
        pad = (ph, pw, ph, pw)
    if isinstance(x, _Padded):
        pad, x = tuple(p + q for p, q in zip(pad, x.pad)), x.x
    bias = np.zeros(w.shape[0]) if bias is None else b.const(bias, "bias")
    return b.emit("conv", [b.tensor(x)], {"stride": _pair(stride), "pad": pad, "groups": int(groups)},
                  {"weight": w, "bias": bias})


def _conv_transpose(b, x, w, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """ConvTranspose1d/2d as a zero-fill upsample + a stride-1 convolution (frontend/convtranspose.py;
    groups > 1: the equal group-1 one, block diagonal)."""
    from .convtranspose import lowered, ungrouped

    w = b.const(w)
    if w.ndim == 3:  # 1-D on (N, C, L): the 2-D op with H = 1
        w = w[:, :, None, :]
        stride, padding, output_padding, dilation = (_one_d(stride), _one_d(padding, 0), _one_d(output_padding, 0),
                                                     _one_d(dilation))
    if w.ndim != 4:
        raise b.fail(f"only 1-D and 2-D transposed convolutions are supported, weight has shape {w.shape}")
    if _pair(dilation) != (1, 1):
        raise b.fail(f"dilation {list(_pair(dilation))} is not supported; only dilation 1")
    try:
        w = ungrouped(w, int(groups))  # the block-diagonal group-1 weight
    except EdgecError as e:
        raise b.fail(str(e)) from None
    conv_w, factors, pad = lowered(b.n.name, str(b.n.target), w, _pair(stride), _pair(padding), _pair(output_padding))
    up = b.emit("upsample", [b.tensor(x)], {"factor": factors, "fill": "zero"}, name=f"{b.n.name}_zeros")
    bias = np.zeros(w.shape[1]) if bias is None else b.const(bias, "bias")
    return b.emit("conv", [up], {"stride": (1, 1), "pad": pad, "groups": 1}, {"weight": conv_w, "bias": bias})


def _convolution(b, x, w, bias, stride, padding, dilation, transposed, output_padding, groups):
    if transposed:
        return _conv_transpose(b, x, w, bias, stride, padding, output_padding, groups, dilation)
    if np.ndim(b.const(w)) == 3:
        return _conv1d(b, x, w, bias, stride[-1:], padding[-1:], dilation[-1:], groups)
    return _conv(b, x, w, bias, stride, padding, dilation, groups)


def _zero_pad(b, x, pad, mode="constant", value=None):
    """aten.pad; ``pad`` is (left, right, top, bottom) as in F.pad (1-D: (left, right)). A zero
    pad waits for the convolution it may fold into; another constant is a pad node."""
    if mode != "constant":
        raise b.fail(f"padding mode '{mode}' is not supported; only constant padding (F.pad mode='constant', "
                     "nn.ZeroPad2d, nn.ConstantPad1d/2d)")
    if len(pad) not in (2, 4) or min(pad) < 0:
        raise b.fail(f"pad={list(pad)}: only non-negative padding of H and W (or L) is supported")
    left, right, top, bottom = (list(pad) + [0, 0])[:4]
    if value in (None, 0):
        return _Padded(b.tensor(x), (top, left, bottom, right), b.n.name)
    return b.emit("pad", [b.tensor(x)], {"pad": (top, left, bottom, right), "value": float(value)})


def _channel_slices(b, x, sizes) -> tuple:
    """One slice node per part of a split of the channels into ``sizes``."""
    t, out, lo = b.tensor(x), [], 0
    for i, k in enumerate(sizes):
        out.append(b.emit("slice", [t], {"lo": lo, "hi": lo + int(k)}, name=f"{b.n.name}_{i}"))
        lo += int(k)
    return tuple(out)


def _split_dim(b, dim):
    if int(dim) % (len(_in_shape(b.n)) + 1) != 1:
        raise b.fail(f"dim {dim}: only a split along channels (dim 1) is supported")


def _split(b, x, size, dim=0):
    """torch.split with one size (aten.split.Tensor) or a list (split_with_sizes)."""
    _split_dim(b, dim)
    c = _in_shape(b.n)[0]
    sizes = list(size) if isinstance(size, (list, tuple)) else [min(int(size), c - i) for i in range(0, c, int(size))]
    return _channel_slices(b, x, sizes)


def _chunk(b, x, chunks, dim=0):
    _split_dim(b, dim)
    c = _in_shape(b.n)[0]
    k = -(-c // int(chunks))
    return _channel_slices(b, x, [min(k, c - i) for i in range(0, c, k)])


def _slice(b, x, dim=0, start=None, end=None, step=1):
    """x[:, lo:hi] (aten.slice.Tensor); a slice keeping a whole dimension is the tensor itself."""
    ins = _in_shape(b.n)
    d = int(dim) % (len(ins) + 1)
    size = ins[d - 1] if d else None
    if d == 0:
        if start not in (None, 0) or (end is not None and end < 1 << 62) or step != 1:
            raise b.fail("slicing the batch dimension is not supported")
        return x
    lo, hi, _ = slice(start, end, step).indices(size)
    if (lo, hi, step) == (0, size, 1):
        return x
    if d != 1 or step != 1 or lo >= hi:
        raise b.fail(f"slicing dim {dim} [{start}:{end}:{step}]: only a range of channels (dim 1, step 1)")
    return b.emit("slice", [b.tensor(x)], {"lo": lo, "hi": hi})


def _linear_node(b, x, w, bias):
    w = b.const(w)
    if w.ndim != 2:
        raise b.fail(f"the weight must be a 2-D matrix, got shape {w.shape}")
    bias = np.zeros(w.shape[0]) if bias is None else b.const(bias, "bias")
    if bias.size not in (1, w.shape[0]):
        raise b.fail(f"bias of shape {bias.shape} does not match {w.shape[0]} outputs")
    bias = np.broadcast_to(bias.reshape(-1), (w.shape[0],))
    return b.emit("linear", [b.tensor(x)], {}, {"weight": w, "bias": bias})


def _linear(b, x, w, bias=None):
    return _linear_node(b, x, w, bias)


def _addmm(b, bias, x, w_t, beta=1, alpha=1):
    return _linear_node(b, x, alpha * b.const(w_t).T, beta * b.const(bias, "bias"))


def _mm(b, x, w_t):
    if len(_in_shape(b.n)) != 1:
        raise b.fail("matrix multiply is only supported on (N, features) inputs")
    return _linear_node(b, x, b.const(w_t).T, None)


def _bn_node(b, x, gamma, beta, mean, var, eps):
    c = b.const(mean, "running mean").shape[0]
    gamma = np.ones(c) if gamma is None else b.const(gamma, "weight")
    beta = np.zeros(c) if beta is None else b.const(beta, "bias")
    return b.emit("bn", [b.tensor(x)], {"eps": float(eps)},
                  {"gamma": gamma, "beta": beta, "mean": mean, "var": b.const(var, "running var")})


def _batch_norm(b, x, gamma, beta, mean, var, training, momentum, eps, cudnn_enabled=True):
    if training:
        raise b.fail("batch norm in training mode; call model.eval() before exporting")
    return _bn_node(b, x, gamma, beta, mean, var, eps)


def _bn_no_training(b, x, gamma, beta, mean, var, momentum, eps):
    return (_bn_node(b, x, gamma, beta, mean, var, eps), None, None)


def _max_pool(b, x, kernel, stride=(), padding=0, dilation=1, ceil_mode=False):
    if _pair(dilation) != (1, 1) or ceil_mode:
        raise b.fail("only dilation 1 and ceil_mode=False are supported")
    ph, pw = _pair(padding)
    return b.emit("maxpool", [b.tensor(x)], {"kernel": _pair(kernel), "stride": _pair(stride or kernel),
                                             "pad": (ph, pw, ph, pw)})


def _max_pool_with_indices(b, *args):
    return (_max_pool(b, *args), None)


def _avg_pool(b, x, kernel, stride=(), padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
    if _pair(padding) != (0, 0) or ceil_mode or divisor_override is not None:
        raise b.fail("only padding 0, ceil_mode=False and no divisor_override are supported")
    return b.emit("avgpool", [b.tensor(x)], {"kernel": _pair(kernel), "stride": _pair(stride or kernel)})


def _pool1d(pool, dilated: bool):
    """MaxPool1d/AvgPool1d on (N, C, L) as the 2-D pool with H = 1; ``dilated``: the first
    argument after the padding is a dilation (max pool), to be made 2-D too."""
    def handler(b, x, kernel, stride=(), padding=0, *rest, **kw):
        if dilated and rest:
            rest = (_one_d(rest[0]), *rest[1:])
        return pool(b, x, _one_d(kernel), _one_d(stride) if stride else (), _one_d(padding, 0), *rest, **kw)
    return handler


def _adaptive_avg_pool(b, x, output_size):
    if _pair(output_size) != (1, 1):
        raise b.fail(f"only output size (1, 1) is supported, got {list(_pair(output_size))}")
    return b.emit("gap", [b.tensor(x)])


def _mean(b, x, dims, keepdim=False, dtype=None):
    rank = len(_in_shape(b.n)) + 1
    if rank != 4 or sorted(d % 4 for d in dims) != [2, 3]:
        raise b.fail(f"only the mean over the spatial dims [-1, -2] of an NCHW tensor is supported, "
                     f"got dims {list(dims)}")
    g = b.emit("gap", [b.tensor(x)])
    return g if keepdim else b.emit("flatten", [g], name=b.n.name + "_flatten")


def _flatten_to(b, x):
    """``x`` reshaped to (N, features): drop it if already 1-D per sample, else flatten."""
    ins, out = _in_shape(b.n), _per_sample(b.n)
    if ins == out:
        return b.tensor(x)
    if out != (prod(ins),):
        raise b.fail(f"only reshaping to (N, -1) is supported, got per-sample {list(ins)} -> {list(out)}")
    return b.emit("flatten", [b.tensor(x)])


def _add(b, x, y, alpha=1):
    if alpha != 1:
        raise b.fail("add with alpha != 1 is not supported")
    if isinstance(x, _T) and isinstance(y, _T):
        return b.emit("add", [x, y])
    x, y = (np.asarray(v, np.float64) if isinstance(v, (int, float)) else v for v in (x, y))
    if isinstance(x, np.ndarray) and isinstance(y, np.ndarray):
        return x + y
    t, c = (x, y) if isinstance(x, _T) else (y, x)
    return _fuse_bias(b, b.tensor(t), b.const(c, "operand"))


def _mul(b, x, y):
    """The product of two tensors (same shape, or a per-channel (N, C, 1, 1) gate)."""
    if isinstance(x, _T) and isinstance(y, _T):
        return b.emit("mul", [x, y])
    raise b.fail("only the product of two tensors (or of a tensor and a per-channel gate, as in "
                 "squeeze-and-excitation) is supported; fold a constant factor into the layer before it")


def _fuse_bias(b, t: _T, c: np.ndarray) -> _T:
    """tensor + constant: only as the bias of the linear/conv producing ``t``. The result is a
    copy of that node with the bias added; the original is pruned if nothing else uses it."""
    p = b.producer(t)
    try:
        params = params_with_bias(p, c)
    except ValueError:
        raise b.fail(f"adding a constant of shape {c.shape} is only supported as the bias of a "
                     "preceding linear or convolution") from None
    return b.emit(p.op, [_T(i) for i in p.inputs], p.attrs, params)


def _getitem(b, v, i):
    if not isinstance(v, tuple):
        raise b.fail("indexing is only supported on the outputs of batch norm / max pool")
    return v[i]  # None for outputs edgec does not compute (saved statistics, pool indices)


def _passthrough(b, x, *args, **kwargs):
    return x


def _const_only(fn):
    def handler(b, x, *args, **kwargs):
        return fn(b.const(x, "input"), *args)
    return handler


def _no_value(b, *args, **kwargs):  # shape/metadata assertions: nothing to compute
    return None


def _act(kind, args=lambda *a, **k: []):
    """An elementwise activation (ir/act.py ``kind``); ``args`` maps the aten call's
    arguments to the activation's (one list for every channel, or (C, k))."""
    def handler(b, x, *a, **k):
        c = _per_sample(b.n)[0]
        v = np.asarray(args(b, *a, **k), np.float64)
        v = v if v.ndim == 2 else np.tile(v.reshape(1, -1), (c, 1))
        return b.emit("act", [b.tensor(x)], {"kind": kind}, {"args": v})
    return handler


def _elu_args(b, alpha=1.0, scale=1.0, input_scale=1.0):
    if scale != 1.0 or input_scale != 1.0:
        raise b.fail(f"elu with scale={scale}, input_scale={input_scale} is not supported")
    return [alpha]


def _prelu_args(b, w):
    w = b.const(w, "slope").reshape(-1)
    c = _per_sample(b.n)[0]
    if w.size not in (1, c):
        raise b.fail(f"{w.size} slopes for {c} channels")
    return np.broadcast_to(w, (c,))[:, None].copy()


def _clamp_args(b, lo=None, hi=None):
    return [-np.inf if lo is None else float(lo), np.inf if hi is None else float(hi)]


def _gelu(b, x, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise b.fail(f"gelu approximate={approximate!r}")
    return _act("gelu" if approximate == "none" else "gelu_tanh")(b, x)


_ACTS = {
    "hardtanh": _act("clip", lambda b, lo=-1.0, hi=1.0: [lo, hi]), "relu6": _act("clip", lambda b: [0.0, 6.0]),
    "clamp": _act("clip", _clamp_args),
    "leaky_relu": _act("leaky_relu", lambda b, slope=0.01: [slope]), "prelu": _act("leaky_relu", _prelu_args),
    "elu": _act("elu", _elu_args), "selu": _act("selu"), "sigmoid": _act("sigmoid"), "tanh": _act("tanh"),
    "hardsigmoid": _act("hardsigmoid"), "hardswish": _act("hardswish"), "silu": _act("silu"), "mish": _act("mish"),
    "softplus": _act("softplus", lambda b, beta=1.0, threshold=20.0: [beta, threshold]), "gelu": _gelu,
}
_ACTS.update({f"{k}_": v for k, v in list(_ACTS.items())})  # in-place forms

def _cat(b, xs, dim=0):
    return concat_channels(b, [b.tensor(x) for x in xs], dim, len(_per_sample(b.n)) + 1)


def _upsample(b, x, output_size=None, scales=None, *rest):
    ins, out = _in_shape(b.n), _per_sample(b.n)
    if len(ins) != 3 or out[1] % ins[1] or out[2] % ins[2]:
        raise b.fail(f"upsampling {list(ins)} to {list(out)}: only whole factors of a (C, H, W) map")
    return b.emit("upsample", [b.tensor(x)], {"factor": (out[1] // ins[1], out[2] // ins[2])})


_TORCH_OPS = {
    **_ACTS, "cat": _cat, "concat": _cat, "upsample_nearest2d": _upsample,
    "conv2d": _conv, "conv1d": _conv1d, "convolution": _convolution, "pad": _zero_pad,
    "conv_transpose2d": _conv_transpose, "conv_transpose1d": _conv_transpose,
    "max_pool1d": _pool1d(_max_pool, True), "avg_pool1d": _pool1d(_avg_pool, False),
    "adaptive_avg_pool1d": _adaptive_avg_pool,
    "constant_pad_nd": lambda b, x, pad, value=0: _zero_pad(b, x, pad, "constant", value),
    "linear": _linear, "addmm": _addmm, "mm": _mm, "matmul": _mm,
    "batch_norm": _batch_norm, "_native_batch_norm_legit_no_training": _bn_no_training,
    "relu": lambda b, x: b.emit("relu", [b.tensor(x)]), "relu_": lambda b, x: b.emit("relu", [b.tensor(x)]),
    "max_pool2d": _max_pool, "max_pool2d_with_indices": _max_pool_with_indices,
    "avg_pool2d": _avg_pool,
    "adaptive_avg_pool2d": _adaptive_avg_pool, "_adaptive_avg_pool2d": _adaptive_avg_pool, "mean": _mean,
    "flatten": lambda b, x, *a: _flatten_to(b, x), "view": lambda b, x, s: _flatten_to(b, x),
    "reshape": lambda b, x, s: _flatten_to(b, x), "_unsafe_view": lambda b, x, s: _flatten_to(b, x),
    "add": _add, "add_": _add, "mul": _mul, "mul_": _mul,
    "getitem": _getitem,
    "split": _split, "split_with_sizes": _split, "chunk": _chunk, "slice": _slice,
    "dropout": _passthrough, "dropout_": _passthrough, "feature_dropout": _passthrough,
    "clone": _passthrough, "alias": _passthrough, "detach": _passthrough, "detach_": _passthrough,
    "contiguous": _passthrough, "lift_fresh_copy": _passthrough, "identity": _passthrough,
    "t": _const_only(lambda w: w.T), "numpy_T": _const_only(lambda w: w.T),
    "permute": _const_only(lambda w, dims: np.transpose(w, dims)),
    "transpose": _const_only(lambda w, d0, d1: np.swapaxes(w, d0, d1)),
    "_assert_tensor_metadata": _no_value, "_assert_scalar": _no_value, "_assert_async": _no_value,
    "sym_constrain_range_for_size": _no_value, "sym_size": _no_value,  # sizes: shapes come from metadata
}


# ---- public API -------------------------------------------------------------------------

def import_torch(model, input_shape=None) -> FGraph:
    """Import an ``nn.Module`` (put in eval mode; ``input_shape`` is the per-sample shape such
    as ``(1, 8, 8)`` or ``(64,)``) or a ``torch.export.ExportedProgram`` (``input_shape`` is
    then read from the program when not given)."""
    if isinstance(model, torch.export.ExportedProgram):
        ep = model
        if input_shape is not None and tuple(input_shape) != pt2_input_shape(ep):
            raise EdgecError(f"input shape {tuple(input_shape)} given, but the exported program "
                             f"takes {pt2_input_shape(ep)} per sample")
    elif isinstance(model, torch.nn.Module):
        if input_shape is None:
            raise EdgecError("an input shape is needed to export a PyTorch module, e.g. (1, 28, 28)")
        model.eval()
        dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
        try:
            with _quiet_torch():
                ep = torch.export.export(model, (torch.zeros(1, *input_shape, dtype=dtype),))
        except Exception as e:  # noqa: BLE001 - anything torch.export raises is a bad model/shape
            reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise EdgecError(f"cannot export the PyTorch model with input shape {tuple(input_shape)}: "
                             f"{reason}") from e
    else:
        raise EdgecError(f"expected a torch.nn.Module or torch.export.ExportedProgram, got {type(model).__name__}")
    return _walk(ep)


def _walk(ep) -> FGraph:
    sig = ep.graph_signature
    sources = {**sig.inputs_to_parameters, **sig.inputs_to_buffers,
               **getattr(sig, "inputs_to_lifted_tensor_constants", {})}
    b, vals = _Builder(), {}
    for n in ep.graph.nodes:
        b.n = n
        if n.op == "placeholder":
            if n.name in sources:
                key = sources[n.name]
                t = ep.state_dict[key] if key in ep.state_dict else ep.constants[key]
                vals[n.name] = t.detach().to(dtype=torch.float64).cpu().numpy().copy()
            elif n.name in sig.user_inputs:
                if b.nodes:
                    raise EdgecError("the model has more than one input; edgec supports exactly one")
                vals[n.name] = b.emit("input", [], input_attrs(_per_sample(n)))
            else:
                raise b.fail("unsupported kind of graph input")
        elif n.op == "call_function":
            handler = _TORCH_OPS.get(_op_key(n.target))
            if handler is None:
                raise node_error(n.name, str(n.target), "unsupported op; supported: " + SUPPORTED_SOURCE_OPS)
            args = [_resolve(a, vals) for a in n.args]
            kwargs = {k: _resolve(v, vals) for k, v in n.kwargs.items()}
            try:
                vals[n.name] = handler(b, *args, **kwargs)
            except (TypeError, ValueError, KeyError, IndexError) as e:  # unexpected arguments
                raise b.fail(f"unsupported arguments: {e}") from e
        elif n.op == "output":
            outs = [o for o in n.args[0] if getattr(o, "name", None) in sig.user_outputs]
            if len(outs) != 1:
                raise EdgecError(f"the model has {len(outs)} outputs; edgec supports exactly one")
            out = vals[outs[0].name]
            if not isinstance(out, _T):
                raise EdgecError("the model output does not depend on its input")
        else:
            raise node_error(n.name, str(n.op), "unsupported graph construct; supported: " + SUPPORTED_SOURCE_OPS)
    if not b.nodes:
        raise EdgecError("the model has no input")
    return infer_shapes(prune(FGraph(b.nodes, out.name)))


def _op_key(target) -> str | None:
    """'conv2d' for aten.conv2d.default; None for ops of other namespaces."""
    if target is operator.getitem:
        return "getitem"
    return target.__name__.split(".")[0] if getattr(target, "namespace", None) == "aten" else None


def _resolve(a, vals):
    if isinstance(a, (list, tuple)):
        return type(a)(_resolve(x, vals) for x in a)
    return vals[a.name] if isinstance(a, torch.fx.Node) else a


@contextmanager
def _quiet_torch():
    """torch.export logs full tracebacks before raising; the user gets our one-line error."""
    log = logging.getLogger("torch")
    old = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(old)


class _Pickled(Exception):
    """A .pt2 member that only a pickle can restore."""


@contextmanager
def _no_pickles():
    """torch.export.load without code execution from the archive: every torch.load it
    makes is weights-only (tensors and plain containers; torch's own switch,
    TORCH_FORCE_WEIGHTS_ONLY_LOAD), and the plain-pickle and TorchBind paths it has for
    custom objects refuse."""
    import os
    import pickle
    import types

    import torch.export.pt2_archive._package as pkg

    def refuse(*a, **k):
        raise _Pickled("a pickled Python object")

    fake = types.SimpleNamespace(**{k: getattr(pickle, k) for k in dir(pickle) if not k.startswith("_")})
    fake.loads = fake.load = fake.Unpickler = refuse
    env = os.environ.get("TORCH_FORCE_WEIGHTS_ONLY_LOAD")
    saved = (pkg.pickle, torch._C._pickle_load_obj)
    os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"
    pkg.pickle, torch._C._pickle_load_obj = fake, refuse
    try:
        yield
    finally:
        pkg.pickle, torch._C._pickle_load_obj = saved
        if env is None:
            os.environ.pop("TORCH_FORCE_WEIGHTS_ONLY_LOAD", None)
        else:
            os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = env


MAX_PT2_BYTES = 2 << 30  # uncompressed members of one .pt2 archive


def load_pt2(path):
    """Load a program saved with ``torch.export.save``, refusing pickled members (weights_only
    semantics: a pickle in the archive is an error, never executed)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            size = sum(i.file_size for i in z.infolist())
    except (OSError, zipfile.BadZipFile, ValueError) as e:
        raise EdgecError(f"cannot read PyTorch program '{path}': {str(e) or type(e).__name__} (a .pt2 file is the "
                         "zip archive torch.export.save writes)") from None
    if size > MAX_PT2_BYTES:
        raise EdgecError(f"PyTorch program '{path}' unpacks to {size:,} bytes; edgec reads at most {MAX_PT2_BYTES:,}")
    from .pt2e import ensure_ops

    ensure_ops()  # a PT2E-quantized program's quantize/dequantize ops (torch's own library)
    try:
        with _quiet_torch(), _no_pickles():
            return torch.export.load(str(path))
    except Exception as e:  # noqa: BLE001 - truncated or foreign zip, pickles, version skew
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        if isinstance(e, _Pickled) or "weights_only" in str(e).lower() or "weights only" in str(e).lower() \
                or "pickle" in type(e).__name__.lower():
            raise EdgecError(f"PyTorch program '{path}' holds a pickled Python object, which edgec never loads (it "
                             "could run code); export tensors only: torch.export.save(torch.export.export(model, "
                             "(example,)), path)") from None
        raise EdgecError(f"cannot read PyTorch program '{path}': {reason[:300]}; save it with "
                         "torch.export.save(torch.export.export(model, (example,)), path)") from None


def pt2_input_shape(ep) -> tuple:
    """Per-sample input shape (batch dimension dropped) of an exported program."""
    inputs = [n for n in ep.graph.nodes if n.op == "placeholder" and n.name in ep.graph_signature.user_inputs]
    if len(inputs) != 1:
        raise EdgecError(f"the program has {len(inputs)} inputs; edgec supports exactly one")
    if "val" not in inputs[0].meta:
        raise EdgecError("the program does not record its input shape; re-export it with torch.export.export")
    return _per_sample(inputs[0])
