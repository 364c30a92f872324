"""The dataflow architecture of a graph (docs/design.md §5): IR graph + folding -> hardware
stages joined by streams. The cost model estimates these stages, the HLS backend renders
them, and the RTL backend renders the same ones.

Stage kinds (one hw/hls kernel each):
  axis_in, axis_out  the AXI4-Stream ports
  dwc                data-width converter between a producer's PE and a consumer's SIMD
  dup                fork of a stream read by two stages (residual and skip branches)
  swg                sliding-window generator (line buffer) of a conv or pool
  mvau               matrix-vector-activation unit (MatMul / XnorPopcount + thresholds)
  window             reduction over a window: max pool, avg pool, depthwise conv
  add, threshold     elementwise
  concat             two streams joined along channels, per pixel C1/PE words of the
                     first, then C2/PE words of the second (a U-Net's skip connection)
  upsample           upsampling by whole factors: nearest over a one-row line buffer,
                     or zero insertion (a transposed convolution's; no buffer)
  slice              the channels [lo, hi) of a stream: every word read, the words of
                     channels lo/PE .. hi/PE - 1 of each pixel written (a split or chunk)
  pad                a constant border of rows and columns around a map streamed row by
                     row (a Pad that does not fold into the window of its consumer)
  smvau              sparse mvau: walks a compressed stream of the non-zero weights
                     (attrs.sparse); cycles per vector max(load words, weight steps)
  wino_in, wino_out  Winograd input transform (per tile) and output transform (per row
                     of tiles, back to raster order); between them an mvau with one
                     weight set per tile position (attrs.sets)

``cycles`` of a stage is the trip count of its pipelined (II = 1) loop per frame; the
kernels in hw/hls count the same iterations in C simulation.

``NEED`` of a stage is how much of its input it reads before it has written a given share
of its output; where two branches meet (add, concat), ``join_holds`` composes them from
the fork and gives the branch that runs ahead a FIFO deep enough for the difference, so
that a fork never waits on a full FIFO of one branch while the join waits on the other.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from .errors import EdgecError
from .ir import winograd as W
from .ir.graph import Graph, Node
from .ir.ops import Op
from .ir.types import Bipolar, IntType, int_type_for, window_type


@dataclass
class Stream:
    name: str
    type: IntType | Bipolar
    per_word: int  # elements per word
    elems: int  # elements per frame
    hold: int = 0  # words its FIFO must hold: a join's other branch catching up (join_holds), a burst (swg_holds)

    @property
    def width(self) -> int:
        return self.per_word * self.type.bits

    @property
    def words(self) -> int:
        return self.elems // self.per_word

    @property
    def depth(self) -> int:
        """Its FIFO's depth in words (fifo_depth)."""
        return fifo_depth(self.words, self.hold)


class StageKind(StrEnum):
    """The hardware stage kinds. Each backend, the cost model and the report keep one table
    keyed by this enum (tests/test_tables.py holds them against it). FIFO is the kind of
    the buffer on every internal stream (Stream: dataflow.fifo_depth words)."""
    AXIS_IN = "axis_in"
    AXIS_OUT = "axis_out"
    DWC = "dwc"
    DUP = "dup"
    SWG = "swg"
    MVAU = "mvau"
    SMVAU = "smvau"
    WINDOW = "window"
    ADD = "add"
    MUL = "mul"
    CONCAT = "concat"
    UPSAMPLE = "upsample"
    SLICE = "slice"
    PAD = "pad"
    THRESHOLD = "threshold"
    WINO_IN = "wino_in"
    WINO_OUT = "wino_out"
    FIFO = "fifo"


Type = IntType | Bipolar


@dataclass(frozen=True, eq=False)
class Act:
    """A multi-threshold activation as the hardware holds it: out = out_lo + #{i : s*x >=
    table[c][i]} (bipolar: +1 when that count is 1), s = sign[c]; table (C, nt) after
    threshold_table (a sentinel column when the layer has no thresholds), cb its
    comparison width. With signed steps (MultiThreshold ``steps``), steps (C, nt) of +-1
    after step_table: out = out_lo + sum_i steps[c][i] * [s*x >= table[c][i]]; None
    when every step is +1 by definition (no ``steps`` param)."""
    table: np.ndarray
    sign: np.ndarray
    cb: int
    out_lo: int
    bipolar: bool
    steps: np.ndarray | None = None

    @property
    def nt(self) -> int:
        return int(self.table.shape[1])


@dataclass(frozen=True, eq=False)
class RqAct:
    """A requantizer activation (Op.REQUANT) as the hardware holds it: out = clip((x *
    mult[c] + bias[c]) >> shift[c], lo, hi) per channel c, the shift arithmetic. The
    hardware shifts by smin (the least shift: wiring), then by shift[c] - smin (shb bits,
    a multiplexer of that many levels). Widths of two's-complement values: xw of the input
    (an unsigned input gets a bit more), mb of the multipliers, bb of the biases. Built by
    requant_act."""
    mult: np.ndarray
    bias: np.ndarray
    shift: np.ndarray
    lo: int
    hi: int
    xw: int
    mb: int
    bb: int
    shb: int
    smin: int

    @property
    def c(self) -> int:
        return len(self.mult)


@dataclass(frozen=True, eq=False)
class LutAct:
    """A MultiThreshold of attrs.form "lookup" as the hardware holds it: out = table[c][x -
    xlo] for every value x of its ib-bit input type (2^ib entries a channel), the codes
    ir/ref.multi_threshold gives there (bipolar: +-1). The lookup is the same function as
    the thresholds, held as a ROM instead of comparators. Built by lookup_act."""
    table: np.ndarray  # (C, 2^ib) int64
    xlo: int
    ib: int
    signed: bool
    bipolar: bool

    @property
    def c(self) -> int:
        return int(self.table.shape[0])


@dataclass(frozen=True)
class AxisP:
    beat_bits: int  # AXI4-Stream beat width (a power-of-two number of bytes)
    words: int  # per frame


@dataclass(frozen=True)
class DwcP:
    in_e: int
    out_e: int
    bits: int
    elems: int  # per frame


@dataclass(frozen=True)
class DupP:
    words: int  # per frame


@dataclass(frozen=True)
class SwgP:
    ih: int
    iw: int
    c: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pad: tuple[int, int, int, int]  # top, left, bottom, right
    pad_value: int
    out_hw: tuple[int, int]
    simd: int
    it: Type
    ot: Type


@dataclass(frozen=True, eq=False)
class MvauP:
    """A dense matrix unit; ``weight`` (SETS*MH, MW) is the matrix it multiplies by (a
    Winograd unit: one (MH, MW) set per tile position)."""
    mw: int
    mh: int
    pe: int
    simd: int
    vectors: int  # per frame
    sets: int
    kernel_kind: str
    xt: Type
    wt: Type
    acc: Type
    ot: Type
    weight: np.ndarray
    act: Act | RqAct | None


