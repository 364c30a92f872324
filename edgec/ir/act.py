"""Elementwise activations f between an accumulator and its quantizer: one definition each.

An ``AffineQuant`` node may carry ``attrs.act`` (a kind below) with ``params.act_args``
(C, k) float64: its output is ``quant(f(acc * a + c0))``. f is evaluated in float64 by
PyTorch's own functions (``F.gelu``, ``F.silu``, ...), so the fake-quant reference, the
threshold folding (passes/fold_thresholds.py) and the import of ONNX/QONNX models all
compute the very same numbers. ONNX ops whose formula differs from PyTorch's (HardSigmoid
with alpha/beta, Softplus without a threshold) are kinds of their own.

``SHAPES``: "up" for a non-decreasing f, "valley" for an f that falls, then rises (its
quantized form needs thresholds with signed steps); a kind whose shape depends on its
arguments (a negative LeakyReLU/PReLU/ELU slope) says so through ``shape(kind, args)``.
"""
from __future__ import annotations

import numpy as np

from ..errors import EdgecError


def _torch():
    import torch
    import torch.nn.functional as F

    return torch, F


def _clip(z, p):
    torch, _ = _torch()
    return torch.clamp(z, min=p[0], max=p[1])


def _leaky(z, p):
    torch, _ = _torch()
    return torch.where(z > 0, z, z * p[0])


def _elu(z, p):
    _, F = _torch()
    return F.elu(z, alpha=_one(p[0]))


def _hardsigmoid_ab(z, p):
    torch, _ = _torch()
    return torch.clamp(z * p[0] + p[1], min=0.0, max=1.0)


def _softplus(z, p):
    torch, F = _torch()
    beta, threshold = _one(p[0]), _one(p[1])
    if np.isinf(threshold):  # ONNX Softplus: log(exp(z) + 1), no linear region
        return torch.log(torch.exp(z) + 1.0)
    return F.softplus(z, beta=beta, threshold=threshold)


def _one(v) -> float:
    """A scalar argument (the same for every channel: check() holds it)."""
    return float(v.reshape(-1)[0])


def _f(name):
    def fn(z, p):
        torch, F = _torch()
        return {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "selu": F.selu, "silu": F.silu, "mish": F.mish,
                "hardswish": F.hardswish, "hardsigmoid": F.hardsigmoid, "gelu": F.gelu,
                "gelu_tanh": lambda v: F.gelu(v, approximate="tanh")}[name](z)
    return fn


# kind -> (f(z, args) on float64 tensors, number of args, shape, argmin of a valley)
ACTS = {
    "clip": (_clip, 2, "up", None),  # Hardtanh, ReLU6, Clip: args (lo, hi)
    "leaky_relu": (_leaky, 1, "up", 0.0),  # LeakyReLU, PReLU (per channel): args (slope,)
    "elu": (_elu, 1, "up", 0.0),  # args (alpha,)
    "selu": (_f("selu"), 0, "up", None),
    "sigmoid": (_f("sigmoid"), 0, "up", None),
    "tanh": (_f("tanh"), 0, "up", None),
    "hardsigmoid": (_f("hardsigmoid"), 0, "up", None),  # PyTorch: relu6(z + 3) / 6
    "hardsigmoid_ab": (_hardsigmoid_ab, 2, "up", None),  # ONNX HardSigmoid: clip(alpha z + beta, 0, 1)
    "softplus": (_softplus, 2, "up", None),  # args (beta, threshold); ONNX Softplus: (1, inf)
    "hardswish": (_f("hardswish"), 0, "valley", -1.5),
    "silu": (_f("silu"), 0, "valley", -1.2784645427610738),
    "gelu": (_f("gelu"), 0, "valley", -0.7517915246935645),
    "gelu_tanh": (_f("gelu_tanh"), 0, "valley", -0.7522),
    "mish": (_f("mish"), 0, "valley", -1.1924),
}
KINDS = tuple(ACTS)


def check(kind: str, args: np.ndarray, where: str = "") -> None:
    if kind not in ACTS:
        raise EdgecError(f"{where}unknown activation {kind!r}; edgec has {', '.join(KINDS)}")
    n = ACTS[kind][1]
    if np.asarray(args).ndim != 2 or np.asarray(args).shape[1] != n:
        raise EdgecError(f"{where}activation {kind} takes {n} argument(s) per channel, got shape "
                         f"{np.asarray(args).shape}")
    args = np.asarray(args, np.float64)
    finite = {"clip": 0, "softplus": 1}.get(kind, n)  # clip bounds and the softplus threshold may be infinite
    if np.isnan(args).any() or not np.isfinite(args[:, :finite]).all():
        raise EdgecError(f"{where}activation {kind}: its arguments must be finite numbers")
    if kind != "leaky_relu" and n and np.any(args != args[:1]):
        raise EdgecError(f"{where}activation {kind}: one value per argument for all channels (only the "
                         "LeakyReLU/PReLU slope may vary per channel)")
    if kind == "clip" and np.any(args[:, 0] > args[:, 1]):
        raise EdgecError(f"{where}clip bounds {args[0].tolist()}: the lower bound is above the upper one")
    if kind == "softplus" and np.any(args[:, 0] <= 0):
        raise EdgecError(f"{where}softplus beta must be above 0")


def shape(kind: str, args: np.ndarray) -> str:
    """'up' when f never falls, else 'valley' (falls before its argmin, rises after)."""
    s = ACTS[kind][2]
    if kind in ("leaky_relu", "elu") and np.any(np.asarray(args)[:, 0] < 0):
        return "valley"
    return s


def apply_torch(kind: str, z, args):
    """f(z) on a float64 tensor z (..., C) or (N, C, ...) given ``args`` shaped to broadcast."""
    torch, _ = _torch()
    p = [torch.as_tensor(a, dtype=z.dtype) if not isinstance(a, torch.Tensor) else a for a in args]
    return ACTS[kind][0](z, p)


def apply(kind: str, z: np.ndarray, args: np.ndarray) -> np.ndarray:
    """f(z) in float64 for z (..., C) channels last and ``args`` (C, k)."""
    torch, _ = _torch()
    args = np.asarray(args, np.float64)
    zt = torch.as_tensor(np.asarray(z, np.float64))
    return apply_torch(kind, zt, [torch.as_tensor(args[:, j]) for j in range(args.shape[1])]).numpy()
