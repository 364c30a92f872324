"""PyTorch 2 export quantization (PT2E): a ``torch.export`` program quantized with
``prepare_pt2e`` / ``convert_pt2e`` (torchao.quantization.pt2e, e.g. the XNNPACK quantizer) and
saved with ``torch.export.save`` (docs/pt2e.md).

The converted program states its quantization as ``quantized_decomposed`` ops around float ops:
``quantize_per_tensor`` / ``dequantize_per_tensor`` of activations, ``dequantize_per_channel`` (or
per tensor) of int8 weight constants, float32 biases. ``to_qdq`` writes that graph as the QDQ
ONNX form int8_onnx reads (QuantizeLinear, DequantizeLinear, Conv, Gemm, Relu, MaxPool,
AveragePool, GlobalAveragePool, Add, Flatten), each node named after its fx node; the QONNX
importer reads it with ``pytorch=True``: PyTorch's reference arithmetic instead of onnxruntime's
(the exact real value of the dequantized conv/linear, bias included, times PyTorch's float32
inverse scale, rounded half to even; an Add as PyTorch's own float32 ops on every code pair,
``add_table``). Nothing of the program is executed but torch's own quantize ops on constants.
"""
from __future__ import annotations

import operator

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper

from ..errors import EdgecError, node_error

NS = "quantized_decomposed"
QUANT = ("quantize_per_tensor", "quantize_per_channel")
DEQUANT = ("dequantize_per_tensor", "dequantize_per_channel")
DYNAMIC = ("choose_qparams", "choose_qparams_symmetric", "choose_qparams_per_token",
           "choose_qparams_per_token_asymmetric", "_choose_qparams_per_token_asymmetric_impl")
SUPPORTED = ("quantized_decomposed.quantize_per_tensor / dequantize_per_tensor (int8 or uint8 activations, full "
             "range, static scales), dequantize_per_channel / quantize_per_channel of weight constants, aten.conv2d "
             "(and convolution, not transposed), linear, relu, max_pool2d, avg_pool2d, adaptive_avg_pool2d to 1x1, "
             "mean over H and W, add, flatten, view/reshape to (N, -1), dropout, clone")
_DTYPES = {torch.int8: (np.int8, -128, 127), torch.uint8: (np.uint8, 0, 255)}


def ensure_ops() -> None:
    """Register the ``quantized_decomposed`` ops (torch's own library) so that ``torch.export.load``
    resolves a PT2E program's nodes; converting with torchao registers the same ops."""
    import torch.ao.quantization.fx._decomposed  # noqa: F401 - registers the ops


def _name(target) -> str:
    return str(target).replace("torch.ops.", "", 1) if hasattr(target, "namespace") else str(target)


def is_pt2e(ep) -> bool:
    """A program with quantize/dequantize ops of PT2E's ``quantized_decomposed`` library."""
    return any(n.op == "call_function" and getattr(n.target, "namespace", None) == NS for n in ep.graph.nodes)


def _op(n) -> tuple[str, str]:
    """('aten' | 'quantized_decomposed' | ..., op name) of an fx call_function node."""
    t = n.target
    if not hasattr(t, "namespace"):
        return "", getattr(t, "__name__", str(t))
    return t.namespace, t.__name__.split(".")[0]


class _Graph:
    """The QDQ ONNX graph being written: nodes, constants (name -> numpy), the fx op of each node."""

    def __init__(self):
        self.nodes: list = []
        self.inits: dict[str, np.ndarray] = {}
        self.origin: dict[str, str] = {}
        self.n = None  # the fx node being translated

    def fail(self, what: str) -> EdgecError:
        return node_error(self.n.name, _name(self.n.target), what)

    def const(self, value, suffix: str) -> str:
        name = f"{self.n.name}__{suffix}"
        self.inits[name] = np.asarray(value)
        return name

    def add(self, op: str, inputs, out: str | None = None, **attrs) -> str:
        out = out or self.n.name
        self.nodes.append(helper.make_node(op, list(inputs), [out], name=self.n.name, **attrs))
        self.origin[self.n.name] = _name(self.n.target)
        return out


def _scale32(g: _Graph, s, what: str) -> np.ndarray:
    """A scale as float32: PyTorch multiplies float32 tensors by it in float32, so it must be one."""
    s = np.asarray(s.detach().cpu().numpy() if isinstance(s, torch.Tensor) else s, np.float64)
    s32 = s.astype(np.float32)
    if not np.isfinite(s).all() or (s <= 0).any():
        raise g.fail(f"{what} scale {s.reshape(-1)[:4].tolist()}: every scale must be a finite number above 0")
    if not np.array_equal(s32.astype(np.float64), s):
        raise g.fail(f"{what} scale {float(s.reshape(-1)[0])!r} is not a float32 value; PyTorch computes with it in "
                     "float32")
    return s32