@dataclass(frozen=True, eq=False)
class SmvauP:
    """A sparse matrix unit: the non-zeros of ``weight`` (SETS*MH, MW), ``steps`` words per
    group of PE rows (sparse_steps), IN_E input elements per word."""
    mw: int
    mh: int
    pe: int
    simd: int
    in_e: int
    vectors: int
    sets: int
    kernel_kind: str
    xt: Type
    wt: Type
    acc: Type
    ot: Type
    weight: np.ndarray
    steps: tuple[int, ...]
    act: Act | None


@dataclass(frozen=True, eq=False)
class WindowP:
    """A reduction over the window: max, avg or depthwise (``weight`` (C, K), ``wt``)."""
    op: str
    k: int
    c: int
    pe: int
    pixels: int  # per frame
    it: Type
    ot: Type
    acc: Type
    lowest: int = 0  # max: the input's lowest code
    wt: Type | None = None
    weight: np.ndarray | None = None
    act: Act | None = None


@dataclass(frozen=True)
class AddP:
    pe: int
    at: Type
    bt: Type
    ot: Type
    words: int
    shift: tuple = (0, 0)  # out = (a << sa) + (b << sb)


@dataclass(frozen=True)
class MulP:
    """out = a * b on PE lanes: a holds ``pixels`` pixels of C channels per frame; b the
    same (``gate`` False) or C values per frame (``gate``: read first and held, then
    multiplied into every pixel of a)."""
    c: int
    pe: int
    pixels: int
    gate: bool
    at: Type
    bt: Type
    ot: Type


@dataclass(frozen=True)
class ConcatP:
    """Per pixel C1/PE words of the first input (type at), then C2/PE words of the
    second (bt), each element widened to ot."""
    c1: int
    c2: int
    pe: int
    pixels: int  # per frame
    at: Type
    bt: Type
    ot: Type


@dataclass(frozen=True)
class UpsampleP:
    """(H, W, C) -> (H*FH, W*FW, C), PE channels per word, elements of type t; fill
    "nearest" or "zero" (the code ``value`` between the input pixels)."""
    h: int
    w: int
    c: int
    factor: tuple[int, int]
    pe: int
    t: Type
    fill: str = "nearest"
    value: int = 0


@dataclass(frozen=True)
class SliceP:
    """(PIXELS, C) -> (PIXELS, HI - LO): channels [lo, hi) of each pixel, PE channels per
    word (PE divides C, lo and hi), elements of type t."""
    c: int
    lo: int
    hi: int
    pe: int
    pixels: int  # per frame
    t: Type


@dataclass(frozen=True)
class PadP:
    """(H, W, C) of type it -> (H + top + bottom, W + left + right, C) of type ot, the border
    holding the code ``value``; PE channels per word."""
    h: int
    w: int
    c: int
    pad: tuple[int, int, int, int]  # top, left, bottom, right
    value: int
    pe: int
    it: Type
    ot: Type


@dataclass(frozen=True, eq=False)
class ThresholdP:
    """A stand-alone activation of a (vectors, C) stream: a multi-threshold (Act), a
    requantizer (RqAct) or a lookup table (LutAct)."""
    c: int
    pe: int
    vectors: int
    it: Type
    ot: Type
    act: Act | RqAct | LutAct


@dataclass(frozen=True)
class WinoInP:
    m: int
    c: int
    simd: int
    it: Type
    vt: Type
    tiles: int  # per frame


@dataclass(frozen=True)
class WinoOutP:
    m: int
    mh: int
    pe: int
    oh: int
    ow: int
    th: int
    tw: int
    mt: Type
    yt: Type


@dataclass
class Stage:
    id: int
    kind: StageKind
    name: str
    unit: str  # the folding unit this stage belongs to (an IR node name)
    layer: str  # the user's layer name, for the report
    ins: list[Stream]
    outs: list[Stream]
    cycles: int
    p: object  # the kind's parameter record (AxisP, MvauP, ...)
    node: Node | None = None  # the compute node (mvau/window/add/threshold)


@dataclass
class Plan:
    stages: list[Stage]
    in_stream: Stream  # the AXI4-Stream input (before axis_in)
    out_stream: Stream
    streams: list[Stream]

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)


MAX_FIFO = 512
MAX_SPARSE_SIMD = 64


def index_bits(mw: int) -> int:
    """Bits of an input index in a sparse unit's weight stream."""
    return max(1, (mw - 1).bit_length())


