"""Transposed convolution as zero insertion + an ordinary convolution (issue 17, item 2).

A ConvTranspose with stride s, kernel k, padding p and output padding op (groups 1,
dilation 1) equals, exactly and per spatial axis:

1. insert s - 1 zeros between neighbouring input pixels ((H - 1)·s + 1 pixels);
2. pad k - 1 - p zeros before and k - 1 - p + op after;
3. an ordinary stride-1 convolution with the kernel flipped in both spatial axes and
   its in/out channels swapped: W'[co, ci, i, j] = W[ci, co, k-1-i, k-1-j].

The output has (H - 1)·s - 2p + k + op pixels, as PyTorch and ONNX define it. So the
integer IR needs only a zero-filling stage before the existing SlidingWindow + MatMul
(quantizers, thresholds, cost rules unchanged); the inserted zeros are the code of real
0 (the zero point). Not wired into the importers yet: this module is the exact
rewrite and its check (tests/frontend/test_convtranspose.py).
"""

from __future__ import annotations

import numpy as np

from edgec.errors import EdgecError


def as_conv(weight: np.ndarray, stride, padding, output_padding):
    """(conv weight (Cout, Cin, kh, kw), zero-insertion factors (sh, sw), conv pad
    (top, left, bottom, right)) of a ConvTranspose2d weight (Cin, Cout, kh, kw)."""
    w = np.asarray(weight)
    if w.ndim != 4:
        raise EdgecError(f"ConvTranspose weight must have rank 4, got shape {w.shape}")
    kh, kw = w.shape[2:]
    (sh, sw), (ph, pw), (oh, ow) = (tuple(int(v) for v in a) for a in (stride, padding, output_padding))
    for k, s, p, o, axis in ((kh, sh, ph, oh, "H"), (kw, sw, pw, ow, "W")):
        if s < 1:
            raise EdgecError(f"ConvTranspose stride along {axis} must be at least 1, got {s}")
        if not 0 <= p <= k - 1:
            raise EdgecError(f"ConvTranspose padding {p} along {axis} must be in [0, kernel - 1 = {k - 1}]")
        if not 0 <= o < s:
            raise EdgecError(f"ConvTranspose output_padding {o} along {axis} must be in [0, stride - 1 = {s - 1}]")
    conv_w = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    pad = (kh - 1 - ph, kw - 1 - pw, kh - 1 - ph + oh, kw - 1 - pw + ow)
    return conv_w, (sh, sw), pad


def zero_insert(x: np.ndarray, factors, zero=0) -> np.ndarray:
    """x (..., H, W) with factors[0] - 1 rows and factors[1] - 1 columns of ``zero``
    between neighbouring pixels: (..., (H - 1)·sh + 1, (W - 1)·sw + 1)."""
    sh, sw = factors
    h, w = x.shape[-2:]
    out = np.full(x.shape[:-2] + ((h - 1) * sh + 1, (w - 1) * sw + 1), zero, dtype=x.dtype)
    out[..., ::sh, ::sw] = x
    return out
