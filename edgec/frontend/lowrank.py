"""Low-rank factorisation of the float graph, before quantization (``--lowrank``).

Linear (O x I): truncated SVD, W ~ (U_r S_r^1/2)(S_r^1/2 V_r^T): a linear I -> r, then
r -> O with the bias. Convolution (O, I, kh, kw), groups 1:
  tucker     Tucker-2 (HOSVD of the output and input modes): a 1x1 reduce I -> r_i, a
             kh x kw core r_i -> r_o with the original stride and padding, a 1x1 expand
             r_o -> O with the bias;
  separable  the SVD of W as a (I*kh, O*kw) matrix: a kh x 1 conv I -> r (vertical
             stride and padding), then a 1 x kw conv r -> O (horizontal ones, bias).
Ranks: ``energy`` e keeps the fewest singular values whose squares hold the share e of
the total (per mode); ``speedup`` s takes the largest rank whose MACs are at most 1/s of
the layer's. A layer whose factorisation would not save MACs stays as it is; the last
factor keeps the layer's name, so BatchNorm/ReLU and the report's names follow it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import EdgecError
from ..options import LOWRANK_CONV
from .fgraph import FGraph, FNode, infer_shapes

METHODS = LOWRANK_CONV


@dataclass
class LowRank:
    energy: float | None = None
    speedup: float | None = None
    conv: str = "tucker"

    @staticmethod
    def parse(spec: str, conv: str = "tucker") -> "LowRank":
        """'0.9' (energy share) or '2x' (MAC speed-up per layer)."""
        s = str(spec).strip().lower()
        try:
            if s.endswith("x"):
                v = float(s[:-1])
                if v > 1:
                    return LowRank(speedup=v, conv=_method(conv))
            else:
                v = float(s)
                if 0 < v <= 1:
                    return LowRank(energy=v, conv=_method(conv))
        except ValueError:
            pass
        raise EdgecError(f"--lowrank {spec!r}: give an energy share in (0, 1], e.g. 0.95, "
                         "or a speed-up above 1, e.g. 2x")


def _method(m: str) -> str:
    if m not in METHODS:
        raise EdgecError(f"--lowrank-conv {m!r}: choose one of {', '.join(METHODS)}")
    return m


def _energy_rank(s: np.ndarray, e: float) -> int:
    c = np.cumsum(s**2)
    return int(np.searchsorted(c, e * c[-1] - 1e-12 * c[-1]) + 1)


def _speedup_rank(macs_of, full: int, s: float, rmax: int) -> int:
    r = 1
    for k in range(1, rmax + 1):
        if macs_of(k) * s <= full:
            r = k
    return r


def factorize(g: FGraph, spec: LowRank) -> tuple[FGraph, list[dict]]:
    """(the factorised graph, one row per factorised layer: layer, method, rank,
    params and MACs before and after)."""
    nodes: list[FNode] = []
    rows = []
    for n in g.nodes:
        new, row = None, None
        if n.op == "linear":
            new, row = _linear(n, g, spec)
        elif n.op == "conv" and n.attrs.get("groups", 1) == 1:
            new, row = (_tucker if spec.conv == "tucker" else _separable)(n, g, spec)
        if row is not None and row["macs_after"] < row["macs_before"]:
            nodes += new
            rows.append(row)
        else:
            nodes.append(n)
    return infer_shapes(FGraph(nodes, g.output, g.head)), rows


def _row(n, method, rank, params_before, macs_before, params_after, macs_after):
    return {"layer": n.name, "method": method, "rank": rank, "params_before": int(params_before),
            "params_after": int(params_after), "macs_before": int(macs_before), "macs_after": int(macs_after)}


def _linear(n: FNode, g: FGraph, spec: LowRank):
    w = n.params["weight"]
    o, i = w.shape
    u, s, vt = np.linalg.svd(w, full_matrices=False)
    r = (_energy_rank(s, spec.energy) if spec.energy
         else _speedup_rank(lambda k: k * (i + o), o * i, spec.speedup, len(s)))
    a = np.sqrt(s[:r])
    first = FNode(f"{n.name}_lr", "linear", list(n.inputs), {}, {"weight": a[:, None] * vt[:r], "bias": np.zeros(r)})
    second = FNode(n.name, "linear", [first.name], {}, {"weight": u[:, :r] * a, "bias": n.params["bias"]},
                   n.source_op)
    return [first, second], _row(n, "svd", r, o * i, o * i, r * (i + o), r * (i + o))


def _conv_macs(cin, cout, kh, kw, oh, ow):
    return cin * cout * kh * kw * oh * ow


def _tucker(n: FNode, g: FGraph, spec: LowRank):
    w = n.params["weight"]
    o, i, kh, kw = w.shape
    _, h, wd = g.node(n.inputs[0]).shape
    _, oh, ow = n.shape
    uo, so, _ = np.linalg.svd(w.reshape(o, -1), full_matrices=False)
    ui, si, _ = np.linalg.svd(w.transpose(1, 0, 2, 3).reshape(i, -1), full_matrices=False)
    macs = lambda ri, ro: h * wd * i * ri + _conv_macs(ri, ro, kh, kw, oh, ow) + oh * ow * ro * o  # noqa: E731
    full = _conv_macs(i, o, kh, kw, oh, ow)
    if spec.energy:
        ri, ro = _energy_rank(si, spec.energy), _energy_rank(so, spec.energy)
    else:
        r = _speedup_rank(lambda k: macs(min(k, len(si)), min(k, len(so))), full, spec.speedup, max(len(si), len(so)))
        ri, ro = min(r, len(si)), min(r, len(so))
    uo, ui = uo[:, :ro], ui[:, :ri]
    core = np.einsum("oiyx,or,is->rsyx", w, uo, ui)
    one = {"stride": (1, 1), "pad": (0, 0, 0, 0), "groups": 1}
    reduce = FNode(f"{n.name}_reduce", "conv", list(n.inputs), dict(one), {"weight": ui.T[:, :, None, None].copy(),
                                                                           "bias": np.zeros(ri)})
    mid = FNode(f"{n.name}_core", "conv", [reduce.name], {**n.attrs, "groups": 1},
                {"weight": core, "bias": np.zeros(ro)})
    expand = FNode(n.name, "conv", [mid.name], dict(one), {"weight": uo[:, :, None, None].copy(),
                                                           "bias": n.params["bias"]}, n.source_op)
    params = i * ri + ri * ro * kh * kw + ro * o
    return [reduce, mid, expand], _row(n, "tucker2", [ri, ro], w.size, full, params, macs(ri, ro))


def _separable(n: FNode, g: FGraph, spec: LowRank):
    w = n.params["weight"]
    o, i, kh, kw = w.shape
    _, h, wd = g.node(n.inputs[0]).shape
    _, oh, ow = n.shape
    (sh, sw), (pt, pl, pb, pr) = n.attrs["stride"], n.attrs["pad"]
    h1 = (h + pt + pb - kh) // sh + 1
    u, s, vt = np.linalg.svd(w.transpose(1, 2, 0, 3).reshape(i * kh, o * kw), full_matrices=False)
    macs = lambda k: h1 * wd * i * k * kh + oh * ow * k * o * kw  # noqa: E731
    full = _conv_macs(i, o, kh, kw, oh, ow)
    r = _energy_rank(s, spec.energy) if spec.energy else _speedup_rank(macs, full, spec.speedup, len(s))
    a = np.sqrt(s[:r])
    vert = (u[:, :r] * a).reshape(i, kh, r).transpose(2, 0, 1)[:, :, :, None]  # (r, I, kh, 1)
    horz = (a[:, None] * vt[:r]).reshape(r, o, kw).transpose(1, 0, 2)[:, :, None, :]  # (O, r, 1, kw)
    first = FNode(f"{n.name}_v", "conv", list(n.inputs), {"stride": (sh, 1), "pad": (pt, 0, pb, 0), "groups": 1},
                  {"weight": vert.copy(), "bias": np.zeros(r)})
    second = FNode(n.name, "conv", [first.name], {"stride": (1, sw), "pad": (0, pl, 0, pr), "groups": 1},
                   {"weight": horz.copy(), "bias": n.params["bias"]}, n.source_op)
    return [first, second], _row(n, "separable", r, w.size, full, r * (i * kh + o * kw), macs(r))
