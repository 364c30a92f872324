"""Graph -> typed render context -> templates/sim/model.py.j2 (+ kernels.py, kernels_torch.py, weights.npz)."""
from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..version import __version__
from ..errors import EdgecError
from ..ir.graph import Graph, save_npz
from ..ir.ops import Op
from ..ir import winograd as wino
from ..ir.ranges import value_ranges, winograd_ranges
from ..ir.types import Bipolar, IntType
from .render import render

# the simulator's step for each op, a kernel of sim/kernels.py (templates/sim/model.py.j2)
# and one of sim/kernels_torch.py (KERNELS, the fast path); None: no step (the input is the
# codes given; AffineQuant is folded away before emission). tests/test_tables.py holds the
# table against Op and kernels_torch.KERNELS against the table.
KINDS = {
    Op.INPUT: None, Op.AFFINE_QUANT: None,
    Op.SLIDING_WINDOW: "window", Op.MATMUL: "matmul", Op.XNOR_POPCOUNT: "xnor",
    Op.MULTI_THRESHOLD: "threshold", Op.REQUANT: "requant", Op.MAX_POOL: "maxpool", Op.AVG_POOL: "avgpool",
    Op.ADD: "add", Op.FLATTEN: "flatten", Op.WINOGRAD: "winograd", Op.CONCAT: "concat",
    Op.MUL: "mul", Op.UPSAMPLE: "upsample", Op.PAD: "pad", Op.SLICE: "slice",
}


@dataclass
class SimStep:
    kind: str
    name: str
    var: str
    src: list[str]
    type: str
    lo: int
    hi: int
    kernel: tuple = ()
    stride: tuple = ()
    pad: tuple = ()
    pad_value: int = 0
    groups: int = 1
    bound: int = 0
    out_lo: int = 0
    bipolar: bool = False
    steps: bool = False  # a MultiThreshold with signed steps
    order: str = ""
    fill: str = ""  # an Upsample's fill: nearest or zero (then pad_value is the zero code)
    # the torch fast path (kernels_torch.py): the dtype holding the step's values exactly
    # (f32 below 2^24, f64 below 2^53, else i64) from its proven bound; the proven max
    # |value| of its inputs (ir/ranges.py); a SlidingWindow its one consumer fuses into a conv (``fused``), and
    # on that consumer the window step (``conv``)
    tdt: str = "i64"
    in_bound: int = 0
    fused: bool = False
    conv: "SimStep | None" = None


@dataclass
class SimContext:
    name: str
    version: str
    input_shape: list[int]
    output_shape: list[int]
    input_quant: dict
    input_layout: str  # chw or hwc: how the model's 3-D input is laid out
    output_layout: str
    head: list  # kernels.head steps
    out_var: str
    batch: int
    input_name: str
    steps: list[SimStep] = field(default_factory=list)
    input_tdt: str = "f32"  # the fast path's dtype of the input codes
    per_sample: int = 1  # working_bytes: the bytes one input holds while its batch runs


def tdt(bound: int) -> str:
    """The fast path's dtype of integers of magnitude up to ``bound`` (kernels_torch.dtype_for)."""
    return "f32" if bound < 2**24 else "f64" if bound < 2**53 else "i64"


SIM_MEMORY = 1 << 30  # bytes the simulator's tensors (int64) may hold at once, about


