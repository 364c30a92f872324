"""Folding search: PE/SIMD per unit so that the slowest stage meets the target frame rate
within the board's budget (cost/hw.py).

Greedy, as the dataflow's rate is set by its slowest stage: start fully folded (every
PE = SIMD = 1), then repeatedly widen the unit that owns the slowest stage — SIMD first,
then PE, each to its next divisor — and keep the step if the design still fits. Stops at
the target, or when the slowest stage cannot be widened within the budget.
"""
from __future__ import annotations

from ..dataflow import Plan, min_folding, plan, units
from ..errors import EdgecError
from .hw import BUDGET, PLATFORM, Estimate, estimate


def _owner(p: Plan, st) -> str:
    """The unit whose folding sets a stage's speed (a converter: its narrower side)."""
    if st.kind == "dwc":
        narrow = min((st.ins[0], st.outs[0]), key=lambda s: s.per_word)
        for other in p.stages:
            if other is not st and narrow in (*other.ins, *other.outs):
                return other.unit
    return st.unit


def _widen(p: Plan, st, opts: dict, f: dict) -> dict | None:
    """The unit's next folding that speeds up stage ``st``: a window generator only gets
    faster with its consumer's input width (an MVAU's SIMD, a pool's PE)."""
    keys = ("simd", "pe")
    if st.kind == "swg":
        keys = ("simd",) if p.stage(st.unit).kind in ("mvau", "smvau") else ("pe",)
    elif st.kind in ("wino_in", "wino_out"):
        keys = ("simd",) if st.kind == "wino_in" else ("pe",)
    for key in keys:
        bigger = [v for v in opts[key] if v > f[key]]
        if bigger:
            return {**f, key: bigger[0]}
    return None


def no_fit_message(est: Estimate, board, fully_folded: bool = True) -> str:
    """What does not fit ``board`` (a design's estimate), by how much, and what to change."""
    res = est.over[0]
    big = max(est.stages, key=lambda sr: getattr(sr[1], res))
    need = getattr(est.total, res)
    cap = board.capacity[res]
    hint = {"BRAM36": "fewer weight bits (--wbits), pruning, or a larger board",
            "DSP": "fewer weight or activation bits so that multipliers go to LUTs (--wbits/--abits 4 or less)",
            "LUT": "fewer weight or activation bits, or a larger board",
            "FF": "fewer activation bits, or a larger board"}[res]
    how = "even fully folded (PE = SIMD = 1)" if fully_folded else "at this folding"
    return (f"the model does not fit {board.name} {how}: it needs {need:,.0f} {res}, "
            f"more than {BUDGET:.0%} of the board's {cap:,} ({need / (BUDGET * cap):.1f}x the budget); the DMA "
            f"platform takes {PLATFORM[res]:,.0f} and the largest stage is '{big[0].name}' ({big[0].kind}, "
            f"{getattr(big[1], res):,.0f} {res}); try {hint}")


def check_fixed(g, fixed: dict) -> dict:
    """Validate a user's folding {unit: {pe, simd}} against the graph's units."""
    opts = units(g)
    out = {}
    for u, v in fixed.items():
        if u not in opts:
            foldable = [k for k, o in opts.items() if len(o["pe"]) > 1 or len(o["simd"]) > 1]
            raise EdgecError(f"folding names '{u}', which is not a foldable unit of this model; its units: "
                             + ", ".join(foldable))
        if not isinstance(v, dict) or set(v) - {"pe", "simd"}:
            raise EdgecError(f"folding of '{u}': give {{pe: N, simd: M}}, got {v!r}")
        out[u] = {"pe": 1, "simd": 1}
        for key in ("pe", "simd"):
            val = v.get(key, 1)
            if val not in opts[u][key]:
                raise EdgecError(f"folding of '{u}': {key} {val!r} must divide the layer; choose one of "
                                 + ", ".join(map(str, opts[u][key])))
            out[u][key] = val
    return out


def fold(g, board, target_fps: float | None = None, mode: str = "auto",
         fixed: dict | None = None) -> tuple[dict, Plan, Estimate]:
    """(folding, plan, estimate). mode 'min': everything fully folded; 'auto': search.
    ``fixed``: {unit: {pe, simd}} the user chose (e.g. a FINN folding): those units keep
    it, the others are widened only until a fixed unit is the bottleneck, and the design
    is reported even where it does not fit. A model that does not fit even fully folded
    is returned fully folded (est.fits False; no_fit_message says why): its simulator and
    report are still of use."""
    f = {**min_folding(g), **check_fixed(g, fixed or {})}
    p = plan(g, f)
    est = estimate(p, board)
    if mode == "min" or not est.fits and not fixed:
        return f, p, est
    opts = units(g)
    frozen: set[str] = set(fixed or {})
    while target_fps is None or est.fps < target_fps:
        u = _owner(p, est.bottleneck)
        nxt = None if u in frozen else _widen(p, est.bottleneck, opts[u], f[u])
        if nxt is None:
            break
        f2 = {**f, u: nxt}
        p2 = plan(g, f2)
        e2 = estimate(p2, board)
        if not e2.fits:
            frozen.add(u)
            continue
        f, p, est = f2, p2, e2
    if target_fps is not None and est.fps < target_fps:
        b = est.bottleneck
        raise EdgecError(
            f"--target-fps {target_fps:g} is out of reach on {board.name}: the best folding that fits runs at "
            f"{est.fps:,.0f} fps, limited by stage '{b.name}' ({b.kind}, {b.cycles:,} cycles per frame at "
            f"{board.clock_mhz:g} MHz); lower --target-fps, use fewer bits, or a larger board")
    return f, p, est
