"""Fast numpy kernels of the bit-exact simulator. No edgec imports: this file is copied
verbatim into every generated sim/ folder. Each function equals its counterpart in
edgec/ir/ref.py exactly (tests/sim/test_kernels.py)."""
import numpy as np

EXACT_F64 = 2**53  # float64 sums of integers are exact below this
EXACT_F32 = 2**24  # float32 ones below this


ROUND = {  # the rounding modes of ir/ref.py round_to_int
    "half_up": lambda v: np.floor(v + 0.5), "half_even": np.rint,
    "half_away": lambda v: np.copysign(np.floor(np.abs(v) + 0.5), v),
    "half_down": lambda v: np.copysign(np.ceil(np.abs(v) - 0.5), v),
    "floor": np.floor, "ceil": np.ceil, "down": np.trunc,
    "up": lambda v: np.copysign(np.ceil(np.abs(v)), v),
}


def quantize_input(x, spec):
    """Host-side input quantizer. ``spec``: steps, float32, rounding, lo, hi, bipolar.
    v = x with each step (op, constant) applied in order (op: mul, div, add, sub), in
    float32 when ``float32`` (repeating a QONNX model's own input arithmetic exactly) else
    float64; the step (round, 0) rounds there (onnxruntime's QuantizeLinear rounds x / scale
    before adding the zero point); bipolar: +1 where v >= 0 else -1; otherwise
    clip(round(v), lo, hi). edgec's own quantizer is the one step (div, scale) and rounding half up."""
    dt = np.float32 if spec["float32"] else np.float64
    v = np.asarray(x, dt)
    for op, c in spec["steps"]:
        c = np.asarray(c, dt)
        if op == "round":
            v = ROUND[spec["rounding"]](v).astype(dt)
            continue
        v = v * c if op == "mul" else v / c if op == "div" else v + c if op == "add" else v - c
    if spec["bipolar"]:
        return np.where(v >= 0, 1, -1).astype(np.int64)
    return np.clip(ROUND[spec["rounding"]](v), spec["lo"], spec["hi"]).astype(np.int64)


def head(y, steps):
    """The model's own outputs from the real values ``y`` of the integer outputs: the ops
    after its last layer, run on the host in float64. ``steps``: [op, axis] with op
    softmax, logsoftmax, sigmoid or argmax (axis of the model's output tensor, batch axis
    0; argmax keeps the axis as ONNX's keepdims=1 does unless a third item says 0)."""
    y = np.asarray(y, np.float64)
    for st in steps:
        op = st[0]
        if op == "sigmoid":
            y = 1.0 / (1.0 + np.exp(-y))
        elif op in ("softmax", "logsoftmax"):
            z = y - y.max(axis=st[1], keepdims=True)
            lse = np.log(np.exp(z).sum(axis=st[1], keepdims=True))
            y = z - lse if op == "logsoftmax" else np.exp(z - lse)
        elif op == "argmax":
            y = np.argmax(y, axis=st[1])
            if len(st) < 3 or st[2]:
                y = np.expand_dims(y, st[1])
        else:
            raise ValueError(f"unknown output op {op}")
    return y


def check_input_codes(q, spec):
    """Raise ValueError unless the integer inputs ``q`` are valid codes."""
    if spec["bipolar"]:
        if q.size and not np.isin(q, (-1, 1)).all():
            raise ValueError("integer inputs of this bipolar input must be -1 or +1")
    elif q.size and (q.min() < spec["lo"] or q.max() > spec["hi"]):
        raise ValueError(f"integer inputs must lie in [{spec['lo']}, {spec['hi']}]")


def _windows(x, kernel, stride, pad=(0, 0, 0, 0), pad_value=0):
    """A view (N, OH, OW, C, kh, kw) of every window of the padded (N, H, W, C) map."""
    (kh, kw), (sh, sw), (pt, pl, pb, pr) = kernel, stride, pad
    if any(pad):
        x = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=pad_value)
    return np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]


