"""QONNX importer: a Brevitas/QONNX ``.onnx`` file -> the integer IR, with the widths,
scales, zero points and rounding modes the model states (no calibration, no preset).

Every ONNX value evaluates to one of:

- a numpy array: a float constant (initializer, or folded from constants);
- :class:`QConst`: a quantized constant (``Quant``/``BipolarQuant`` of a constant: weights,
  biases), with its integer codes;
- :class:`FloatIn`: the network input before its quantizer, ``x * m + b`` with any
  reshape to (N, -1) still pending;
- :class:`Lin`: a per-sample tensor that is, per channel, ``a * t + c0`` of an integer
  IR tensor ``t`` (quantized codes, an accumulator, or a sum), optionally followed by a
  ReLU. Float ops between quantizers (BatchNormalization, Mul, Div, Add, Sub, the
  BNN-PYNQ TensorNorm) only change ``a`` and ``c0``; Conv/Gemm/MatMul on quantized codes
  start a new accumulator; a ``Quant`` closes the chain into an ``AffineQuant`` node,
  which the ``fold_thresholds`` pass turns into integer thresholds (docs/qonnx.md).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import EdgecError, node_error
from ..ir.graph import Graph, Node
from ..ir.ops import Op
from ..ir.ref import round_to_int
from ..ir.types import Bipolar, IntType, join_type, window_type
from ..ir.act import shape as act_shape
from .fgraph import input_attrs, unique_name
from .qnet import add_shifts
from .onnx_import import (_BATCH, _FUSED, _ONNX_OPS, ACT_OPS, HEAD_OPS, LAYOUT_OPS, _Builder, _Outputs, _attrs, _axes,
                          _check_2d, _fold, _input_shape, _is_const, _opset, _pads, as_2d, conv_transpose_lowered,
                          flatten_axis_ok, head_error, head_step, layout_transpose, load_onnx, onnx_act, pad_spec,
                          resize_factor, single_input, slice_range, split_sizes, squeezes_to_features, to_cl)

QONNX_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas")
QONNX_OPS = ("Quant", "IntQuant", "BipolarQuant", "Trunc")
QUANT_OPS = ("Quant", "IntQuant", "BipolarQuant")
ACT_FOLLOWERS = (*QUANT_OPS, "MaxPool", *LAYOUT_OPS)  # the ops that may read an activation not yet quantized
SUPPORTED = ("Quant, BipolarQuant, Trunc, Conv, ConvTranspose (group 1), Gemm, MatMul, BatchNormalization, Mul, "
             "Div, Add, Sub, Relu, "
             "LeakyRelu, PRelu, Elu, Selu, Sigmoid, Tanh, HardSigmoid, HardSwish, Softplus, Mish, Gelu, Clip "
             "(each followed by a Quant), Concat, Split and Slice along channels, constant Pad of H and W, "
             "nearest Resize/Upsample by whole factors, "
             "MaxPool, AveragePool, GlobalAveragePool (or ReduceMean over H, W), Reshape/Flatten to (N, -1), Identity, "
             "Dropout, Transpose (of a "
             "channels-last input, before a Flatten, or at the output), Softmax/LogSoftmax/Sigmoid/ArgMax after the "
             "last layer")
# standard ops that int8 ONNX models compute in float32 between quantizers: not reproduced exactly
ORT_UNSUPPORTED = ("BatchNormalization", "Mul", "Div", "Sub", "Trunc", "Quant", "BipolarQuant", "IntQuant", "Concat",
                   "Resize", "Upsample", "ConvTranspose", "Pad", *ACT_OPS)
QONNX_ROUNDING = {"ROUND": "half_even", "HALF_EVEN": "half_even", "CEIL": "ceil", "FLOOR": "floor", "UP": "up",
            "DOWN": "down", "HALF_UP": "half_away", "HALF_DOWN": "half_down"}


def is_qonnx(model) -> bool:
    return any(n.domain in QONNX_DOMAINS or n.op_type in QONNX_OPS for n in model.graph.node)


@dataclass
class QConst:
    """A quantized constant: real = scale * (codes - zp) (float32, as QONNX computes it)."""

    codes: np.ndarray
    scale: np.ndarray
    zp: np.ndarray
    real: np.ndarray
    label: str


@dataclass
class FloatIn:
    """The network input before its quantizer, with the scalar float ops on it so far
    (``steps``: (op, constant), op mul/div/add/sub); ``flat``: reshaped to (N, -1)."""

    shape: tuple
    steps: tuple = ()
    flat: bool = False
    perm: tuple | None = None  # the model's tensor is this one laid out by a Transpose (docs/frontends.md)


@dataclass
class Lin:
    """Per channel ``a * t + c0`` of IR tensor ``t`` (then max(0, .) if ``relu``).
    ``codes``: t holds a quantizer's codes and (a, c0) are that quantizer's scale map."""

    t: str
    a: np.ndarray
    c0: np.ndarray
    shape: tuple  # per sample, NCHW order: (C, H, W) or (F,)
    layer: str
    relu: bool = False
    codes: bool = False
    zp: float = 0.0  # the quantizer's zero point, when ``codes``
    perm: tuple | None = None  # the model's tensor is this one laid out channels last by a Transpose
    head: tuple = ()  # host-side output ops applied (kernels.head steps): nothing but another may follow
    act: tuple | None = None  # (ir/act.py kind, args (C, k)): f applied after the affine map, before a Quant
    # int8 ONNX (frontend/int8_onnx.py): the integer form of a QLinear op's accumulator before its
    # QuantizeLinear: ("mm", x_scale, w_scales (C,), offset (C,)) or ("gap", x_scale, n, offset (C,))
    qlin: tuple | None = None
    # int8 ONNX: float ops on the codes of a DequantizeLinear, before a QuantizeLinear: (codes Lin, ONNX nodes,
    # their constant inputs, the DequantizeLinear's output name); onnxruntime evaluates them at that QuantizeLinear
    fchain: tuple | None = None


def _f64(v) -> np.ndarray:
    return np.asarray(v, dtype=np.float64)


def _scalar(v) -> float | None:
    v = np.asarray(v)
    return float(v.reshape(-1)[0]) if v.size == 1 or (v.size and np.all(v == v.reshape(-1)[0])) else None


class _QBuilder(_Builder):
    def __init__(self):
        super().__init__()
        self.ir: list[Node] = []
        self.meta: dict = {"source_tensors": {}}
        self.ort = False  # an int8 ONNX model (QDQ/QOperator): onnxruntime's arithmetic (frontend/int8_onnx.py)
        self.origin: dict = {}  # node name -> the QOperator op it was rewritten from
        self.fused: set | None = None  # int8 ONNX: the nodes onnxruntime fuses into QLinear ops
        # a PT2E program written as QDQ (frontend/pt2e.py): PyTorch's reference arithmetic, not onnxruntime's
        self.pytorch = False

    def check_fused(self) -> None:
        """An int8 ONNX Conv/Gemm/MatMul/Add/GlobalAveragePool must be one that onnxruntime
        computes as a QLinear op; the QDQ groups it does not fuse it runs in float32."""
        if self.ort and self.fused is not None and self.label not in self.fused:
            raise self.fail("onnxruntime does not fuse this QDQ group into a QLinear op (its optimised graph keeps "
                            "DequantizeLinear, the float op, QuantizeLinear), so it computes it in float32, which "
                            "edgec does not reproduce exactly; export the QOperator form (QuantFormat.QOperator), "
                            "which states the QLinear ops")

    def fail(self, what: str) -> EdgecError:
        return node_error(self.label, self.origin.get(self.label, self.node.op_type), what)

    # -- values ------------------------------------------------------------------
    def t(self, i: int):
        v = self.val(i)
        if not isinstance(v, (Lin, FloatIn)):
            raise self.fail(f"input '{self.node.input[i]}' must be computed from the model input, not a constant")
        return v

    def lin(self, i: int, what: str = "input") -> Lin:
        v = self.t(i)
        if isinstance(v, FloatIn):
            raise self.fail(f"the {what} is the unquantized model input; put a Quant or BipolarQuant after the input")
        return v

    def codes(self, i: int, per_channel: bool = False) -> Lin:
        """A quantized activation (Conv/Gemm/MatMul input): one scale (or, for a depthwise
        conv, ``per_channel``, one per channel), an integer zero point."""
        v = self.lin(i)
        s = float(v.a.min()) if per_channel else _scalar(v.a)
        if v.act is not None:
            raise self.fail(f"its input is the {v.act[0]} activation with no Quant after it; edgec computes an "
                            "activation exactly only when a quantizer follows it: insert a Quant after the activation")
        if not v.codes or v.relu or s is None or s <= 0 or v.zp != round(v.zp):
            raise self.fail("its input must be a quantized tensor (the output of a Quant or BipolarQuant, "
                            "one positive scale per tensor, an integer zero point); insert a Quant before it")
        return v

    def shape(self, v) -> tuple:
        return tuple(v.shape)

    def name(self, base: str) -> str:
        return unique_name(base, self.taken)

    def add(self, node: Node) -> str:
        self.ir.append(node)
        return node.name

    def ir_node(self, name: str) -> Node:
        return next(n for n in self.ir if n.name == name)

    def per_channel(self, c: np.ndarray, lin, what: str) -> np.ndarray:
        """A constant broadcast against a (N, C, ...) tensor, as one value per channel."""
        c = _f64(c)
        if c.size == 1:
            return np.full(lin.shape[0], float(c.reshape(-1)[0]))
        nd = len(lin.shape) + 1
        if c.ndim > nd:
            raise self.fail(f"the {what} has shape {c.shape}, more dimensions than the tensor {['N', *lin.shape]}")
        flat = np.broadcast_to(c.reshape((1,) * (nd - c.ndim) + c.shape), (1, *lin.shape)).reshape(lin.shape[0], -1)
        if not np.all(flat == flat[:, :1]):
            raise self.fail(f"the {what} of shape {c.shape} varies within a channel; only per-tensor or "
                            "per-channel constants are supported")
        return flat[:, 0].copy()


# ---- quantizers -------------------------------------------------------------------------

def _qparams(b, a):
    bw = np.asarray(b.c(3, "bit width"), np.float64).reshape(-1)
    if bw.size != 1 or not np.isfinite(bw[0]) or bw[0] != np.round(bw[0]):
        shown = float(bw[0]) if bw.size == 1 else bw.tolist()
        raise b.fail(f"bit width {shown}: give one whole, finite number of bits (edgec never rounds a width)")
    bits = int(bw[0])
    for key in ("signed", "narrow"):
        if a.get(key, 0) not in (0, 1):
            raise b.fail(f"attribute {key}={a.get(key)!r}: must be 0 or 1")
    signed, narrow = int(a.get("signed", 1)), int(a.get("narrow", 0))
    mode = str(a.get("rounding_mode", "ROUND")).upper()
    if mode not in QONNX_ROUNDING:
        raise b.fail(f"rounding_mode {mode!r} is not supported; use one of {', '.join(QONNX_ROUNDING)}")
    if not 1 <= bits <= 32 or (bits > 8 and not isinstance(b.val(0), np.ndarray)):
        raise b.fail(f"bit width {bits}: activations need 1 to 8 bits (weights and biases up to 32)")
    lo, hi = _range(bits, signed, narrow)
    return bits, bool(signed), lo, hi, QONNX_ROUNDING[mode]


def _range(bits: int, signed: int, narrow: int) -> tuple[int, int]:
    """QONNX's code range: narrow drops the lowest signed or the highest unsigned code."""
    t = IntType(bits, bool(signed))
    return (t.lo + narrow, t.hi) if signed else (t.lo, t.hi - narrow)


