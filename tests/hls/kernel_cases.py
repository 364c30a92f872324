"""Random test cases of the hw/hls kernels, all compiled into one C++ program.

Each case instantiates one kernel with random shapes, widths and folding, feeds it
random codes, and prints its outputs and its loop count; ``expected`` gives what
ir/ref.py says for the same inputs, and ``cycles`` the trip count the cost model uses.
The activations come in both forms: thresholds that only rise, and thresholds with
signed steps (MultiThreshold ``steps``, Thresholds<..., true>) on every kernel that
holds an activation (mvau, depthwise window, threshold, smvau); the requantizer
(Requant<>) fused into the mvau and stand-alone (cases_requant.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgec import dataflow as D

from edgec.backend.hls import CType, mvau_weights, thresholds_act
from edgec.ir import ref
from edgec.ir.types import IntType, int_type_for


@dataclass
class Case:
    name: str
    code: str  # C++ statements of the case body
    expected: np.ndarray
    cycles: int


def et(t: CType) -> str:
    return "edgec::Bip" if t.bipolar else f"edgec::IntT<{t.bits}, {'true' if t.signed else 'false'}>"


def vt(t: CType) -> str:
    return "ap_int<2>" if t.bipolar else f"ap_{'' if t.signed else 'u'}int<{t.bits}>"


def ctype_for(lo, hi) -> CType:
    t = int_type_for(lo, hi)
    return CType(t.bits, t.signed)


def rand_type(rng, min_bits=1, max_bits=8) -> CType:
    bits = int(rng.integers(min_bits, max_bits + 1))
    if bits == 1:
        return CType(1, True, True)
    return CType(bits, bool(rng.integers(0, 2)))


def rand_codes(rng, t: CType, shape) -> np.ndarray:
    if t.bipolar:
        return rng.choice([-1, 1], size=shape).astype(np.int64)
    it = IntType(t.bits, t.signed)
    return rng.integers(it.lo, it.hi + 1, size=shape).astype(np.int64)


def arr(name: str, v: np.ndarray) -> str:
    return f"static const long long {name}[] = {{{', '.join(map(str, np.asarray(v).ravel().tolist()))}}};"


def divisor(rng, n: int) -> int:
    ds = [d for d in range(1, n + 1) if n % d == 0]
    return int(rng.choice(ds))


def _io(i, tin: CType, n_in: int, xs: np.ndarray, tout: CType, n_out: int, sin="in", sout="out") -> tuple[str, str]:
    """Declarations + push of the input, and the print of the output."""
    pre = (f"{arr(f'x{i}', xs)}\n    hls::stream<ap_uint<{n_in * tin.bits}> > {sin};\n"
           f"    push<{n_in}, {et(tin)} >({sin}, x{i}, {xs.size});\n"
           f"    hls::stream<ap_uint<{n_out * tout.bits}> > {sout};")
    post = f'pop_print<{n_out}, {et(tout)} >({sout}, "case{i}", {i});'
    return pre, post


def thresholds(rng, acc_lo, acc_hi, c):
    nt = int(rng.choice([1, 2, 3, 7, 15]))
    bipolar = nt == 1 and bool(rng.integers(0, 2))
    span = max(acc_hi - acc_lo, 1)
    thr = np.sort(rng.integers(acc_lo - span // 4, acc_hi + span // 4 + 1, size=(c, nt)), axis=1)
    sign = rng.choice([-1, 1], size=c)
    out_lo = 0 if bipolar else int(rng.choice([0, -(nt // 2)]))
    ot = CType(1, True, True) if bipolar else ctype_for(out_lo, out_lo + nt)
    return thr, sign, out_lo, bipolar, ot


def steps_thresholds(rng, acc_lo, acc_hi, c, values=None):
    """Random thresholds with signed steps (thr, sign, out_lo, bipolar, ot, steps): steps of
    +-1 in any order (a bipolar output: +1, -1, +1, ... so that the sum stays 0 or 1, as
    the fold makes them), out_lo and the output type wide enough for every partial sum; now
    and then a layer without thresholds (the sentinel column of threshold_table). With
    ``values`` (..., c), the values the activation will see, most thresholds are drawn
    near them (so that the outputs vary), the others over the whole range."""
    nt = int(rng.choice([0, 1, 2, 3, 4, 7, 15]))
    bipolar = nt > 0 and rng.integers(0, 4) == 0
    span = max(acc_hi - acc_lo, 1)
    thr = rng.integers(acc_lo - span // 4, acc_hi + span // 4 + 1, size=(c, nt))
    sign = rng.choice([-1, 1], size=c)
    if values is not None and nt:
        v = np.asarray(values).reshape(-1, c) * sign
        near = rng.random((c, nt)) < 0.75
        pick = v[rng.integers(0, len(v), size=(c, nt)), np.arange(c)[:, None]] + rng.integers(-1, 2, size=(c, nt))
        thr = np.where(near, pick, thr)
    thr = np.sort(thr, axis=1)
    if bipolar:
        steps = np.tile(np.where(np.arange(nt) % 2 == 0, 1, -1), (c, 1))
    else:
        steps = rng.choice([-1, 1], size=(c, nt))
    part = np.concatenate([np.zeros((c, 1), np.int64), np.cumsum(steps, axis=1)], axis=1)
    lo, hi = int(part.min()), int(part.max())
    out_lo = 0 if bipolar else -lo + int(rng.choice([0, 0, -1, -3, 2]))
    ot = CType(1, True, True) if bipolar else ctype_for(out_lo + lo, out_lo + hi)
    return thr, sign, out_lo, bipolar, ot, steps.astype(np.int64)


def act_decl(i, thr, sign, pe, acc_bits, out_lo, bipolar, ot, steps=None) -> tuple[str, str]:
    a = thresholds_act(thr, sign, pe, acc_bits, out_lo, bipolar, steps)
    t = (f"edgec::Thresholds<{a.pe}, {a.nf}, {a.nt}, {a.cb}, {a.out_lo}, {'true' if a.bipolar else 'false'}, {et(ot)}"
         f"{', true' if steps is not None else ''} >")
    return t, f"static const {t} act{i} = {a.init};"


def some_thresholds(rng, acc_lo, acc_hi, c, steps: bool, values=None):
    """(thr, sign, out_lo, bipolar, ot, steps or None): thresholds(), or with signed steps
    (steps_thresholds, near ``values``)."""
    if steps:
        return steps_thresholds(rng, acc_lo, acc_hi, c, values)
    return (*thresholds(rng, acc_lo, acc_hi, c), None)


@dataclass
class MvauProblem:
    """A random matrix-vector problem of one kernel kind, with its accumulator range."""
    kind: str
    mw: int
    mh: int
    pe: int
    simd: int
    xt: CType
    wt: CType
    x: np.ndarray  # (vectors, MW)
    w: np.ndarray  # (MH, MW)
    acc: np.ndarray  # ir/ref.py's accumulator
    lo: int
    hi: int
    acct: CType


def mvau_problem(i, rng, vectors: int, max_mw: int = 40, max_mh: int = 12) -> MvauProblem:
    kind = ["xnor-popcount", "binary-addsub", "lut-mac", "dsp-mac"][i % 4]
    mw, mh = int(rng.integers(1, max_mw)), int(rng.integers(1, max_mh))
    pe, simd = divisor(rng, mh), divisor(rng, mw)
    if kind == "xnor-popcount":
        xt = wt = CType(1, True, True)
    elif kind == "binary-addsub":
        xt, wt = rand_type(rng), CType(1, True, True)
    elif kind == "lut-mac":
        xt, wt = rand_type(rng, 2, 4), CType(int(rng.integers(2, 5)), True)
    else:
        xt, wt = rand_type(rng, 5, 8), CType(int(rng.integers(2, 9)), True)
    x = rand_codes(rng, xt, (vectors, mw))
    w = rand_codes(rng, wt, (mh, mw))
    if kind == "xnor-popcount":
        acc, lo, hi = ref.xnor_popcount(x, w), 0, mw
    else:
        acc = ref.matmul(x, w)
        xabs = 1 if xt.bipolar else max(abs(IntType(xt.bits, xt.signed).lo), IntType(xt.bits, xt.signed).hi)
        hi = int(np.abs(w).sum(axis=1).max()) * xabs
        lo = -hi
    return MvauProblem(kind, mw, mh, pe, simd, xt, wt, x, w, acc, lo, hi, ctype_for(lo, hi))


def mvau_case(i, rng, steps: bool = False) -> Case:
    """``steps``: always an activation, with signed steps."""
    vec = int(rng.integers(1, 4))
    m = mvau_problem(i, rng, vec)
    kind, mw, mh, pe, simd, xt, wt, x, w, acc, lo, hi, acct = (
        m.kind, m.mw, m.mh, m.pe, m.simd, m.xt, m.wt, m.x, m.w, m.acc, m.lo, m.hi, m.acct)
    warr = mvau_weights(w, pe, simd, wt, f"w{i}")
    decl = f"static const {warr.elem} w{i}[{pe}][{(mh // pe) * (mw // simd)}] = {warr.init};"
    if steps or rng.integers(0, 3):
        thr, sign, out_lo, bipolar, ot, st = some_thresholds(rng, lo, hi, mh, steps, acc)
        act_t, adecl = act_decl(i, thr, sign, pe, acct.bits, out_lo, bipolar, ot, st)
        expected = ref.multi_threshold(acc, thr, sign, out_lo, bipolar, st)
        act = f"act{i}"
    else:
        ot, act_t, adecl, expected = acct, f"edgec::PassAct<{et(acct)} >", "", acc
        act = f"{act_t}()"
    kenum = {"xnor-popcount": "XNOR_POPCOUNT", "binary-addsub": "BINARY_ADDSUB", "lut-mac": "LUT_MAC",
             "dsp-mac": "DSP_MAC"}[kind]
    pre, post = _io(i, xt, simd, x, ot, pe)
    code = (f"{decl}\n    {adecl}\n    {pre}\n    edgec::mvau<{mw}, {mh}, {simd}, {pe}, edgec::{kenum}, {et(xt)}, "
            f"{et(wt)}, "
            f"{vt(acct)}, {et(ot)}, {act_t}, {vec}, {i}>(in, out, w{i}, {act}, 1);\n    {post}")
    return Case(f"mvau {kind} mw={mw} mh={mh} pe={pe} simd={simd} x={xt} w={wt}{' signed steps' * steps}", code,
                expected,
                D.mvau_cycles(vec, mh, mw, pe, simd))


def swg_geometry(rng):
    """A random sliding-window problem, shared by the HLS and RTL sweeps:
    (h, w, c, kh, kw, sh, sw, pad, simd, input type)."""
    h, w, c = int(rng.integers(1, 7)), int(rng.integers(1, 7)), int(rng.integers(1, 6))
    kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    sh, sw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
    pad = [int(v) for v in rng.integers(0, 2, size=4)]
    if h + pad[0] + pad[2] < kh or w + pad[1] + pad[3] < kw:
        pad = [kh - 1, kw - 1, kh - 1, kw - 1]
    return h, w, c, kh, kw, sh, sw, pad, divisor(rng, c), rand_type(rng)


def swg_case(i, rng) -> Case:
    frames = int(rng.integers(1, 3))
    h, w, c, kh, kw, sh, sw, pad, simd, it = swg_geometry(rng)
    pad_value = 0 if it.bipolar else int(rand_codes(rng, it, (1,))[0])  # bipolar maps pad with 0 as int2
    ot = CType(2, True) if it.bipolar and any(pad) else it
    x = rand_codes(rng, it, (frames, h, w, c))
    expected = ref.sliding_window(x, (kh, kw), (sh, sw), tuple(pad), pad_value)
    oh, ow = expected.shape[1:3]
    pre, post = _io(i, it, simd, x, ot, simd)
    code = (f"{pre}\n    edgec::swg<{h}, {w}, {c}, {kh}, {kw}, {sh}, {sw}, {', '.join(map(str, pad))}, {simd}, "
            f"{et(it)}, "
            f"{et(ot)}, {pad_value}, {i}>(in, out, {frames});\n    {post}")
    return Case(f"swg {h}x{w}x{c} k={kh}x{kw} s={sh}x{sw} pad={pad} simd={simd} {it}", code, expected,
                frames * D.swg_cycles(h, w, c, (kh, kw), (oh, ow), simd))


def window_case(i, rng, steps: bool = False) -> Case:
    """``steps``: a depthwise window whose activation has signed steps."""
    op = "depthwise" if steps else ["max", "avg", "depthwise"][i % 3]
    pixels, k, c = int(rng.integers(1, 5)), int(rng.integers(1, 10)), int(rng.integers(1, 9))
    pe = divisor(rng, c)
    it = rand_type(rng, 2, 8) if op != "max" else rand_type(rng)
    x = rand_codes(rng, it, (pixels, k, c))  # window entries in (k, c) order
    ilo, ihi = (-1, 1) if it.bipolar else (IntType(it.bits, it.signed).lo, IntType(it.bits, it.signed).hi)
    if op == "max":
        expected, ot, acc = x.max(axis=1), it, CType(it.bits + 1, True)
        opt = f"edgec::MaxOp<{vt(acc)}, {ilo} >"
        decl, opv = "", f"{opt}()"
    elif op == "avg":
        expected, ot = (2 * x.sum(axis=1) + k) // (2 * k), it
        acc = CType(it.bits + (k - 1).bit_length() + 1, True)
        opt = f"edgec::AvgOp<{vt(acc)}, {k} >"
        decl, opv = "", f"{opt}()"
    else:
        wt = CType(int(rng.integers(2, 6)), True)
        wts = rand_codes(rng, wt, (c, k))
        accv = ref.matmul(x.reshape(pixels, k * c), wts, groups=c)
        bound = int(np.abs(wts).sum(axis=1).max()) * max(abs(ilo), abs(ihi))
        acc = ctype_for(-bound, bound)
        thr, sign, out_lo, bipolar, ot, st = some_thresholds(rng, -bound, bound, c, steps, accv)
        act_t, adecl = act_decl(i, thr, sign, pe, acc.bits, out_lo, bipolar, ot, st)
        expected = ref.multi_threshold(accv, thr, sign, out_lo, bipolar, st)
        cf = c // pe
        w3 = wts.reshape(cf, pe, k).transpose(1, 0, 2)
        winit = "{" + ", ".join("{" + ", ".join("{" + ", ".join(map(str, r)) + "}" for r in p) + "}"
                                for p in w3.tolist()) + "}"
        opt = f"edgec::DepthwiseOp<{pe}, {cf}, {k}, {et(wt)}, {vt(acc)}, {act_t} >"
        decl = f"{adecl}\n    static const {opt} op{i} = {{{winit}, act{i}}};"
        opv = f"op{i}"
    pre, post = _io(i, it, pe, x, ot, pe)
    code = (f"{decl}\n    {pre}\n    edgec::window_reduce<{k}, {c}, {pe}, {et(it)}, {et(ot)}, {vt(acc)}, {opt}, "
            f"{pixels}, {i}>"
            f"(in, out, {opv}, 1);\n    {post}")
    return Case(f"window {op} k={k} c={c} pe={pe} {it}{' signed steps' * steps}", code, expected,
                D.window_cycles(pixels, k, c, pe))


def eltwise_case(i, rng, steps: bool = False) -> Case:
    """``steps``: a threshold stage with signed steps."""
    vec, c = int(rng.integers(1, 6)), int(rng.integers(1, 9))
    pe = divisor(rng, c)
    at, bt = rand_type(rng, 2, 8), rand_type(rng, 2, 8)
    if i % 2 == 0 and not steps:  # add
        if i % 4 == 2:  # a bipolar branch (w1a1) into the add
            bt = CType(1, True, True)
        a, b = rand_codes(rng, at, (vec, c)), rand_codes(rng, bt, (vec, c))
        sa, sb = (0, 0) if i % 4 == 0 else (int(rng.integers(0, 4)), int(rng.integers(0, 4)))  # scales 2^k apart
        s = a * 2**sa + b * 2**sb
        ot = ctype_for(min(s.min(), -(2 ** 8)), max(s.max(), 2 ** 8))
        pre_a, _ = _io(i, at, pe, a, ot, pe, sin="ina", sout="out")
        pre_b = (f"{arr(f'y{i}', b)}\n    hls::stream<ap_uint<{pe * bt.bits}> > inb;\n"
                 f"    push<{pe}, {et(bt)} >(inb, y{i}, {b.size});")
        post = f'pop_print<{pe}, {et(ot)} >(out, "case{i}", {i});'
        code = (f"{pre_a}\n    {pre_b}\n    edgec::add<{pe}, {et(at)}, {et(bt)}, {et(ot)}, {vec * c // pe}, {i}, "
                f"{sa}, {sb}>(ina, inb, out, 1);\n    {post}")
        return Case(f"add c={c} pe={pe} {at}<<{sa}+{bt}<<{sb}", code, s,
                    D.CYCLES[D.StageKind.ADD](D.AddP(pe, at, bt, at, vec * c // pe)))
    x = rand_codes(rng, at, (vec, c))
    lo, hi = int(x.min()), int(x.max())
    thr, sign, out_lo, bipolar, ot, st = some_thresholds(rng, lo, hi, c, steps, x)
    act_t, adecl = act_decl(i, thr, sign, pe, at.bits, out_lo, bipolar, ot, st)
    pre, post = _io(i, at, pe, x, ot, pe)
    code = (f"{adecl}\n    {pre}\n    edgec::threshold<{c}, {pe}, {et(at)}, {et(ot)}, {act_t}, {vec}, {i}>"
            f"(in, out, act{i}, "
            f"1);\n    {post}")
    return Case(f"threshold c={c} pe={pe} {at}{' signed steps' * steps}", code,
                ref.multi_threshold(x, thr, sign, out_lo, bipolar, st),
                D.CYCLES[D.StageKind.THRESHOLD](D.ThresholdP(c, pe, vec, at, at, None)))


def stream_case(i, rng) -> Case:
    t = rand_type(rng)
    if i % 3 == 2:  # duplicate: print both outputs one after the other
        n = int(rng.integers(1, 20))
        x = rand_codes(rng, t, (n,))
        pre, _ = _io(i, t, 1, x, t, 1, sout="o0")
        code = (f"{pre}\n    hls::stream<ap_uint<{t.bits}> > o1;\n"
                f"    edgec::duplicate<{t.bits}, {n}, {i}>(in, o0, o1, 1);\n"
                f'    pop_print<1, {et(t)} >(o0, "case{i}", {i}); pop_print<1, {et(t)} >(o1, "case{i}b", {i});')
        return Case(f"duplicate {n} x {t}", code, x, D.CYCLES[D.StageKind.DUP](D.DupP(n)))
    a, b = int(rng.integers(1, 7)), int(rng.integers(1, 7))
    n = a * b * int(rng.integers(1, 4))
    x = rand_codes(rng, t, (n,))
    pre, post = _io(i, t, a, x, t, b)
    code = f"{pre}\n    edgec::dwc<{a}, {b}, {t.bits}, {n}, {i}>(in, out, 1);\n    {post}"
    return Case(f"dwc {a}->{b} x {n} {t}", code, x, D.dwc_cycles(a, b, n))


PRELUDE = r"""
#include <cstdio>
#include "edgec/edgec.h"

