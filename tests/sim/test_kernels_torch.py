"""Every torch kernel of the fast path (sim/kernels_torch.py) equals its numpy kernel
(sim/kernels.py, itself equal to ir/ref.py) exactly: random shapes, widths and
signedness, values at the edges of the float32 and float64 exact ranges, and every
dtype an input may be held in."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from edgec.sim import kernels as K
from edgec.sim import kernels_torch as KT
from tests.sim.test_kernels import codes, feature_map, float32_bound_cases, window_params

SETTINGS = settings(max_examples=40, deadline=None)
DTS = [torch.float32, torch.float64, torch.int64]


def held(x, dt=None):
    """x as the fast path holds it: the narrowest exact dtype of its max |value|, or ``dt``."""
    return KT.to_torch(x, dt or KT.dtype_for(int(np.abs(x).max(initial=0))))


def same(t, want):
    assert isinstance(t, torch.Tensor)
    np.testing.assert_array_equal(KT.to_numpy(t), want)


def out_dt(v):
    return KT.dtype_for(int(np.abs(np.asarray(v)).max(initial=0)))


@SETTINGS
@given(feature_map(), st.data(), st.sampled_from(DTS))
def test_sliding_window(xm, data, dt):
    x, (lo, hi) = xm
    kernel, stride, pad = data.draw(window_params(x.shape[1], x.shape[2]))
    pv = data.draw(st.integers(lo, hi))
    same(KT.sliding_window(held(x, dt), kernel, stride, pad, pv, dt), K.sliding_window(x, kernel, stride, pad, pv))


@SETTINGS
@given(feature_map(), st.data())
def test_conv_equals_window_then_matmul(xm, data):
    """A SlidingWindow and the MatMul reading it, fused into one conv2d: dense and
    depthwise, any padding value and stride, the float32, float64 and int64 paths."""
    x, (lo, hi) = xm
    kernel, stride, pad = data.draw(window_params(x.shape[1], x.shape[2]))
    pv = data.draw(st.integers(lo, hi))
    c = x.shape[3]
    depthwise = data.draw(st.booleans())
    groups = c if depthwise else 1
    k = kernel[0] * kernel[1] * (1 if depthwise else c)
    w, _ = data.draw(codes((c if depthwise else data.draw(st.integers(1, 6)), k)))
    win = K.sliding_window(x, kernel, stride, pad, pv)
    bound = int((np.abs(w).sum(1) * max(abs(lo), abs(hi), abs(pv))).max())
    want = K.matmul(win, w, groups, bound)
    for b in (bound, 2**24, 2**53):  # the float32, float64 and int64 paths
        got = KT.conv(held(x), w, kernel, stride, pad, pv, groups, b, out_dt(want))
        same(got, want)
        assert got.shape == want.shape


@SETTINGS
@given(feature_map(), st.data())
def test_conv_xnor_equals_window_then_xnor_popcount(xm, data):
    x, _ = xm
    x = np.where(x > 0, 1, -1)
    kernel, stride, pad = data.draw(window_params(x.shape[1], x.shape[2]))
    pv = data.draw(st.sampled_from([-1, 1]))
    k = kernel[0] * kernel[1] * x.shape[3]
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    w = rng.choice([-1, 1], size=(data.draw(st.integers(1, 6)), k))
    want = K.xnor_popcount(K.sliding_window(x, kernel, stride, pad, pv), w)
    for dt in (torch.float32, torch.int64):
        same(KT.conv(held(x, dt), w, kernel, stride, pad, pv, 1, 0, torch.float32, xnor=True), want)


@SETTINGS
@given(st.integers(1, 40), st.integers(1, 12), st.booleans(), st.data())
def test_matmul(k, mh, depthwise, data):
    groups = data.draw(st.integers(1, 6)) if depthwise else 1
    x, (lo, hi) = data.draw(codes((data.draw(st.integers(1, 9)), k * groups)))
    w, _ = data.draw(codes((groups if depthwise else mh, k)))
    bound = int((np.abs(w).sum(1) * max(abs(lo), abs(hi))).max())
    want = K.matmul(x, w, groups, bound)
    for b in (bound, 2**24, 2**53):
        for xdt in DTS:
            same(KT.matmul(held(x, xdt), w, groups, b, out_dt(want)), want)


def test_matmul_and_conv_at_the_float32_bound():
    """Sums just under 2^24 (float32 exact) and just over it (float64), extreme codes."""
    for x, w, bound in float32_bound_cases():
        want = K.matmul(x, w, 1, bound)
        same(KT.matmul(held(x), w, 1, bound, KT.dtype_for(bound)), want)
        xm = x.reshape(5, 1, 1, x.shape[1])  # a 1x1 conv over its channels
        same(KT.conv(held(xm), w, (1, 1), (1, 1), (0, 0, 0, 0), 0, 1, bound, KT.dtype_for(bound)),
             want.reshape(5, 1, 1, -1))


def test_values_at_the_exact_limits_keep_their_dtype_exact():
    """Integers just below 2^24 held in float32 and just below 2^53 in float64 pass
    through the data-movement kernels and the threshold comparisons unchanged."""
    for lim, dt in ((KT.EXACT_F32, torch.float32), (KT.EXACT_F64, torch.float64)):
        x = np.array([-(lim - 1), lim - 1, -(lim - 2), lim - 2, 0, 1]).reshape(1, 1, 6, 1)
        t = held(x, dt)
        assert KT.dtype_for(lim - 1) == dt and KT.dtype_for(lim) != dt
        same(KT.pad(t, (1, 0, 0, 1), lim - 1, dt), K.pad(x, (1, 0, 0, 1), lim - 1))
        same(KT.max_pool(t, (1, 2), (1, 1), (0, 0, 0, 0), 0, dt), K.max_pool(x, (1, 2), (1, 1), (0, 0, 0, 0), 0))
        same(KT.upsample(t, (2, 1), dt), K.upsample(x, (2, 1)))
        same(KT.add(t, t * 0, (0, 0), dt), x)
        th = np.array([[-(2**62), -(lim - 1), lim - 2, lim - 1, lim, 2**62]])
        want = K.multi_threshold(x, th, np.array([1]), 0, False)
        same(KT.multi_threshold(t, th, np.array([1]), 0, False, torch.float32), want)


@SETTINGS
@given(st.integers(1, 200), st.integers(1, 10), st.integers(1, 20), st.integers(0, 2**32 - 1))
def test_xnor_popcount(k, mh, n, seed):
    rng = np.random.default_rng(seed)
    x = rng.choice([-1, 1], size=(n, k))
    w = rng.choice([-1, 1], size=(mh, k))
    want = K.xnor_popcount(x, w)
    for dt in DTS:
        same(KT.xnor_popcount(held(x, dt), w, out_dt(want)), want)


@SETTINGS
@given(st.integers(1, 6), st.integers(1, 300), st.booleans(), st.integers(0, 2**32 - 1), st.data())
def test_multi_threshold(c, nt, bipolar, seed, data):
    """Every path: the compare-sum (8 or fewer), the per-channel searchsorted, the table
    (with in_bound); signed steps; repeated thresholds and thresholds out of x's range."""
    rng = np.random.default_rng(seed)
    nt = 1 if bipolar else data.draw(st.sampled_from([nt, min(nt, 8)]))
    x = rng.integers(-500, 500, size=(7, 3, c))
    x[0, 0] = -500
    x[0, 1] = 499
    t = np.sort(rng.integers(-700, 700, size=(c, nt)), axis=1)
    sign = rng.choice([-1, 1], size=c)
    out_lo = int(rng.integers(-10, 3))
    for steps in (None,) if bipolar else (None, rng.choice([-1, 1], size=(c, nt))):
        want = K.multi_threshold(x, t, sign, out_lo, bipolar, steps)
        dt = out_dt(want)
        for xdt in DTS:
            for in_bound in (None, 500, 2**30):  # the table, and too wide a one for it
                same(KT.multi_threshold(held(x, xdt), t, sign, out_lo, bipolar, dt, steps, in_bound), want)


