"""The quantized network: the float graph cut into segments, with a quantizer on every
segment's output, a weight quantizer on every Conv/Linear, and calibrated scales.

A *segment* is a compute node (conv, linear or add), an optional BatchNorm and an
optional activation (ReLU, or an ``act`` node: ir/act.py). Its integer accumulator
``acc`` (conv/linear: sum of weight codes times input codes; add: the sum of the two
input codes, which share one scale) maps to the real pre-activation as
``z = acc * a[c] + c0[c]`` per output channel, and its output quantizer turns z (or
f(z), with an activation f) into codes. Pools and flatten act on codes. See
docs/numerics.md.
"""
from __future__ import annotations

from copy import copy
from dataclasses import dataclass, field

import numpy as np

from ..errors import EdgecError, node_error
from .fgraph import ACTIVATIONS, FGraph, FNode, unique_name

# concat: its inputs share one quantizer; pad: its constant is a code of its input's
PASS_THROUGH = ("maxpool", "avgpool", "gap", "flatten", "upsample", "concat", "pad", "slice")


def add_shifts(sa, sb):
    """The shifts (ka, kb) of an Add whose inputs have scales ``sa`` and ``sb`` (floats or
    per-channel arrays) a whole power of two apart — sum = (a << ka) + (b << kb) at the finer
    scale, which is returned too — or None when the ratio is not one power of two."""
    sa, sb = np.asarray(sa, np.float64), np.asarray(sb, np.float64)
    fine = np.minimum(sa, sb)
    ks = []
    for s in (sa, sb):
        r = s / fine
        k = np.rint(np.log2(r))
        if not (np.all(k == k.flat[0]) and np.all(np.ldexp(1.0, k.astype(int)) == r)):
            return None
        ks.append(int(k.flat[0]))
    return (ks[0], ks[1]), fine


def join_shifts(n, sa: float, sb: float) -> tuple[tuple[int, int], float]:
    """add_shifts of the Add ``n`` (an FNode), or an error naming it."""
    r = add_shifts(sa, sb)
    if r is None:
        raise node_error(n.name, n.source_op or n.op, f"adds tensors of scales {sa:g} and {sb:g}, not a power of "
                         "two apart; quantize both branches with one shared quantizer")
    return r[0], float(r[1])


@dataclass
class ActQuant:
    """Codes of a tensor: ``bipolar`` (values +-1, real = scale * code) or integer
    ``q = clip(floor(z / scale + 0.5), lo, hi)`` (round half up)."""

    bits: int
    signed: bool
    scale: float = 1.0

    @property
    def bipolar(self) -> bool:
        return self.bits == 1

    @property
    def lo(self) -> int:
        if self.bipolar:
            return -1
        return -(2 ** (self.bits - 1)) if self.signed else 0

    @property
    def hi(self) -> int:
        if self.bipolar:
            return 1
        return 2 ** (self.bits - 1) - 1 if self.signed else 2**self.bits - 1


@dataclass
class WeightQuant:
    """``bits`` 1 = binary (XNOR-Net: sign, scale mean|w| per channel), 0 = ternary
    (threshold 0.7 mean|w|), 2..8 = symmetric narrow range, scale max|w| / (2^(b-1)-1)."""

    bits: int

    @property
    def label(self) -> str:
        return {0: "ternary", 1: "binary"}.get(self.bits, f"int{self.bits}")


@dataclass
class Segment:
    compute: FNode
    bn: FNode | None
    act: FNode | None  # relu, or an act node
    wq: WeightQuant | None  # conv/linear only
    out: ActQuant | None  # None: the graph output, left as the accumulator
    mask: np.ndarray | None = None  # pruning: 1 where a weight is kept (conv/linear only)
    winograd: int | None = None  # a 3x3 conv quantized and pruned in the F(m x m, 3 x 3) domain: m
    requant: bool = False  # the output quantizer is the integer Requant (ir/requant.py), not the float one

    def requant_multiple(self) -> int:
        """M's factor (ir/requant.py): 9 for a dense 3x3 stride-1 conv (F(4x4, 3x3) may take it), else 1."""
        n = self.compute
        if (n.op == "conv" and not self.winograd and tuple(np.shape(n.params["weight"])[2:]) == (3, 3)
                and tuple(n.attrs.get("stride", ())) == (1, 1) and n.attrs.get("groups", 1) == 1):
            return 9
        return 1

    def requant_params(self, a, c0) -> dict | None:
        """The Requant parameters of this segment's quantizer for its a, c0 (float64 arrays)."""
        from ..ir import requant

        fn = self.fn
        return requant.params(a, c0, self.out.scale, self.out.lo, self.out.hi,
                              fn.attrs["kind"] if fn is not None else None,
                              np.asarray(fn.params["args"], np.float64) if fn is not None else None,
                              self.requant_multiple())

    @property
    def name(self) -> str:
        return self.compute.name

    @property
    def end(self) -> str:
        return (self.act or self.bn or self.compute).name

    @property
    def fn(self) -> FNode | None:
        """The activation f other than ReLU (an ``act`` node), or None."""
        return self.act if self.act is not None and self.act.op == "act" else None


