"""Transposed convolution as zero insertion + an ordinary convolution (issue 17, item 2).

A ConvTranspose with stride s, kernel k, padding p and output padding op (dilation 1)
equals, exactly and per spatial axis:

1. insert s - 1 zeros between neighbouring input pixels ((H - 1)·s + 1 pixels);
2. pad k - 1 - p zeros before and k - 1 - p + op after;
3. an ordinary stride-1 convolution with the kernel flipped in both spatial axes and
   its in/out channels swapped: W'[co, ci, i, j] = W[ci, co, k-1-i, k-1-j].

The output has (H - 1)·s - 2p + k + op pixels, as PyTorch and ONNX define it. So the
integer IR needs only a zero-filling stage before the existing SlidingWindow + MatMul
(quantizers, thresholds, cost rules unchanged); the inserted zeros are the code of real
0 (the zero point). The importers (PyTorch, ONNX, QONNX) lower a ConvTranspose by
``lowered``: an ``upsample`` with fill "zero" to (H·s, W·s) — s - 1 trailing zero rows and
columns more than step 1 — then the convolution with s - 1 less padding at the bottom
and right (tests/frontend/test_convtranspose.py, tests/test_convtranspose_e2e.py).

A grouped ConvTranspose (groups g > 1, PyTorch and float ONNX) is first made the group-1
one it equals (``ungrouped``): its weight (Cin, Cout/g, kh, kw) set into a block-diagonal
(Cin, Cout, kh, kw), zero where an input channel and an output channel are in different
groups. Exact (a zero weight is the code 0 at any scale), at the price of g times the
multiplications of the grouped form.
"""

from __future__ import annotations

import numpy as np

from edgec.errors import EdgecError, node_error


def ungrouped(weight: np.ndarray, groups: int, cin: int | None = None) -> np.ndarray:
    """The group-1 ConvTranspose weight (Cin, Cout, ...) of a grouped one (Cin, Cout/groups,
    ...): block diagonal, input channels i·Cin/g.. (i+1)·Cin/g - 1 feeding output channels
    i·Cout/g.. (i+1)·Cout/g - 1 only. ``cin``: the input's channels, checked."""
    w, g = np.asarray(weight), int(groups)
    if g < 1 or w.shape[0] % g or (cin is not None and w.shape[0] != cin):
        raise EdgecError(f"a ConvTranspose weight {w.shape} with groups={g} does not take "
                         f"{w.shape[0] if cin is None else cin} input channels (Cin must be a multiple of groups)")
    if g == 1:
        return w
    ci, co = w.shape[0] // g, w.shape[1]
    out = np.zeros((w.shape[0], co * g, *w.shape[2:]), dtype=w.dtype)
    for i in range(g):
        out[i * ci:(i + 1) * ci, i * co:(i + 1) * co] = w[i * ci:(i + 1) * ci]
    return out


def as_conv(weight: np.ndarray, stride, padding, output_padding):
    """(conv weight (Cout, Cin, kh, kw), zero-insertion factors (sh, sw), conv pad
    (top, left, bottom, right)) of a ConvTranspose2d weight (Cin, Cout, kh, kw); padding
    (ph, pw), or (top, left, bottom, right) as ONNX's pads may differ per side."""
    w = np.asarray(weight)
    if w.ndim != 4:
        raise EdgecError(f"ConvTranspose weight must have rank 4, got shape {w.shape}")
    kh, kw = w.shape[2:]
    (sh, sw), (oh, ow) = (tuple(int(v) for v in a) for a in (stride, output_padding))
    pads = tuple(int(v) for v in padding)
    pt, pl, pb, pr = pads * 2 if len(pads) == 2 else pads
    for k, s, ps, o, axis in ((kh, sh, (pt, pb), oh, "H"), (kw, sw, (pl, pr), ow, "W")):
        if s < 1:
            raise EdgecError(f"ConvTranspose stride along {axis} must be at least 1, got {s}")
        for p in ps:
            if not 0 <= p <= k - 1:
                raise EdgecError(f"ConvTranspose padding {p} along {axis} must be in [0, kernel - 1 = {k - 1}]")
        if not 0 <= o < s:
            raise EdgecError(f"ConvTranspose output_padding {o} along {axis} must be in [0, stride - 1 = {s - 1}]")
    conv_w = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    pad = (kh - 1 - pt, kw - 1 - pl, kh - 1 - pb + oh, kw - 1 - pr + ow)
    return conv_w, (sh, sw), pad


def lowered(node: str, op: str, weight: np.ndarray, stride, padding, output_padding):
    """A ConvTranspose as edgec lowers it: (conv weight, factors (sh, sw), conv pad) for an
    ``upsample`` of fill "zero" to (H·sh, W·sw) followed by a stride-1 convolution. The
    upsample leaves s - 1 zero rows (columns) after the last input pixel that the rewrite
    has not, so the convolution pads s - 1 less at the bottom (right); an error naming the
    node where that would be negative."""
    try:
        conv_w, (sh, sw), (pt, pl, pb, pr) = as_conv(weight, stride, padding, output_padding)
    except EdgecError as e:
        raise node_error(node, op, str(e)) from None
    for end, s, axis, what in ((pb, sh, "H", "bottom"), (pr, sw, "W", "right")):
        if end < s - 1:
            raise node_error(node, op, f"kernel {tuple(conv_w.shape[2:])}, stride {tuple(stride)}, padding "
                             f"{tuple(padding)} and output_padding {tuple(output_padding)}: along {axis} the zero "
                             f"insertion leaves {s - 1} trailing zero rows but the equivalent convolution pads only "
                             f"{end} at the {what} (kernel - 1 - padding + output_padding must be at least stride - 1)")
    return conv_w, (sh, sw), (pt, pl, pb - (sh - 1), pr - (sw - 1))


def unlowered(kernel, factors, pad):
    """The inverse of ``lowered`` (the QONNX export): ONNX ConvTranspose (pads (top, left,
    bottom, right), output_padding (oh, ow)) of a zero-fill upsample by ``factors`` and a
    stride-1 convolution of ``kernel`` (kh, kw) and ``pad``; its weight is
    ``transposed_weight`` of the convolution's."""
    (pt, pl, pb, pr), ends = pad, []
    for k, s, end in ((kernel[0], factors[0], pb + factors[0] - 1), (kernel[1], factors[1], pr + factors[1] - 1)):
        o = max(0, end - (k - 1))  # the smallest output padding that keeps the end's padding >= 0
        ends.append((k - 1 - end + o, o))
    return (kernel[0] - 1 - pt, kernel[1] - 1 - pl, ends[0][0], ends[1][0]), (ends[0][1], ends[1][1])


def transposed_weight(conv_weight: np.ndarray) -> np.ndarray:
    """A ConvTranspose weight (Cin, Cout, kh, kw) of the flipped conv weight (Cout, Cin, kh, kw)."""
    return np.ascontiguousarray(np.asarray(conv_weight).transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])


def zero_insert(x: np.ndarray, factors, zero=0) -> np.ndarray:
    """x (..., H, W) with factors[0] - 1 rows and factors[1] - 1 columns of ``zero``
    between neighbouring pixels: (..., (H - 1)·sh + 1, (W - 1)·sw + 1)."""
    sh, sw = factors
    h, w = x.shape[-2:]
    out = np.full(x.shape[:-2] + ((h - 1) * sh + 1, (w - 1) * sw + 1), zero, dtype=x.dtype)
    out[..., ::sh, ::sw] = x
    return out