def sliding_window(x, kernel, stride, pad, pad_value):
    kh, kw = kernel
    v = _windows(x, kernel, stride, pad, pad_value)
    n, oh, ow, c = v.shape[:4]
    return v.transpose(0, 1, 2, 4, 5, 3).reshape(n, oh, ow, kh * kw * c)


def matmul(x, weight, groups, bound):
    """x (..., K*Cg) times weight.T; ``bound`` is the proven max |acc|, which bounds every
    partial sum too: below 2^24 a float32 GEMM is exact, below 2^53 a float64 one, and
    either is much faster than an int64 one."""
    dt = np.float32 if bound < EXACT_F32 else np.float64 if bound < EXACT_F64 else np.int64
    if groups == 1:
        out = x.astype(dt) @ weight.T.astype(dt)
    else:
        xr = x.reshape(x.shape[:-1] + (-1, groups)).astype(dt)
        out = np.einsum("...kc,ck->...c", xr, weight.astype(dt))
    return out.astype(np.int64)


def winograd(x, weight, bt, at, pad, pad_value, bound):
    """3x3 stride-1 convolution as integer Winograd tiles F(m x m, 3 x 3): ``weight`` U
    (n*n, MH, C), ``bt`` B^T (n, n), ``at`` A^T (m, n); the padded map (extended at the
    bottom/right to whole tiles with ``pad_value``) cut into n x n tiles at stride m;
    Y = A^T [sum_c U * (B^T d B)] A per tile, cropped. ``bound``: the proven max |value|
    of every intermediate (float64 is exact below 2^53)."""
    m, n = at.shape
    pt, pl, pb, pr = pad
    nb, h, w, c = x.shape
    oh, ow = h + pt + pb - 2, w + pl + pr - 2
    th, tw = -(-oh // m), -(-ow // m)
    xp = np.pad(x, ((0, 0), (pt, pb + th * m - oh), (pl, pr + tw * m - ow), (0, 0)), constant_values=pad_value)
    dt = np.float64 if bound < EXACT_F64 else np.int64
    tiles = np.lib.stride_tricks.sliding_window_view(xp, (n, n), axis=(1, 2))[:, ::m, ::m].astype(dt)
    b, a = bt.astype(dt), at.astype(dt)
    v = np.einsum("ia,...cab,jb->...ijc", b, tiles, b, optimize=True).reshape(nb, th, tw, n * n, c)
    mm = np.einsum("...pc,poc->...po", v, weight.astype(dt), optimize=True).reshape(nb, th, tw, n, n, -1)
    y = np.einsum("yi,...ijo,xj->...yxo", a, mm, a, optimize=True)  # (N, th, tw, m, m, MH)
    y = y.transpose(0, 1, 3, 2, 4, 5).reshape(nb, th * m, tw * m, -1)[:, :oh, :ow]
    return y.astype(np.int64)


def _pack(bits):
    b = np.packbits(bits, axis=-1)
    pad = (-b.shape[-1]) % 8
    if pad:
        b = np.concatenate([b, np.zeros(b.shape[:-1] + (pad,), np.uint8)], axis=-1)
    return np.ascontiguousarray(b).view(np.uint64)


def xnor_popcount(x, weight, chunk=4096):
    """Number of positions where the +-1 vector x equals each weight row, on packed
    64-bit words: K - popcount(x xor w)."""
    k = weight.shape[1]
    lead = x.shape[:-1]
    xb = _pack(x.reshape(-1, k) > 0)
    wb = _pack(weight > 0)
    out = np.empty((xb.shape[0], weight.shape[0]), np.int64)
    for i in range(0, xb.shape[0], chunk):
        diff = np.bitwise_count(xb[i : i + chunk, None, :] ^ wb[None, :, :]).sum(axis=-1, dtype=np.int64)
        out[i : i + chunk] = k - diff
    return out.reshape(lead + (weight.shape[0],))


def multi_threshold(x, thresholds, sign, out_lo, bipolar, steps=None):
    v = x * sign
    if steps is not None:  # signed steps: the rising and the falling thresholds counted apart
        count = np.zeros(v.shape, np.int64)
        for c in range(v.shape[-1]):
            for s in (1, -1):
                t = thresholds[c][steps[c] == s]
                count[..., c] += s * np.searchsorted(t, v[..., c], side="right")
    elif thresholds.shape[1] <= 8:
        count = (v[..., None] >= thresholds).sum(axis=-1)
    else:
        count = np.empty(v.shape, np.int64)
        for c in range(v.shape[-1]):
            count[..., c] = np.searchsorted(thresholds[c], v[..., c], side="right")
    return (2 * count - 1) if bipolar else (out_lo + count)


def requant(x, mult, bias, shift, lo, hi):
    """clip((x * mult + bias) >> shift, lo, hi) per channel, in int64 (exact: ir/check.py
    holds every product below 2^62)."""
    v = x.astype(np.int64) * mult + bias
    return np.clip(v >> shift, lo, hi)


def max_pool(x, kernel, stride, pad, pad_value):
    return _windows(x, kernel, stride, pad, pad_value).max(axis=(-2, -1))


def avg_pool(x, kernel, stride):
    k = kernel[0] * kernel[1]
    return (2 * _windows(x, kernel, stride).sum(axis=(-2, -1)) + k) // (2 * k)


def upsample(x, factor, fill="nearest", value=0):
    if fill == "nearest":
        return np.repeat(np.repeat(x, factor[0], axis=1), factor[1], axis=2)
    n, h, w, c = x.shape
    out = np.full((n, h * factor[0], w * factor[1], c), value, dtype=x.dtype)
    out[:, :: factor[0], :: factor[1]] = x  # zero insertion: value (the code of 0) elsewhere
    return out


def add(a, b, shift):
    return (a << shift[0]) + (b << shift[1]) if any(shift) else a + b


def pad(x, pad, value):
    pt, pl, pb, pr = pad
    return np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=value)


