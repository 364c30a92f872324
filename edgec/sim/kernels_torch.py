"""The simulator's fast path: the kernels of kernels.py executed by torch, equal to them
exactly (tests/sim/test_kernels_torch.py). No edgec imports: this file is copied verbatim
into every generated sim/ folder, which still runs with numpy only when torch is missing.

Tensors are channels last (N, H, W, C) as in kernels.py, but held as torch tensors in the
narrowest exact dtype of their proven bound: float32 while every value is below 2^24 in
magnitude, float64 below 2^53, int64 otherwise (``dtype_for``). A kernel promotes its
inputs to the widest of their dtypes and its own, so every sum, product and comparison
it makes is of exactly representable integers whose exact result is representable:
float arithmetic then rounds nothing. The caller (model.py) runs them under
torch.inference_mode with torch's default thread count.

``cache``: a (dict, key) pair under which a kernel keeps what it derives from its
constant arrays (converted weights, clamped thresholds) between calls; None derives them
on every call."""
import contextlib

import numpy as np
import torch
import torch.nn.functional as F

EXACT_F32 = 2**24  # float32 holds every integer below this exactly
EXACT_F64 = 2**53  # float64 ones below this
_RANK = {torch.float32: 0, torch.float64: 1, torch.int64: 2}
_LIMIT = {torch.float32: EXACT_F32, torch.float64: EXACT_F64}


@contextlib.contextmanager
def exact():
    """Where the fast path runs: inference mode, float32 matmuls at full precision (no
    reduced-precision modes), no NNPACK (its fast convolutions round); torch's own thread
    count. The previous settings come back after."""
    prev = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        with torch.inference_mode(), torch.backends.nnpack.flags(enabled=False):
            yield
    finally:
        torch.set_float32_matmul_precision(prev)


def dtype_for(bound):
    """The dtype that holds integers of magnitude up to ``bound`` exactly."""
    return torch.float32 if bound < EXACT_F32 else torch.float64 if bound < EXACT_F64 else torch.int64


def wider(*dts):
    return max(dts, key=_RANK.__getitem__)


def to_torch(a, dt):
    """An integer numpy array (or a tensor) as a tensor of dtype ``dt`` (exact: the caller
    picks ``dt`` from the values' bound)."""
    if isinstance(a, torch.Tensor):
        return a if a.dtype == dt else a.to(dt)
    a = np.ascontiguousarray(a, np.int64)
    return torch.from_numpy(a if a.flags.writeable else a.copy()).to(dt)


def to_numpy(t):
    """A tensor of integer values -> an int64 numpy array (the numpy path's type)."""
    if t.dtype != torch.int64:
        t = t.to(torch.int64)
    return t.numpy()


def _cached(cache, what, make):
    if cache is None:
        return make()
    d, key = cache
    k = (key, what)
    if k not in d:
        d[k] = make()
    return d[k]


def _nchw(x):
    return x.permute(0, 3, 1, 2)  # a channels_last view: no copy


def _nhwc(x):
    return x.permute(0, 2, 3, 1)


def _pad_map(x, pad, value):
    pt, pl, pb, pr = pad
    if not any(pad):
        return x
    return F.pad(x, (0, 0, pl, pr, pt, pb), value=value)


def _windows(x, kernel, stride, pad=(0, 0, 0, 0), pad_value=0):
    """A view (N, OH, OW, C, kh, kw) of every window of the padded (N, H, W, C) map."""
    (kh, kw), (sh, sw) = kernel, stride
    return _pad_map(x, pad, pad_value).unfold(1, kh, sh).unfold(2, kw, sw)


def sliding_window(x, kernel, stride, pad, pad_value, dt):
    """kernels.sliding_window: the windows materialised (N, OH, OW, kh*kw*C), (kh, kw, c)
    order. model.py only calls it when no MatMul/XnorPopcount consumes it as a conv."""
    kh, kw = kernel
    v = _windows(to_torch(x, dt), kernel, stride, pad, pad_value)
    n, oh, ow, c = v.shape[:4]
    return v.permute(0, 1, 2, 4, 5, 3).reshape(n, oh, ow, kh * kw * c)


def matmul(x, weight, groups, bound, dt, cache=None):
    """kernels.matmul: x (..., K*Cg) times weight.T (groups 1) or the per-group product
    (depthwise: groups channels, x's last axis k-major), in the dtype of ``bound`` (the
    proven max |partial sum|) or x's own when wider; the result held in ``dt``."""
    ct = wider(dtype_for(bound), x.dtype)
    w = _cached(cache, ("mm", ct), lambda: to_torch(weight, ct).T.contiguous())  # (K, MH) or (K, groups)
    xc = to_torch(x, ct)
    if groups == 1:
        out = xc @ w
    else:  # w (K, groups); xr (..., K, groups)
        out = (xc.reshape(xc.shape[:-1] + (-1, groups)) * w).sum(dim=-2)
    return out.to(dt)