template <int N, class T>
void push(hls::stream<ap_uint<N * T::bits> > &s, const long long *v, unsigned long long count) {
    for (unsigned long long i = 0; i < count / N; i++) {
        ap_uint<N * T::bits> w = 0;
        for (int j = 0; j < N; j++) T::put(w, j, v[i * N + j]);
        s.write(w);
    }
}

template <int N, class T>
void pop_print(hls::stream<ap_uint<N * T::bits> > &s, const char *tag, int id) {
    std::printf("%s %llu:", tag, edgec::counters()[id]);
    while (!s.empty()) {
        ap_uint<N * T::bits> w = s.read();
        for (int j = 0; j < N; j++) std::printf(" %lld", (long long)T::get(w, j).to_int64());
    }
    std::printf("\n");
}
"""


def program(cases: list[Case]) -> str:
    body = "\n".join(f"static void run{i}() {{\n    {c.code}\n}}" for i, c in enumerate(cases))
    calls = "\n".join(f"    run{i}();" for i in range(len(cases)))
    return f"{PRELUDE}\n{body}\n\nint main() {{\n{calls}\n    return 0;\n}}\n"


def make_cases(seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    from . import cases_lookup, cases_requant, cases_sparse, cases_unet, cases_winograd

    makers = [mvau_case] * 12 + [swg_case] * 8 + [window_case] * 9 + [eltwise_case] * 6 + [stream_case] * 6
    cases = [m(i, rng) for i, m in enumerate(makers)]
    cases += cases_winograd.make(rng, len(cases))
    cases += cases_sparse.make(rng, len(cases))
    # the activations with signed steps, after the others (which keep their random draws)
    makers = [mvau_case] * 8 + [window_case] * 3 + [eltwise_case] * 3
    cases += [m(len(cases) + k, rng, steps=True) for k, m in enumerate(makers)]
    cases += cases_sparse.make_steps(rng, len(cases))
    cases += cases_unet.make(rng, len(cases))  # concat and upsample, after the others' draws
    # the requantizer, fused and stand-alone, on its own draws (the others keep theirs)
    cases += cases_requant.make(np.random.default_rng([seed, 18]), len(cases))
    return cases + cases_lookup.make(np.random.default_rng([seed, 17]), len(cases))  # lookups, their own draws
