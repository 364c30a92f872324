"""The integer requantizer's parameters: one rule, used by the fake-quant reference
(frontend/qmodel.py) and the lowering (passes/fold_requant.py) alike.

A quantizer ``q = clip(floor(z / scale + 0.5), lo, hi)`` after an accumulator,
``z = acc * a[c] + c0[c]``, is ``clip(floor(acc * r + t), lo, hi)`` with r = a / scale and
t = c0 / scale + 1/2. ``Requant`` (ir/ops.py) computes it in integers, as integer-only
inference does (gemmlowp, TFLite): ``clip((acc * M[c] + B[c]) >> S[c], lo, hi)`` with

- M = round(r * 2^S), a signed multiplier of at most ``MULT_BITS`` bits (one DSP48E1
  input) and S the largest shift that keeps it there (at most ``MAX_SHIFT``);
- B = floor(t * 2^S + 1/2): the bias and the rounding half up in one integer.

M / 2^S differs from r by at most 2^-(S+1) (``scale_error`` reports it per channel), so a
layer quantized this way is no longer the float quantizer: the reference computes this same
integer rule (docs/numerics.md), and simulator = reference stays exact. The rule itself is
``ir/ref.py: requant``.

An activation folds into the clip bounds where it is a clip of z (ReLU is already the
lower bound of an unsigned code; ReLU6, Hardtanh, Clip: ``act`` "clip"), since the
quantizer is non-decreasing: q(clip(z, l, h)) = clip(q(z), q(l), q(h)).

``multiple``: M is made a multiple of it. A 3x3 stride-1 convolution gets 9, so that its
F(4x4, 3x3) Winograd form (whose accumulator is 576 = 9 * 2^6 times the direct one) takes
M / 9 and S + 6 exactly (passes/winograd.py).
"""
from __future__ import annotations

import numpy as np

MULT_BITS = 18  # signed: |M| <= 2^17 - 1
MAX_SHIFT = 40
ACTS = (None, "clip")  # the activations Requant folds (others keep thresholds)


def foldable(act) -> bool:
    return act in ACTS


def params(a, c0, scale, lo: int, hi: int, act=None, act_args=None, multiple: int = 1,
           mult_bits: int = MULT_BITS) -> dict | None:
    """{'mult', 'bias', 'shift' (C,) int64, 'lo', 'hi', 'scale_error' (C,) float64} of the
    quantizer, or None when it has no such form (an activation other than a clip, a ratio
    a / scale too large for the multiplier)."""
    if not foldable(act):
        return None
    a, c0 = np.asarray(a, np.float64), np.asarray(c0, np.float64)
    scale = np.broadcast_to(np.asarray(scale, np.float64), a.shape)
    r, t = a / scale, c0 / scale + 0.5
    mmax = 2 ** (mult_bits - 1) - 1
    mult, bias, shift = (np.zeros(len(a), np.int64) for _ in range(3))
    for c in range(len(a)):
        if r[c] == 0:
            s = 0
        else:
            # the largest s <= MAX_SHIFT with |round(r * 2^s / multiple)| * multiple <= mmax
            s = int(np.floor(np.log2(mmax / abs(r[c]))))
            s = min(s, MAX_SHIFT)
            while s >= 0 and abs(_mult(r[c], s, multiple)) > mmax:
                s -= 1
            if s < 0:
                return None
        m = _mult(r[c], s, multiple)
        b = np.floor(np.ldexp(t[c], s) + 0.5)
        if not np.isfinite(b) or abs(b) >= 2.0**55:  # room for the Winograd factor's 2^6
            return None
        mult[c], bias[c], shift[c] = m, int(b), s
    lo_, hi_ = int(lo), int(hi)
    if act == "clip":  # q(clip(z, l, h)) = clip(q(z), q(l), q(h)) for a non-decreasing q
        if np.any(scale != scale.flat[0]):
            return None  # a clip bound has one code only under one scale
        low, h = np.asarray(act_args, np.float64)[0]
        if np.isfinite(low):
            lo_ = max(lo_, int(np.clip(np.floor(low / scale.flat[0] + 0.5), lo, hi)))
        if np.isfinite(h):
            hi_ = min(hi_, int(np.clip(np.floor(h / scale.flat[0] + 0.5), lo, hi)))
    err = np.abs(np.ldexp(mult.astype(np.float64), -shift) - r) / np.where(r == 0, 1.0, np.abs(r))
    return {"mult": mult, "bias": bias, "shift": shift, "lo": lo_, "hi": hi_, "scale_error": np.where(r == 0, 0.0, err)}


def _mult(r: float, s: int, multiple: int) -> int:
    return int(np.floor(np.ldexp(r, s) / multiple + 0.5)) * multiple
