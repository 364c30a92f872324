"""Random instances of the hw/rtl kernels gathered in one generated top module, so that a
sweep over PE, SIMD, widths and kernel kinds costs one simulator build. Every kernel with
an activation is swept with thresholds that only rise and with signed steps
(SIGNED_STEPS, DFILE)."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgec import resources, tools
from edgec.backend import rtl_mem
from edgec.backend.stages import CType
from edgec.backend.stages import activation as thresholds_act
from edgec.backend.words import pack_words
from edgec.ir import ref

from . import cases_lookup, cases_requant, cases_sparse, cases_unet, cases_winograd
from ..hls.kernel_cases import ctype_for, divisor, mvau_problem, rand_codes, rand_type, some_thresholds, swg_geometry


@dataclass
class Port:
    name: str  # s, a, b (inputs) or m, a, b (outputs)
    width: int
    words: list[int]
    lasts: list[int]


@dataclass
class RtlCase:
    name: str
    module: str
    params: dict
    ins: list[Port]
    outs: list[Port]
    files: dict = field(default_factory=dict)  # parameter -> memory lines (a list of them: one a lane)


def simple(name, module, params, iw, ow, i_words, o_words, frames, files=None) -> RtlCase:
    return RtlCase(name, module, params, [Port("s", iw, i_words, lasts(len(i_words), frames))],
                   [Port("m", ow, o_words, lasts(len(o_words), frames))], files or {})


def words(codes: np.ndarray, per_word: int, t: CType) -> list[int]:
    return pack_words(np.asarray(codes).reshape(-1, per_word), t.bits, t.bipolar)


def lasts(n_words: int, frames: int) -> list[int]:
    per = n_words // frames
    return [int((i + 1) % per == 0) for i in range(n_words)]


KINDS = {"xnor-popcount": 0, "binary-addsub": 1, "lut-mac": 2, "dsp-mac": 3}


def act_files(thr, sign, pe: int, acc_bits: int, out_lo: int, bipolar: bool, steps) -> tuple[dict, dict]:
    """(parameters, memory images) of an activation as the RTL backend holds it (the
    sentinel column of a layer without thresholds; with signed steps SIGNED_STEPS and the
    falling-step flags in DFILE)."""
    a = thresholds_act(thr, sign, pe, acc_bits, out_lo, bipolar, steps)
    files = dict(zip(("TFILE", "NFILE"), rtl_mem.thresholds(a.table, a.sign, pe, a.cb)))
    params = dict(NT=a.nt, CB=a.cb, OUT_LO=out_lo, BIPOLAR=int(bipolar))
    if steps is not None:
        files["DFILE"] = rtl_mem.falling_steps(a.steps, pe)
        params["SIGNED_STEPS"] = 1
    return params, files


def mvau_case(i: int, rng, steps: bool = False) -> RtlCase:
    """``steps``: always an activation, with signed steps."""
    vec, frames = int(rng.integers(1, 4)), 2
    m = mvau_problem(i, rng, frames * vec, max_mw=30, max_mh=10)
    kind, mw, mh, pe, simd, xt, wt, x, w, acc, lo, hi, acct = (
        m.kind, m.mw, m.mh, m.pe, m.simd, m.xt, m.wt, m.x, m.w, m.acc, m.lo, m.hi, m.acct)
    p = dict(MW=mw, MH=mh, SIMD=simd, PE=pe, KIND=KINDS[kind], XB=xt.bits, XS=int(xt.signed), XBIP=int(xt.bipolar),
             WB=wt.bits, AB=acct.bits, VECTORS=vec)
    files = {"WFILE": rtl_mem.mvau_weights(w, pe, simd, wt.bits, wt.bipolar)}
    if steps or rng.integers(0, 3):
        thr, sign, out_lo, bipolar, ot, st = some_thresholds(rng, lo, hi, mh, steps, acc)
        ap, af = act_files(thr, sign, pe, acct.bits, out_lo, bipolar, st)
        files.update(af)
        expected = ref.multi_threshold(acc, thr, sign, out_lo, bipolar, st)
        p.update(ap, OB=ot.bits)
    else:
        ot, expected = acct, acc
        p.update(NT=0, CB=acct.bits + 1, OB=acct.bits)
    return simple(f"mvau {kind} mw={mw} mh={mh} pe={pe} simd={simd} x={xt.bits}b w={wt.bits}b nt={p['NT']}"
                  f"{' signed steps' * steps}",
                  "edgec_mvau", p, simd * xt.bits, pe * ot.bits, words(x, simd, xt), words(expected, pe, ot), frames,
                  files)


def dwc_case(i: int, rng) -> RtlCase:
    t = rand_type(rng)
    a, b, frames = int(rng.integers(1, 7)), int(rng.integers(1, 7)), 3
    n = a * b // np.gcd(a, b) * int(rng.integers(1, 3))
    x = rand_codes(rng, t, (frames * n,))
    return simple(f"dwc {a}->{b} {t.bits}b", "edgec_dwc", dict(IN_E=a, OUT_E=b, B=t.bits), a * t.bits, b * t.bits,
                  words(x, a, t), words(x, b, t), frames)


def passthrough_case(i: int, rng, module: str) -> RtlCase:
    width = int(rng.integers(1, 40))
    n = int(rng.integers(1, 30))
    w = [int(v) for v in rng.integers(0, 2**width, size=n, dtype=np.uint64)]
    p = dict(W=width) if module == "edgec_skid" else dict(W=width, DEPTH=int(rng.choice([2, 4, 8])))
    la = [int(v) for v in rng.integers(0, 2, size=n)]
    return RtlCase(f"{module} {p}", module, p, [Port("s", width, w, la)], [Port("m", width, w, la)])


def itype(t: CType) -> dict:
    return dict(IB=t.bits, IS=int(t.signed), IBIP=int(t.bipolar))


def swg_case(i: int, rng) -> RtlCase:
    frames = 2
    h, w, c, kh, kw, sh, sw, pad, simd, it = swg_geometry(rng)
    pad_value = int(rand_codes(rng, it, (1,))[0])
    ot = it
    if it.bipolar and any(pad) and i % 2:  # a conv's zero padding: the window becomes int2
        pad_value, ot = 0, CType(2, True)
    x = rand_codes(rng, it, (frames, h, w, c))
    win = ref.sliding_window(x, (kh, kw), (sh, sw), tuple(pad), pad_value)
    p = dict(IH=h, IW=w, C=c, KH=kh, KW=kw, SH=sh, SW=sw, PT=pad[0], PL=pad[1], PB=pad[2], PR=pad[3], SIMD=simd,
             **itype(it), OB=ot.bits, PAD=pad_value)
    return simple(f"swg {h}x{w}x{c} k={kh}x{kw} s={sh}x{sw} pad={pad} simd={simd} {it.bits}b", "edgec_swg", p,
                  simd * it.bits, simd * ot.bits, words(x, simd, it), words(win, simd, ot), frames)


def window_case(i: int, rng, steps: bool = False) -> RtlCase:
    """``steps``: a depthwise window whose activation has signed steps."""
    op = 2 if steps else i % 3
    frames, pixels, k, c = 2, int(rng.integers(1, 4)), int(rng.integers(1, 10)), int(rng.integers(1, 9))
    pe = divisor(rng, c)
    it = (CType(1, True, True) if i == 3 else rand_type(rng)) if op == 0 else rand_type(rng, 2, 8)
    return _window_case(op, frames, pixels, k, c, pe, it, rng, steps)


def signed_avg_case(i: int, rng) -> RtlCase:
    """Average pooling of signed values: negative sums that are not a multiple of 2K round
    down (floor((2s + K) / 2K)); the first one as in a 1-D CNN (K=2, C=8, PE=2, int4)."""
    if i == 0:
        pixels, k, c, pe, it = 4, 2, 8, 2, CType(4, True)
    else:
        pixels, k, c = int(rng.integers(1, 4)), int(rng.integers(2, 10)), int(rng.integers(1, 9))
        pe, it = divisor(rng, c), CType(int(rng.integers(2, 9)), True)
    return _window_case(1, 2, pixels, k, c, pe, it, rng)


def _window_case(op, frames, pixels, k, c, pe, it, rng, steps: bool = False) -> RtlCase:
    x = rand_codes(rng, it, (frames * pixels, k, c))
    ilo = -1 if it.bipolar else (-(2 ** (it.bits - 1)) if it.signed else 0)
    ihi = 1 if it.bipolar else (2 ** (it.bits - 1) - 1 if it.signed else 2**it.bits - 1)
    p = dict(OP=op, K=k, C=c, PE=pe, **itype(it), PIXELS=pixels)
    files = {}
    if op == 0:
        expected, ot, ab = x.max(axis=1), it, it.bits + 1
    elif op == 1:
        expected, ot = (2 * x.sum(axis=1) + k) // (2 * k), it
        ab = it.bits + (k - 1).bit_length() + 1
    else:
        wt = CType(int(rng.integers(2, 6)), True)
        wts = rand_codes(rng, wt, (c, k))
        accv = ref.matmul(x.reshape(-1, k * c), wts, groups=c)
        bound = int(np.abs(wts).sum(axis=1).max()) * max(abs(ilo), abs(ihi))
        ab = ctype_for(-bound, bound).bits
        thr, sign, out_lo, bipolar, ot, st = some_thresholds(rng, -bound, bound, c, steps, accv)
        ap, af = act_files(thr, sign, pe, ab, out_lo, bipolar, st)
        expected = ref.multi_threshold(accv, thr, sign, out_lo, bipolar, st)
        files = {"WFILE": rtl_mem.depthwise_weights(wts, pe, wt.bits), **af}
        p.update(WB=wt.bits, **ap)
    p.update(OB=ot.bits, AB=ab)
    if op != 2:
        p["OB"] = ot.bits
    return simple(f"window op={op} k={k} c={c} pe={pe} {it.bits}b{' signed steps' * steps}", "edgec_window", p,
                  pe * it.bits, pe * ot.bits,
                  words(x, pe, it), words(expected, pe, ot), frames, files)


def add_case(i: int, rng) -> RtlCase:
    frames, vec, c = 2, int(rng.integers(1, 5)), int(rng.integers(1, 9))
    pe = divisor(rng, c)
    at, bt = rand_type(rng, 2, 8), rand_type(rng, 2, 8)
    if i == 2:  # a bipolar branch (w1a1) into the add
        bt = CType(1, True, True)
    a, b = rand_codes(rng, at, (frames * vec, c)), rand_codes(rng, bt, (frames * vec, c))
    sa, sb = (0, 0) if i == 0 else (int(rng.integers(0, 4)), int(rng.integers(0, 8)))  # scales 2^k apart
    ot = CType(10 + max(sa, sb), True)
    la = lasts(frames * vec * c // pe, frames)
    return RtlCase(f"add c={c} pe={pe} shift={sa},{sb}{' bipolar b' * bt.bipolar}", "edgec_add",
                   dict(PE=pe, AB=at.bits, AS=int(at.signed), BB=bt.bits, BS=int(bt.signed), OB=ot.bits, SA=sa, SB=sb,
                        BBIP=int(bt.bipolar)),
                   [Port("a", pe * at.bits, words(a, pe, at), la), Port("b", pe * bt.bits, words(b, pe, bt), la)],
                   [Port("m", pe * ot.bits, words(a * 2**sa + b * 2**sb, pe, ot), la)])


def threshold_case(i: int, rng, steps: bool = False) -> RtlCase:
    """``steps``: an activation with signed steps."""
    frames, vec, c = 2, int(rng.integers(1, 5)), int(rng.integers(1, 9))
    pe = divisor(rng, c)
    it = rand_type(rng, 2, 8)
    x = rand_codes(rng, it, (frames * vec, c))
    thr, sign, out_lo, bipolar, ot, st = some_thresholds(rng, int(x.min()), int(x.max()), c, steps, x)
    ap, files = act_files(thr, sign, pe, it.bits, out_lo, bipolar, st)
    p = dict(C=c, PE=pe, IB=it.bits, IS=int(it.signed), OB=ot.bits, **ap)
    return simple(f"threshold c={c} pe={pe} nt={thr.shape[1]}{' signed steps' * steps}", "edgec_threshold", p,
                  pe * it.bits, pe * ot.bits, words(x, pe, it),
                  words(ref.multi_threshold(x, thr, sign, out_lo, bipolar, st), pe, ot), frames, files)


def dup_case(i: int, rng) -> RtlCase:
    width, n = int(rng.integers(1, 20)), int(rng.integers(1, 30))
    w = [int(v) for v in rng.integers(0, 2**width, size=n)]
    la = lasts(n, 1)
    return RtlCase(f"dup {width}b", "edgec_dup", dict(W=width), [Port("s", width, w, la)],
                   [Port("a", width, w, la), Port("b", width, w, la)])


def make_cases(seed: int) -> list[RtlCase]:
    rng = np.random.default_rng(seed)
    cases = [mvau_case(i, rng) for i in range(12)]
    cases += [dwc_case(i, rng) for i in range(5)]
    cases += [passthrough_case(i, rng, "edgec_skid") for i in range(2)]
    cases += [passthrough_case(i, rng, "edgec_fifo") for i in range(3)]
    cases += [swg_case(i, rng) for i in range(8)]
    cases += [window_case(i, rng) for i in range(9)]
    cases += [add_case(i, rng) for i in range(3)] + [threshold_case(i, rng) for i in range(3)]
    cases += [dup_case(i, rng) for i in range(2)]
    cases += cases_winograd.make(rng) + cases_sparse.make(rng)
    # the activations with signed steps, after the others (which keep their random draws)
    cases += [mvau_case(i, rng, steps=True) for i in range(8)]
    cases += [window_case(i, rng, steps=True) for i in range(3)]
    cases += [threshold_case(i, rng, steps=True) for i in range(3)]
    srng = np.random.default_rng([seed, 1])  # its own draws: the other cases keep theirs
    cases += [signed_avg_case(i, srng) for i in range(4)]
    cases += cases_sparse.make_steps(rng)
    cases += cases_unet.make(rng)  # concat and upsample, after the others' draws
    cases += cases_requant.make_seeded(seed)  # the requantizer, on its own draws
    return cases + cases_lookup.make_seeded(seed)  # the lookup activation, on its own draws


def top_module(cases: list[RtlCase], mem_dir: Path) -> str:
    ports = ["input wire clk", "input wire rst_n"]
    body = []
    for i, c in enumerate(cases):
        pre = f"c{i}"
        for pt in c.ins:
            ports += [f"input wire [{pt.width - 1}:0] {pre}_{pt.name}i_tdata", f"input wire {pre}_{pt.name}i_tvalid",
                      f"output wire {pre}_{pt.name}i_tready", f"input wire {pre}_{pt.name}i_tlast"]
        for pt in c.outs:
            ports += [f"output wire [{pt.width - 1}:0] {pre}_{pt.name}o_tdata", f"output wire {pre}_{pt.name}o_tvalid",
                      f"input wire {pre}_{pt.name}o_tready", f"output wire {pre}_{pt.name}o_tlast"]
        params = dict(c.params)
        for k, lines in c.files.items():
            if lines and isinstance(lines[0], list):  # one image a lane (edgec_lookup: {prefix}dddd.mem)
                for lane, part in enumerate(lines):
                    rtl_mem.write(mem_dir / f"{pre}_{k.lower()}_{lane:04d}.mem", part)
                params[k] = f'"{mem_dir / f"{pre}_{k.lower()}_"}"'
                continue
            path = mem_dir / f"{pre}_{k.lower()}.mem"
            rtl_mem.write(path, lines)
            params[k] = f'"{path}"'
        plist = ", ".join(f".{k}({v})" for k, v in params.items())
        conns = ", ".join(f".{pt.name}_{n}({pre}_{pt.name}{d}_{n})" for d, pts in (("i", c.ins), ("o", c.outs))
                          for pt in pts for n in ("tdata", "tvalid", "tready", "tlast"))
        body.append(f"    {c.module} #({plist}) u{i} (.clk(clk), .rst_n(rst_n), {conns});  // {c.name}")
    return ("`timescale 1ns / 1ps\nmodule sweep (\n    " + ",\n    ".join(ports) + "\n);\n" + "\n".join(body)
            + "\nendmodule\n")


def build(sim: str, cases: list[RtlCase], work: Path):
    """One simulator build of the sweep top; returns the runner."""
    from cocotb_tools.runner import get_runner

    tools.use_simulator(sim)
    work.mkdir(parents=True, exist_ok=True)
    (work / "sweep.v").write_text(top_module(cases, work))
    rtl = resources.path("hw") / "rtl"
    runner = get_runner(sim)
    args = ["-Wno-fatal"] if sim == "verilator" else []
    runner.build(sources=[*sorted(rtl.glob("*.v")), work / "sweep.v"], hdl_toplevel="sweep", build_dir=work / "build",
                 timescale=("1ns", "1ps"), build_args=args, includes=[str(rtl)], log_file=work / "build.log")
    return runner


def run(runner, cases: list[RtlCase], work: Path, idle: float, backpressure: float, tag: str) -> list[str]:
    """Run the cocotb testbench; returns the failure messages (empty when all pass)."""
    spec = {"idle": idle, "backpressure": backpressure, "max_cycles": 200000,
            "cases": [{"name": c.name,
                       "ins": [{"prefix": f"c{i}_{p.name}i", "words": [f"{w:x}" for w in p.words], "lasts": p.lasts}
                               for p in c.ins],
                       "outs": [{"prefix": f"c{i}_{p.name}o", "words": [f"{w:x}" for w in p.words], "lasts": p.lasts}
                                for p in c.outs]} for i, c in enumerate(cases)]}
    path = work / f"spec_{tag}.json"
    path.write_text(json.dumps(spec))
    results = work / f"results_{tag}.xml"
    try:  # the runner exits (SystemExit) when a test fails; the results file says which
        runner.test(test_module="tests.rtl.tb_sweep", hdl_toplevel="sweep", build_dir=work / "build", test_dir=work,
                    extra_env={"EDGEC_SWEEP_SPEC": str(path)}, results_xml=str(results),
                    log_file=work / f"run_{tag}.log")
    except SystemExit:
        pass
    root = ET.parse(results).getroot()
    cases_run = list(root.iter("testcase"))
    fails = [f.get("message", "") + (f.text or "") for f in root.iter("failure")]
    return fails if cases_run else ["no cocotb test ran"]