def sparse_steps(weight: np.ndarray, pe: int, simd: int) -> np.ndarray:
    """Weight words of each group of PE rows of a sparse unit's stream: its densest row's
    non-zeros, SIMD per word, at least one word (backend/words.py: sparse_stream)."""
    nnz = (np.asarray(weight) != 0).sum(axis=1).reshape(-1, pe).max(axis=1)
    return np.maximum(1, -(-nnz // simd))


def threshold_table(thr: np.ndarray, acc_bits: int) -> tuple[np.ndarray, int]:
    """(thresholds, comparison bits) as the hardware holds them: wide enough for the
    thresholds and for +-acc (|acc| < 2^acc_bits); a channel row without thresholds gets
    one sentinel above every value, which keeps its count at 0."""
    c, nt = thr.shape
    lim = 2 ** acc_bits
    hi = max(int(thr.max()) if nt else 0, lim)
    cb = int_type_for(min(int(thr.min()) if nt else 0, -lim), hi).bits
    if nt == 0:
        thr = np.full((c, 1), hi, np.int64)
    return thr, cb


def step_table(steps: np.ndarray | None, table: np.ndarray) -> np.ndarray | None:
    """The signed steps (C, N) as the hardware holds them beside ``table`` (threshold_table):
    int64 +-1, and a +1 under the sentinel column of a layer without thresholds (never
    reached, so the count stays 0); None without steps."""
    if steps is None:
        return None
    steps = np.asarray(steps, np.int64)
    if steps.shape[1] == 0:
        steps = np.ones(table.shape, np.int64)
    if steps.shape != table.shape or not np.isin(steps, (-1, 1)).all():
        raise EdgecError(f"signed steps {steps.shape} must be +-1, one per threshold of {table.shape}")
    return steps


def activation(thr_node: Node | None, acc_bits: int) -> Act | None:
    """The fused or stand-alone MultiThreshold ``thr_node`` over values of ``acc_bits``."""
    if thr_node is None:
        return None
    table, cb = threshold_table(thr_node.params["thresholds"], acc_bits)
    return Act(table, thr_node.params["sign"], cb, int(thr_node.attrs["out_lo"]), bool(thr_node.attrs["bipolar"]),
               step_table(thr_node.params.get("steps"), table))


def requant_act(node: Node, in_type: Type) -> RqAct:
    """The Requant ``node`` over values of ``in_type``: its parameters and the widths the
    hardware computes them at."""
    if isinstance(in_type, Bipolar):
        raise EdgecError(f"node '{node.name}': Requant of a bipolar input has no hardware form")
    p = node.params
    mult, bias, shift = (np.asarray(p[k], np.int64) for k in ("mult", "bias", "shift"))
    xlo, xhi = int(in_type.lo), int(in_type.hi)
    smin = int(shift.min()) if shift.size else 0
    return RqAct(mult, bias, shift, int(node.attrs["lo"]), int(node.attrs["hi"]), int_type_for(min(xlo, -1), xhi).bits,
                 int_type_for(min(int(mult.min(initial=0)), -1), int(mult.max(initial=0))).bits,
                 int_type_for(min(int(bias.min(initial=0)), -1), int(bias.max(initial=0))).bits,
                 max(1, (int(shift.max(initial=0)) - smin).bit_length()), smin)


LOOKUP_MAX_BITS = 12  # a lookup activation's input: at most this many bits (4,096 entries a channel)


def lookup_act(node: Node, in_type: Type) -> LutAct:
    """The MultiThreshold ``node`` (attrs.form "lookup") over every value of ``in_type`` as a
    table of its output codes, evaluated by the op's own definition (ir/ref.py)."""
    from .ir.ref import multi_threshold

    if isinstance(in_type, Bipolar) or in_type.bits > LOOKUP_MAX_BITS:
        raise EdgecError(f"node '{node.name}': a lookup activation needs an integer input of at most "
                         f"{LOOKUP_MAX_BITS} bits, not {in_type}")
    p = node.params
    c = len(p["sign"])
    x = np.repeat(np.arange(int(in_type.lo), int(in_type.hi) + 1, dtype=np.int64)[:, None], c, axis=1)
    codes = multi_threshold(x, p["thresholds"], p["sign"], int(node.attrs["out_lo"]), bool(node.attrs["bipolar"]),
                            p.get("steps"))
    return LutAct(np.ascontiguousarray(codes.T), int(in_type.lo), int(in_type.bits), bool(in_type.signed),
                  bool(node.attrs["bipolar"]))


def node_activation(node: Node | None, in_type: Type) -> Act | RqAct | LutAct | None:
    """The activation of a fused or stand-alone MultiThreshold or Requant ``node``."""
    if node is None:
        return None
    if node.op == Op.REQUANT:
        return requant_act(node, in_type)
    if node.attrs.get("form") == "lookup":
        return lookup_act(node, in_type)
    return activation(node, in_type.bits)


def load_width(base: int, mw: int, cp: list[int]) -> int:
    """Input elements per word of a sparse unit: the narrowest divisor of ``base`` (the
    channels its window generator streams, or MW) that loads a vector (MW elements) in no
    more cycles than the fastest weight set's steps, so loading never sets the pace."""
    for d in divisors(base):
        if mw // d <= min(cp):
            return d
    return base


def fifo_depth(words: int, hold: int = 0) -> int:
    """FIFO depth of a stream carrying ``words`` words per frame: a whole frame, up to
    MAX_FIFO words (a power of two), and at least ``hold`` words (a branch into a join:
    join_holds; beyond MAX_FIFO a multiple of it, not the next power of two, which could
    double a large buffer). The window generators alternate reading and writing; with
    shallow FIFOs each stage's pauses would stall its neighbours and the pipeline would
    run slower than its slowest stage."""
    if hold > MAX_FIFO:
        return -(-hold // MAX_FIFO) * MAX_FIFO
    d = 2
    while d < max(min(words, MAX_FIFO), hold):
        d *= 2
    return d


def beat_bits(bits: int) -> int:
    """AXI4-Stream beat width for a word: a power-of-two number of bytes (AXI DMA widths)."""
    b = 8
    while b < bits:
        b *= 2
    return b


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _resolve(g: Graph, t: str) -> str:
    """Flatten in 'hwc' order does not move data in a stream: look through it."""
    while g.node(t).op == Op.FLATTEN:
        n = g.node(t)
        if n.attrs["order"] != "hwc":
            raise EdgecError(f"node '{n.name}': Flatten in '{n.attrs['order']}' order reaches the hardware backend; "
                             "the nhwc_flatten pass should have made it 'hwc'")
        t = n.inputs[0]
    return t


def units(g: Graph) -> dict[str, dict]:
    """The foldable units of the graph: name -> {'pe': options, 'simd': options}."""
    out = {"input": {"pe": divisors(g.input.shape[-1]), "simd": [1]}}
    for n in g.nodes:
        if n.attrs.get("sparse"):  # SIMD: non-zeros per lane and cycle, up to the densest row
            w = n.params["weight"]
            most = int((w != 0).sum(axis=-1).max())
            out[n.name] = {"pe": divisors(n.shape[-1]), "simd": list(range(1, min(max(most, 1), MAX_SPARSE_SIMD) + 1))}
        elif n.op == Op.WINOGRAD:
            out[n.name] = {"pe": divisors(n.shape[-1]), "simd": divisors(g.node(n.inputs[0]).shape[-1])}
        elif n.op in (Op.MATMUL, Op.XNOR_POPCOUNT) and n.attrs.get("groups", 1) == 1:
            src = g.node(n.inputs[0])
            mw = n.params["weight"].shape[1]
            simd = divisors(src.shape[-1] // (src.attrs["kernel"][0] * src.attrs["kernel"][1])) \
                if src.op == Op.SLIDING_WINDOW else divisors(mw)
            out[n.name] = {"pe": divisors(n.shape[-1]), "simd": simd}
        elif n.op in (Op.MATMUL, Op.MAX_POOL, Op.AVG_POOL, Op.ADD, Op.MUL, Op.UPSAMPLE) or \
                (n.op in ACTIVATIONS and not _fused(g, n)):
            out[n.name] = {"pe": divisors(n.shape[-1]), "simd": [1]}
        elif n.op == Op.CONCAT:  # PE divides both inputs' channels
            c1 = g.node(n.inputs[0]).shape[-1]
            out[n.name] = {"pe": divisors(int(np.gcd(c1, n.shape[-1] - c1))), "simd": [1]}
        elif n.op == Op.SLICE:  # PE divides the input's channels and both ends of the range
            c = g.node(n.inputs[0]).shape[-1]
            out[n.name] = {"pe": divisors(int(np.gcd.reduce([c, n.attrs["lo"], n.attrs["hi"]]))), "simd": [1]}
        elif n.op == Op.PAD:
            out[n.name] = {"pe": divisors(n.shape[-1]), "simd": [1]}
    out["output"] = {"pe": divisors(g.node(g.output).shape[-1]), "simd": [1]}
    return out


ACTIVATIONS = (Op.MULTI_THRESHOLD, Op.REQUANT)  # the ops a matrix unit can take as its activation


def _fused(g: Graph, act: Node) -> bool:
    """A MultiThreshold or Requant fused into the matrix unit that feeds it (its only
    consumer). A Requant fuses into a dense mvau only (edgec_mvau's RQ form); after a
    sparse or depthwise unit it is a stand-alone stage. A lookup (MultiThreshold of
    attrs.form "lookup") is always a stand-alone stage."""
    if act.op not in ACTIVATIONS or act.attrs.get("form") == "lookup":
        return False
    src = g.node(act.inputs[0])
    if src.op not in (Op.MATMUL, Op.XNOR_POPCOUNT) or len(g.consumers(src.name)) != 1:
        return False
    return act.op == Op.MULTI_THRESHOLD or (not src.attrs.get("sparse") and src.attrs.get("groups", 1) == 1)


def min_folding(g: Graph) -> dict[str, dict]:
    return {u: {"pe": 1, "simd": 1} for u in units(g)}


def _weight_type(n: Node):
    w = n.params["weight"]
    if n.attrs.get("kernel_kind") in ("xnor-popcount", "binary-addsub"):
        return Bipolar()
    t = int_type_for(min(int(w.min()), -1), w.max())  # signed, even when no weight is negative
    return IntType(max(t.bits, 2), True)


# --- cycles per frame: the trip count of each kind's pipelined (II = 1) loop, the one
# definition the planner, the cost model and the tests use (the kernels in hw/hls count the
# same iterations in C simulation, the RTL runs them in co-simulation)

def mvau_cycles(vectors: int, mh: int, mw: int, pe: int, simd: int) -> int:
    return vectors * (mh // pe) * (mw // simd)


def smvau_cycles(vectors: int, sets: int, mw: int, in_e: int, steps) -> int:
    """Per vector max(MW / IN_E load cycles, the words of its weight set): ``steps`` holds
    the words of each group of PE rows, set after set."""
    per_set = np.asarray(steps, np.int64).reshape(sets, -1).sum(axis=1)
    return int(vectors // sets * int(np.maximum(mw // in_e, per_set).sum()))


def swg_cycles(ih: int, iw: int, c: int, kernel, out_hw, simd: int) -> int:
    """One read per input word and one write per window word."""
    return ih * iw * (c // simd) + out_hw[0] * out_hw[1] * kernel[0] * kernel[1] * (c // simd)


def window_cycles(pixels: int, k: int, c: int, pe: int) -> int:
    return pixels * k * c // pe


def wino_in_cycles(m: int, c: int, simd: int, tiles: int) -> int:
    return tiles * 2 * (m + 2) ** 2 * (c // simd)


def wino_out_cycles(m: int, mh: int, pe: int, oh: int, ow: int, th: int, tw: int) -> int:
    return th * tw * (m + 2) ** 2 * (mh // pe) + oh * ow * (mh // pe)


def dwc_cycles(in_e: int, out_e: int, elems: int) -> int:
    return max(elems // in_e, elems // out_e)


def concat_cycles(c1: int, c2: int, pe: int, pixels: int) -> int:
    return pixels * (c1 + c2) // pe


def upsample_cycles(h: int, w: int, c: int, factor, pe: int) -> int:
    """One write per output word; the input words are read while the first copy of
    their pixel is written."""
    return max(h * w * c // pe, h * factor[0] * w * factor[1] * c // pe)


def slice_cycles(c: int, pe: int, pixels: int) -> int:
    """One read per input word (the words outside the range are dropped)."""
    return pixels * c // pe


def pad_cycles(h: int, w: int, c: int, pad, pe: int) -> int:
    """One write per output word; the input words are read as they are written. The RTL's
    wait for a frame's first input word (pad_need) adds no cycle while the input keeps up:
    the next frame's first word is offered as the last border word leaves
    (tests/test_padsplit.py: test_pad_rtl_cycles_and_first_word_wait)."""
    return (h + pad[0] + pad[2]) * (w + pad[1] + pad[3]) * c // pe


def _fifo_cycles(p) -> int:
    raise AssertionError("FIFOs belong to streams: they add no stage")


# per stage kind, its cycles from its record (tests/test_tables.py: every kind has one)
CYCLES = {
    StageKind.AXIS_IN: lambda p: p.words, StageKind.AXIS_OUT: lambda p: p.words,
    StageKind.DWC: lambda p: dwc_cycles(p.in_e, p.out_e, p.elems), StageKind.DUP: lambda p: p.words,
    StageKind.SWG: lambda p: swg_cycles(p.ih, p.iw, p.c, p.kernel, p.out_hw, p.simd),
    StageKind.MVAU: lambda p: mvau_cycles(p.vectors, p.mh, p.mw, p.pe, p.simd),
    StageKind.SMVAU: lambda p: smvau_cycles(p.vectors, p.sets, p.mw, p.in_e, p.steps),
    StageKind.WINDOW: lambda p: window_cycles(p.pixels, p.k, p.c, p.pe),
    StageKind.ADD: lambda p: p.words, StageKind.THRESHOLD: lambda p: p.vectors * p.c // p.pe,
    StageKind.MUL: lambda p: (p.pixels + p.gate) * (p.c // p.pe),
    StageKind.CONCAT: lambda p: concat_cycles(p.c1, p.c2, p.pe, p.pixels),
    StageKind.UPSAMPLE: lambda p: upsample_cycles(p.h, p.w, p.c, p.factor, p.pe),
    StageKind.SLICE: lambda p: slice_cycles(p.c, p.pe, p.pixels),
    StageKind.PAD: lambda p: pad_cycles(p.h, p.w, p.c, p.pad, p.pe),
    StageKind.WINO_IN: lambda p: wino_in_cycles(p.m, p.c, p.simd, p.tiles),
    StageKind.WINO_OUT: lambda p: wino_out_cycles(p.m, p.mh, p.pe, p.oh, p.ow, p.th, p.tw),
    StageKind.FIFO: _fifo_cycles,
}


def stage_cycles(kind: StageKind, p) -> int:
    rule = CYCLES.get(kind)
    if rule is None:
        raise EdgecError(f"stage kind '{kind}' has no cycle count (dataflow.py: CYCLES)")
    return int(rule(p))


# --- need: how much of each input a stage must have read before it has written a given
# share of its output, from the kernel's loop order. need(p, t) takes output shares t (the
# words written over the words of a frame, 0..1) and gives, per input, the share of the
# input's words it must have read by then. join_holds composes them along the branches.

def _written(t: np.ndarray, words: int) -> np.ndarray:
    """The index of the last output word written at share ``t`` (-1: none yet)."""
    return np.ceil(np.asarray(t) * words - 1e-9).astype(np.int64) - 1


def _per(t: np.ndarray, groups: int, words_per: int) -> list[np.ndarray]:
    """A stage that reads a whole group (a vector, a pixel, a tile) before it writes that
    group's ``words_per`` words."""
    k = _written(t, groups * words_per)
    return [np.where(k < 0, 0, k // words_per + 1) / groups]


def swg_need(p: SwgP, t: np.ndarray) -> list[np.ndarray]:
    """Output row oy waits for input rows up to oy*SH + KH - PT (at least one: a frame
    starts with a read), read whole."""
    (kh, kw), (sh, _), (oh, ow) = p.kernel, p.stride, p.out_hw
    k = _written(t, oh * ow * kh * kw * (p.c // p.simd))
    oy = k // (ow * kh * kw * (p.c // p.simd))
    return [np.where(k < 0, 0, np.clip(oy * sh + kh - p.pad[0], 1, p.ih)) / p.ih]


def dwc_need(p: DwcP, t: np.ndarray) -> list[np.ndarray]:
    k = _written(t, p.elems // p.out_e) + 1
    return [np.ceil(k * p.out_e / p.in_e) * p.in_e / p.elems]


def concat_need(p: ConcatP, t: np.ndarray) -> list[np.ndarray]:
    """Word j of a pixel comes from the first input while j < C1/PE."""
    cf1, cf2 = p.c1 // p.pe, p.c2 // p.pe
    k = _written(t, p.pixels * (cf1 + cf2))
    px, j = k // (cf1 + cf2), k % (cf1 + cf2)
    a = np.where(k < 0, 0, px * cf1 + np.minimum(j + 1, cf1)) / (p.pixels * cf1)
    b = np.where(k < 0, 0, px * cf2 + np.maximum(j + 1 - cf1, 0)) / (p.pixels * cf2)
    return [a, b]


def mul_need(p: MulP, t: np.ndarray) -> list[np.ndarray]:
    """A word of a for each word written; a gate is read whole before the first."""
    t = np.asarray(t, np.float64)
    return [t, np.where(t > 0, 1.0, 0.0) if p.gate else t]


def upsample_need(p: UpsampleP, t: np.ndarray) -> list[np.ndarray]:
    """The first copy of an input row reads its words as it writes them; the other
    copies need the whole row (zero fill: the same, its other copies are zeros)."""
    (fh, fw), cf = p.factor, p.c // p.pe
    k = _written(t, p.h * fh * p.w * fw * cf)
    y, q = k // (p.w * fw * cf), k % (p.w * fw * cf)
    iy, ox, c = y // fh, q // cf, q % cf
    first = iy * p.w * cf + (ox // fw) * cf + np.where(ox % fw == 0, c + 1, cf)
    read = np.where(y % fh == 0, first, (iy + 1) * p.w * cf)
    return [np.where(k < 0, 0, read) / (p.h * p.w * cf)]


def slice_need(p: SliceP, t: np.ndarray) -> list[np.ndarray]:
    """Output word j of a pixel is input word LO/PE + j of it."""
    cf, of = p.c // p.pe, (p.hi - p.lo) // p.pe
    k = _written(t, p.pixels * of)
    px, j = k // of, k % of
    return [np.where(k < 0, 0, px * cf + p.lo // p.pe + j + 1) / (p.pixels * cf)]


def pad_need(p: PadP, t: np.ndarray) -> list[np.ndarray]:
    """An output word inside the border is the input word of its pixel; one on the border
    needs the input pixels before it in raster order, and at least the frame's first word:
    the RTL (hw/rtl/edgec_pad.v) holds a frame's leading border until that word is offered."""
    (pt, pl, pb, pr), cf = p.pad, p.c // p.pe
    ow = p.w + pl + pr
    k = _written(t, (p.h + pt + pb) * ow * cf)
    iy, ix, c = k // (ow * cf) - pt, (k // cf) % ow - pl, k % cf
    inside = (iy >= 0) & (iy < p.h) & (ix >= 0) & (ix < p.w)
    read = np.clip(iy, 0, p.h) * p.w * cf + np.where(iy < 0, 0, np.where(iy >= p.h, 0, np.clip(ix, 0, p.w) * cf))
    read = np.where(inside, read + c + 1, np.maximum(read, 1))
    return [np.where(k < 0, 0, read) / (p.h * p.w * cf)]


def wino_out_need(p: WinoOutP, t: np.ndarray) -> list[np.ndarray]:
    """Output rows leave after their row of tiles is in."""
    k = _written(t, p.oh * p.ow * (p.mh // p.pe))
    oy = k // (p.ow * (p.mh // p.pe))
    return [np.where(k < 0, 0, oy // p.m + 1) / p.th]


def _same(t: np.ndarray) -> list[np.ndarray]:
    """A word read for each word written."""
    return [np.asarray(t, np.float64)]


def _fifo_need(p, t):
    raise AssertionError("FIFOs belong to streams: they add no stage")


# per stage kind, what it reads before it writes, from its record (tests/test_tables.py:
# every kind has one)
NEED = {
    StageKind.AXIS_IN: lambda p, t: _same(t), StageKind.AXIS_OUT: lambda p, t: _same(t), StageKind.DWC: dwc_need,
    StageKind.DUP: lambda p, t: _same(t), StageKind.SWG: swg_need,
    StageKind.MVAU: lambda p, t: _per(t, p.vectors, p.mh // p.pe),
    StageKind.SMVAU: lambda p, t: _per(t, p.vectors, p.mh // p.pe),
    StageKind.WINDOW: lambda p, t: _per(t, p.pixels, p.c // p.pe),
    StageKind.ADD: lambda p, t: _same(t) * 2, StageKind.THRESHOLD: lambda p, t: _same(t),
    StageKind.CONCAT: concat_need, StageKind.UPSAMPLE: upsample_need, StageKind.MUL: mul_need,
    StageKind.SLICE: slice_need, StageKind.PAD: pad_need,
    StageKind.WINO_IN: lambda p, t: _per(t, p.tiles, (p.m + 2) ** 2 * (p.c // p.simd)),
    StageKind.WINO_OUT: wino_out_need, StageKind.FIFO: _fifo_need,
}


def stage_need(st: Stage, t: np.ndarray) -> list[np.ndarray]:
    rule = NEED.get(st.kind)
    if rule is None:
        raise EdgecError(f"stage '{st.name}': stage kind '{st.kind}' has no read schedule (dataflow.py: NEED)")
    return rule(st.p, t)


JOIN_GRID = 8192  # shares of a frame join_holds looks at
JOIN_SLACK = 16  # words, beside two per stage between the fork and the join: output registers, skid


def _branch_capacity(s: Stream, producer: dict[str, int], stages: list[Stage]) -> int:
    """Elements the FIFOs before ``s`` on its own branch hold: back through the stages of
    one input and one output (converters, activations, ...) to the fork."""
    cap, i = 0, producer.get(s.name)
    while i is not None and len(stages[i].ins) == 1 and len(stages[i].outs) == 1 and stages[i].ins[0].name in producer:
        x = stages[i].ins[0]
        cap += x.depth * x.per_word
        i = producer[x.name]
    return cap


def _read(r: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A reach ``r`` (sampled on the grid) at shares ``u``, rounded up to the grid."""
    return r[np.ceil(np.clip(u, 0.0, 1.0) * JOIN_GRID - 1e-9).astype(np.int64)]


def join_holds(stages: list[Stage]) -> None:
    """Size the FIFOs of the branches that meet in a stage with several inputs (add,
    concat). From the stream the branches share last (the fork's input), ``need``
    composed along each branch gives the share of that stream read before the branch
    reaches each share of its own frame. While the join waits for its latest input, the
    fork must have passed that much on, and each other branch must take it in: its
    stages read no more than they need, so it has got as far as the least share of it
    that reads that much, and its FIFOs must hold the difference to what the join has
    taken (up to a frame: no kernel reads past the frame it works on), or they fill, the
    fork stops and the latest branch never gets what it waits for. What the FIFOs before
    the join's input on that branch hold counts; the rest goes into ``Stream.hold`` of
    the join's input."""
    t = np.linspace(0.0, 1.0, JOIN_GRID + 1)
    producer = {s.name: i for i, st in enumerate(stages) for s in st.outs}

    def ancestors(s: Stream) -> set[str]:
        seen, todo = set(), [s.name]
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                if n in producer:
                    todo += [x.name for x in stages[producer[n]].ins]
        return seen

    for j, st in enumerate(stages):
        if len(st.ins) < 2:
            continue
        shared = set.intersection(*(ancestors(s) for s in st.ins))
        if not shared:
            continue
        fork = max(shared, key=lambda n: producer.get(n, -1))  # the last stream both branches read
        reach, hops = {fork: t}, {fork: 0}
        for later in stages[producer.get(fork, -1) + 1:j]:
            came = [(_read(reach[x.name], u), hops[x.name])
                    for x, u in zip(later.ins, stage_need(later, t)) if x.name in reach]
            if came:
                for o in later.outs:
                    reach[o.name] = np.maximum.reduce([r for r, _ in came])
                    hops[o.name] = max(h for _, h in came) + 1
        needs = stage_need(st, t)
        ahead = np.maximum.reduce([_read(reach[s.name], u) for s, u in zip(st.ins, needs)])
        far = max(hops[s.name] for s in st.ins)
        for s, u in zip(st.ins, needs):
            r = reach[s.name]
            can = t[np.minimum(np.searchsorted(r, ahead - 1e-12, side="left"), JOIN_GRID)]
            lag = float(np.max(can - u)) + 2.0 / JOIN_GRID
            need = int(np.ceil(lag * s.elems)) + (2 * (far - hops[s.name] + 1) + JOIN_SLACK) * s.per_word
            need = min(need, s.elems) - _branch_capacity(s, producer, stages)
            s.hold = max(0, -(-need // s.per_word))


def swg_holds(stages: list[Stage]) -> None:
    """Size the FIFOs on both sides of each window generator. It alternates: it reads the SH
    input rows the next output row needs (R = SH * IW * C / SIMD words, one a cycle), then
    writes that row's windows (OW * KH * KW * C / SIMD words). While it writes, its producer,
    running at most at its frame rate, passes on up to R words; while it reads, its consumer
    takes up to R words. FIFOs that hold R words (and a few for the registers) let both run
    at their own rates; shallower ones stall the neighbour at the frame rate's budget, and
    the pipeline runs slower than its slowest stage (MobileNetV1 0.25 at 96x96: 45,288 cycles
    a frame in Verilator cosim instead of 36,864 with 512-word FIFOs on 1,536-word rows)."""
    for st in stages:
        if st.kind == StageKind.SWG:
            p = st.p
            burst = p.stride[0] * p.iw * p.c // p.simd + JOIN_SLACK
            for s in (st.ins[0], st.outs[0]):
                s.hold = max(s.hold, min(-(-burst * p.simd // s.per_word), s.words))


class _Builder:
    def __init__(self, g: Graph, fold: dict[str, dict]):
        self.g, self.fold = g, fold
        self.stages: list[Stage] = []
        self.streams: list[Stream] = []
        self.avail: dict[str, list[Stream]] = {}  # IR tensor -> streams not yet consumed
        self.uses: dict[str, int] = {}

    def stream(self, name, typ, per_word, elems) -> Stream:
        if elems % per_word:
            raise AssertionError(f"stream {name}: {elems} elements in words of {per_word}")
        s = Stream(f"s_{name}", typ, per_word, elems)
        self.streams.append(s)
        return s

    def add(self, kind: StageKind, name, unit, layer, ins, outs, p, node=None) -> Stage:
        st = Stage(len(self.stages), kind, name, unit, layer, ins, outs, stage_cycles(kind, p), p, node)
        self.stages.append(st)
        return st

    def produce(self, tensor: str, s: Stream, unit: str, layer: str) -> None:
        """Make ``s`` available as ``tensor``, forked once per extra consumer."""
        copies = [s]
        while len(copies) < max(self.uses.get(tensor, 1), 1):
            src = copies.pop(0)
            a = self.stream(f"{tensor}_f{len(self.stages)}a", src.type, src.per_word, src.elems)
            b = self.stream(f"{tensor}_f{len(self.stages)}b", src.type, src.per_word, src.elems)
            self.add(StageKind.DUP, f"{tensor}_fork{len(self.stages)}", unit, layer, [src], [a, b], DupP(src.words))
            copies += [a, b]
        self.avail[tensor] = copies

    def take(self, tensor: str, per_word: int, unit: str, layer: str) -> Stream:
        """A stream of ``tensor`` in words of ``per_word`` elements (with a converter)."""
        s = self.avail[tensor].pop(0)
        if s.per_word == per_word:
            return s
        o = self.stream(f"{tensor}_w{per_word}_{len(self.stages)}", s.type, per_word, s.elems)
        self.add(StageKind.DWC, f"{tensor}_dwc{len(self.stages)}", unit, layer, [s], [o],
                 DwcP(s.per_word, per_word, s.type.bits, s.elems))
        return o

    def swg(self, win: Node, src: str, simd: int, unit: str, layer: str, pad=None, pad_value=0, wtype=None) -> Stream:
        """A sliding-window stage over ``src`` (H, W, C); ``win`` (a SlidingWindow or a pool)
        holds kernel/stride/pad; the window's elements have the SlidingWindow's type."""
        a = win.attrs
        h, w, c = self.g.node(src).shape
        (kh, kw), (sh, sw) = a["kernel"], a["stride"]
        pad = tuple(a.get("pad", (0, 0, 0, 0)) if pad is None else pad)
        oh, ow = (h + pad[0] + pad[2] - kh) // sh + 1, (w + pad[1] + pad[3] - kw) // sw + 1
        x = self.take(src, simd, unit, layer)
        t = wtype or (win.type if win.op == Op.SLIDING_WINDOW else x.type)  # a pool pads with its lowest code
        o = self.stream(f"{unit}_win", t, simd, oh * ow * kh * kw * c)
        self.add(StageKind.SWG, f"{unit}_swg", unit, layer, [x], [o],
                 SwgP(h, w, c, (kh, kw), (sh, sw), pad, int(pad_value), (oh, ow), simd, x.type, t))
        return o

    def build(self) -> Plan:
        g = self.g
        for n in g.nodes[1:]:
            if n.op == Op.SLIDING_WINDOW or n.op == Op.FLATTEN or _fused(g, n):
                continue
            srcs = [g.node(n.inputs[0]).inputs[0]] if g.node(n.inputs[0]).op == Op.SLIDING_WINDOW else n.inputs
            for t in srcs:
                t = _resolve(g, t)
                self.uses[t] = self.uses.get(t, 0) + 1
        out_t = _resolve(g, g.output)
        self.uses[out_t] = self.uses.get(out_t, 0) + 1

        inp = g.input
        pe = self.fold["input"]["pe"]
        elems = int(np.prod(inp.shape))
        beat = beat_bits(pe * inp.type.bits)
        axis_in = Stream("in", inp.type, pe, elems)
        s = self.stream("input", inp.type, pe, elems)
        self.add(StageKind.AXIS_IN, "input", "input", "input", [axis_in], [s], AxisP(beat, s.words))
        self.produce(inp.name, s, "input", "input")

        for n in g.nodes[1:]:
            if n.op in (Op.MATMUL, Op.XNOR_POPCOUNT):
                self._matrix(n)
            elif n.op in (Op.MAX_POOL, Op.AVG_POOL):
                self._pool(n)
            elif n.op == Op.WINOGRAD:
                self._winograd(n)
            elif n.op in (Op.ADD, Op.MUL, Op.CONCAT):
                self._join(n)
            elif n.op == Op.UPSAMPLE:
                self._upsample(n)
            elif n.op == Op.SLICE:
                self._slice(n)
            elif n.op == Op.PAD:
                self._pad(n)
            elif n.op in ACTIVATIONS and not _fused(g, n):
                self._threshold(n)
            elif n.op not in (Op.SLIDING_WINDOW, Op.FLATTEN, *ACTIVATIONS):
                raise EdgecError(f"node '{n.name}': op {n.op.value} has no hardware stage yet")

        pe = self.fold["output"]["pe"]
        x = self.take(out_t, pe, "output", "output")
        beat = beat_bits(pe * x.type.bits)
        axis_out = Stream("out", x.type, pe, x.elems)
        self.add(StageKind.AXIS_OUT, "output", "output", "output", [x], [axis_out], AxisP(beat, x.words))
        join_holds(self.stages)
        swg_holds(self.stages)
        return Plan(self.stages, axis_in, axis_out, self.streams)

    def _act(self, n: Node) -> Node | None:
        cons = self.g.consumers(n.name)
        return cons[0] if len(cons) == 1 and _fused(self.g, cons[0]) else None

    def _matrix(self, n: Node) -> None:
        g, f = self.g, self.fold[n.name]
        layer = n.attrs.get("layer", n.name)
        win = g.node(n.inputs[0])
        act = self._act(n)
        out_node = act or n
        pixels = int(np.prod(n.shape[:-1]))
        if n.attrs.get("groups", 1) != 1:  # depthwise
            c = n.shape[-1]
            k = n.params["weight"].shape[1]
            x = self.swg(win, _resolve(g, win.inputs[0]), f["pe"], n.name, layer, pad_value=win.attrs["pad_value"])
            o = self.stream(out_node.name, out_node.type, f["pe"], pixels * c)
            self.add(StageKind.WINDOW, n.name, n.name, layer, [x], [o],
                     WindowP("depthwise", k, c, f["pe"], pixels, x.type, o.type, n.type, wt=_weight_type(n),
                             weight=n.params["weight"], act=node_activation(act, n.type)), n)
        elif n.attrs.get("sparse"):
            w = n.params["weight"]
            mh, mw = w.shape
            steps = sparse_steps(w, f["pe"], f["simd"])
            cp = int(steps.sum())
            if win.op == Op.SLIDING_WINDOW:
                in_e = load_width(win.shape[-1] // (win.attrs["kernel"][0] * win.attrs["kernel"][1]), mw, [cp])
                x = self.swg(win, _resolve(g, win.inputs[0]), in_e, n.name, layer, pad_value=win.attrs["pad_value"])
            else:
                in_e = load_width(mw, mw, [cp])
                x = self.take(_resolve(g, n.inputs[0]), in_e, n.name, layer)
            o = self.stream(out_node.name, out_node.type, f["pe"], pixels * mh)
            self.add(StageKind.SMVAU, n.name, n.name, layer, [x], [o],
                     SmvauP(mw, mh, f["pe"], f["simd"], in_e, pixels, 1, n.attrs["kernel_kind"], x.type,
                            _weight_type(n), n.type, o.type, w, tuple(steps.tolist()), node_activation(act, n.type)),
                     n)
        else:
            mh, mw = n.params["weight"].shape
            if win.op == Op.SLIDING_WINDOW:
                x = self.swg(win, _resolve(g, win.inputs[0]), f["simd"], n.name, layer,
                             pad_value=win.attrs["pad_value"])
            else:
                x = self.take(_resolve(g, n.inputs[0]), f["simd"], n.name, layer)
            o = self.stream(out_node.name, out_node.type, f["pe"], pixels * mh)
            self.add(StageKind.MVAU, n.name, n.name, layer, [x], [o],
                     MvauP(mw, mh, f["pe"], f["simd"], pixels, 1, n.attrs["kernel_kind"], x.type, _weight_type(n),
                           n.type, o.type, n.params["weight"], node_activation(act, n.type)), n)
        self.produce(out_node.name, o, n.name, layer)

    def _winograd(self, n: Node) -> None:
        """swg (n x n tiles at stride m) -> wino_in -> mvau (a weight set per position) -> wino_out."""
        g, f = self.g, self.fold[n.name]
        a, layer = n.attrs, n.attrs.get("layer", n.name)
        m, pe, simd = a["tile"], f["pe"], f["simd"]
        src = _resolve(g, n.inputs[0])
        h, w, c = g.node(src).shape
        u = n.params["weight"]
        p, mh = u.shape[0], u.shape[1]
        geo = W.geometry(h, w, a["pad"], m)
        tiles = geo["th"] * geo["tw"]
        st = g.node(src).type
        wt = window_type(st, a["pad_value"]) if any(geo["tile_pad"]) else st
        tile = Node(f"{n.name}_tiles", Op.SLIDING_WINDOW, [src], (), wt,
                    {"kernel": (m + 2, m + 2), "stride": (m, m), "pad": geo["tile_pad"]})
        wmat = u.reshape(p * mh, c)
        if a.get("sparse"):
            steps = sparse_steps(wmat, pe, simd)
            cp = steps.reshape(p, -1).sum(axis=1)
            in_e = load_width(c, c, cp.tolist())
        else:
            in_e = simd
        x = self.swg(tile, src, in_e, n.name, layer, pad_value=a["pad_value"])
        vt, mt = int_type_for(*a["v_range"]), int_type_for(*a["m_range"])
        v = self.stream(f"{n.name}_v", vt, in_e, tiles * p * c)
        self.add(StageKind.WINO_IN, f"{n.name}_in", n.name, layer, [x], [v],
                 WinoInP(m, c, in_e, x.type, vt, tiles))
        acc = self.stream(f"{n.name}_m", mt, pe, tiles * p * mh)
        kk, wt = n.attrs["kernel_kind"], _weight_type(n)
        if a.get("sparse"):
            self.add(StageKind.SMVAU, n.name, n.name, layer, [v], [acc],
                     SmvauP(c, mh, pe, simd, in_e, tiles * p, p, kk, vt, wt, mt, mt, wmat, tuple(steps.tolist()),
                            None), n)
        else:
            self.add(StageKind.MVAU, n.name, n.name, layer, [v], [acc],
                     MvauP(c, mh, pe, simd, tiles * p, p, kk, vt, wt, mt, mt, wmat, None), n)
        o = self.stream(n.name, n.type, pe, geo["oh"] * geo["ow"] * mh)
        self.add(StageKind.WINO_OUT, f"{n.name}_out", n.name, layer, [acc], [o],
                 WinoOutP(m, mh, pe, geo["oh"], geo["ow"], geo["th"], geo["tw"], mt, n.type), n)
        self.produce(n.name, o, n.name, layer)

    def _pool(self, n: Node) -> None:
        pe = self.fold[n.name]["pe"]
        src = _resolve(self.g, n.inputs[0])
        pad = n.attrs.get("pad", (0, 0, 0, 0))
        x = self.swg(n, src, pe, n.name, n.name, pad=pad, pad_value=n.attrs.get("pad_value", 0))
        k = n.attrs["kernel"][0] * n.attrs["kernel"][1]
        c = n.shape[-1]
        pixels = int(np.prod(n.shape[:-1]))
        o = self.stream(n.name, n.type, pe, pixels * c)
        it = x.type
        if n.op == Op.MAX_POOL:
            rec = WindowP("max", k, c, pe, pixels, it, o.type, IntType(it.bits + 1, True), lowest=int(it.lo))
        else:
            rec = WindowP("avg", k, c, pe, pixels, it, o.type, IntType(it.bits + (k - 1).bit_length() + 1, True))
        self.add(StageKind.WINDOW, n.name, n.name, n.name, [x], [o], rec, n)
        self.produce(n.name, o, n.name, n.name)

    def _join(self, n: Node) -> None:
        """Add or Concat: the two branches meet (each input forked off its tensor by
        ``produce`` when read twice; join_holds sizes the FIFOs of the earlier one)."""
        pe = self.fold[n.name]["pe"]
        a = self.take(_resolve(self.g, n.inputs[0]), pe, n.name, n.name)
        b = self.take(_resolve(self.g, n.inputs[1]), pe, n.name, n.name)
        o = self.stream(n.name, n.type, pe, int(np.prod(n.shape)))
        if n.op == Op.ADD:
            kind, rec = StageKind.ADD, AddP(pe, a.type, b.type, o.type, o.words, tuple(n.attrs.get("shift", (0, 0))))
        elif n.op == Op.MUL:
            c = n.shape[-1]
            kind, rec = StageKind.MUL, MulP(c, pe, int(np.prod(n.shape[:-1])), b.elems != o.elems, a.type, b.type,
                                            o.type)
        else:
            c1 = self.g.node(n.inputs[0]).shape[-1]
            kind, rec = StageKind.CONCAT, ConcatP(c1, n.shape[-1] - c1, pe, int(np.prod(n.shape[:-1])), a.type, b.type,
                                                  o.type)
        self.add(kind, n.name, n.name, n.name, [a, b], [o], rec, n)
        self.produce(n.name, o, n.name, n.name)

    def _one(self, n: Node, kind: StageKind, record) -> None:
        """A stage of one input and one output, both at the node's PE: ``record(x, pe,
        input shape)`` its parameter record (``x`` the input stream)."""
        pe = self.fold[n.name]["pe"]
        x = self.take(_resolve(self.g, n.inputs[0]), pe, n.name, n.name)
        o = self.stream(n.name, n.type, pe, int(np.prod(n.shape)))
        self.add(kind, n.name, n.name, n.name, [x], [o], record(x, pe, self.g.node(n.inputs[0]).shape), n)
        self.produce(n.name, o, n.name, n.name)

    def _upsample(self, n: Node) -> None:
        self._one(n, StageKind.UPSAMPLE, lambda x, pe, s: UpsampleP(*s, tuple(n.attrs["factor"]), pe, x.type,
                                                                    n.attrs.get("fill", "nearest"),
                                                                    int(n.attrs.get("value", 0))))

    def _slice(self, n: Node) -> None:
        """A channel range; two slices of one tensor read it through a fork (``produce``)."""
        a = n.attrs
        self._one(n, StageKind.SLICE, lambda x, pe, s: SliceP(s[-1], int(a["lo"]), int(a["hi"]), pe,
                                                              x.elems // s[-1], x.type))

    def _pad(self, n: Node) -> None:
        pad, value = tuple(int(v) for v in n.attrs["pad"]), int(n.attrs["value"])
        self._one(n, StageKind.PAD, lambda x, pe, s: PadP(*s, pad, value, pe, x.type, n.type))

    def _threshold(self, n: Node) -> None:
        c = n.shape[-1]
        self._one(n, StageKind.THRESHOLD, lambda x, pe, s: ThresholdP(c, pe, x.elems // c, x.type, n.type,
                                                                      node_activation(n, x.type)))


def plan(g: Graph, fold: dict[str, dict] | None = None) -> Plan:
    """The stages of ``g`` at folding ``fold`` (default: everything fully folded)."""
    return _Builder(g, fold or min_folding(g)).build()