def _range(g: _Graph, qmin, qmax, dtype, weight: bool) -> tuple:
    """(numpy type, lo, hi) of a quantizer of ``dtype`` with its quant_min, quant_max."""
    if dtype not in _DTYPES:
        raise g.fail(f"quantizes to {dtype}; edgec reads int8 and uint8 (int16/int4 are not supported)")
    dt, lo, hi = _DTYPES[dtype]
    if not weight and (int(qmin), int(qmax)) != (lo, hi):
        raise g.fail(f"activation range [{qmin}, {qmax}] is not the whole {dtype} range [{lo}, {hi}]; edgec reads "
                     "activations quantized to the full int8 or uint8 range")
    if not lo <= int(qmin) <= int(qmax) <= hi:
        raise g.fail(f"range [{qmin}, {qmax}] outside {dtype}")
    return dt, int(qmin), int(qmax)


def _ints(v, n: int = 2) -> list[int]:
    v = [int(x) for x in (v if isinstance(v, (list, tuple)) else [v])]
    return v * n if len(v) == 1 else v


def to_qdq(ep) -> tuple[onnx.ModelProto, dict, dict]:
    """(the program as a QDQ ONNX model, its constants, ONNX node name -> the fx op it came from);
    an error naming the fx node and its op for anything edgec does not read."""
    sig = ep.graph_signature
    sources = {**sig.inputs_to_parameters, **sig.inputs_to_buffers,
               **getattr(sig, "inputs_to_lifted_tensor_constants", {})}
    g, vals = _Graph(), {}  # fx name -> ("t", onnx name) for tensors, or a constant (torch.Tensor)
    inp = None
    for n in ep.graph.nodes:
        g.n = n
        if n.op == "placeholder":
            if n.name in sources:
                key = sources[n.name]
                vals[n.name] = (ep.state_dict[key] if key in ep.state_dict else ep.constants[key]).detach().cpu()
            elif n.name in sig.user_inputs:
                if inp is not None:
                    raise EdgecError("the program has more than one input; edgec supports exactly one")
                inp = n
                vals[n.name] = ("t", n.name)
            else:
                raise g.fail("unsupported kind of graph input")
        elif n.op == "call_function":
            vals[n.name] = _node(g, n, vals)
        elif n.op == "output":
            outs = [o for o in n.args[0] if getattr(o, "name", None) in sig.user_outputs]
            if len(outs) != 1:
                raise EdgecError(f"the program has {len(outs)} outputs; edgec supports exactly one")
            out = vals[outs[0].name]
            if not (isinstance(out, tuple) and out[0] == "t"):
                raise EdgecError("the program's output does not depend on its input")
        else:
            raise node_error(n.name, str(n.op), f"unsupported graph construct; supported: {SUPPORTED}")
    if inp is None:
        raise EdgecError("the program has no input")
    shape = tuple(inp.meta["val"].shape)[1:]
    if not all(isinstance(d, int) for d in shape):
        raise EdgecError(f"the program's input has the dynamic shape {list(shape)}; only the batch dimension may be "
                         "dynamic")
    if inp.meta["val"].dtype != torch.float32:
        raise EdgecError(f"the program's input is {inp.meta['val'].dtype}; edgec takes a float32 input")
    x = helper.make_tensor_value_info(inp.name, TensorProto.FLOAT, ["N", *shape])
    y = helper.make_tensor_value_info(out[1], TensorProto.FLOAT, None)
    model = helper.make_model(helper.make_graph(g.nodes, "pt2e", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 13)])
    return model, g.inits, g.origin