def conv(x, weight, kernel, stride, pad, pad_value, groups, bound, dt, xnor=False, cache=None):
    """A SlidingWindow followed by the MatMul (or the XnorPopcount, ``xnor``) that consumes
    it, as one torch conv2d on the channels-last map: no window is materialised. ``weight``
    is the MatMul's (MH, kh*kw*C) in (kh, kw, c) order, or (C, kh*kw) per channel when
    ``groups`` > 1 (depthwise); an XnorPopcount's +-1 weight gives K - popcount(x xor w)
    = (K + x.w) / 2. The padding (value ``pad_value``) is applied first, then the conv
    pads nothing. An int64 bound (at or over 2^53) takes windows and an int64 product."""
    kh, kw = kernel
    if xnor:
        k = weight.shape[1]
        bound = k
    ct = wider(dtype_for(bound), x.dtype)
    if ct == torch.int64:
        v = sliding_window(x, kernel, stride, pad, pad_value, ct)
        if xnor:
            return ((k + matmul(v, weight, 1, EXACT_F64, ct, cache)) // 2).to(dt)
        return matmul(v, weight, groups, bound, dt, cache)

    def make():  # canonical strides: oneDNN takes a one-channel tensor whose size-1 dimension has
        # another stride as channels_last, and gave wrong sums where OW was 1
        w = np.asarray(weight, np.int64)
        w = w.reshape(w.shape[0], kh, kw, -1).transpose(0, 3, 1, 2) if groups == 1 else w.reshape(-1, 1, kh, kw)
        return to_torch(w, ct).clone(memory_format=torch.contiguous_format)

    w = _cached(cache, ("conv", ct), make)
    xc = _nchw(_pad_map(to_torch(x, ct), pad, pad_value))  # channels_last: no copy
    if xc.shape[1] == 1:  # one channel: canonical strides too (see make)
        xc = xc.clone(memory_format=torch.contiguous_format)
    with torch.backends.nnpack.flags(enabled=False):  # NNPACK's fast convolutions round
        out = F.conv2d(xc, w, stride=tuple(stride), groups=groups)
    out = _nhwc(out)
    if xnor:
        out = (out + k) / 2
    return out.to(dt)


def xnor_popcount(x, weight, dt, cache=None):
    """kernels.xnor_popcount as a +-1 float matmul: K - popcount(x xor w) = (K + x.w) / 2
    (exact: |x.w| <= K, and K + x.w is even)."""
    k = weight.shape[1]
    ct = wider(dtype_for(k), x.dtype)
    w = _cached(cache, ("xnor", ct), lambda: to_torch(weight, ct).T.contiguous())
    out = to_torch(x, ct) @ w
    if ct == torch.int64:
        return ((out + k) // 2).to(dt)
    return ((out + k) / 2).to(dt)


def winograd(x, weight, bt, at, pad, pad_value, bound, dt, cache=None):
    """kernels.winograd with torch einsums, in float64 (int64 when ``bound``, the proven
    max |value| of the transformed inputs, the sums and the outputs, is 2^53 or more) as
    the numpy kernel: the einsums' pairwise contractions hold half-transformed tiles the
    bound does not cover, which float64's margin does."""
    m, n = at.shape
    pt, pl, pb, pr = pad
    nb, h, w, c = x.shape
    oh, ow = h + pt + pb - 2, w + pl + pr - 2
    th, tw = -(-oh // m), -(-ow // m)
    ct = wider(torch.float64 if bound < EXACT_F64 else torch.int64, x.dtype)
    xp = _pad_map(to_torch(x, ct), (pt, pl, pb + th * m - oh, pr + tw * m - ow), pad_value)
    tiles = xp.unfold(1, n, m).unfold(2, n, m)  # (N, th, tw, C, n, n)
    b, a = to_torch(bt, ct), to_torch(at, ct)
    u = _cached(cache, ("wino", ct), lambda: to_torch(weight, ct))
    v = torch.einsum("ia,ntscab,jb->ntsijc", b, tiles, b).reshape(nb, th, tw, n * n, c)
    mm = torch.einsum("ntspc,poc->ntspo", v, u).reshape(nb, th, tw, n, n, -1)
    y = torch.einsum("yi,ntsijo,xj->ntsyxo", a, mm, a)
    y = y.permute(0, 1, 3, 2, 4, 5).reshape(nb, th * m, tw * m, -1)[:, :oh, :ow]
    return y.to(dt)


def _clamped(t, ct):
    """Thresholds as ``ct`` tensors, clamped to the exact range of ``ct``: every value x
    held in ct lies strictly inside (-L, L), so a threshold beyond +-L compares with it as
    +-L does (counts unchanged), and every one inside is an exactly held integer."""
    t = np.asarray(t, np.int64)
    if ct in _LIMIT:
        t = np.clip(t, -_LIMIT[ct], _LIMIT[ct])
    return to_torch(t, ct)


LUT_MAX = 1 << 21  # table entries (channels x input values) a threshold step may tabulate


def multi_threshold(x, thresholds, sign, out_lo, bipolar, dt, steps=None, in_bound=None, cache=None):
    """kernels.multi_threshold: per channel c, the number of thresholds[c] <= x * sign[c]
    (searchsorted on a (C, T) sorted sequence; a compare-sum for 8 or fewer); signed steps
    count the rising and the falling thresholds apart (each sorted, padded at the end with
    a value no x reaches). With ``in_bound`` (the proven max |x|) and C * (2 *
    in_bound + 1) at most LUT_MAX, the step is that computation done once on every value
    x may take, then a table look-up."""
    c = x.shape[-1]
    r = 2 * in_bound + 1 if in_bound is not None else None
    if r is not None and c * r <= LUT_MAX and x.dtype != torch.int64:
        def make():
            grid = torch.arange(-in_bound, in_bound + 1, dtype=x.dtype)[:, None].expand(r, c)
            out = _threshold(grid, thresholds, sign, out_lo, bipolar, dt, steps, None)
            return out.T.contiguous().reshape(-1), (torch.arange(c) * r + in_bound).to(x.dtype)

        lut, base = _cached(cache, ("lut", x.dtype, dt), make)
        idx = (x + base).to(torch.int32)  # exact: every index is below C * r <= LUT_MAX
        return lut.index_select(0, idx.reshape(-1)).reshape(x.shape)
    return _threshold(x, thresholds, sign, out_lo, bipolar, dt, steps, cache)


def _threshold(x, thresholds, sign, out_lo, bipolar, dt, steps, cache):
    ct = x.dtype
    c = x.shape[-1]
    s = _cached(cache, ("sign", ct), lambda: to_torch(np.broadcast_to(sign, (c,)), ct))
    v = x * s
    if steps is not None:
        def make():
            big = _LIMIT.get(ct, np.iinfo(np.int64).max)
            seqs = []
            for st in (1, -1):
                t = np.broadcast_to(thresholds, (c,) + np.shape(thresholds)[1:])
                sp = np.broadcast_to(steps, t.shape)
                rows = [t[i][sp[i] == st] for i in range(c)]
                width = max(1, max(len(r) for r in rows))
                seq = np.full((c, width), big, np.int64)
                for i, r in enumerate(rows):
                    seq[i, : len(r)] = r
                seqs.append(_clamped(seq, ct))
            return seqs

        rise, fall = _cached(cache, ("steps", ct), make)
        vc = v.reshape(-1, c).T.contiguous()
        count = (torch.searchsorted(rise, vc, right=True) - torch.searchsorted(fall, vc, right=True)).T
        count = count.reshape(v.shape)
    elif thresholds.shape[1] <= 8:
        t = _cached(cache, ("t", ct), lambda: _clamped(thresholds, ct))
        count = (v[..., None] >= t).sum(dim=-1)
    else:
        t = _cached(cache, ("t", ct), lambda: _clamped(thresholds, ct).expand(c, -1).contiguous())
        vc = v.reshape(-1, c).T.contiguous()
        count = torch.searchsorted(t, vc, right=True).T.reshape(v.shape)
    count = count.to(dt)
    return (2 * count - 1) if bipolar else (count + out_lo)


def requant(x, mult, bias, shift, lo, hi, dt, bound, cache=None):
    """kernels.requant. ``bound``: the proven max |x * mult + bias|; below 2^53 the sum is
    exact in float64 and floor(v * 2^-shift) is the arithmetic shift (scaling by a power of
    two is exact); else int64 with a shift."""
    ct = torch.float64 if bound < EXACT_F64 else torch.int64
    m, b, s = _cached(cache, ("requant", ct), lambda: (
        to_torch(mult, ct), to_torch(bias, ct),
        torch.as_tensor(np.ldexp(1.0, -np.asarray(shift, np.int32)), dtype=ct) if ct == torch.float64
        else to_torch(shift, ct)))
    v = to_torch(x, ct) * m + b
    v = torch.floor(v * s) if ct == torch.float64 else torch.bitwise_right_shift(v, s)
    return torch.clamp(v, lo, hi).to(dt)


def max_pool(x, kernel, stride, pad, pad_value, dt):
    """kernels.max_pool: the padded map (``pad_value``), then torch's max_pool2d (its
    window grid is the numpy kernel's: floor division, no ceil mode)."""
    xc = _pad_map(to_torch(x, wider(x.dtype, dt)), pad, pad_value)
    if xc.dtype == torch.int64:
        out = xc.unfold(1, kernel[0], stride[0]).unfold(2, kernel[1], stride[1]).amax(dim=(-2, -1))
    else:
        out = _nhwc(F.max_pool2d(_nchw(xc), tuple(kernel), tuple(stride)))
    return out.to(dt)


def avg_pool(x, kernel, stride, in_bound, dt):
    """kernels.avg_pool: (2 * sum + k) // (2k) over each window, the sums (torch's
    avg_pool2d with divisor 1) in the dtype of 2 * k * ``in_bound`` + k, the floor
    division exact (torch's floor rounding mode is Python's)."""
    k = kernel[0] * kernel[1]
    ct = wider(dtype_for(2 * k * in_bound + k), x.dtype, dt)
    xc = to_torch(x, ct)
    if ct == torch.int64:
        s = xc.unfold(1, kernel[0], stride[0]).unfold(2, kernel[1], stride[1]).sum(dim=(-2, -1))
    else:
        s = _nhwc(F.avg_pool2d(_nchw(xc), tuple(kernel), tuple(stride), divisor_override=1))
    return torch.div(2 * s + k, 2 * k, rounding_mode="floor").to(dt)


def upsample(x, factor, dt, fill="nearest", value=0):
    x = to_torch(x, wider(x.dtype, dt))
    if fill == "nearest":
        out = x.repeat_interleave(factor[0], dim=1).repeat_interleave(factor[1], dim=2)
    else:
        n, h, w, c = x.shape
        out = torch.full((n, h * factor[0], w * factor[1], c), value, dtype=x.dtype)
        out[:, :: factor[0], :: factor[1]] = x  # zero insertion: value (the code of 0) elsewhere
    return out.to(dt)


def add(a, b, shift, dt):
    """a * 2^shift[0] + b * 2^shift[1] (exact: scaling by a power of two is, and the sum
    is an integer of the output's bound)."""
    ct = wider(a.dtype, b.dtype, dt)
    a, b = to_torch(a, ct), to_torch(b, ct)
    if any(shift):
        a, b = a * (1 << shift[0]), b * (1 << shift[1])
    return (a + b).to(dt)


def mul(a, b, dt):
    ct = wider(a.dtype, b.dtype, dt)
    return (to_torch(a, ct) * to_torch(b, ct)).to(dt)


def pad(x, pad, value, dt):
    return _pad_map(to_torch(x, wider(x.dtype, dt)), pad, value).to(dt)


def slice_channels(x, lo, hi, dt):
    return x[..., lo:hi].to(dt)


def concat(a, b, dt):
    ct = wider(a.dtype, b.dtype, dt)
    return torch.cat([to_torch(a, ct), to_torch(b, ct)], dim=-1).to(dt)


def flatten(x, order, dt):
    if order == "chw":
        x = x.permute(0, 3, 1, 2)
    return x.reshape(x.shape[0], -1).to(dt)


def check_range(v, lo, hi, name, bipolar=False):
    """kernels.check_range on a tensor."""
    if v.numel() and (v.min() < lo or v.max() > hi):
        raise AssertionError(f"{name}: values [{int(v.min())}, {int(v.max())}] outside [{lo}, {hi}]")
    if bipolar and (v == 0).any():
        raise AssertionError(f"{name}: a bipolar tensor holds 0")


# the torch kernel of each simulator step kind (backend/sim.py KINDS); tests/test_tables.py
# holds this table against it. "window" and "matmul"/"xnor" fuse into conv where one
# consumes the other.
KERNELS = {
    "window": sliding_window, "matmul": matmul, "xnor": xnor_popcount, "threshold": multi_threshold, "requant": requant,
    "maxpool": max_pool, "avgpool": avg_pool, "add": add, "flatten": flatten, "winograd": winograd,
    "concat": concat, "mul": mul, "upsample": upsample, "pad": pad, "slice": slice_channels,
}
