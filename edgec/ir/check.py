"""The IR checker: structure, shapes and types; with values, that every tensor fits its
type (run after every pass in the tests)."""
from __future__ import annotations

import numpy as np

from .graph import Graph
from .ops import CONTRACTS, Op
from .types import Bipolar


class IRCheckError(AssertionError):
    pass


def check(g: Graph, values: dict[str, np.ndarray] | None = None) -> None:
    seen = set()
    if g.nodes[0].op != Op.INPUT:
        raise IRCheckError("first node must be Input")
    for n in g.nodes:
        if n.name in seen:
            raise IRCheckError(f"duplicate node name {n.name}")
        for i in n.inputs:
            if i not in seen:
                raise IRCheckError(f"{n.name}: input {i} not defined before use")
        c = CONTRACTS.get(n.op)
        if c is None:
            raise IRCheckError(f"{n.name}: op {n.op} has no contract in ir/ops.py")
        if len(n.inputs) != c.inputs:
            raise IRCheckError(f"{n.name}: {n.op.value} takes {c.inputs} inputs, has {len(n.inputs)}")
        missing = [f"attr '{k}'" for k in c.attrs if k not in n.attrs] + [f"param '{k}'" for k in c.params
                                                                         if k not in n.params]
        if missing:
            raise IRCheckError(f"{n.name}: {n.op.value} needs {', '.join(missing)}")
        if n.op in (Op.MATMUL, Op.XNOR_POPCOUNT):
            w = n.params["weight"]
            if w.shape[0] != n.shape[-1]:
                raise IRCheckError(f"{n.name}: weight rows {w.shape[0]} != output channels {n.shape[-1]}")
            k_in = g.node(n.inputs[0]).shape[-1]
            groups = n.attrs.get("groups", 1)
            if (w.shape[1] * groups if groups != 1 else w.shape[1]) != k_in:
                raise IRCheckError(f"{n.name}: weight columns {w.shape[1]} do not match input {k_in}")
            if not np.issubdtype(w.dtype, np.integer):
                raise IRCheckError(f"{n.name}: weights must be integer codes")
        if n.op == Op.WINOGRAD:
            u = n.params["weight"]
            m = n.attrs.get("tile")
            c_in = g.node(n.inputs[0]).shape[-1]
            if (m not in (2, 4) or u.shape != ((m + 2) ** 2, n.shape[-1], c_in)
                    or not np.issubdtype(u.dtype, np.integer)):
                raise IRCheckError(f"{n.name}: Winograd tile {m} needs integer weights "
                                   f"((m+2)^2, {n.shape[-1]}, {c_in}), has {u.shape} {u.dtype}")
        if n.op == Op.MUL:
            a, b = (tuple(g.node(i).shape) for i in n.inputs)
            if a != tuple(n.shape) or b not in (a, (1,) * (len(a) - 1) + (a[-1],)):
                raise IRCheckError(f"{n.name}: Mul of {a} and {b}: the second must have the first's shape or be "
                                   "(1, 1, C)")
            if any(isinstance(g.node(i).type, Bipolar) for i in n.inputs):
                raise IRCheckError(f"{n.name}: Mul of a bipolar tensor")
        if n.op == Op.MULTI_THRESHOLD:
            t = n.params["thresholds"]
            if t.shape[0] != n.shape[-1] or (np.diff(t, axis=1) < 0).any():
                raise IRCheckError(f"{n.name}: thresholds must be (C, N) ascending per row")
            st = n.params.get("steps")
            if st is not None and (st.shape != t.shape or not np.isin(st, (-1, 1)).all()):
                raise IRCheckError(f"{n.name}: steps must be +-1, one per threshold")
            if n.attrs.get("form", "lookup") != "lookup":
                raise IRCheckError(f"{n.name}: form must be 'lookup' when given, not {n.attrs['form']!r}")
        if n.op == Op.REQUANT:
            _check_requant(g, n)
        seen.add(n.name)
    if g.output not in seen:
        raise IRCheckError(f"output {g.output} not defined")
    if values is None:
        return
    for n in g.nodes:
        v = values[n.name]
        if tuple(v.shape[1:]) != tuple(n.shape):
            raise IRCheckError(f"{n.name}: value shape {v.shape[1:]} != declared {n.shape}")
        if isinstance(n.type, Bipolar):
            ok = np.isin(v, (-1, 1)).all()
        else:
            ok = v.size == 0 or (v.min() >= n.type.lo and v.max() <= n.type.hi)
        if not ok:
            raise IRCheckError(f"{n.name}: values [{v.min()}, {v.max()}] do not fit {n.type}")


def _check_requant(g, n) -> None:
    from .requant import MAX_SHIFT, MULT_BITS

    p, c = n.params, n.shape[-1]
    if any(np.shape(p[k]) != (c,) or not np.issubdtype(np.asarray(p[k]).dtype, np.integer)
           for k in ("mult", "bias", "shift")):
        raise IRCheckError(f"{n.name}: Requant needs integer mult, bias and shift of shape ({c},)")
    if np.abs(p["mult"]).max(initial=0) >= 2 ** (MULT_BITS - 1):
        raise IRCheckError(f"{n.name}: Requant multipliers must fit {MULT_BITS} signed bits")
    if p["shift"].min(initial=0) < 0 or p["shift"].max(initial=0) > MAX_SHIFT:
        raise IRCheckError(f"{n.name}: Requant shifts must lie in [0, {MAX_SHIFT}]")
    t = g.node(n.inputs[0]).type
    if isinstance(t, Bipolar) or max(abs(t.lo), abs(t.hi)) * 2 ** (MULT_BITS - 1) + np.abs(p["bias"]).max(initial=0) \
            >= 2**62:
        raise IRCheckError(f"{n.name}: Requant input {t} times its multiplier does not fit 62 bits")