def _node(g: _Graph, n, vals):
    ns, op = _op(n)
    args = [vals[a.name] if isinstance(a, torch.fx.Node) else a for a in n.args]
    kw = {k: vals[v.name] if isinstance(v, torch.fx.Node) else v for k, v in n.kwargs.items()}

    def tensor(i):
        v = args[i] if i < len(args) else None
        if not (isinstance(v, tuple) and v[0] == "t"):
            raise g.fail(f"argument {i} must be computed from the program's input, not a constant")
        return v[1]

    def data(v, suffix):  # a constant argument as an ONNX initializer (float32 kept float32)
        if isinstance(v, tuple):
            return v[1]
        a = v.numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
        return g.const(a, suffix)

    if ns == NS and op in DYNAMIC:
        raise g.fail("dynamic quantization: the activation scales are computed at run time from each input "
                     "(choose_qparams), which no fixed-point hardware reproduces; quantize statically: "
                     "get_symmetric_quantization_config(is_dynamic=False), prepare_pt2e, calibrate, convert_pt2e")
    if ns == NS and op in QUANT + DEQUANT:
        return _qdq(g, n, op, args, kw, data)
    if ns != "aten" and n.target is not operator.getitem:
        raise g.fail(f"unsupported op in a PT2E-quantized program; supported: {SUPPORTED}")
    if n.target is operator.getitem:
        if args[1] != 0 or not isinstance(args[0], tuple) or args[0][0] != "pool":
            raise g.fail("only the values of max_pool2d_with_indices are read, not its indices")
        return ("t", args[0][1])
    if op in ("conv2d", "convolution"):
        if op == "convolution":
            x, w, b, stride, pad, dil, transposed, _, groups = args[:9]
            if transposed:
                raise g.fail("transposed convolutions are not supported in PT2E-quantized programs")
        else:
            x, w, b, stride, pad, dil, groups = (args + [None, [1, 1], [0, 0], [1, 1], 1][len(args) - 2:])[:7]
        if isinstance(pad, str):
            raise g.fail(f"padding={pad!r}: give the padding as numbers")
        if len(_ints(stride)) != 2:
            raise g.fail("only 2-D convolutions are supported")
        inputs = [tensor(0), data(w, "w")] + ([data(b, "b")] if b is not None else [])
        ph, pw = _ints(pad)
        return ("t", g.add("Conv", inputs, strides=_ints(stride), pads=[ph, pw, ph, pw], dilations=_ints(dil),
                           group=int(groups)))
    if op == "linear":
        b = args[2] if len(args) > 2 else kw.get("bias")
        inputs = [tensor(0), data(args[1], "w")] + ([data(b, "b")] if b is not None else [])
        return ("t", g.add("Gemm", inputs, transB=1))
    if op in ("relu", "relu_"):
        return ("t", g.add("Relu", [tensor(0)]))
    if op in ("max_pool2d", "max_pool2d_with_indices"):
        k = _ints(args[1])
        s = _ints(args[2]) if len(args) > 2 and args[2] else k
        p = _ints(args[3]) if len(args) > 3 else [0, 0]
        d = _ints(args[4]) if len(args) > 4 else [1, 1]
        ceil = bool(args[5]) if len(args) > 5 else False
        if d != [1, 1]:
            raise g.fail(f"dilation {d} is not supported")
        out = g.add("MaxPool", [tensor(0)], kernel_shape=k, strides=s, pads=[p[0], p[1], p[0], p[1]],
                    ceil_mode=int(ceil))
        return ("pool", out) if op == "max_pool2d_with_indices" else ("t", out)
    if op == "avg_pool2d":
        k = _ints(args[1])
        s = _ints(args[2]) if len(args) > 2 and args[2] else k
        p = _ints(args[3]) if len(args) > 3 else [0, 0]
        if (len(args) > 4 and args[4]) or (len(args) > 6 and args[6] is not None):
            raise g.fail("ceil_mode and divisor_override are not supported")
        return ("t", g.add("AveragePool", [tensor(0)], kernel_shape=k, strides=s, pads=[p[0], p[1], p[0], p[1]]))
    if op in ("adaptive_avg_pool2d", "_adaptive_avg_pool2d"):
        if _ints(args[1]) != [1, 1]:
            raise g.fail(f"output size {list(args[1])}: only adaptive average pooling to 1x1 is supported")
        return ("t", g.add("GlobalAveragePool", [tensor(0)]))
    if op == "mean":
        dims = sorted(int(d) % 4 for d in _ints(args[1], 1))
        keep = bool(args[2]) if len(args) > 2 else bool(kw.get("keepdim", False))
        if dims != [2, 3] or len(n.args[0].meta["val"].shape) != 4:
            raise g.fail(f"mean over dims {list(args[1])}: only the mean over H and W of an (N, C, H, W) map")
        out = g.add("GlobalAveragePool", [tensor(0)], out=f"{n.name}__gap" if not keep else None)
        return ("t", out if keep else g.add("Flatten", [out], axis=1))
    if op in ("add", "add_"):
        if (args[2] if len(args) > 2 else kw.get("alpha", 1)) != 1:
            raise g.fail("add with alpha other than 1 is not supported")
        return ("t", g.add("Add", [tensor(0), tensor(1)]))
    if op == "flatten":
        start = int(args[1]) if len(args) > 1 else 0
        end = int(args[2]) if len(args) > 2 else -1
        if end not in (-1, len(n.args[0].meta["val"].shape) - 1) or start != 1:
            raise g.fail(f"flatten({start}, {end}): only flatten(x, 1) is supported")
        return ("t", g.add("Flatten", [tensor(0)], axis=1))
    if op in ("view", "reshape", "_unsafe_view"):
        shape = [int(s) for s in args[1]]
        return ("t", g.add("Reshape", [tensor(0), g.const(np.array(shape, np.int64), "shape")]))
    if op in ("dropout", "clone", "contiguous", "alias", "detach", "_to_copy") and \
            (op != "dropout" or not (args[2] if len(args) > 2 else False)):
        return ("t", tensor(0))
    raise g.fail(f"unsupported op in a PT2E-quantized program; supported: {SUPPORTED}")


