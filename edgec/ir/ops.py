"""The IR's operators and their width contracts. Layout: every tensor is (N, ..., C) —
channels last (NHWC for feature maps, (N, F) for vectors); the batch N is left out of
node shapes. ``ir/ref.py`` gives each op its one slow, obvious integer meaning.
"""
from enum import Enum


class Op(str, Enum):
    INPUT = "Input"
    """Integer codes of the network input (the host quantizer is described in
    ``graph.meta['input_quant']``). Out: the quantizer's type."""

    SLIDING_WINDOW = "SlidingWindow"
    """im2col for convolution. attrs: kernel (kh, kw), stride (sh, sw), pad (top, left,
    bottom, right), pad_value. In (H, W, C) -> out (OH, OW, kh*kw*C), window entries in
    (ky, kx, c) order. Out type: the input's, widened to hold ``pad_value``."""

    MATMUL = "MatMul"
    """Matrix-vector product on the last axis. params: weight (MH, K*Cg) integer codes.
    attrs: groups (1, or C for depthwise: input (..., K*C) as (K, C), output channel o
    reads channel o only), kernel_kind (set by the choose_kernels pass). Out type: the
    accumulator, an IntType wide enough for sum |w| * max|x| (infer_acc_widths)."""

    WINOGRAD = "Winograd"
    """A 3x3 stride-1 convolution as Winograd tiles F(m x m, 3 x 3), m = attrs.tile (2 or
    4), all integer (ir/winograd.py): the input (H, W, C), padded by attrs.pad with
    pad_value (and at the bottom/right up to whole tiles), is cut into n x n tiles
    (n = m + 2) at stride m; per tile V = B^T d B per channel, M[p, o] = sum_c U[p, o, c]
    * V[p, c] per position p, Y = A^T M A; the m x m outputs of every tile, cropped, give
    (OH, OW, MH). params: weight U (n*n, MH, C) integer codes (for a dense conversion
    U = G' g G'^T, and Y = attrs.factor * the direct convolution's accumulator).
    attrs: tile, pad, pad_value, factor, v_range / m_range (the transformed input's and
    the per-position sums' proven ranges, set by infer_acc_widths). Out type: wide enough
    for the output transform's proven range."""

    XNOR_POPCOUNT = "XnorPopcount"
    """Bipolar x bipolar matrix-vector product kept as a popcount: out[o] = number of
    positions where x equals w[o] (= (dot + K) / 2). params: weight (MH, K) of +-1.
    Out type: uint wide enough for K."""

    AFFINE_QUANT = "AffineQuant"
    """The quantizer before folding: z = acc * a[c] + c0[c] in float64, then with
    attrs.act the activation z = f(z) (ir/act.py; params act_args (C, k)), then
    clip(round(z / scale + zero_point), lo, hi) (with params.scale (C,): a scale per channel,
    attrs.scale then their largest) with the attr ``rounding`` (default
    half_up: floor(v + 0.5); see ref.round_to_int), or for a bipolar output +1 where
    z >= 0 (with a zero point: z / scale + zero_point >= 0) else -1. params: a, c0 (C,).
    attrs: scale, lo, hi, bipolar, optional zero_point, rounding. With attrs.requant (and
    requant_multiple) the quantizer is instead the integer rule of ir/requant.py for these
    a, c0, scale, lo, hi (and a clip act): passes/fold_requant.py makes it a Requant node.
    Removed by fold_requant and fold_thresholds."""

    MULTI_THRESHOLD = "MultiThreshold"
    """out = out_lo + #{i : sign[c] * x >= T[c, i]} (bipolar: +1 if the count is 1 else
    -1). params: thresholds (C, N) integers ascending per row, sign (C,) of +-1, and
    optionally steps (C, N) of +-1: then out = out_lo + sum_i steps[c, i] * [sign[c] * x
    >= T[c, i]], the form of an activation that falls somewhere (Hardswish, SiLU, GELU).
    attrs: out_lo, bipolar, optionally form = "lookup" (passes/lookup.py: the hardware holds
    the same function as a table of every input value's code, dataflow.LutAct; the meaning
    does not change). Out type: the output codes' type."""

    REQUANT = "Requant"
    """The integer requantizer (ir/requant.py): out = clip((x * mult[c] + bias[c]) >>
    shift[c], lo, hi), the shift arithmetic (floor division by 2^shift), every step exact
    in int64. params: mult (C,) signed integers of at most 18 bits (one DSP48E1 input),
    bias (C,), shift (C,) in [0, 40]. attrs: lo, hi, scale (the output's, for the report),
    scale_error (the largest relative error of mult / 2^shift against the float ratio it
    stands for). Made by passes/fold_requant.py from an AffineQuant marked ``requant``.
    Out type: the output codes' type."""

    MAX_POOL = "MaxPool"
    """attrs: kernel, stride, pad (padded with pad_value = the input's lowest code).
    (H, W, C) -> (OH, OW, C). Out type: the input's."""

    AVG_POOL = "AvgPool"
    """Window mean rounded half up at the same scale: floor((2*sum + n) / (2n)), n the
    window size. attrs: kernel, stride (a global pool has kernel = (H, W)).
    Out type: the input's."""

    ADD = "Add"
    """Elementwise sum of two inputs: out = (a << sa) + (b << sb), attrs.shift (sa, sb)
    (default (0, 0)): codes of one scale, or of scales a power of two apart with the
    coarser-scaled input shifted onto the finer scale (exact: a branch of fewer bits
    meets a wider one).
    Out type: wide enough for the shifted sum (infer_acc_widths)."""

    MUL = "Mul"
    """Elementwise product of two tensors of codes: (..., C) times (..., C) of the same
    shape, or a (H, W, C) map times a (1, 1, C) per-channel vector broadcast over H and W
    (squeeze-and-excitation: the gate after a global pool). The real product's scale is the
    product of the scales. Out type: the product's proven range (infer_acc_widths)."""

    CONCAT = "Concat"
    """Two tensors of one spatial shape joined along channels: (..., C1) and (..., C2) ->
    (..., C1 + C2), the first input's channels first. Out type: the narrowest type that
    holds both inputs' types."""

    UPSAMPLE = "Upsample"
    """Upsampling by whole factors: (H, W, C) -> (H * fh, W * fw, C). attrs: factor
    (fh, fw); fill (optional): "nearest" (the default), out[y, x] = in[y // fh, x // fw], or
    "zero", out[y * fh, x * fw] = in[y, x] and the code attrs.value (the input quantizer's
    code of real 0) everywhere else: the zero insertion of a transposed convolution
    (frontend/convtranspose.py). Out type: the input's (which holds ``value``)."""

    PAD = "Pad"
    """Constant padding of a map: (H, W, C) -> (H + top + bottom, W + left + right, C), the
    new border holding the code attrs.value (the quantizer's code of the source's constant).
    attrs: pad (top, left, bottom, right), value. Out type: the input's, widened to hold
    ``value`` (ir/types.py: window_type)."""

    SLICE = "Slice"
    """The channels [lo, hi) of a tensor: (..., C) -> (..., hi - lo); one Slice per output
    of a split or chunk, all reading the one producer. attrs: lo, hi. Out type: the input's."""

    FLATTEN = "Flatten"
    """(H, W, C) -> (H*W*C,). attrs: order 'chw' (as PyTorch flattens: channel-major)
    or 'hwc' (as the data streams). Out type: the input's."""


