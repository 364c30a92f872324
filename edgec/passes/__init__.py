"""Graph -> Graph passes, each a pure function in its own file, run in this order.

Decisions that need the cost model (whether a layer goes Winograd, whether a sparse
stream pays) are handed in as a LoweringPolicy (edgec/cost/lowering.py: POLICY): no
pass imports cost/."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

from .acc_widths import infer_acc_widths
from .choose_kernels import choose_kernels
from .fold_requant import fold_requant
from .fold_signs import fold_signs
from .fold_thresholds import fold_thresholds
from .lookup import lookup
from .nhwc_flatten import nhwc_flatten
from .sparse import sparse
from .winograd import winograd
from .xnor_popcount import xnor_popcount


@dataclass(frozen=True)
class LoweringPolicy:
    """winograd_tile(g, node): the tile (2 or 4) for a layer whose mode is "auto", or None
    to stay direct; sparse_pays(g, node): whether an "auto" layer gets a sparse stream;
    lookup_pays(g, node): whether a MultiThreshold is held as a lookup table."""
    winograd_tile: Callable
    sparse_pays: Callable
    lookup_pays: Callable


# (name, pass, takes the policy)
PASSES = [
    ("infer_acc_widths", infer_acc_widths, False),
    ("fold_requant", fold_requant, False),
    ("fold_thresholds", fold_thresholds, False),
    ("fold_signs", fold_signs, False),
    ("winograd", winograd, True),
    ("xnor_popcount", xnor_popcount, False),
    ("nhwc_flatten", nhwc_flatten, False),
    ("infer_acc_widths", infer_acc_widths, False),
    ("choose_kernels", choose_kernels, False),
    ("sparse", sparse, True),
    ("lookup", lookup, True),
]
PASS_NAMES = [name for name, _, _ in PASSES]


def pipeline(policy: LoweringPolicy) -> list[tuple[str, Callable]]:
    """The passes in order, each a function of the graph alone (the policy bound in)."""
    return [(name, functools.partial(fn, policy=policy) if takes else fn) for name, fn, takes in PASSES]


def run_pipeline(g, policy: LoweringPolicy, on_pass=None):
    """Run every pass; ``on_pass(index, name, graph)`` sees the graph after each."""
    for i, (name, fn) in enumerate(pipeline(policy)):
        g = fn(g)
        if on_pass is not None:
            on_pass(i + 1, name, g)
    return g


__all__ = ["LoweringPolicy", "PASSES", "PASS_NAMES", "pipeline", "run_pipeline"]