def _const_quant(b, x, scale, zp, lo, hi, rounding, bipolar, label) -> QConst:
    """Quantize a constant exactly as qonnx does (float32 arithmetic)."""
    x, scale, zp = (np.asarray(v, np.float32) for v in (x, scale, zp))
    if bipolar:
        q = np.where(x / scale + zp >= 0 if zp.any() else x >= 0, 1.0, -1.0).astype(np.float32)
    else:
        q = np.clip(round_to_int((x / scale + zp).astype(np.float64), rounding), lo, hi).astype(np.float32)
    real = ((q - zp) * scale).astype(np.float32)
    return QConst(q.astype(np.int64), scale, zp, real, label)


def _quant_lin(b, v: Lin, scale, zp, lo, hi, rounding, bipolar, typ) -> Lin:
    s, z = _scalar(scale), _scalar(zp)
    per_channel = None
    if s is None:  # one scale per channel (Brevitas before a depthwise conv): kept per channel
        per_channel = b.per_channel(scale, v, "scale")
        s = float(per_channel.max())
    if z is None:
        raise b.fail("per-channel zero points on activations are not supported; use one zero point per tensor")
    if s <= 0:
        raise b.fail(f"scale {s}: must be positive")
    if v.relu:
        if bipolar:
            raise b.fail("a Relu before a bipolar quantizer makes every output +1; remove the Relu")
        lo = max(lo, int(np.clip(np.rint(z), lo, hi)))  # q(max(z, 0)) = max(q(z), q(0))
    name = b.name(f"{v.layer}_quant")
    attrs = {"scale": s, "lo": int(lo), "hi": int(hi), "bipolar": bool(bipolar), "zero_point": z, "rounding": rounding}
    params = {"a": v.a.copy(), "c0": v.c0.copy()}
    if v.act is not None:
        attrs["act"], params["act_args"] = v.act[0], v.act[1].copy()
    if per_channel is not None:
        params["scale"] = per_channel
    b.add(Node(name, Op.AFFINE_QUANT, [v.t], _hwc(v.shape), typ, attrs, params))
    sc = np.full(v.shape[0], s) if per_channel is None else per_channel.copy()
    return Lin(name, sc, -sc * z, v.shape, name, codes=True, zp=z)


def _input_quant(b, v: FloatIn, scale, zp, bits, signed, lo, hi, rounding, bipolar, typ) -> Lin:
    s, z = _scalar(scale), _scalar(zp)
    if s is None or z is None or s <= 0:
        raise b.fail("the input quantizer needs one positive scale and one zero point for the whole tensor")
    if b.ir:
        raise b.fail("the model input is quantized twice; keep one quantizer on the input")
    # the host repeats the model's float32 arithmetic: its ops on x, then qonnx's x / s + zp
    steps = list(v.steps) + ([] if bipolar and not any(np.ravel(zp)) else [("div", s), ("add", z)])
    b.meta["input_quant"] = {"bits": bits, "signed": signed, "scale": s, "steps": [[o, float(c)] for o, c in steps],
                             "float32": True, "rounding": rounding, "bipolar": bool(bipolar),
                             "lo": int(lo), "hi": int(hi)}
    name = b.name(b.input_name)
    b.add(Node(name, Op.INPUT, [], _hwc(b.input_shape), typ))
    lin = Lin(name, np.full(b.input_shape[0], s), np.full(b.input_shape[0], -s * z), tuple(b.input_shape),
              name, codes=True, zp=z)
    return _flatten_lin(b, lin) if v.flat else lin


def _quantizer(bipolar_op: bool):
    def handler(b, a):
        if bipolar_op:
            bits, signed, lo, hi, rounding = 1, True, -1, 1, "half_even"
            zp = np.zeros(())
        else:
            bits, signed, lo, hi, rounding = _qparams(b, a)
            zp = b.c(2, "zero point")
        scale = b.c(1, "scale")
        sc = np.asarray(scale, np.float64)
        if sc.size == 0 or not np.isfinite(sc).all() or (sc <= 0).any():
            bad = sc[~np.isfinite(sc) | (sc <= 0)].reshape(-1)
            raise b.fail(f"scale {float(bad[0]) if bad.size else '[]'}: every scale must be a finite number above 0")
        if not np.isfinite(np.asarray(zp, np.float64)).all():
            raise b.fail("zero point: NaN or infinite; give finite integers")
        bipolar = bits == 1 and signed
        if bipolar:
            lo, hi = -1, 1
        typ = Bipolar() if bipolar else IntType(bits, signed)
        x = b.val(0)
        if isinstance(x, np.ndarray):
            return _const_quant(b, x, scale, zp, lo, hi, rounding, bipolar, "binary" if bipolar else f"int{bits}")
        if isinstance(x, FloatIn):
            out = _input_quant(b, x, scale, zp, bits, signed, lo, hi, rounding, bipolar, typ)
        else:
            out = _quant_lin(b, b.lin(0), scale, zp, lo, hi, rounding, bipolar, typ)
        b.meta["source_tensors"][b.node.output[0]] = {
            "ir": out.t, "scale": float(out.a[0]) if _scalar(out.a) is not None else out.a.tolist(),
            "zero_point": out.zp,
            "bipolar": bool(bipolar), "input": b.node.input[0], "rounding": rounding}
        return out
    return handler


# ---- int8 ONNX: QuantizeLinear / DequantizeLinear (frontend/int8_onnx.py, docs/int8_onnx.md) ----------------

_ORT_TYPES = {np.dtype(np.uint8): (0, 255, False), np.dtype(np.int8): (-128, 127, True)}


def _qdq_params(b, what: str):
    """(scale float32 array, zero point int64 array, (lo, hi, signed)) of a QuantizeLinear/DequantizeLinear."""
    scale = np.asarray(b.c(1, f"{what} scale"), np.float32)
    zp = np.asarray(b.c(2, f"{what} zero point")) if b.has(2) else np.zeros((), np.uint8)
    if not np.isfinite(scale).all() or (scale <= 0).any():
        raise b.fail("every scale must be a finite number above 0")
    return scale, zp, _ORT_TYPES.get(zp.dtype)


def _per_axis(b, v: np.ndarray, shape: tuple, axis: int) -> np.ndarray:
    """A scale or zero point of a DequantizeLinear of a constant, broadcast to the constant's ``shape``."""
    if v.size == 1:
        return np.broadcast_to(v.reshape(()), shape)
    axis %= len(shape)
    if v.ndim != 1 or v.size != shape[axis]:
        raise b.fail(f"a scale or zero point of shape {list(v.shape)} does not match axis {axis} of {list(shape)}")
    return np.broadcast_to(v.reshape([-1 if i == axis else 1 for i in range(len(shape))]), shape)