class Contract:
    """What a node of an op must carry: its number of inputs, the attrs and params it
    requires, and the rule its output type follows (the op's docstring says it in full)."""

    __slots__ = ("inputs", "attrs", "params", "out_type")

    def __init__(self, inputs: int, attrs: tuple = (), params: tuple = (), out_type: str = ""):
        self.inputs, self.attrs, self.params, self.out_type = inputs, attrs, params, out_type


# one contract per op (ir/check.py walks it; tests/test_tables.py holds it against Op)
CONTRACTS = {
    Op.INPUT: Contract(0, out_type="the host quantizer's type"),
    Op.SLIDING_WINDOW: Contract(1, ("kernel", "stride", "pad", "pad_value"), (),
                                "the input's, widened to hold pad_value"),
    Op.MATMUL: Contract(1, (), ("weight",), "the accumulator: sum |w| * max |x| (infer_acc_widths)"),
    Op.WINOGRAD: Contract(1, ("tile", "pad", "pad_value", "factor"), ("weight",),
                          "the output transform's proven range"),
    Op.XNOR_POPCOUNT: Contract(1, (), ("weight",), "unsigned, wide enough for K"),
    Op.AFFINE_QUANT: Contract(1, ("scale", "lo", "hi", "bipolar"), ("a", "c0"), "the output codes' type"),
    Op.MULTI_THRESHOLD: Contract(1, ("out_lo", "bipolar"), ("thresholds", "sign"), "the output codes' type"),
    Op.REQUANT: Contract(1, ("lo", "hi"), ("mult", "bias", "shift"), "the output codes' type"),
    Op.MAX_POOL: Contract(1, ("kernel", "stride", "pad", "pad_value"), (), "the input's"),
    Op.AVG_POOL: Contract(1, ("kernel", "stride"), (), "the input's"),
    Op.ADD: Contract(2, (), (), "the shifted sum's proven range"),
    Op.MUL: Contract(2, (), (), "the product's proven range"),
    Op.CONCAT: Contract(2, (), (), "holds both inputs' types"),
    Op.UPSAMPLE: Contract(1, ("factor",), (), "the input's"),
    Op.FLATTEN: Contract(1, ("order",), (), "the input's"),
    Op.PAD: Contract(1, ("pad", "value"), (), "the input's, widened to hold value"),
    Op.SLICE: Contract(1, ("lo", "hi"), (), "the input's"),
}