def batch_size(g: Graph) -> int:
    """Inputs per simulator batch: 256, fewer when every tensor of a batch (the simulator
    keeps them all while it runs one) would hold more than SIM_MEMORY bytes."""
    per_vector = 8 * sum(math.prod(n.shape) for n in g.nodes)
    return max(1, min(256, SIM_MEMORY // max(per_vector, 1)))


def working_bytes(g: Graph) -> int:
    """Bytes one input holds while the simulator runs its batch, about: every tensor of the
    network as int64 (forward keeps them all until the batch ends), twice the largest one
    (a kernel's temporaries: a window cast for its GEMM, a torch copy back to numpy) and the
    float64 steps of the input quantizer. The generated run sizes its batches from it
    (model.py: batch_for)."""
    sizes = [math.prod(n.shape) for n in g.nodes]
    return 8 * (sum(sizes) + 2 * max(sizes, default=0) + 3 * math.prod(g.input.shape))


def context(g: Graph, name: str) -> SimContext:
    ranges = value_ranges(g)
    var = {g.input.name: "t0"}
    steps = []
    for i, n in enumerate(g.nodes[1:], start=1):
        var[n.name] = f"t{i}"
        a = n.attrs
        lo, hi = ranges[n.name]
        if KINDS.get(n.op) is None:
            raise EdgecError(f"node '{n.name}': op {n.op} has no simulator kernel (backend/sim.py: KINDS)")
        s = SimStep(KINDS[n.op], n.name, var[n.name], [var[x] for x in n.inputs], str(n.type),
                    int(n.type.lo), int(n.type.hi))
        if n.op in (Op.SLIDING_WINDOW, Op.MAX_POOL):
            s.kernel, s.stride, s.pad, s.pad_value = (tuple(a["kernel"]), tuple(a["stride"]), tuple(a["pad"]),
                                                      int(a["pad_value"]))
        elif n.op == Op.AVG_POOL:
            s.kernel, s.stride = tuple(a["kernel"]), tuple(a["stride"])
        elif n.op == Op.MATMUL:
            s.groups, s.bound = int(a.get("groups", 1)), int(max(abs(lo.min()), abs(hi.max())))
        elif n.op == Op.WINOGRAD:
            r = winograd_ranges(n, *ranges[n.inputs[0]])
            s.pad, s.pad_value = tuple(a["pad"]), int(a["pad_value"])
            s.bound = int(max(max(abs(int(v[0].min())), abs(int(v[1].max()))) for v in r.values()))
        elif n.op == Op.MULTI_THRESHOLD:
            s.out_lo, s.bipolar, s.steps = int(a["out_lo"]), bool(a["bipolar"]), "steps" in n.params
        elif n.op == Op.REQUANT:
            s.out_lo, s.kernel = int(a["lo"]), (int(a["hi"]),)
            xb = max(abs(int(ranges[n.inputs[0]][0].min())), abs(int(ranges[n.inputs[0]][1].max())))
            s.bound = xb * int(np.abs(n.params["mult"]).max()) + int(np.abs(n.params["bias"]).max())
        elif n.op == Op.FLATTEN:
            s.order = a["order"]
        elif n.op == Op.UPSAMPLE:
            s.kernel, s.fill, s.pad_value = tuple(a["factor"]), a.get("fill", "nearest"), int(a.get("value", 0))
        elif n.op == Op.ADD and any(a.get("shift", (0, 0))):
            s.kernel = tuple(a["shift"])
        elif n.op == Op.PAD:
            s.pad, s.pad_value = tuple(a["pad"]), int(a["value"])
        elif n.op == Op.SLICE:
            s.kernel = (int(a["lo"]), int(a["hi"]))
        held = max(abs(s.lo), abs(s.hi))
        s.tdt = tdt(min(held, s.bound) if n.op == Op.MATMUL else held)
        s.in_bound = max((max(abs(int(np.min(ranges[x][0]))), abs(int(np.max(ranges[x][1])))) for x in n.inputs),
                         default=0)
        steps.append(s)
    by_var = {s.var: s for s in steps}
    users = {}
    for s in steps:
        for x in s.src:
            users.setdefault(x, []).append(s)
    for s in steps:  # a SlidingWindow read by one MatMul/XnorPopcount only: one conv
        w = by_var.get(s.src[0]) if s.kind in ("matmul", "xnor") else None
        if w is not None and w.kind == "window" and len(users[w.var]) == 1 and w.var != var[g.output]:
            w.fused, s.conv = True, w
    return SimContext(name, __version__, list(g.meta["input_shape"]), list(g.meta["output_shape"]),
                      input_spec(g.meta["input_quant"]), *layouts(g), var[g.output], batch_size(g), g.input.name,
                      steps, tdt(max(abs(int(g.input.type.lo)), abs(int(g.input.type.hi)))), working_bytes(g))


def layouts(g: Graph) -> tuple[str, str, list]:
    """(input layout, output layout, head steps) of ``g``'s meta, with their defaults."""
    m = g.meta
    return m.get("input_layout", "chw"), m.get("output_layout", "chw"), [list(s) for s in m.get("head", [])]


def input_spec(iq: dict) -> dict:
    """The host input quantizer of ``graph.meta['input_quant']`` as kernels.quantize_input
    takes it: bits and signed give lo/hi unless the meta narrows them; without ``steps``
    it is edgec's own x / scale."""
    bipolar = bool(iq.get("bipolar", False))
    t = Bipolar() if bipolar else IntType(iq["bits"], iq["signed"])
    return {"steps": iq.get("steps", [["div", float(iq["scale"])]]), "float32": bool(iq.get("float32", False)),
            "rounding": iq.get("rounding", "half_up"), "bipolar": bipolar,
            "lo": int(iq.get("lo", t.lo)), "hi": int(iq.get("hi", t.hi))}


def emit(g: Graph, out: Path, name: str) -> None:
    """Write out/model.py, out/kernels.py and out/kernels_torch.py (verbatim copies) and
    out/weights.npz."""
    out.mkdir(parents=True, exist_ok=True)
    render("sim/model.py.j2", out / "model.py", ctx=context(g, name))
    for f in ("kernels.py", "kernels_torch.py"):
        shutil.copyfile(Path(__file__).resolve().parent.parent / "sim" / f, out / f)
    # keyed by the step's variable (t3/weight), not the node's name: names are the model's text
    arrays = {f"t{i}/{k}": v for i, n in enumerate(g.nodes) for k, v in n.params.items()
              if n.op in (Op.MATMUL, Op.XNOR_POPCOUNT, Op.MULTI_THRESHOLD, Op.WINOGRAD, Op.REQUANT)
              and k in ("weight", "thresholds", "sign", "steps", "mult", "bias", "shift")}
    for i, n in enumerate(g.nodes):
        if n.op == Op.WINOGRAD:
            arrays[f"t{i}/bt"], arrays[f"t{i}/at"] = wino.BT[n.attrs["tile"]], wino.AT[n.attrs["tile"]]
    aff = g.meta["output_affine"]
    arrays["output/a"] = np.asarray(aff["a"], np.float64)
    arrays["output/c0"] = np.asarray(aff["c0"], np.float64)
    save_npz(out / "weights.npz", arrays)


def load(sim_dir: Path):
    """Import a generated simulator as a module (used by `edgec sim` and the tests)."""
    import importlib.util
    import sys

    path = Path(sim_dir).resolve() / "model.py"
    mod_name = f"_edgec_sim_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = mod
    spec.loader.exec_module(mod)
    return mod
