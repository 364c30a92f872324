"""Random instances of the hw/rtl kernels gathered in one generated top module, so that a
sweep over PE, SIMD, widths and kernel kinds costs one simulator build."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgec import resources, tools
from edgec.backend import rtl_mem
from edgec.backend.hls import CType, pack_words, thresholds_act
from edgec.ir import ref

from ..hls.kernel_cases import ctype_for, divisor, rand_codes, rand_type, thresholds


@dataclass
class RtlCase:
    name: str
    module: str
    params: dict
    in_width: int
    out_width: int
    in_words: list[int]
    out_words: list[int]
    in_last: list[int]
    out_last: list[int]
    files: dict = field(default_factory=dict)  # parameter -> memory lines


def words(codes: np.ndarray, per_word: int, t: CType) -> list[int]:
    return pack_words(np.asarray(codes).reshape(-1, per_word), t.bits, t.bipolar)


def lasts(n_words: int, frames: int) -> list[int]:
    per = n_words // frames
    return [int((i + 1) % per == 0) for i in range(n_words)]


KINDS = {"xnor-popcount": 0, "binary-addsub": 1, "lut-mac": 2, "dsp-mac": 3}


def mvau_case(i: int, rng) -> RtlCase:
    kind = list(KINDS)[i % 4]
    mw, mh, vec, frames = int(rng.integers(1, 30)), int(rng.integers(1, 10)), int(rng.integers(1, 4)), 2
    pe, simd = divisor(rng, mh), divisor(rng, mw)
    if kind == "xnor-popcount":
        xt = wt = CType(1, True, True)
    elif kind == "binary-addsub":
        xt, wt = rand_type(rng), CType(1, True, True)
    elif kind == "lut-mac":
        xt, wt = rand_type(rng, 2, 4), CType(int(rng.integers(2, 5)), True)
    else:
        xt, wt = rand_type(rng, 5, 8), CType(int(rng.integers(2, 9)), True)
    x = rand_codes(rng, xt, (frames * vec, mw))
    w = rand_codes(rng, wt, (mh, mw))
    if kind == "xnor-popcount":
        acc, lo, hi = ref.xnor_popcount(x, w), 0, mw
    else:
        acc = ref.matmul(x, w)
        xabs = 1 if xt.bipolar else 2 ** (xt.bits - (1 if xt.signed else 0))
        hi = int(np.abs(w).sum(axis=1).max()) * xabs
        lo = -hi
    acct = ctype_for(lo, hi)
    p = dict(MW=mw, MH=mh, SIMD=simd, PE=pe, KIND=KINDS[kind], XB=xt.bits, XS=int(xt.signed), XBIP=int(xt.bipolar),
             WB=wt.bits, AB=acct.bits, VECTORS=vec)
    files = {"WFILE": rtl_mem.mvau_weights(w, pe, simd, wt.bits, wt.bipolar)}
    if rng.integers(0, 3):
        thr, sign, out_lo, bipolar, ot = thresholds(rng, lo, hi, mh)
        cb = thresholds_act(thr, sign, pe, acct.bits, out_lo, bipolar).cb
        files["TFILE"], files["NFILE"] = rtl_mem.thresholds(thr, sign, pe, cb)
        expected = ref.multi_threshold(acc, thr, sign, out_lo, bipolar)
        p.update(NT=thr.shape[1], CB=cb, OB=ot.bits, OUT_LO=out_lo, BIPOLAR=int(bipolar))
    else:
        ot, expected = acct, acc
        p.update(NT=0, CB=acct.bits + 1, OB=acct.bits)
    iw, ow = words(x, simd, xt), words(expected, pe, ot)
    return RtlCase(f"mvau {kind} mw={mw} mh={mh} pe={pe} simd={simd} x={xt.bits}b w={wt.bits}b nt={p['NT']}",
                   "edgec_mvau", p, simd * xt.bits, pe * ot.bits, iw, ow, lasts(len(iw), frames),
                   lasts(len(ow), frames), files)


def dwc_case(i: int, rng) -> RtlCase:
    t = rand_type(rng)
    a, b, frames = int(rng.integers(1, 7)), int(rng.integers(1, 7)), 3
    n = a * b // np.gcd(a, b) * int(rng.integers(1, 3))
    x = rand_codes(rng, t, (frames * n,))
    iw, ow = words(x, a, t), words(x, b, t)
    return RtlCase(f"dwc {a}->{b} {t.bits}b", "edgec_dwc", dict(IN_E=a, OUT_E=b, B=t.bits), a * t.bits, b * t.bits,
                   iw, ow, lasts(len(iw), frames), lasts(len(ow), frames))


def passthrough_case(i: int, rng, module: str) -> RtlCase:
    width = int(rng.integers(1, 40))
    n = int(rng.integers(1, 30))
    w = [int(v) for v in rng.integers(0, 2**width, size=n, dtype=np.uint64)]
    p = dict(W=width) if module == "edgec_skid" else dict(W=width, DEPTH=int(rng.choice([2, 4, 8])))
    la = [int(v) for v in rng.integers(0, 2, size=n)]
    return RtlCase(f"{module} {p}", module, p, width, width, w, w, la, la)


def make_cases(seed: int) -> list[RtlCase]:
    rng = np.random.default_rng(seed)
    cases = [mvau_case(i, rng) for i in range(12)]
    cases += [dwc_case(i, rng) for i in range(5)]
    cases += [passthrough_case(i, rng, "edgec_skid") for i in range(2)]
    cases += [passthrough_case(i, rng, "edgec_fifo") for i in range(3)]
    return cases


def top_module(cases: list[RtlCase], mem_dir: Path) -> str:
    ports = ["input wire clk", "input wire rst_n"]
    body = []
    for i, c in enumerate(cases):
        pre = f"c{i}"
        ports += [f"input wire [{c.in_width - 1}:0] {pre}_s_tdata", f"input wire {pre}_s_tvalid",
                  f"output wire {pre}_s_tready", f"input wire {pre}_s_tlast",
                  f"output wire [{c.out_width - 1}:0] {pre}_m_tdata", f"output wire {pre}_m_tvalid",
                  f"input wire {pre}_m_tready", f"output wire {pre}_m_tlast"]
        params = dict(c.params)
        for k, lines in c.files.items():
            path = mem_dir / f"{pre}_{k.lower()}.mem"
            rtl_mem.write(path, lines)
            params[k] = f'"{path}"'
        plist = ", ".join(f".{k}({v})" for k, v in params.items())
        conns = ", ".join(f".{s}_{n}({pre}_{s}_{n})" for s in ("s", "m") for n in ("tdata", "tvalid", "tready", "tlast"))
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
                 timescale=("1ns", "1ps"), build_args=args, log_file=work / "build.log")
    return runner


def run(runner, cases: list[RtlCase], work: Path, idle: float, backpressure: float, tag: str) -> list[str]:
    """Run the cocotb testbench; returns the failure messages (empty when all pass)."""
    spec = {"idle": idle, "backpressure": backpressure, "max_cycles": 200000,
            "cases": [{"prefix": f"c{i}", "name": c.name, "in": [f"{w:x}" for w in c.in_words], "in_last": c.in_last,
                       "out": [f"{w:x}" for w in c.out_words], "out_last": c.out_last} for i, c in enumerate(cases)]}
    path = work / f"spec_{tag}.json"
    path.write_text(json.dumps(spec))
    results = work / f"results_{tag}.xml"
    try:  # the runner exits (SystemExit) when a test fails; the results file says which
        runner.test(test_module="tests.rtl.tb_sweep", hdl_toplevel="sweep", build_dir=work / "build", test_dir=work,
                    extra_env={"EDGEC_SWEEP_SPEC": str(path)}, results_xml=str(results), log_file=work / f"run_{tag}.log")
    except SystemExit:
        pass
    root = ET.parse(results).getroot()
    cases_run = list(root.iter("testcase"))
    fails = [f.get("message", "") + (f.text or "") for f in root.iter("failure")]
    return fails if cases_run else ["no cocotb test ran"]