def concat(a, b):
    return np.concatenate([a, b], axis=-1)


def flatten(x, order):
    if order == "chw":
        x = x.transpose(0, 3, 1, 2)
    return x.reshape(x.shape[0], -1)


def check_range(v, lo, hi, name, bipolar=False):
    """Debug mode: the value of ``name`` stays inside its proven type (a bipolar tensor
    holds only -1 and +1)."""
    if v.size and (v.min() < lo or v.max() > hi):
        raise AssertionError(f"{name}: values [{v.min()}, {v.max()}] outside [{lo}, {hi}]")
    if bipolar and (v == 0).any():
        raise AssertionError(f"{name}: a bipolar tensor holds 0")


def pack_beats(codes, bits, bipolar, per_word, beat_bytes):
    """Integer codes (N, E) -> the AXI4-Stream bytes (N, E / per_word, beat_bytes): each
    beat holds per_word elements of ``bits`` bits, element i at bits [i*bits, (i+1)*bits)
    (two's complement; bipolar +1 -> 1, -1 -> 0), little endian, zero-padded."""
    codes = np.asarray(codes, np.int64)
    n, e = codes.shape
    u = (codes > 0).astype(np.int64) if bipolar else codes & ((1 << bits) - 1)
    b = ((u[..., None] >> np.arange(bits)) & 1).astype(np.uint8).reshape(n, e // per_word, per_word * bits)
    b = np.concatenate([b, np.zeros((n, e // per_word, beat_bytes * 8 - per_word * bits), np.uint8)], axis=-1)
    return np.packbits(b, axis=-1, bitorder="little")


def unpack_beats(raw, n, bits, signed, bipolar, per_word, beat_bytes, elems):
    """The inverse of pack_beats: bytes of n frames -> integer codes (n, elems)."""
    b = np.unpackbits(np.frombuffer(raw, np.uint8).reshape(n, elems // per_word, beat_bytes), axis=-1, bitorder="little")
    b = b[..., : per_word * bits].reshape(n, elems, bits).astype(np.int64)
    v = (b << np.arange(bits)).sum(axis=-1)
    if bipolar:
        return 2 * v - 1
    if signed:
        v = v - (v >= (1 << (bits - 1))) * (1 << bits)
    return v