def test_multi_threshold_wide_values():
    rng = np.random.default_rng(1)
    x = rng.integers(-(2**61), 2**61, size=(4, 5, 3))
    t = np.sort(rng.integers(-(2**61), 2**61, size=(3, 20)), axis=1)
    sign = np.array([1, -1, 1])
    for steps in (None, rng.choice([-1, 1], size=(3, 20))):
        want = K.multi_threshold(x, t, sign, 0, False, steps)
        same(KT.multi_threshold(held(x), t, sign, 0, False, torch.float32, steps, 2**61), want)
    x = rng.integers(-(2**23), 2**23, size=(4, 5, 3))  # float32 x, thresholds far outside its range
    for steps in (None, rng.choice([-1, 1], size=(3, 20))):
        same(KT.multi_threshold(held(x), t, sign, 0, False, torch.float32, steps),
             K.multi_threshold(x, t, sign, 0, False, steps))


def test_multi_threshold_caches_per_key():
    """The derived tensors are kept under the caller's key: a second call reuses them, a
    different key derives its own."""
    cache = {}
    x = np.arange(-20, 20).reshape(1, 4, 10)
    t1, t2 = np.sort(np.arange(-30, 30, 3).reshape(10, 2), 1), np.zeros((10, 2), np.int64)
    sign = np.ones(10, np.int64)
    for t, key in ((t1, "a"), (t1, "a"), (t2, "b")):
        same(KT.multi_threshold(held(x), t, sign, 0, False, torch.float32, None, 20, cache=(cache, key)),
             K.multi_threshold(x, t, sign, 0, False))
    assert {k[0] for k in cache} == {"a", "b"}