def _qdq(g: _Graph, n, op, args, kw, data):
    """quantize/dequantize_per_tensor (.default: scalar scale and zero point; .tensor: 0-d tensors) and
    the per-channel ops of weights: a QuantizeLinear or DequantizeLinear (a quantize of a constant is
    evaluated with torch's own op: the weight codes)."""
    per_channel = op.endswith("per_channel")
    x, scale, zp = args[:3]
    rest = args[4:] if per_channel else args[3:]
    qmin, qmax, dtype = (list(rest) + [kw.get("quant_min"), kw.get("quant_max"), kw.get("dtype")][len(rest):])[:3]
    if isinstance(scale, tuple) or isinstance(zp, tuple):
        raise g.fail("the scale and zero point are computed from the input (dynamic quantization); quantize "
                     "statically: get_symmetric_quantization_config(is_dynamic=False), calibrate, convert_pt2e")
    const = not isinstance(x, tuple)
    dt, lo, hi = _range(g, qmin, qmax, dtype, const)
    if op.startswith("quantize") and const:  # a weight not folded by convert_pt2e: torch's own op gives its codes
        return _eval_const(n, x, scale, zp, args, kw)
    s = _scale32(g, scale, "the")
    z = np.asarray(zp.numpy() if isinstance(zp, torch.Tensor) else zp, np.int64)
    if (z < lo).any() or (z > hi).any():
        raise g.fail(f"zero point {z.reshape(-1)[:4].tolist()} outside [{lo}, {hi}]")
    axis = {}
    if per_channel:
        axis = {"axis": int(args[3])}
        if s.ndim != 1 or z.ndim != 1:
            raise g.fail("per-channel scales and zero points must be 1-D")
    elif s.size != 1 or z.size != 1:
        raise g.fail("a per-tensor quantizer with more than one scale or zero point")
    if per_channel and not const:
        raise g.fail("per-channel quantization of an activation is not supported; quantize activations per tensor")
    ins = [data(x, "q"), g.const(s.reshape(s.shape if per_channel else ()), "scale"),
           g.const(z.astype(dt).reshape(z.shape if per_channel else ()), "zero_point")]
    if const:
        codes = x.numpy()
        if codes.dtype != dt:
            raise g.fail(f"dequantizes a {codes.dtype} constant as {dtype}")
        if codes.min(initial=hi) < lo or codes.max(initial=lo) > hi:
            raise g.fail(f"weight codes outside [{lo}, {hi}]")
    return ("t", g.add("QuantizeLinear" if op.startswith("quantize") else "DequantizeLinear", ins, **axis))


def _eval_const(n, x, scale, zp, args, kw) -> torch.Tensor:
    """torch's own quantize op on a constant (the weight codes of a program converted with
    fold_quantize=False)."""
    return n.target(x, scale, zp, *args[3:], **kw).detach()


def add_table(sa: float, za: int, ta, sb: float, zb: int, tb, sc: float, zc: int, lo: int, hi: int):
    """PyTorch's codes of quantize(dequantize(A) + dequantize(B)) for every code pair (len(ta), len(tb)):
    its own ops (dequantize_per_tensor, float32 add, quantize_per_tensor) run on all pairs; each
    element is computed alone (no reduction), so its value does not depend on its position."""
    ensure_ops()
    qd = torch.ops.quantized_decomposed
    src = {(-128, 127): torch.int8, (0, 255): torch.uint8}
    a, b = np.meshgrid(np.arange(ta.lo, ta.hi + 1), np.arange(tb.lo, tb.hi + 1), indexing="ij")
    t_a = src[(-128, 127) if ta.lo < 0 else (0, 255)]
    t_b = src[(-128, 127) if tb.lo < 0 else (0, 255)]
    ia, ib = _DTYPES[t_a], _DTYPES[t_b]
    fa = qd.dequantize_per_tensor(torch.from_numpy(a.astype(ia[0])), float(sa), int(za), ia[1], ia[2], t_a)
    fb = qd.dequantize_per_tensor(torch.from_numpy(b.astype(ib[0])), float(sb), int(zb), ib[1], ib[2], t_b)
    y = qd.quantize_per_tensor(fa + fb, float(sc), int(zc), lo, hi, torch.int8 if lo < 0 else torch.uint8)
    return y.numpy().astype(np.int64)


def prepare(ep):
    """A PT2E program checked and written as QDQ ONNX, for qonnx_import.import_qonnx(path,
    (model, inits), ort=True, origin=, pytorch=True): (model, inits, origin)."""
    return to_qdq(ep)
