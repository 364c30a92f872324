"""Every fast simulator kernel equals ir/ref.py exactly over random shapes, widths and
signedness."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edgec.ir import ref
from edgec.sim import kernels as K

SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def codes(draw, shape):
    bits = draw(st.integers(1, 8))
    signed = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if bits == 1:
        return rng.choice([-1, 1], size=shape).astype(np.int64), (-1, 1)
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    return rng.integers(lo, hi + 1, size=shape).astype(np.int64), (lo, hi)


@st.composite
def feature_map(draw):
    n, h, w, c = draw(st.integers(1, 3)), draw(st.integers(1, 7)), draw(st.integers(1, 7)), draw(st.integers(1, 5))
    return draw(codes((n, h, w, c)))


@st.composite
def window_params(draw, h, w):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    pad = tuple(draw(st.integers(0, 2)) for _ in range(4))
    if h + pad[0] + pad[2] < kh or w + pad[1] + pad[3] < kw:
        pad = (kh, kw, kh, kw)
    return (kh, kw), (draw(st.integers(1, 3)), draw(st.integers(1, 3))), pad


@SETTINGS
@given(feature_map(), st.data())
def test_sliding_window(xm, data):
    x, (lo, hi) = xm
    kernel, stride, pad = data.draw(window_params(x.shape[1], x.shape[2]))
    pv = data.draw(st.integers(lo, hi))
    np.testing.assert_array_equal(K.sliding_window(x, kernel, stride, pad, pv),
                                  ref.sliding_window(x, kernel, stride, pad, pv))


@SETTINGS
@given(feature_map(), st.data())
def test_max_pool(xm, data):
    x, (lo, hi) = xm
    kernel, stride, pad = data.draw(window_params(x.shape[1], x.shape[2]))
    np.testing.assert_array_equal(K.max_pool(x, kernel, stride, pad, lo), ref.max_pool(x, kernel, stride, pad, lo))


@SETTINGS
@given(feature_map(), st.data())
def test_avg_pool(xm, data):
    x, _ = xm
    kh, kw = data.draw(st.integers(1, x.shape[1])), data.draw(st.integers(1, x.shape[2]))
    stride = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    np.testing.assert_array_equal(K.avg_pool(x, (kh, kw), stride), ref.avg_pool(x, (kh, kw), stride))


@SETTINGS
@given(st.integers(1, 40), st.integers(1, 12), st.booleans(), st.data())
def test_matmul(k, mh, depthwise, data):
    groups = data.draw(st.integers(1, 6)) if depthwise else 1
    x, (lo, hi) = data.draw(codes((data.draw(st.integers(1, 9)), k * groups)))
    w, (wlo, whi) = data.draw(codes((groups if depthwise else mh, k)))
    bound = int((np.abs(w).sum(1) * max(abs(lo), abs(hi))).max())
    # a bound at or over 2^53 takes the int64 path; force it too
    for b in (bound, 2**24, 2**53):  # the float32, float64 and int64 paths
        np.testing.assert_array_equal(K.matmul(x, w, groups, b), ref.matmul(x, w, groups))


def float32_bound_cases():
    """(x, w, bound) with sums just under 2^24 (float32 exact) and just over it (float64):
    extreme codes; also used by test_kernels_torch."""
    rng = np.random.default_rng(0)
    for k in (1040, 1100):  # 1040 * 127 * 127 < 2^24 < 1100 * 127 * 127
        x = rng.choice([-127, 127], size=(5, k))
        w = np.vstack([np.full(k, 127), -np.full(k, 127), rng.choice([-127, 127], size=k)])
        x[0] = 127
        bound = int((np.abs(w).sum(1) * 127).max())
        assert (bound < K.EXACT_F32) == (k == 1040)
        yield x, w, bound


def test_matmul_float32_path_at_its_bound():
    for x, w, bound in float32_bound_cases():
        np.testing.assert_array_equal(K.matmul(x, w, 1, bound), ref.matmul(x, w, 1))


@SETTINGS
@given(st.integers(1, 200), st.integers(1, 10), st.integers(1, 20), st.integers(0, 2**32 - 1))
def test_xnor_popcount(k, mh, n, seed):
    rng = np.random.default_rng(seed)
    x = rng.choice([-1, 1], size=(n, k))
    w = rng.choice([-1, 1], size=(mh, k))
    np.testing.assert_array_equal(K.xnor_popcount(x, w, chunk=7), ref.xnor_popcount(x, w))


@SETTINGS
@given(st.integers(1, 6), st.integers(1, 300), st.booleans(), st.integers(0, 2**32 - 1))
def test_multi_threshold(c, nt, bipolar, seed):
    rng = np.random.default_rng(seed)
    nt = 1 if bipolar else nt
    x = rng.integers(-500, 500, size=(7, 3, c))
    t = np.sort(rng.integers(-600, 600, size=(c, nt)), axis=1)  # repeated thresholds too
    sign = rng.choice([-1, 1], size=c)
    out_lo = int(rng.integers(-10, 3))
    np.testing.assert_array_equal(K.multi_threshold(x, t, sign, out_lo, bipolar),
                                  ref.multi_threshold(x, t, sign, out_lo, bipolar))
    if not bipolar:  # signed steps
        steps = rng.choice([-1, 1], size=(c, nt))
        np.testing.assert_array_equal(K.multi_threshold(x, t, sign, out_lo, False, steps),
                                      ref.multi_threshold(x, t, sign, out_lo, False, steps))


def test_multi_threshold_wide_values_take_the_per_channel_path():
    rng = np.random.default_rng(1)
    x = rng.integers(-(2**61), 2**61, size=(4, 5, 3))
    t = np.sort(rng.integers(-(2**61), 2**61, size=(3, 20)), axis=1)
    sign = np.array([1, -1, 1])
    for steps in (None, rng.choice([-1, 1], size=(3, 20))):
        np.testing.assert_array_equal(K.multi_threshold(x, t, sign, 0, False, steps),
                                      ref.multi_threshold(x, t, sign, 0, False, steps))


@SETTINGS
@given(feature_map(), st.sampled_from(["chw", "hwc"]))
def test_flatten(xm, order):
    x, _ = xm
    np.testing.assert_array_equal(K.flatten(x, order), ref.flatten(x, order))


def test_debug_range_check_catches_out_of_type_values():
    K.check_range(np.array([-1, 1]), -1, 1, "t", bipolar=True)
    K.check_range(np.array([0, 3]), 0, 3, "t")
    for v, kw in ((np.array([-1, 0, 1]), {"bipolar": True}), (np.array([4]), {})):
        try:
            K.check_range(v, -1 if kw else 0, 1 if kw else 3, "t", **kw)
        except AssertionError as e:
            assert "t:" in str(e)
        else:
            raise AssertionError("check_range accepted an out-of-type value")


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), lo=st.integers(-8, 0), width=st.integers(1, 16))
def test_input_quantizer_rounding_modes_equal_ref(seed, lo, width):
    """The host quantizer's rounding table (kernels.ROUND) is ref.round_to_int, ties and
    negative values included; one (div, scale) step in float64 is AffineQuant on a=1, c0=0."""
    assert set(K.ROUND) == set(ref.ROUNDING)
    rng = np.random.default_rng(seed)
    scale = float(rng.uniform(0.05, 2.0))
    v = np.concatenate([rng.uniform(-20, 20, 200), np.arange(-20, 20.5, 0.5)])  # exact ties too
    x = v * scale
    for mode in ref.ROUNDING:
        np.testing.assert_array_equal(K.ROUND[mode](v), ref.round_to_int(v, mode), err_msg=mode)
        spec = {"steps": [["div", scale]], "float32": False, "rounding": mode, "bipolar": False,
                "lo": lo, "hi": lo + width}
        np.testing.assert_array_equal(
            K.quantize_input(x, spec),
            ref.affine_quant(x, np.ones(1), np.zeros(1), scale, lo, lo + width, False, 0.0, mode), err_msg=mode)


@settings(max_examples=40, deadline=None)
@given(feature_map(), st.sampled_from([2, 4]), st.integers(1, 5), st.data())
def test_winograd_equals_ref_and_the_direct_convolution(xm, m, mh, data):
    """Any map size (partial edge tiles), any padding, both tile sizes: the fast kernel
    equals ref.winograd, which is FACTOR times the direct 3x3 convolution."""
    from edgec.ir import winograd as W

    x, (lo, hi) = xm
    pad = tuple(data.draw(st.integers(0, 2)) for _ in range(4))
    if x.shape[1] + pad[0] + pad[2] < 3 or x.shape[2] + pad[1] + pad[3] < 3:
        pad = (1, 1, 1, 1)
    pad_value = data.draw(st.integers(lo, hi))
    w, _ = data.draw(codes((mh, 3, 3, x.shape[3])))
    u = W.transform_weights(w, m)
    want = ref.winograd(x, u, m, pad, pad_value)
    direct = ref.matmul(ref.sliding_window(x, (3, 3), (1, 1), pad, pad_value), w.reshape(mh, -1))
    np.testing.assert_array_equal(want, W.FACTOR[m] * direct)
    for bound in (0, 2**53):  # the float64 path (exact: these values are far below 2^53) and the int64 one
        np.testing.assert_array_equal(K.winograd(x, u, W.BT[m], W.AT[m], pad, pad_value, bound), want)


@SETTINGS
@given(feature_map(), st.integers(0, 7), st.integers(0, 7), st.integers(0, 2**32 - 1))
def test_add_with_shifts(xm, sa, sb, seed):
    """The Add of two scales a power of two apart: a * 2^sa + b * 2^sb."""
    a, _ = xm
    b = np.random.default_rng(seed).integers(-128, 128, size=a.shape)
    want = a * 2**sa + b * 2**sb
    np.testing.assert_array_equal(K.add(a, b, (sa, sb)), want)
    np.testing.assert_array_equal(ref.add(a, b, (sa, sb)), want)


@SETTINGS
@given(feature_map(), st.data())
def test_pad(xm, data):
    x, (lo, hi) = xm
    pad = tuple(data.draw(st.integers(0, 3)) for _ in range(4))
    v = data.draw(st.integers(lo, hi))
    np.testing.assert_array_equal(K.pad(x, pad, v), ref.pad(x, pad, v))


@SETTINGS
@given(feature_map(), st.data())
def test_upsample_nearest_and_zero_fill(xm, data):
    x, (lo, hi) = xm
    factor = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    v = data.draw(st.integers(lo, hi))
    np.testing.assert_array_equal(K.upsample(x, factor), ref.upsample(x, factor))
    np.testing.assert_array_equal(K.upsample(x, factor, "zero", v), ref.upsample(x, factor, "zero", v))


@settings(max_examples=40, deadline=None)
@given(c=st.integers(1, 6), xbits=st.integers(2, 31), seed=st.integers(0, 2**32 - 1),
       lo=st.integers(-128, 0), width=st.integers(0, 255), mult=st.sampled_from([1, 9]))
def test_requant(c, xbits, seed, lo, width, mult):
    """Requant (sim) == ir/ref.py, with the parameters ir/requant.py gives float ratios of
    every magnitude, and == the float quantizer it stands for wherever that one is not
    within its scale error of a rounding boundary."""
    from edgec.ir import requant

    rng = np.random.default_rng(seed)
    a = rng.choice([-1, 1], c) * np.exp(rng.uniform(-20, 2, c))
    c0 = rng.normal(0, 20, c)
    scale = float(np.exp(rng.uniform(-3, 1)))
    p = requant.params(a, c0, scale, lo, lo + width, multiple=mult)
    if p is None:  # a ratio a / scale too large for an 18-bit multiplier
        assert np.abs(a / scale).max() > 2**16
        return
    assert (p["mult"] % mult == 0).all() and (np.abs(p["mult"]) < 2**17).all()
    x = rng.integers(-(2 ** (xbits - 1)), 2 ** (xbits - 1), size=(7, c))
    got = K.requant(x, p["mult"], p["bias"], p["shift"], p["lo"], p["hi"])
    np.testing.assert_array_equal(got, ref.requant(x, p["mult"], p["bias"], p["shift"], p["lo"], p["hi"]))
    v = x * (a / scale) + c0 / scale
    far = np.abs(v - np.floor(v) - 0.5) > 1e-3 + np.abs(v) * 2 * p["scale_error"]
    want = np.clip(np.floor(v + 0.5), lo, lo + width)
    np.testing.assert_array_equal(got[far], want[far])