def _dequantize(b, a):
    """DequantizeLinear: of a constant (weights, int32 biases) a quantized constant whose codes
    are ``q - zp`` (exact integers, so weights with zero points are integer weights); of the
    codes of a QuantizeLinear (same scale and zero point) those codes."""
    x = b.val(0)
    scale, zp, _ = _qdq_params(b, "input")
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "iu":
            raise b.fail(f"dequantizes a {x.dtype} constant; give integer codes")
        axis = int(a.get("axis", 1))
        sc, z = _per_axis(b, scale, x.shape, axis), _per_axis(b, zp.astype(np.int64), x.shape, axis)
        codes = x.astype(np.int64) - z
        real = (codes.astype(np.float32) * sc).astype(np.float32)
        bits = int(np.ceil(np.log2(max(1, int(np.abs(codes).max()) + 1)))) + 1 if codes.size else 1
        return QConst(codes, sc.astype(np.float32), np.zeros(codes.shape), real, f"int{min(32, max(2, bits))}")
    v = b.lin(0, "input")
    if scale.size != 1 or zp.size != 1:
        raise b.fail("per-channel activation scales are not supported; use per-tensor activation quantization")
    if not (v.codes and _scalar(v.a) is not None and np.float32(v.a[0]) == scale.reshape(-1)[0]
            and v.zp == int(zp.reshape(-1)[0])):
        raise b.fail("its input must come from a QuantizeLinear with the same scale and zero point")
    return v


def _bias_codes(b, i: int, n: int, ws, x: Lin) -> np.ndarray:
    """The int32 bias codes that onnxruntime adds to the accumulator of a QLinear op (0 without a bias)."""
    if i < 0 or not b.has(i):
        return np.zeros(n, np.int64)
    v = b.val(i)
    if not isinstance(v, QConst) or np.any(v.zp != 0):
        raise b.fail("the bias must be an int32 DequantizeLinear of a constant (quantize_static's form)")
    c = v.codes.reshape(-1)
    if c.size not in (1, n):
        raise b.fail(f"bias of shape {list(v.codes.shape)} does not match {n} outputs")
    want = (np.float32(x.a[0]) * np.asarray(ws, np.float32)).astype(np.float32)
    if not np.allclose(np.broadcast_to(v.scale.reshape(-1), (n,)), want, rtol=1e-5, atol=0):
        raise b.fail("the bias scale is not input scale x weight scale, so onnxruntime runs this op in float, "
                     "which edgec does not reproduce exactly; quantize the bias at input scale x weight scale")
    return np.broadcast_to(c, (n,)).astype(np.int64)


def _qlinear_rule(b, v: Lin, s: np.float32):
    """(offset, mul, div) (per channel) of onnxruntime's requantization of ``v`` to scale ``s``."""
    n = v.shape[0]
    if v.qlin is None:
        if not v.codes or _scalar(v.a) is None:
            raise b.fail("its input is not the output of a QLinear op or of a DequantizeLinear; onnxruntime computes "
                         "the float ops between them in float32, which edgec does not reproduce exactly")
        return (np.full(n, -int(round(v.zp)), np.int64), np.full(n, np.float32(v.a[0]), np.float32),
                np.full(n, s, np.float32))
    kind, sx = v.qlin[0], v.qlin[1] if v.qlin[0] == "add" else np.float32(v.qlin[1])
    if kind == "mm":
        mul = ((sx * np.asarray(v.qlin[2], np.float32)).astype(np.float32) / s).astype(np.float32)
        a, offset = sx * np.asarray(v.qlin[2], np.float64), v.qlin[3]
    else:  # gap: MLAS's float32 x_s / (y_s * n)
        mul = np.full(n, sx / np.float32(s * np.float32(v.qlin[2])), np.float32)
        a, offset = np.full(n, float(sx) / v.qlin[2]), v.qlin[3]
    if (len(offset) != n or not np.allclose(v.a, a, rtol=1e-6, atol=0)
            or not np.allclose(v.c0, a * offset, rtol=1e-5,
                               atol=1e-6 * float(np.abs(v.c0).max() + np.abs(a * offset).max()))):
        raise b.fail("float ops sit between the QLinear op and this QuantizeLinear; onnxruntime computes them in "
                     "float32, which edgec does not reproduce exactly")
    return np.asarray(offset, np.int64), mul, np.ones(n, np.float32)


def _qlinear_add(b, v: Lin, s, z: int, lo: int, hi: int, typ) -> Lin:
    """QLinearAdd of the codes A, B of two DequantizeLinears, requantized to (s, z): onnxruntime's
    output codes on all 256 x 256 code pairs (int8_onnx.add_table) as a step function of the
    integer sum P * A + Q * B, P / Q the ratio of the input scales (int8_onnx.common_scale); an
    error where no such sum reproduces every pair (docs/int8_onnx.md)."""
    from .int8_onnx import add_table, common_scale

    _, x, y, label = v.qlin
    tx, ty = b.ir_node(x.t).type, b.ir_node(y.t).type
    if b.pytorch:  # PyTorch's own dequantize, float32 add and quantize on every pair
        from .pt2e import add_table as torch_add_table

        table = torch_add_table(np.float32(x.a[0]), int(round(x.zp)), tx, np.float32(y.a[0]), int(round(y.zp)), ty,
                                np.float32(s), z, lo, hi)
    else:
        table, why = add_table(np.float32(x.a[0]), int(round(x.zp)), tx, np.float32(y.a[0]), int(round(y.zp)), ty,
                               np.float32(s), z, lo, hi)
        if why:
            raise node_error(label, b.origin.get(label, "Add"), why)
    if v.relu:
        table = np.maximum(table, z)  # a Relu after the add: q(max(y, 0)) = max(q(y), zp)
    found = common_scale(table, tx, ty, float(x.a[0]) / float(y.a[0]))
    if found is None:
        raise node_error(label, b.origin.get(label, "Add"),
                         "no integer sum P * A + Q * B of the input codes (P, Q < 2^14) orders "
                         + ("PyTorch's" if b.pytorch else "onnxruntime's") + " output codes of this add; edgec cannot "
                         "reproduce it exactly")
    (p, q), thresholds, out_lo = found
    c = v.shape[0]
    terms = []
    for t, k, tt in ((x.t, p, tx), (y.t, q, ty)):
        if k == 1:
            terms.append(t)
            continue
        src = t
        if len(v.shape) == 3:  # a 1x1 depthwise convolution by k
            src = b.add(Node(b.name(f"{label}_window"), Op.SLIDING_WINDOW, [t], _hwc(v.shape), tt,
                             {"kernel": (1, 1), "stride": (1, 1), "pad": (0, 0, 0, 0), "pad_value": 0}))
        name = b.name(f"{label}_x{k}")
        if len(v.shape) == 3:
            attrs, w = {"groups": c, "layer": name, "wq": f"x{k}"}, np.full((c, 1), k, np.int64)
        else:  # features: a diagonal matrix (a depthwise stage needs a window)
            attrs, w = {"groups": 1, "layer": name, "wq": f"x{k}"}, k * np.eye(c, dtype=np.int64)
        terms.append(b.add(Node(name, Op.MATMUL, [src], _hwc(v.shape), IntType(32, True), attrs, {"weight": w})))
    add = b.name(label)
    b.add(Node(add, Op.ADD, terms, _hwc(v.shape), IntType(32, True), {"layer": add}))
    name = b.name(f"{label}_quant")
    b.add(Node(name, Op.MULTI_THRESHOLD, [add], _hwc(v.shape), typ,
               {"out_lo": out_lo, "bipolar": False, "scale": float(s)},
               {"thresholds": np.tile(thresholds, (c, 1)), "sign": np.ones(c, np.int64)}))
    return Lin(name, np.full(c, float(s)), np.full(c, -float(s) * z), v.shape, name, codes=True, zp=z)


# float ops onnxruntime runs between a DequantizeLinear and a QuantizeLinear of one code tensor
CHAIN_OPS = ("BatchNormalization", "Mul", "Add", "Sub", "Div", "Relu", "LeakyRelu", "PRelu", "Clip", "Sigmoid", "Tanh",
             "HardSigmoid", "HardSwish", "Elu", "Selu", "Softplus")


def _chain(b, node) -> Lin | None:
    """A float op with one tensor input (the codes of a DequantizeLinear, or such a chain) and
    constant other inputs: kept for onnxruntime to evaluate at the next QuantizeLinear; None if not one."""
    data = [i for i, n in enumerate(node.input) if n and isinstance(b.vals.get(n), Lin)]
    if len(data) != 1 or any(n and i != data[0] and not isinstance(b.vals.get(n), (np.ndarray, QConst))
                             for i, n in enumerate(node.input)):
        return None
    x = b.vals[node.input[data[0]]]
    if x.fchain is None:
        if node.op_type == "Relu" or not x.codes or x.relu or x.qlin is not None or _scalar(x.a) is None:
            return None
        src, nodes, consts, start = x, (), {}, node.input[data[0]]
    else:
        src, nodes, consts, start = x.fchain
    # a DequantizeLinear'd constant is float32 (q - zp) * s, as onnxruntime computes it
    consts = {**consts, **{n: b.vals[n].real if isinstance(b.vals[n], QConst) else b.vals[n]
                           for i, n in enumerate(node.input) if n and i != data[0]}}
    return replace(x, codes=False, qlin=None, fchain=(src, (*nodes, node), consts, start))