@SETTINGS
@given(feature_map(), st.data(), st.sampled_from(DTS))
def test_max_pool(xm, data, dt):
    x, (lo, hi) = xm
    kernel, stride, pad = data.draw(window_params(x.shape[1], x.shape[2]))
    same(KT.max_pool(held(x, dt), kernel, stride, pad, lo, out_dt(x)), K.max_pool(x, kernel, stride, pad, lo))


@SETTINGS
@given(feature_map(), st.data(), st.sampled_from(DTS))
def test_avg_pool(xm, data, dt):
    """The integer rounding rule (2 * sum + k) // (2k), negative sums and exact halves too."""
    x, (lo, hi) = xm
    kh, kw = data.draw(st.integers(1, x.shape[1])), data.draw(st.integers(1, x.shape[2]))
    stride = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    ib = max(abs(lo), abs(hi))
    same(KT.avg_pool(held(x, dt), (kh, kw), stride, ib, out_dt(x)), K.avg_pool(x, (kh, kw), stride))


def test_avg_pool_of_wide_values():
    rng = np.random.default_rng(3)
    for ib in (2**23 - 1, 2**40, 2**52):
        x = rng.integers(-ib, ib + 1, size=(2, 4, 4, 3))
        same(KT.avg_pool(held(x), (2, 2), (2, 2), ib, out_dt(x)), K.avg_pool(x, (2, 2), (2, 2)))
        same(KT.avg_pool(held(x), (4, 4), (1, 1), ib, out_dt(x)), K.avg_pool(x, (4, 4), (1, 1)))


@settings(max_examples=30, deadline=None)
@given(feature_map(), st.sampled_from([2, 4]), st.integers(1, 5), st.data())
def test_winograd(xm, m, mh, data):
    from edgec.ir import winograd as W

    x, (lo, hi) = xm
    pad = tuple(data.draw(st.integers(0, 2)) for _ in range(4))
    if x.shape[1] + pad[0] + pad[2] < 3 or x.shape[2] + pad[1] + pad[3] < 3:
        pad = (1, 1, 1, 1)
    pv = data.draw(st.integers(lo, hi))
    w, _ = data.draw(codes((mh, 3, 3, x.shape[3])))
    u = W.transform_weights(w, m)
    want = K.winograd(x, u, W.BT[m], W.AT[m], pad, pv, 0)
    for bound in (0, 2**53):
        same(KT.winograd(held(x), u, W.BT[m], W.AT[m], pad, pv, bound, out_dt(want)), want)


