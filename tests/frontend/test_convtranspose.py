"""The exact rewrite of a transposed convolution as zero insertion + a flipped conv
(edgec/frontend/convtranspose.py) against PyTorch's conv_transpose2d/1d."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings, strategies as st

from edgec.errors import EdgecError
from edgec.frontend.convtranspose import as_conv, zero_insert


def _lowered(x, w, b, stride, padding, output_padding):
    cw, factors, (pt, pl, pb, pr) = as_conv(w, stride, padding, output_padding)
    z = np.pad(zero_insert(x, factors), ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    return F.conv2d(torch.from_numpy(z), torch.from_numpy(cw), torch.from_numpy(b)).numpy()


@settings(max_examples=60, deadline=None)
@given(k=st.sampled_from([2, 3, 4]), s=st.sampled_from([1, 2, 3]), data=st.data(),
       cin=st.integers(1, 4), cout=st.integers(1, 4), h=st.integers(1, 6), w=st.integers(1, 6))
def test_zero_insertion_and_flipped_conv_equal_conv_transpose2d(k, s, data, cin, cout, h, w):
    p = data.draw(st.integers(0, k - 1))
    op = data.draw(st.integers(0, s - 1))
    assume((min(h, w) - 1) * s - 2 * p + k + op >= 1)  # PyTorch refuses an empty output
    rng = np.random.default_rng(k * 1000 + s * 100 + h * 10 + w)
    # integer codes and weights: float64 sums are exact, so the two forms are equal
    x = rng.integers(-8, 8, (2, cin, h, w)).astype(np.float64)
    wt = rng.integers(-8, 8, (cin, cout, k, k)).astype(np.float64)
    b = rng.integers(-8, 8, cout).astype(np.float64)
    want = F.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(wt), torch.from_numpy(b),
                              stride=s, padding=p, output_padding=op).numpy()
    np.testing.assert_array_equal(_lowered(x, wt, b, (s, s), (p, p), (op, op)), want)


def test_conv_transpose1d_is_the_2d_rewrite_with_h_1():
    rng = np.random.default_rng(0)
    x = rng.integers(-8, 8, (2, 3, 7)).astype(np.float64)
    wt = rng.integers(-8, 8, (3, 5, 4)).astype(np.float64)
    b = np.zeros(5)
    want = F.conv_transpose1d(torch.from_numpy(x), torch.from_numpy(wt), stride=2, padding=1,
                              output_padding=1).numpy()
    got = _lowered(x[:, :, None], wt[:, :, None], b, (1, 2), (0, 1), (0, 1))[:, :, 0]
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("stride, padding, output_padding, word", [
    ((2, 2), (3, 0), (0, 0), "padding"), ((2, 2), (0, 0), (2, 0), "output_padding"),
    ((0, 2), (0, 0), (0, 0), "stride")])
def test_configurations_outside_the_rewrite_are_refused(stride, padding, output_padding, word):
    with pytest.raises(EdgecError, match=word):
        as_conv(np.zeros((1, 1, 3, 3)), stride, padding, output_padding)


@pytest.mark.parametrize("k, s", [(2, 2), (3, 2), (4, 2), (3, 3), (3, 1)])
def test_unlowered_inverts_lowered(k, s):
    """The QONNX export's ConvTranspose attributes lower back to the same convolution."""
    from edgec.frontend.convtranspose import lowered, transposed_weight, unlowered

    w = np.random.default_rng(k * 10 + s).integers(-8, 8, (2, 3, k, k)).astype(np.float64)
    for p in range(k):
        for op in range(s):
            try:
                cw, f, pad = lowered("n", "ConvTranspose", w, (s, s), (p, p), (op, op))
            except EdgecError:
                continue
            pads, opad = unlowered(cw.shape[2:], f, pad)
            np.testing.assert_array_equal(transposed_weight(cw), w)
            cw2, f2, pad2 = lowered("n", "ConvTranspose", transposed_weight(cw), f, pads, opad)
            assert (f2, pad2) == (f, pad) and np.array_equal(cw2, cw)