@dataclass
class QNet:
    graph: FGraph
    input_quant: ActQuant
    segments: list[Segment]
    meta: dict = field(default_factory=dict)

    def segment_of(self, tensor: str) -> Segment | None:
        for s in self.segments:
            if s.end == tensor:
                return s
        return None

    def segment_by_compute(self, name: str) -> Segment:
        return next(s for s in self.segments if s.compute.name == name)

    def quant_of(self, tensor: str) -> ActQuant:
        """The quantizer whose codes a tensor holds (tracing back through pools/flatten)."""
        g = self.graph
        while True:
            if tensor == g.input.name:
                return self.input_quant
            seg = self.segment_of(tensor)
            if seg is not None:
                if seg.out is None:
                    raise EdgecError(f"tensor '{tensor}' is not quantized")
                return seg.out
            n = g.node(tensor)
            if n.op not in PASS_THROUGH:
                raise node_error(n.name, n.source_op or n.op, "its input is not a quantized tensor")
            tensor = n.inputs[0]


def pad_code(n: FNode, q: ActQuant) -> int:
    """The code of pad node ``n``'s constant under the quantizer ``q`` of its input: the
    constant must be exactly a code's value (0 always is)."""
    v = float(n.attrs.get("value", 0.0))
    k = v / q.scale
    code = int(round(k))
    ok = (code in (-1, 1)) if q.bipolar else q.lo <= code <= q.hi
    if not ok or abs(k - code) > 1e-9 * max(1.0, abs(k)) or (q.bipolar and v == 0):
        codes = "+-scale" if q.bipolar else f"integer multiples of the scale {q.scale:g} in [{q.lo}, {q.hi}]"
        raise node_error(n.name, n.source_op or n.op,
                         f"pads with {v:g}, which its input's quantizer cannot hold exactly (codes are {codes}); "
                         "pad with 0, or with a value the input's quantizer represents")
    return code


COMPUTE = ("conv", "linear", "add", "mul", "identity")  # ops a segment starts at (identity: attach_orphans)


def _chains(g: FGraph) -> tuple[list, set[str]]:
    """The (compute, bn, activation) segments and the names of the nodes they own."""
    owned: set[str] = set()
    segs = []
    for n in g.nodes:
        if n.op not in COMPUTE:
            continue
        chain = [n]
        bn = relu = None
        cur = n
        for want in (("bn",), ACTIVATIONS):
            cons = g.consumers(cur.name)
            if len(cons) == 1 and cons[0].op in want and cur.name != g.output:
                if want == ("bn",):
                    bn = cons[0]
                else:
                    relu = cons[0]
                cur = cons[0]
                chain.append(cur)
        owned.update(c.name for c in chain)
        segs.append((n, bn, relu))
    return segs, owned


def attach_orphans(g: FGraph) -> FGraph:
    """A copy of ``g`` in which every BatchNorm or activation that no Conv, Linear or Add
    owns (after a pool, a Concat, an Upsample, the input, or an activation whose input is
    also read elsewhere) gets an ``identity`` compute in front of it: a segment on the codes
    of its input, the affine map of the BatchNorm and the activation then its quantizer,
    which folds into a stand-alone threshold stage."""
    g = FGraph([copy(n) for n in g.nodes], g.output, list(g.head))
    taken = {n.name for n in g.nodes}
    while True:
        _, owned = _chains(g)
        orphan = next((n for n in g.nodes if n.op in ("bn", *ACTIVATIONS) and n.name not in owned), None)
        if orphan is None:
            return g
        ident = FNode(unique_name(f"{orphan.name}_in", taken), "identity", [orphan.inputs[0]],
                      source_op=orphan.source_op)
        ident.shape = g.node(orphan.inputs[0]).shape
        orphan.inputs = [ident.name] + list(orphan.inputs[1:])
        g.nodes.insert(g.nodes.index(orphan), ident)


def find_segments(g: FGraph) -> list[tuple[FNode, FNode | None, FNode | None]]:
    """Cut the float graph into (compute, bn, activation) segments; raise on ops outside one
    (attach_orphans gives every BatchNorm and activation a segment first)."""
    segs, owned = _chains(g)
    for n in g.nodes:
        if n.op in ("bn", *ACTIVATIONS) and n.name not in owned:
            raise node_error(
                n.name, n.source_op or n.op,
                "must directly follow a Conv, Linear or Add (optionally Conv -> BatchNorm -> activation), "
                "and an activation must be the only user of its input; move it next to the layer it belongs to",
            )
    return segs