@SETTINGS
@given(feature_map(), st.integers(0, 7), st.integers(0, 7), st.integers(0, 2**32 - 1), st.sampled_from(DTS))
def test_add_with_and_without_shifts(xm, sa, sb, seed, dt):
    a, _ = xm
    b = np.random.default_rng(seed).integers(-128, 128, size=a.shape)
    for shift in ((sa, sb), (0, 0)):
        want = K.add(a, b, shift)
        same(KT.add(held(a, dt), held(b), shift, out_dt(want)), want)


@SETTINGS
@given(feature_map(), st.integers(0, 2**32 - 1), st.sampled_from(DTS))
def test_mul(xm, seed, dt):
    a, _ = xm
    b = np.random.default_rng(seed).integers(-(2**11), 2**11, size=a.shape)
    want = a * b
    same(KT.mul(held(a, dt), held(b), out_dt(want)), want)


@SETTINGS
@given(feature_map(), st.data(), st.sampled_from(DTS))
def test_pad(xm, data, dt):
    x, (lo, hi) = xm
    pad = tuple(data.draw(st.integers(0, 3)) for _ in range(4))
    v = data.draw(st.integers(lo, hi))
    same(KT.pad(held(x, dt), pad, v, out_dt(x)), K.pad(x, pad, v))


@SETTINGS
@given(feature_map(), st.data(), st.sampled_from(DTS))
def test_slice_and_concat(xm, data, dt):
    x, _ = xm
    c = x.shape[3]
    lo = data.draw(st.integers(0, c - 1))
    hi = data.draw(st.integers(lo + 1, c))
    same(KT.slice_channels(held(x, dt), lo, hi, out_dt(x)), x[..., lo:hi])
    y = np.random.default_rng(c).integers(-(2**30), 2**30, size=x.shape[:3] + (2,))
    same(KT.concat(held(x, dt), held(y), out_dt(y)), K.concat(x, y))


@SETTINGS
@given(feature_map(), st.data(), st.sampled_from(DTS))
def test_upsample_nearest_and_zero_fill(xm, data, dt):
    x, (lo, hi) = xm
    factor = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    v = data.draw(st.integers(lo, hi))
    same(KT.upsample(held(x, dt), factor, out_dt(x)), K.upsample(x, factor))
    same(KT.upsample(held(x, dt), factor, out_dt(x), "zero", v), K.upsample(x, factor, "zero", v))


@SETTINGS
@given(feature_map(), st.sampled_from(["chw", "hwc"]), st.sampled_from(DTS))
def test_flatten(xm, order, dt):
    x, _ = xm
    same(KT.flatten(held(x, dt), order, out_dt(x)), K.flatten(x, order))


def test_check_range_on_tensors():
    KT.check_range(torch.tensor([-1.0, 1.0]), -1, 1, "t", bipolar=True)
    for v, kw in ((torch.tensor([-1.0, 0.0, 1.0]), {"bipolar": True}), (torch.tensor([4.0]), {})):
        with pytest.raises(AssertionError, match="t:"):
            KT.check_range(v, -1 if kw else 0, 1 if kw else 3, "t", **kw)


def test_dtype_rule():
    assert [KT.dtype_for(b) for b in (0, 2**24 - 1, 2**24, 2**53 - 1, 2**53)] == [
        torch.float32, torch.float32, torch.float64, torch.float64, torch.int64]


@SETTINGS
@given(c=st.integers(1, 5), xbits=st.integers(2, 40), seed=st.integers(0, 2**32 - 1), dt=st.sampled_from(DTS))
def test_requant(c, xbits, seed, dt):
    """The float64 path (the product and bias below 2^53) and the int64 path (above)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-(2 ** (xbits - 1)), 2 ** (xbits - 1), size=(6, c))
    mult = rng.integers(-(2**17) + 1, 2**17, c)
    bias = rng.integers(-(2**50), 2**50, c)
    shift = rng.integers(0, 41, c)
    bound = int(np.abs(x).max()) * int(np.abs(mult).max()) + int(np.abs(bias).max())
    want = K.requant(x, mult, bias, shift, -100, 100)
    xdt = KT.wider(out_dt(x), dt) if dt != torch.int64 else dt
    same(KT.requant(held(x, xdt), mult, bias, shift, -100, 100, dt, bound), want)