def _chain_quant(b, v: Lin, s, z: int, lo: int, hi: int, typ) -> Lin:
    """The QuantizeLinear after a chain of float ops on codes: onnxruntime's own output codes for
    every input code in every channel (a per-channel function of one 8-bit code), as thresholds
    on the codes (signed steps where it falls)."""
    import onnxruntime as ort
    from onnx import helper, numpy_helper

    from ..passes.fold_thresholds import _from_codes

    src, nodes, consts, start = v.fchain
    t = b.ir_node(src.t).type
    dt = np.int8 if t.lo < 0 else np.uint8
    c = src.shape[0]
    k = np.arange(t.lo, t.hi + 1)
    x = np.broadcast_to(k.reshape((-1, 1) + (1,) * (len(src.shape) - 1)), (len(k), c) + (1,) * (len(src.shape) - 1))
    tp = helper.np_dtype_to_tensor_dtype(np.dtype(dt))
    ty = helper.np_dtype_to_tensor_dtype(np.dtype(np.int8 if lo < 0 else np.uint8))
    vals = {**consts, "edgec_xs": np.float32(src.a[0]), "edgec_xz": dt(int(round(src.zp))), "edgec_ys": np.float32(s),
            "edgec_yz": (np.int8 if lo < 0 else np.uint8)(z)}
    graph = helper.make_graph(
        [helper.make_node("DequantizeLinear", ["edgec_x", "edgec_xs", "edgec_xz"], [start]), *nodes,
         helper.make_node("QuantizeLinear", [b.node.input[0], "edgec_ys", "edgec_yz"], ["edgec_y"])], "chain",
        [helper.make_tensor_value_info("edgec_x", tp, list(x.shape))],
        [helper.make_tensor_value_info("edgec_y", ty, None)],
        [numpy_helper.from_array(np.asarray(a), n) for n, a in vals.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", max(13, b.opset))])
    try:
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        y = sess.run(None, {"edgec_x": np.ascontiguousarray(x, dt)})[0]
    except Exception as e:  # noqa: BLE001 - onnxruntime refusing the ops
        raise b.fail(f"onnxruntime cannot evaluate the float ops before this QuantizeLinear on their own: {e}") from e
    if y.shape != x.shape:
        raise b.fail(f"the float ops before this QuantizeLinear are not per channel (output {list(y.shape)} for "
                     f"input {list(x.shape)})")
    codes = [y.reshape(len(k), c)[:, ch].astype(np.int64) for ch in range(c)]
    vlo, vhi = np.full(c, t.lo, np.int64), np.full(c, t.hi, np.int64)
    th, steps, out_lo = _from_codes(codes, vlo, vhi, {"bipolar": False, "lo": lo, "hi": hi})
    name = b.name(f"{nodes[-1].name or nodes[-1].op_type}_quant")
    params = {"thresholds": th, "sign": np.ones(c, np.int64)}
    if steps is not None:
        params["steps"] = steps
    b.add(Node(name, Op.MULTI_THRESHOLD, [src.t], _hwc(v.shape), typ,
               {"out_lo": out_lo, "bipolar": False, "scale": float(s)}, params))
    return Lin(name, np.full(c, float(s)), np.full(c, -float(s) * z), v.shape, name, codes=True, zp=z)


def _quantize(b, a):
    """QuantizeLinear: the host input quantizer on the model input (onnxruntime's float32
    rint(x / s) + zp), else onnxruntime's requantization of a QLinear op's accumulator
    (AffineQuant arith float32_qlinear, ir/ref.py), thresholds after fold_thresholds."""
    scale, zp, rng = _qdq_params(b, "output")
    if rng is None:
        raise b.fail(f"quantizes to {zp.dtype}; edgec reads uint8 and int8 activations")
    if scale.size != 1 or zp.size != 1:
        raise b.fail("per-channel activation scales are not supported; use per-tensor activation quantization")
    lo, hi, signed = rng
    s, z = np.float32(scale.reshape(-1)[0]), int(zp.reshape(-1)[0])
    typ = IntType(8, signed)
    x = b.val(0)
    if isinstance(x, np.ndarray):
        q = np.clip(np.rint(np.asarray(x, np.float32) / s) + z, lo, hi).astype(np.int64) - z
        return QConst(q, np.asarray(s), np.zeros(q.shape), (q.astype(np.float32) * s).astype(np.float32), "int8")
    if isinstance(x, FloatIn):
        if b.ir:
            raise b.fail("the model input is quantized twice; keep one quantizer on the input")
        steps = list(x.steps) + ([("mul", float(_inv_scale(s))), ("round", 0.0), ("add", float(z))] if b.pytorch
                                 else [("div", float(s)), ("round", 0.0), ("add", float(z))])
        b.meta["input_quant"] = {"bits": 8, "signed": signed, "scale": float(s),
                                 "steps": [[o, float(c)] for o, c in steps], "float32": True, "rounding": "half_even",
                                 "bipolar": False, "lo": lo, "hi": hi}
        name = b.name(b.input_name)
        b.add(Node(name, Op.INPUT, [], _hwc(b.input_shape), typ))
        out = Lin(name, np.full(b.input_shape[0], float(s)), np.full(b.input_shape[0], -float(s) * z),
                  tuple(b.input_shape), name, codes=True, zp=z)
        out = _flatten_lin(b, out) if x.flat else out
    else:
        v = b.lin(0)
        if v.act is not None:
            raise b.fail(f"quantizes the {v.act[0]} activation; int8 ONNX models support Relu only")
        if v.qlin is None and v.codes and not v.relu and _scalar(v.a) is not None and np.float32(v.a[0]) == s \
                and v.zp == z:
            out = v  # the same scale and zero point (around a MaxPool, a Flatten): the codes themselves
        elif v.qlin is not None and v.qlin[0] == "add":
            out = _qlinear_add(b, v, s, z, lo, hi, typ)
        elif v.fchain is not None:
            out = _chain_quant(b, v, s, z, lo, hi, typ)
        elif b.pytorch:
            out = _torch_quant(b, v, s, z, lo, hi, typ)
        else:
            offset, mul, div = _qlinear_rule(b, v, s)
            q_lo = max(lo, z) if v.relu else lo  # a Relu folds into the clip: q(max(y, 0)) = max(q(y), zp)
            name = b.name(f"{v.layer}_quant")
            attrs = {"scale": float(s), "lo": int(q_lo), "hi": int(hi), "bipolar": False, "zero_point": float(z),
                     "rounding": "half_even", "arith": "float32_qlinear"}
            params = {"a": np.asarray(v.a, np.float64).copy(), "c0": np.asarray(v.c0, np.float64).copy(),
                      "offset": offset, "mul": mul, "div": div}
            b.add(Node(name, Op.AFFINE_QUANT, [v.t], _hwc(v.shape), typ, attrs, params))
            out = Lin(name, np.full(v.shape[0], float(s)), np.full(v.shape[0], -float(s) * z), v.shape, name,
                      codes=True, zp=z)
    b.meta["source_tensors"][b.node.output[0]] = {"ir": out.t, "scale": float(s), "zero_point": float(z),
                                                  "bipolar": False, "input": b.node.input[0], "rounding": "half_even"}
    return out


def _inv_scale(s) -> np.float32:
    """PyTorch's quantize_per_tensor multiplies by ``1.0 / scale`` (a double), which its float32
    multiplication takes as float32."""
    return np.float32(1.0 / float(s))


def _torch_quant(b, v: Lin, s, z: int, lo: int, hi: int, typ) -> Lin:
    """PT2E's quantize_per_tensor of a float op's output (a conv/linear of dequantized values, a
    mean, the codes of another quantizer): the exact real value ``a * t + c0`` times PyTorch's float32
    inverse scale, rounded half to even (AffineQuant's float64 rule; PyTorch computes the float op
    in float32, so near a rounding boundary the codes may differ: docs/pt2e.md)."""
    if v.act is not None or v.head or v.perm is not None:
        raise b.fail("quantizes a tensor edgec reads only as codes or an accumulator")
    q_lo = max(lo, z) if v.relu else lo  # a Relu folds into the clip: q(max(y, 0)) = max(q(y), zp)
    name = b.name(f"{v.layer}_quant")
    attrs = {"scale": float(1.0 / np.float64(_inv_scale(s))), "lo": int(q_lo), "hi": int(hi), "bipolar": False,
             "zero_point": float(z), "rounding": "half_even"}
    params = {"a": np.asarray(v.a, np.float64).copy(), "c0": np.asarray(v.c0, np.float64).copy()}
    b.add(Node(name, Op.AFFINE_QUANT, [v.t], _hwc(v.shape), typ, attrs, params))
    return Lin(name, np.full(v.shape[0], float(s)), np.full(v.shape[0], -float(s) * z), v.shape, name, codes=True,
               zp=z)


def _trunc(b, a):
    """Trunc (v2: x, scale, zp, in bits, out scale, out bits; v1: x, scale, zp, in bits,
    out bits): codes round(x / scale + zp) / 2^k, clipped and rounded, at the output scale."""
    v = b.lin(0)
    scale, zp = _scalar(b.c(1, "scale")), _scalar(b.c(2, "zero point"))
    in_bits = float(b.c(3, "input bit width").reshape(-1)[0])
    if len(b.node.input) >= 6:
        out_scale, out_bits = _scalar(b.c(4, "output scale")), int(b.c(5, "output bit width").reshape(-1)[0])
        ts = float(2.0 ** np.round(np.log2(out_scale / scale)))
        signed, narrow = int(a.get("signed", 1)), int(a.get("narrow", 0))
    else:
        out_bits = int(b.c(4, "output bit width").reshape(-1)[0])
        ts, out_scale, signed, narrow = 2.0 ** (in_bits - out_bits), scale, 1, 0
    if None in (scale, zp, out_scale):
        raise b.fail("Trunc needs per-tensor scales and zero points")
    # the inner round(x / scale + zp) is exact only on multiples of the scale: check it is one
    ia, ic = v.a / scale, v.c0 / scale + zp
    if v.relu or not (np.allclose(ia, np.rint(ia), rtol=0, atol=1e-6)
                      and np.allclose(ic, np.rint(ic), rtol=0, atol=1e-6)):
        raise b.fail("its input is not an integer multiple of its scale (Trunc follows an integer sum, "
                     "e.g. an average pool over quantized codes)")
    mode = str(a.get("rounding_mode", "FLOOR")).upper()
    if mode not in QONNX_ROUNDING or not 1 <= out_bits <= 8:
        raise b.fail(f"rounding_mode {mode!r} with {out_bits} output bits is not supported")
    lo, hi = _range(out_bits, signed, narrow)
    lin = Lin(v.t, np.rint(ia) * scale, (np.rint(ic) - zp) * scale, v.shape, v.layer)
    out = _quant_lin(b, lin, scale * ts, zp / ts, lo, hi, QONNX_ROUNDING[mode], False, IntType(out_bits, bool(signed)))
    b.meta["source_tensors"][b.node.output[0]] = {
        "ir": out.t, "scale": out_scale, "zero_point": zp / ts, "bipolar": False, "input": b.node.input[0],
        "pre_scale": scale * ts, "pre_zero_point": zp / ts, "rounding": QONNX_ROUNDING[mode]}
    return Lin(out.t, np.full(v.shape[0], out_scale), np.full(v.shape[0], -out_scale * zp / ts), v.shape, out.layer,
               codes=True, zp=zp / ts)


# ---- compute ----------------------------------------------------------------------------

def _hwc(shape) -> tuple:
    return (shape[1], shape[2], shape[0]) if len(shape) == 3 else tuple(shape)


def _weight(b, i: int, out_axis: int) -> tuple[np.ndarray, np.ndarray, str]:
    """(integer codes, per-output-channel scale, label) of a quantized weight input."""
    w = b.val(i)
    if not isinstance(w, QConst):
        raise b.fail(f"the weight ('{b.node.input[i]}') must be quantized: a Quant or BipolarQuant of a constant")
    if np.any(w.zp != 0):
        raise b.fail("weights with a zero point are not supported; export symmetric weight quantizers")
    scale = np.broadcast_to(w.scale, w.codes.shape)
    s = np.moveaxis(scale, out_axis, 0).reshape(scale.shape[out_axis], -1)
    if not np.all(s == s[:, :1]):
        raise b.fail("the weight scale varies within an output channel; use per-tensor or per-output-channel scales")
    return w.codes, s[:, 0].astype(np.float64), w.label


def _bias(b, i: int, n: int) -> np.ndarray:
    if not b.has(i):
        return np.zeros(n)
    v = b.val(i)
    c = v.real if isinstance(v, QConst) else b.c(i, "bias")
    c = _f64(c).reshape(-1)
    if c.size not in (1, n):
        raise b.fail(f"bias of shape {c.shape} does not match {n} outputs")
    return np.broadcast_to(c, (n,)).copy()


def _matmul_node(b, x: Lin, codes: np.ndarray, ws: np.ndarray, label: str, bias, src: str, groups=1,
                 shape=None, pad=0):
    """MatMul of the input codes with weight codes (O, K): real = a * (acc - zp * rowsum) + bias."""
    zp = int(round(x.zp))
    name = b.name(b.node.output[0])
    out_shape = shape or (codes.shape[0],)
    b.add(Node(name, Op.MATMUL, [src], _hwc(out_shape), IntType(32, True),
               {"groups": groups, "layer": name, "wq": label}, {"weight": codes}))
    a = (x.a if groups > 1 else float(x.a[0])) * ws  # depthwise: output o reads input channel o only
    c0 = bias - a * zp * codes.sum(axis=1)
    qlin = None
    if b.ort and not b.pytorch:  # onnxruntime adds the int32 bias codes to the accumulator
        b.check_fused()
        bias_codes = _bias_codes(b, 2 if b.node.op_type in ("Conv", "Gemm") else -1, codes.shape[0], ws, x)
        qlin = ("mm", float(x.a[0]), ws.copy(), bias_codes - zp * codes.sum(axis=1))
    return Lin(name, a, c0, out_shape, name, qlin=qlin)


def _conv(b, a):
    x = b.codes(0, per_channel=int(a.get("group", 1)) > 1)  # a depthwise conv keeps each channel's scale
    codes, ws, label = _weight(b, 1, 0)
    if codes.ndim == 3:  # Conv1d: (N, C, L) is read as (N, C, 1, L)
        codes, a = codes[:, :, None, :], as_2d(a, 1)
    if codes.ndim != 4 or len(x.shape) != 3:
        raise b.fail(f"only 2-D convolutions of (C, H, W) maps are supported, weight shape {codes.shape}")
    _check_2d(b, a)
    groups = int(a.get("group", 1))
    c, h, w = x.shape
    o = codes.shape[0]
    if codes.shape[1] * groups != c or (groups != 1 and (groups != c or o != c)):
        raise b.fail(f"weight {codes.shape} with group={groups} does not match {c} input channels; "
                     "use group 1 or depthwise (group = in = out channels)")
    stride = tuple(int(s) for s in a.get("strides", (1, 1)))
    return _window_matmul(b, x, x.t, (c, h, w), codes, ws, label, stride, _pads(b, a, codes.shape[2:]), groups)


def _window_matmul(b, x: Lin, src: str, chw, codes, ws, label, stride, pad, groups=1):
    """The SlidingWindow + MatMul of a convolution of IR tensor ``src`` ((C, H, W), codes
    of ``x``'s quantizer) with weight codes (O, C/groups, kh, kw), padded with the zero point."""
    c, h, w = chw
    o, (kh, kw) = codes.shape[0], codes.shape[2:]
    oh, ow = (h + pad[0] + pad[2] - kh) // stride[0] + 1, (w + pad[1] + pad[3] - kw) // stride[1] + 1
    if oh < 1 or ow < 1:
        raise b.fail(f"kernel {(kh, kw)} does not fit the {h}x{w} input")
    zp = int(round(x.zp))
    t_in = b.ir_node(src).type
    win_t = window_type(t_in, 0) if any(pad) else t_in
    if not win_t.lo <= zp <= win_t.hi:
        raise b.fail(f"zero padding needs the code {zp} (the zero point), outside the input's range")
    win = b.add(Node(b.name(f"{b.node.output[0]}_window"), Op.SLIDING_WINDOW, [src], (oh, ow, kh * kw * c), win_t,
                     {"kernel": (kh, kw), "stride": stride, "pad": tuple(pad), "pad_value": zp}))
    wmat = codes.transpose(0, 2, 3, 1).reshape(o, -1)
    return _matmul_node(b, x, wmat, ws, label, _bias(b, 2, o), win, groups, (o, oh, ow))


def _conv_transpose(b, a):
    """ConvTranspose of a quantized weight (Cin, Cout, kh, kw): an Upsample of fill zero
    (the input's zero point between its codes) and a stride-1 convolution of the flipped
    weight (frontend/convtranspose.py)."""
    x = b.codes(0)
    codes, ws, label = _weight(b, 1, 1)  # the output channels are the weight's axis 1
    if len(x.shape) != 3:
        raise b.fail(f"only transposed convolutions of (C, H, W) maps are supported, input shape {x.shape}")
    c, h, w = x.shape
    conv_codes, (sh, sw), pad = conv_transpose_lowered(b, a, codes, c)
    zp, t_in = int(round(x.zp)), b.ir_node(x.t).type
    if not t_in.lo <= zp <= t_in.hi:
        raise b.fail(f"zero insertion needs the code {zp} (the zero point), outside the input's range")
    up = b.add(Node(b.name(f"{b.node.output[0]}_zeros"), Op.UPSAMPLE, [x.t], (h * sh, w * sw, c), t_in,
                    {"factor": (sh, sw), "fill": "zero", "value": zp}))
    return _window_matmul(b, x, up, (c, h * sh, w * sw), conv_codes, ws, label, (1, 1), pad)


def _gemm(b, a):
    if a.get("transA", 0):
        raise b.fail("transA=1 is not supported")
    x = b.codes(0)
    trans = bool(a.get("transB", 0))
    codes, ws, label = _weight(b, 1, 0 if trans else 1)
    alpha, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
    if b.ort and (alpha != 1.0 or beta != 1.0):
        raise b.fail(f"alpha={alpha}, beta={beta}: int8 ONNX models need alpha 1 and beta 1 (onnxruntime adds the "
                     "int32 bias as it is)")
    return _fc(b, x, codes if trans else codes.T, ws * alpha, label,
               _bias(b, 2, codes.shape[0 if trans else 1]) * beta)


def _matmul(b, a):
    x = b.codes(0)
    codes, ws, label = _weight(b, 1, 1)
    return _fc(b, x, codes.T, ws, label, np.zeros(codes.shape[1]))


def _fc(b, x: Lin, codes, ws, label, bias):
    if codes.ndim != 2 or len(x.shape) != 1 or codes.shape[1] != x.shape[0]:
        raise b.fail(f"weight {codes.shape} does not match the input {['N', *x.shape]}; flatten the input first")
    return _matmul_node(b, x, codes, ws, label, bias, x.t)


# ---- float ops on the affine chain ------------------------------------------------------

def _scale_lin(b, v: Lin, m: np.ndarray) -> Lin:
    if v.relu and np.any(m < 0):
        raise b.fail("a negative scale after a Relu is not supported; put the Relu after it")
    return replace(v, a=v.a * m, c0=v.c0 * m, codes=False)


def _arith(op):
    def handler(b, a):
        x0, x1 = b.val(0), b.val(1)
        if isinstance(x0, FloatIn) or isinstance(x1, FloatIn):
            return _input_arith(b, op)
        if isinstance(x0, Lin) and isinstance(x1, Lin):
            if op == "Mul":
                return _mul_tensors(b, x0, x1)
            if op != "Add":
                raise b.fail(f"{op} of two tensors is not supported; only Add and Mul")
            return _add_tensors(b, x0, x1)
        i = 0 if isinstance(x0, Lin) else 1
        v = b.lin(i)
        c = b.val(1 - i)
        c = b.per_channel(c.real if isinstance(c, QConst) else b.c(1 - i, "operand"), v, "operand")
        if op in ("Add", "Sub") and v.relu:
            raise b.fail(f"{op} after a Relu is not supported; quantize the Relu's output first")
        if op == "Add":
            return replace(v, c0=v.c0 + c, codes=False)
        if op == "Sub":
            return replace(v, c0=v.c0 - c, codes=False) if i == 0 else replace(v, a=-v.a, c0=c - v.c0, codes=False)
        if op == "Mul":
            return _scale_lin(b, v, c)
        if i == 1:
            raise b.fail("dividing a constant by a tensor is not supported")
        if np.any(c == 0):
            raise b.fail("division by zero")
        return _scale_lin(b, v, 1.0 / c)
    return handler


def _input_arith(b, op):
    """Scalar Mul/Div/Add/Sub on the model input before its quantizer (e.g. x * 2 - 1),
    kept as steps the host quantizer repeats."""
    i = 0 if isinstance(b.val(0), FloatIn) else 1
    v, c = b.val(i), _scalar(b.c(1 - i, "operand"))
    if c is None:
        raise b.fail("only a scalar Mul, Div, Add or Sub may come before the input quantizer; "
                     "per-channel input normalization is not supported (normalize on the host)")
    if i == 1 and op in ("Sub", "Div"):
        raise b.fail(f"only x {'-' if op == 'Sub' else '/'} constant is supported before the input quantizer")
    return replace(v, steps=v.steps + ((op.lower(), c),))


def _add_tensors(b, x: Lin, y: Lin) -> Lin:
    if b.ort:  # QLinearAdd: built at its QuantizeLinear, which gives the output scale (_qlinear_add)
        b.check_fused()
        for v in (x, y):
            if not v.codes or v.relu or _scalar(v.a) is None or v.shape != x.shape:
                raise b.fail("adds tensors that are not the codes of a DequantizeLinear of one shape; onnxruntime "
                             "computes that in float32, which edgec does not reproduce exactly")
        return replace(x, codes=False, qlin=("add", x, y, b.label))
    if x.relu or y.relu or x.shape != y.shape:
        raise b.fail(f"adds tensors of shapes {list(x.shape)} and {list(y.shape)}; both must have the same "
                     "shape and be quantized")
    name = b.name(b.node.output[0])
    if np.allclose(x.a, y.a, rtol=1e-6, atol=0):
        b.add(Node(name, Op.ADD, [x.t, y.t], _hwc(x.shape), IntType(32, True), {"layer": name}))
        return Lin(name, x.a.copy(), x.c0 + y.c0, x.shape, name)
    r = add_shifts(x.a, y.a)  # scales 2^k apart (e.g. branches of different bits): exact on the finer scale
    if r is None:
        raise b.fail(f"adds tensors of scales ({_scalar(x.a) or 'per channel'} and {_scalar(y.a) or 'per channel'}) "
                     "that are neither equal nor a power of two apart; quantize both branches with one shared "
                     "quantizer")
    (ka, kb), fine = r
    b.add(Node(name, Op.ADD, [x.t, y.t], _hwc(x.shape), IntType(32, True), {"layer": name, "shift": (ka, kb)}))
    return Lin(name, np.broadcast_arrays(fine, x.a, y.a)[0].copy(), x.c0 + y.c0, x.shape, name)


def _mul_tensors(b, x: Lin, y: Lin) -> Lin:
    """The product of two quantized tensors, of one shape or a map and a per-channel
    (C, 1, 1) gate (squeeze-and-excitation): codes times codes at the product of the scales."""
    if len(y.shape) > 1 and x.shape != y.shape and x.shape == (y.shape[0],) + (1,) * (len(y.shape) - 1):
        x, y = y, x  # the map first, the gate second
    gate = (x.shape[0],) + (1,) * (len(x.shape) - 1)
    if y.shape not in (x.shape, gate):
        raise b.fail(f"multiplies tensors of shapes {list(x.shape)} and {list(y.shape)}; both must have the same "
                     "shape, or one be a per-channel (C, 1, 1) gate of the other")
    if x.relu or y.relu or np.any(x.c0 != 0) or np.any(y.c0 != 0):
        raise b.fail("multiplies tensors that are not plain quantized codes (a zero point, an offset or a Relu "
                     "after the quantizer); quantize both factors with zero-point-free quantizers")
    name = b.name(b.node.output[0])
    b.add(Node(name, Op.MUL, [x.t, y.t], _hwc(x.shape), IntType(32, True), {"layer": name}))
    a = np.broadcast_arrays(x.a * y.a, x.a)[0].copy()
    return Lin(name, a, np.zeros_like(a), x.shape, name)


def _batchnorm(b, a):
    v = b.lin(0)
    if a.get("training_mode", 0):
        raise b.fail("only inference mode (training_mode=0) is supported")
    if v.relu:
        raise b.fail("BatchNormalization after a Relu is not supported")
    vecs = [_f64(b.c(i, w)).reshape(-1) for i, w in enumerate(("scale", "bias", "mean", "var"), 1)]
    if any(p.size not in (1, v.shape[0]) for p in vecs):
        raise b.fail(f"parameters of sizes {[p.size for p in vecs]} do not match {v.shape[0]} channels")
    gamma, beta, mean, var = (np.broadcast_to(p, (v.shape[0],)) for p in vecs)
    g = gamma / np.sqrt(var + float(a.get("epsilon", 1e-5)))
    return replace(v, a=v.a * g, c0=(v.c0 - mean) * g + beta, codes=False)


def _relu(b, a):
    v = b.lin(0)
    if v.act is not None:
        raise b.fail(f"a Relu after the {v.act[0]} activation: put a Quant between them")
    return replace(v, relu=True)


def _activation(b, a):
    """An elementwise activation f (ir/act.py) on the affine chain: the next Quant folds it."""
    v = b.lin(0, "input of an activation")
    if v.relu or v.act is not None:
        raise b.fail("two activations in a row; put a Quant between them")
    return replace(v, act=onnx_act(b, a, v.shape[0]), codes=False)


def _sigmoid_act(b, v: Lin, name: str) -> Lin:
    """A Sigmoid read first as an output op, then followed by a quantizer: an activation."""
    if v.relu or v.act is not None:
        raise b.fail(f"input '{name}' is a Sigmoid right after another activation; put a Quant between them")
    return replace(v, head=(), act=("sigmoid", np.zeros((v.shape[0], 0))), codes=False)


def _maxpool(b, a):
    v = b.lin(0)
    a = as_2d(a, len(a.get("kernel_shape", (0, 0))))
    _check_2d(b, a)
    if v.act is not None and act_shape(*v.act) != "up":
        raise b.fail(f"max pooling after the {v.act[0]} activation, which falls somewhere, is not the activation "
                     "of the pooled values; put a Quant before the pool")
    if a.get("ceil_mode", 0) or len(v.shape) != 3:
        raise b.fail("only floor-mode 2-D max pooling of (C, H, W) maps is supported")
    if np.any(v.a <= 0):
        raise b.fail("max pooling after a negative per-channel scale (e.g. a BatchNorm with negative gamma) is "
                     "not supported; quantize before the pool")
    kernel, stride = tuple(a["kernel_shape"]), tuple(a.get("strides", (1, 1)))
    pad = _pads(b, a, kernel)
    c, h, w = v.shape
    oh, ow = (h + pad[0] + pad[2] - kernel[0]) // stride[0] + 1, (w + pad[1] + pad[3] - kernel[1]) // stride[1] + 1
    t = b.ir_node(v.t).type
    name = b.add(Node(b.name(b.node.output[0]), Op.MAX_POOL, [v.t], (oh, ow, c), t,
                      {"kernel": kernel, "stride": stride, "pad": pad, "pad_value": int(t.lo)}))
    return replace(v, t=name, shape=(c, oh, ow))


def _avgpool(glob: bool):
    """The window mean of a tensor: a sum over the window (a depthwise MatMul of ones),
    a / n into the affine map; the Quant or Trunc after it rounds."""
    def handler(b, a):
        v = b.lin(0)
        if v.relu or len(v.shape) != 3:
            raise b.fail("only average pooling of quantized (C, H, W) maps is supported")
        c, h, w = v.shape
        if glob:
            kernel, stride, pad = (h, w), (1, 1), (0, 0, 0, 0)
        else:
            a = as_2d(a, len(a.get("kernel_shape", (0, 0))))
            _check_2d(b, a)
            kernel, stride = tuple(a["kernel_shape"]), tuple(a.get("strides", (1, 1)))
            pad = _pads(b, a, kernel)
            if any(pad) or a.get("ceil_mode", 0):
                raise b.fail("average pooling with padding or ceil_mode is not supported")
        oh, ow = (h - kernel[0]) // stride[0] + 1, (w - kernel[1]) // stride[1] + 1
        n = kernel[0] * kernel[1]
        win = b.add(Node(b.name(f"{b.node.output[0]}_window"), Op.SLIDING_WINDOW, [v.t], (oh, ow, n * c),
                         b.ir_node(v.t).type, {"kernel": kernel, "stride": stride, "pad": pad, "pad_value": 0}))
        name = b.name(b.node.output[0])
        b.add(Node(name, Op.MATMUL, [win], (oh, ow, c), IntType(32, True), {"groups": c, "layer": name, "wq": "ones"},
                   {"weight": np.ones((c, n), np.int64)}))
        qlin = None
        if b.ort and not b.pytorch:  # QLinearGlobalAveragePool: the integer window sum, requantized by x_s / (y_s * n)
            if not glob:
                raise b.fail("onnxruntime's QLinearAveragePool sums the dequantized float32 values in its own order, "
                             "which no integer rule reproduces exactly; edgec supports GlobalAveragePool (an integer "
                             "sum) in int8 ONNX models")
            if not v.codes or _scalar(v.a) is None:
                raise b.fail("its input must be the codes of a QuantizeLinear -> DequantizeLinear")
            b.check_fused()
            qlin = ("gap", float(v.a[0]), n, np.full(c, -int(round(v.zp)) * n, np.int64))
        return Lin(name, v.a / n, v.c0, (c, oh, ow), name, qlin=qlin)
    return handler


def _reduce_mean(b, a):
    """The mean over the spatial axes with keepdims (Brevitas writes AdaptiveAvgPool2d(1)
    this way): a global average pool."""
    rank = len(b.lin(0).shape) + 1
    if rank != 4 or sorted(d % rank for d in _axes(b, a)) != [2, 3] or not a.get("keepdims", 1):
        raise b.fail(f"only the mean over the spatial axes [2, 3] of an NCHW tensor with keepdims=1 is supported, "
                     f"got axes {_axes(b, a)}, keepdims {a.get('keepdims', 1)}")
    return _avgpool(True)(b, a)


def _resize(b, a):
    """Nearest upsampling by whole factors: it commutes with the affine map and activations."""
    v = b.lin(0)
    fh, fw = resize_factor(b, a, v.shape)
    c, h, w = v.shape
    name = b.add(Node(b.name(b.node.output[0]), Op.UPSAMPLE, [v.t], (h * fh, w * fw, c), b.ir_node(v.t).type,
                      {"factor": (fh, fw)}))
    return replace(v, t=name, shape=(c, h * fh, w * fw))


def _concat(b, a):
    """Concat along channels of quantized tensors (each keeps its own scale: per channel)."""
    ins = [b.lin(i) for i in range(len(b.node.input))]
    rank = len(ins[0].shape) + 1
    if int(a.get("axis", 1)) % rank != 1:
        raise b.fail(f"axis {a.get('axis')}: only a concatenation along channels (axis 1) is supported")
    v = ins[0]
    for y in ins[1:]:
        if v.shape[1:] != y.shape[1:] or v.perm is not None or y.perm is not None:
            raise b.fail(f"joins tensors of shapes {['N', *v.shape]} and {['N', *y.shape]}; only channels may differ")
        if v.relu or y.relu or v.act is not None or y.act is not None or v.head or y.head:
            raise b.fail("an input is an activation with no Quant after it; quantize each input of the Concat")
        t = join_type(b.ir_node(v.t).type, b.ir_node(y.t).type)
        name = b.add(Node(b.name(b.node.output[0]), Op.CONCAT, [v.t, y.t], (*_hwc(v.shape)[:-1],
                                                                              v.shape[0] + y.shape[0]), t))
        same = v.codes and y.codes and _scalar(np.concatenate([v.a, y.a])) is not None and v.zp == y.zp
        v = Lin(name, np.concatenate([v.a, y.a]), np.concatenate([v.c0, y.c0]), (v.shape[0] + y.shape[0],
                                                                                  *v.shape[1:]), name,
                codes=same, zp=v.zp if same else 0.0)
    return v


def _map_rank(b, v: Lin) -> int:
    """The ONNX rank of the model's tensor for ``v`` (batch included): a 1-D model's (C, 1, L) maps are (N, C, L)."""
    return 3 if b.input_layout == "cl" and len(v.shape) == 3 else len(v.shape) + 1


def _channels(b, v: Lin, lo: int, hi: int, out: str) -> Lin:
    """The channels [lo, hi) of a quantized (C, H, W) map: a Slice node; the affine map
    (and the Relu) of those channels."""
    if len(v.shape) != 3 or v.perm is not None or v.head:
        raise b.fail(f"slices a tensor of shape {['N', *v.shape]}; only channels of a (C, H, W) map")
    name = b.add(Node(b.name(out or f"{b.label}_{lo}"), Op.SLICE, [v.t], (*_hwc(v.shape)[:-1], hi - lo),
                      b.ir_node(v.t).type, {"lo": lo, "hi": hi}))
    return replace(v, t=name, a=v.a[lo:hi].copy(), c0=v.c0[lo:hi].copy(), shape=(hi - lo, *v.shape[1:]))


def _split(b, a):
    """Split along channels: one Slice node per output."""
    v = b.lin(0)
    if int(a.get("axis", 0)) % _map_rank(b, v) != 1:
        raise b.fail(f"axis {a.get('axis', 0)}: only a split along channels (axis 1) is supported")
    out, lo = [], 0
    for o, k in zip(b.node.output, split_sizes(b, a, v.shape[0])):
        out.append(_channels(b, v, lo, lo + k, o))
        lo += k
    return _Outputs(out)


def _slice(b, a):
    """Slice of a range of channels; a Slice keeping everything is the tensor itself."""
    v = b.lin(0)
    rank = _map_rank(b, v)
    dims = (1 << 62, v.shape[0], v.shape[2]) if rank == 3 else (1 << 62, *v.shape)
    lo, hi = slice_range(b, a, rank, dims)
    return v if (lo, hi) == (0, v.shape[0]) else _channels(b, v, lo, hi, b.node.output[0])


def _pad(b, a):
    """Constant Pad of H and W (of L) of a quantized map: a Pad node whose border holds the
    code of the constant, which must be one integer code for every channel."""
    v = b.lin(0)
    if len(v.shape) != 3 or v.relu or v.perm is not None or v.head:
        raise b.fail("pads a tensor that is not a quantized (C, H, W) map; quantize before the Pad")
    tlbr, value = pad_spec(b, a, _map_rank(b, v))
    code = (float(value) - v.c0) / v.a
    k = int(np.rint(code[0]))
    if not np.allclose(code, k, rtol=0, atol=1e-6):
        raise b.fail(f"pads with {value}, which the quantized input holds as no one integer code "
                     f"(codes {sorted(set(np.round(code, 4).tolist()))[:4]}); pad with a multiple of the scale")
    t = b.ir_node(v.t).type
    c, h, w = v.shape
    shape = (c, h + tlbr[0] + tlbr[2], w + tlbr[1] + tlbr[3])
    name = b.add(Node(b.name(b.node.output[0]), Op.PAD, [v.t], _hwc(shape), window_type(t, k),
                      {"pad": tuple(int(p) for p in tlbr), "value": k}))
    return replace(v, t=name, shape=shape)


def _flatten_lin(b, v: Lin) -> Lin:
    """Flatten ``v`` as the model sees it: channels first, or channels last (``v.perm``)."""
    if len(v.shape) == 1:
        return replace(v, perm=None)
    c, h, w = v.shape
    order = "hwc" if v.perm is not None else "chw"
    name = b.add(Node(b.name(f"{v.layer}_flatten"), Op.FLATTEN, [v.t], (c * h * w,), b.ir_node(v.t).type,
                      {"order": order}))
    rep = (lambda x: np.tile(x, (h * w,) + (1,) * (x.ndim - 1))) if order == "hwc" else \
        (lambda x: np.repeat(x, h * w, axis=0))
    act = None if v.act is None else (v.act[0], rep(v.act[1]))
    return replace(v, t=name, a=rep(v.a), c0=rep(v.c0), shape=(c * h * w,), perm=None, act=act)


def _transpose(b, a):
    v = b.t(0)
    is_input = isinstance(v, FloatIn) and not b.ir and v.perm is None and not v.flat
    kind, perm = layout_transpose(b, a, v.perm, v.shape, is_input)
    if kind == "input":  # a channels-last model input: read channels first from here on
        canon = tuple(v.shape[p - 1] for p in perm[1:])
        b.input_shape, b.input_layout = canon, "hwc"
        b.vals[b.node.input[0]] = replace(v, perm=tuple(to_cl(len(perm))))  # no other node may read it as it was
        return replace(v, shape=canon)
    if kind == "to_cl":
        return replace(v, perm=tuple(perm))
    return replace(v, perm=None) if kind == "back" else v


def _head(b, a):
    v = b.lin(0, "input of an output op")
    if v.head and v.head[-1][0] == "argmax":
        raise head_error(b, 0)
    rank = len(v.shape) + 1
    return replace(v, head=(*v.head, tuple(head_step(b, a, rank, b.opset))))


def _to_flat(b, v):
    if isinstance(v, FloatIn):
        return replace(v, flat=True, shape=(int(np.prod(v.shape)),))
    return _flatten_lin(b, v)


def _squeeze(b, a):
    v = b.val(0)
    if not isinstance(v, (Lin, FloatIn)):
        return _ONNX_OPS["Squeeze"](b, a)
    return _to_flat(b, v) if squeezes_to_features(b, a, tuple(v.shape)) else v


def _flatten(b, a):
    v = b.t(0)
    if not flatten_axis_ok(b, a, len(v.shape) + 1):
        raise b.fail(f"only axis=1 is supported (or 0 with a batch of 1), got axis={a['axis']}")
    return _to_flat(b, v)


def _reshape(b, a):
    v, target = b.t(0), [int(x) for x in b.c(1, "shape")]
    ins = tuple(v.shape)
    batch = (_BATCH, 1, b.batch) + (() if a.get("allowzero", 0) else (0,))
    n = int(np.prod(ins))
    if len(target) == len(ins) + 1 and target[0] in batch + (-1,) and tuple(target[1:]) == ins:
        return v
    if len(target) == 2 and (target[0] in batch and target[1] in (-1, n) or target == [-1, n]):
        return _to_flat(b, v)
    shown = ["N" if d == _BATCH else d for d in target]
    raise b.fail(f"only reshaping to (N, -1) is supported, got per-sample {list(ins)} -> {shown}")


_QONNX_OPS = {
    "Quant": _quantizer(False), "IntQuant": _quantizer(False), "BipolarQuant": _quantizer(True), "Trunc": _trunc,
    "Conv": _conv, "Gemm": _gemm, "MatMul": _matmul, "BatchNormalization": _batchnorm, "Relu": _relu,
    "Add": _arith("Add"), "Sub": _arith("Sub"), "Mul": _arith("Mul"), "Div": _arith("Div"),
    "MaxPool": _maxpool, "AveragePool": _avgpool(False), "GlobalAveragePool": _avgpool(True),
    "ReduceMean": _reduce_mean,
    "Flatten": _flatten, "Reshape": _reshape, "Transpose": _transpose, **{op: _head for op in HEAD_OPS},
    "Squeeze": _squeeze, **{op: _activation for op in ACT_OPS},
    "Resize": _resize, "Upsample": _resize, "Concat": _concat, "ConvTranspose": _conv_transpose,
    "Split": _split, "Slice": _slice, "Pad": _pad,
    **{k: _ONNX_OPS[k] for k in ("Identity", "Dropout", "Shape", "Gather", "Unsqueeze", "Cast")},
}


_ORT_OPS = {"QuantizeLinear": _quantize, "DequantizeLinear": _dequantize}


def import_qonnx(path, loaded=None, ort=False, origin=None, fused=None, pytorch=False) -> Graph:
    """Import a QONNX model file (one input, one output) as an integer IR graph.
    ``loaded``: its ``load_onnx`` result, when the caller has it already. ``ort``: an int8
    ONNX model in QDQ form (frontend/int8_onnx.py), computed as onnxruntime does;
    ``origin``: node name -> the QOperator op it was rewritten from (named in errors); ``fused``:
    the names of the nodes onnxruntime computes as QLinear ops (int8_onnx.fused_nodes). ``pytorch``
    (with ``ort``): a PT2E program written as QDQ (frontend/pt2e.py), computed as PyTorch's reference
    quantized ops do."""
    model, inits = loaded or load_onnx(path)
    g = model.graph
    inputs = [single_input(model, inits)]
    opset = _opset(model)
    b = _QBuilder()
    b.ort, b.origin, b.fused, b.pytorch = ort, dict(origin or {}), fused, bool(pytorch)
    ops = {**_QONNX_OPS, **_ORT_OPS} if ort else _QONNX_OPS
    b.vals.update(inits)
    b.input_name, b.model_input_shape = inputs[0].name, _input_shape(inputs[0])
    at = input_attrs(b.model_input_shape)  # a 1-D (C, L) input is read as (C, 1, L)
    b.input_shape, b.input_layout, b.opset = at["shape"], at.get("layout", "chw"), opset
    dim0 = inputs[0].type.tensor_type.shape.dim[0]
    b.batch = int(dim0.dim_value) if dim0.HasField("dim_value") else _BATCH
    b.vals[inputs[0].name] = FloatIn(b.input_shape)
    for index, node in enumerate(g.node):
        b.node, b.label = node, node.name or f"{node.op_type}_{index}"
        standard = node.domain in ("", "ai.onnx")
        handler = ops.get(node.op_type) if standard or (node.domain in QONNX_DOMAINS and not ort) else \
            _activation if (node.domain, node.op_type) in _FUSED and not ort else None
        foldable = standard and node.op_type not in _ORT_OPS and all(_is_const(b.vals.get(i)) for i in node.input if i)
        if foldable:
            handler = None
        if ort and not pytorch and not foldable and node.op_type in CHAIN_OPS:
            v = _chain(b, node)
            if v is not None:
                b.vals[node.output[0]] = v
                continue
            if node.op_type != "Relu" and any(isinstance(b.vals.get(i), Lin) and b.vals[i].qlin is not None
                                              for i in node.input):
                raise b.fail("it reads the float output of a Conv/Gemm/MatMul/Add that has no QuantizeLinear of its "
                             "own, which onnxruntime computes in float32 (no QLinear fusion); edgec reproduces float "
                             "ops only on the codes of a DequantizeLinear, up to the next QuantizeLinear (fold a "
                             "BatchNormalization into the layer before it, before quantizing)")
        if ort and (node.op_type in ORT_UNSUPPORTED or handler is None and not foldable):
            from .int8_onnx import SUPPORTED as INT8_SUPPORTED
            from .pt2e import SUPPORTED as PT2E_SUPPORTED
            kind, ok = ("a PT2E-quantized program", PT2E_SUPPORTED) if pytorch else ("an int8 ONNX model",
                                                                                  INT8_SUPPORTED)
            raise node_error(b.label, b.origin.get(b.label, node.op_type), f"unsupported op in {kind}; supported: {ok}")
        if handler is None and not foldable:
            raise node_error(b.label, node.op_type, f"unsupported op in a QONNX model; supported: {SUPPORTED}")
        for i, name in enumerate(node.input):  # a channels-last view or an output op's result: only where allowed
            x = b.vals.get(name)
            if isinstance(x, Lin) and x.head == (("sigmoid",),) and node.op_type in QUANT_OPS:
                b.vals[name] = x = _sigmoid_act(b, x, name)
            if isinstance(x, Lin) and x.act is not None and node.op_type not in ACT_FOLLOWERS:
                raise b.fail(f"input '{name}' is the {x.act[0]} activation with no Quant after it; edgec computes "
                             "an activation exactly only where a quantizer follows it: insert a Quant after it")
            if isinstance(x, (Lin, FloatIn)) and getattr(x, "head", ()) and node.op_type not in HEAD_OPS:
                raise head_error(b, i)
            if ort and isinstance(x, Lin) and x.qlin is not None and x.qlin[0] == "add" and \
                    node.op_type not in ("QuantizeLinear", "Relu"):
                raise b.fail(f"input '{name}' is an Add with no QuantizeLinear after it; quantize the Add's output")
            if ort and isinstance(x, Lin) and x.fchain is not None and node.op_type != "QuantizeLinear":
                raise b.fail(f"input '{name}' holds float ops on dequantized codes with no QuantizeLinear after "
                             "them; onnxruntime computes that in float32, which edgec reproduces only up to a "
                             "QuantizeLinear")
            if isinstance(x, (Lin, FloatIn)) and x.perm is not None and node.op_type not in LAYOUT_OPS:
                raise b.fail(f"input '{name}' is laid out channels last by a Transpose; edgec reads that only "
                             "right after the input, before a Flatten/Reshape or at the output")
        try:
            v = _fold(b, opset) if handler is None else handler(b, _attrs(node))
            if isinstance(v, _Outputs):
                b.vals.update(zip(node.output, v))
                continue
        except EdgecError:
            raise
        except Exception as e:  # noqa: BLE001 - malformed attributes or inputs
            raise b.fail(f"unsupported attributes or inputs: {e}") from e
        b.vals[node.output[0]] = v if isinstance(v, (Lin, FloatIn, QConst)) else np.asarray(v)
    out = b.vals.get(g.output[0].name)
    if not isinstance(out, Lin):
        raise EdgecError(f"the model output '{g.output[0].name}' is not a quantized computation on the model input")
    if out.fchain is not None or (out.qlin is not None and out.qlin[0] == "add"):
        raise EdgecError(f"the model output '{g.output[0].name}' is computed in float32 after the last "
                         "DequantizeLinear; end the model with a QuantizeLinear -> DequantizeLinear")
    if out.relu or out.act is not None:
        what = "a Relu" if out.relu else f"the {out.act[0]} activation"
        raise EdgecError(f"the model output '{g.output[0].name}' ends in {what}; quantize it or drop it")
    if "input_quant" not in b.meta:
        raise EdgecError("the model input has no quantizer (" + ("QuantizeLinear" if ort else "Quant or BipolarQuant")
                         + ")")
    out_shape = list(out.shape) if out.perm is None else [*out.shape[1:], out.shape[0]]
    out_layout = "chw" if out.perm is None else "hwc"
    if b.input_layout == "cl" and len(out.shape) == 3 and out.perm is None:  # a 1-D signal out: (C, L)
        out_shape, out_layout = [out.shape[0], out.shape[2]], "cl"
    b.meta.update(input_shape=list(b.model_input_shape), input_layout=b.input_layout, output_shape=out_shape,
                  output_layout=out_layout,
                  output_affine={"a": out.a.tolist(), "c0": out.c0.tolist()},
                  source="pt2e" if pytorch else "int8_onnx" if ort else "qonnx")
    if out.head:
        b.meta["head"] = [list(st) for st in out.head]
    used = _live(b.ir, out.t)
    return Graph([n for n in b.ir if n.name in used], out.t, b.meta)


def _live(nodes: list[Node], out: str) -> set[str]:
    live = {out}
    for n in reversed(nodes):
        if n.name in live:
            live.update(n.inputs)
    return live | {nodes[0].name}
