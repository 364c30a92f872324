"""Dataflow plan -> OUT/rtl/: the network top over hw/rtl (same stages and folding as the
HLS build), the $readmemh memory images, a copy of the kernel library and a file list.

The top's ports follow Vitis HLS's names for the same C++ top (ap_clk, ap_rst_n,
s_axis_TDATA/TVALID/TREADY/TLAST, m_axis_...), so one testbench drives either.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .. import resources
from ..version import __version__
from ..dataflow import Plan
from . import rtl_mem
from ..dataflow import StageKind
from ..errors import EdgecError
from .stages import TOP, CType, HAct, HLut, HRq, Stages
from .render import render

KIND_CODE = {"XNOR_POPCOUNT": 0, "BINARY_ADDSUB": 1, "LUT_MAC": 2, "DSP_MAC": 3}
WINDOW_OP = {"max": 0, "avg": 1, "depthwise": 2}


@dataclass
class RInst:
    id: int
    name: str
    module: str
    params: list[tuple[str, str]]  # (name, Verilog literal)
    ports: list[tuple[str, str]]  # (module port prefix, stream wire prefix)
    values: dict  # parameter -> int, or for a memory image {"mem": file name in mem/}


@dataclass
class RWire:
    var: str
    width: int
    depth: int = 2


@dataclass
class RtlContext:
    top: str
    version: str
    in_beat_bits: int
    out_beat_bits: int
    in_beats: int  # beats per frame
    out_beats: int
    in_var: str
    in_width: int
    out_var: str
    out_width: int
    wires: list[RWire]  # internal streams: <var>_p_* (producer side) -> FIFO -> <var>_c_* (consumer side)
    insts: list[RInst] = field(default_factory=list)


def _itype(t: CType, pre: str) -> list[tuple[str, int]]:
    return [(f"{pre}B", t.bits), (f"{pre}S", int(t.signed)), (f"{pre}BIP", int(t.bipolar))]


def _rq_params(a: HRq) -> list[tuple[str, int]]:
    """edgec_requant's parameters (beside C, PE and the input's width)."""
    return [("MB", a.mb), ("BB", a.bb), ("SHB", a.shb), ("SMIN", a.smin), ("LO", a.lo), ("HI", a.hi)]


def _act_params(a: HAct | HRq) -> list[tuple[str, int]]:
    """edgec_act's parameters; SIGNED_STEPS only when the activation has signed steps (the
    default 0 leaves every other instance as it was). A requantizer: NT = 0 and the RQ
    form (edgec_mvau), the accumulator RQB bits wide."""
    if isinstance(a, HRq):
        return [("NT", 0), ("CB", 2), ("RQ", 1), ("RQB", a.xw), *_rq_params(a)]
    steps = [("SIGNED_STEPS", 1)] if a.nt and a.steps is not None else []
    return [("NT", a.nt or 0), ("CB", a.cb or 2), ("OUT_LO", a.out_lo), ("BIPOLAR", int(a.bipolar)), *steps]


def context(plan: Plan, mem: dict[str, list[str]]) -> RtlContext:
    """``mem`` receives the memory images (file name -> lines)."""
    c = Stages(plan)
    first, last = plan.stages[0], plan.stages[-1]
    ins_var = c.s(first.outs[0]).var
    out_var = c.s(last.ins[0]).var
    wires = [RWire(c.s(s).var, c.s(s).width, s.depth) for s in plan.streams]
    ctx = RtlContext(TOP, __version__, first.p.beat_bits, last.p.beat_bits, plan.in_stream.words,
                     plan.out_stream.words, ins_var,
                     first.outs[0].width, out_var, last.ins[0].width, wires)

    for st in plan.stages[1:-1]:
        rule = RTL.get(st.kind)
        if rule is None:
            raise EdgecError(f"stage '{st.name}': the RTL backend has no kernel for stage kind '{st.kind}'")
        h = c.stage(st)
        ins = [c.s(x).var for x in st.ins]
        outs = [c.s(x).var for x in st.outs]
        ports = [("s", ins[0] + "_c"), ("m", outs[0] + "_p")]
        module, params, images, ports = rule(st, h, ins, outs, ports)
        for key, lines in images.items():
            name = f"{key[0].lower()}_{st.id}"
            if lines and isinstance(lines[0], list):  # one image a lane (edgec_lookup): {name}_dddd.mem
                for lane, part in enumerate(lines):
                    mem[f"{name}_{lane:04d}.mem"] = part
                params.append((key, {"mem": f"{name}_", "lanes": len(lines)}))
            else:
                mem[f"{name}.mem"] = lines
                params.append((key, {"mem": f"{name}.mem"}))
        lits = [(k, f'{{MEM_DIR, "/{v["mem"]}"}}' if isinstance(v, dict) else str(v)) for k, v in params]
        ctx.insts.append(RInst(st.id, st.name, module, lits, ports, dict(params)))
    return ctx


def _act_images(a: HAct | HRq | HLut, pe: int) -> dict:
    if isinstance(a, HLut):
        return {"LFILE": rtl_mem.lookup(a.lanes(), a.ob)}
    if isinstance(a, HRq):
        return rtl_mem.requant(a.mult, a.bias, a.shift, pe, a.mb, a.bb, a.shb, a.smin)
    if not a.nt:
        return {}
    img = dict(zip(("TFILE", "NFILE"), _thresholds(a, pe)))
    if a.steps is not None:
        img["DFILE"] = rtl_mem.falling_steps(a.steps, pe)
    return img


def _mvau(st, h, ins, outs, ports):
    p, a = h.p, h.act
    xt, wt, ot = p["xt"], p["wt"], p["ot"]
    params = [("MW", p["mw"]), ("MH", p["mh"]), ("SIMD", p["simd"]), ("PE", p["pe"]),
              ("KIND", KIND_CODE[p["kind"]]), ("XB", xt.bits), ("XS", int(xt.signed)), ("XBIP", int(xt.bipolar)),
              ("WB", wt.bits), ("AB", p["acc"].bits), ("OB", ot.bits), ("VECTORS", p["vectors"]),
              *_act_params(a), ("SETS", p["sets"])]
    img = {"WFILE": rtl_mem.mvau_weights(st.p.weight, p["pe"], p["simd"], wt.bits, wt.bipolar),
           **_act_images(a, p["pe"])}
    return "edgec_mvau", params, img, ports


def _smvau(st, h, ins, outs, ports):
    p, a = h.p, h.act
    xt, ot = p["xt"], p["ot"]
    params = [("MW", p["mw"]), ("MH", p["mh"]), ("PE", p["pe"]), ("SIMD", p["simd"]), ("IN_E", p["in_e"]),
              ("XB", xt.bits), ("XS", int(xt.signed)), ("XBIP", int(xt.bipolar)), ("WB", p["wb"]),
              ("IXB", p["ixb"]), ("AB", p["acc"].bits), ("OB", ot.bits), *_act_params(a), ("SETS", p["sets"]),
              ("STEPS", p["steps"]), ("VECTORS", p["vectors"])]
    img = {"WFILE": rtl_mem.hex_lines(p["words"], p["width"]), **_act_images(a, p["pe"])}
    return "edgec_smvau", params, img, ports


def _wino_in(st, h, ins, outs, ports):
    p = h.p
    params = [("M", p["m"]), ("C", p["c"]), ("SIMD", p["simd"]), *_itype(p["it"], "I"), ("VB", p["vt"].bits),
              ("TILES", p["tiles"])]
    return "edgec_wino_in", params, {}, ports


def _wino_out(st, h, ins, outs, ports):
    p = h.p
    params = [("M", p["m"]), ("MH", p["mh"]), ("PE", p["pe"]), ("MB", p["mt"].bits), ("YB", p["yt"].bits),
              ("OH", p["oh"]), ("OW", p["ow"])]
    return "edgec_wino_out", params, {}, ports


def _swg(st, h, ins, outs, ports):
    p = h.p
    it, ot = p["it"], p["ot"]
    params = [("IH", p["ih"]), ("IW", p["iw"]), ("C", p["c"]), ("KH", p["kh"]), ("KW", p["kw"]),
              ("SH", p["sh"]), ("SW", p["sw"]), ("PT", p["pad"][0]), ("PL", p["pad"][1]), ("PB", p["pad"][2]),
              ("PR", p["pad"][3]), ("SIMD", p["simd"]), *_itype(it, "I"), ("OB", ot.bits),
              ("PAD", p["pad_value"])]
    return "edgec_swg", params, {}, ports


def _window(st, h, ins, outs, ports):
    p = h.p
    it, ot = p["it"], p["ot"]
    params = [("OP", WINDOW_OP[p["op"]]), ("K", p["k"]), ("C", p["c"]), ("PE", p["pe"]), *_itype(it, "I"),
              ("OB", ot.bits), ("AB", p["acc"].bits), ("PIXELS", p["pixels"])]
    img = {}
    if p["op"] == "depthwise":
        a = h.act
        img = {"WFILE": rtl_mem.depthwise_weights(st.p.weight, p["pe"], p["wt"].bits), **_act_images(a, p["pe"])}
        params += [("WB", p["wt"].bits), *_act_params(a)]
    return "edgec_window", params, img, ports


def _add(st, h, ins, outs, ports):
    p = h.p
    params = [("PE", p["pe"]), ("AB", p["at"].bits), ("AS", int(p["at"].signed)), ("BB", p["bt"].bits),
              ("BS", int(p["bt"].signed)), ("OB", p["ot"].bits)] + \
        ([("SA", p["sa"]), ("SB", p["sb"])] if p["sa"] or p["sb"] else []) + \
        [(k, 1) for k, t in (("ABIP", p["at"]), ("BBIP", p["bt"])) if t.bipolar]
    return "edgec_add", params, {}, [("a", ins[0] + "_c"), ("b", ins[1] + "_c"), ("m", outs[0] + "_p")]


def _mul(st, h, ins, outs, ports):
    p = h.p
    params = [("PE", p["pe"]), ("CF", p["c"] // p["pe"]), ("GATE", int(p["gate"])), ("AB", p["at"].bits),
              ("AS", int(p["at"].signed)), ("BB", p["bt"].bits), ("BS", int(p["bt"].signed)), ("OB", p["ot"].bits)]
    return "edgec_mul", params, {}, [("a", ins[0] + "_c"), ("b", ins[1] + "_c"), ("m", outs[0] + "_p")]


def _concat(st, h, ins, outs, ports):
    p = h.p
    params = [("C1", p["c1"]), ("C2", p["c2"]), ("PE", p["pe"]), *_itype(p["at"], "A"), *_itype(p["bt"], "B"),
              ("OB", p["ot"].bits)]
    return "edgec_concat", params, {}, [("a", ins[0] + "_c"), ("b", ins[1] + "_c"), ("m", outs[0] + "_p")]


def _upsample(st, h, ins, outs, ports):
    p = h.p
    params = [("H", p["h"]), ("W", p["w"]), ("C", p["c"]), ("FH", p["fh"]), ("FW", p["fw"]), ("PE", p["pe"]),
              ("B", p["t"].bits), ("ZERO", p["zero"]), ("ZV", p["value"])]
    return "edgec_upsample", params, {}, ports


def _slice(st, h, ins, outs, ports):
    p = h.p
    params = [("C", p["c"]), ("LO", p["lo"]), ("HI", p["hi"]), ("PE", p["pe"]), ("PIXELS", p["pixels"]),
              ("B", p["t"].bits)]
    return "edgec_slice", params, {}, ports


def _pad(st, h, ins, outs, ports):
    p = h.p
    params = [("H", p["h"]), ("W", p["w"]), ("C", p["c"]), ("PT", p["pad"][0]), ("PL", p["pad"][1]),
              ("PB", p["pad"][2]), ("PR", p["pad"][3]), ("PE", p["pe"]), *_itype(p["it"], "I"), ("OB", p["ot"].bits),
              ("VALUE", p["word"])]
    return "edgec_pad", params, {}, ports


def _threshold(st, h, ins, outs, ports):
    p, a = h.p, h.act
    if isinstance(a, HRq):
        params = [("C", p["c"]), ("PE", p["pe"]), ("IB", p["it"].bits), ("IS", int(p["it"].signed)),
                  ("OB", p["ot"].bits), *_rq_params(a)]
        return "edgec_requant", params, _act_images(a, p["pe"]), ports
    if isinstance(a, HLut):
        if p["pe"] > 9999:
            raise EdgecError(f"stage '{st.name}': a lookup of {p['pe']} lanes; edgec_lookup names at most 9,999")
        params = [("C", p["c"]), ("PE", p["pe"]), ("IB", p["it"].bits), ("IS", int(p["it"].signed)), ("OB", a.ob)]
        return "edgec_lookup", params, _act_images(a, p["pe"]), ports
    params = [("C", p["c"]), ("PE", p["pe"]), ("IB", p["it"].bits), ("IS", int(p["it"].signed)),
              ("OB", p["ot"].bits), *_act_params(a)]
    return "edgec_threshold", params, _act_images(a, p["pe"]), ports


def _dwc(st, h, ins, outs, ports):
    p = h.p
    return "edgec_dwc", [("IN_E", p["in_e"]), ("OUT_E", p["out_e"]), ("B", p["bits"])], {}, ports


def _dup(st, h, ins, outs, ports):
    return "edgec_dup", [("W", st.ins[0].width)], {}, [("s", ins[0] + "_c"), ("a", outs[0] + "_p"),
                                                       ("b", outs[1] + "_p")]


def _in_top(st, h, ins, outs, ports):
    raise AssertionError(f"{st.kind}: the top's own ports and FIFOs, not an instance")


# per stage kind: its hw/rtl module, parameters, memory images and ports (the AXI4-Stream
# ports and the FIFOs are the top's own; tests/test_tables.py: every kind has an entry)
RTL = {
    StageKind.MVAU: _mvau, StageKind.SMVAU: _smvau, StageKind.WINO_IN: _wino_in, StageKind.WINO_OUT: _wino_out,
    StageKind.SWG: _swg, StageKind.WINDOW: _window, StageKind.ADD: _add, StageKind.MUL: _mul, StageKind.CONCAT: _concat,
    StageKind.UPSAMPLE: _upsample, StageKind.SLICE: _slice, StageKind.PAD: _pad, StageKind.THRESHOLD: _threshold,
    StageKind.DWC: _dwc, StageKind.DUP: _dup, StageKind.AXIS_IN: _in_top, StageKind.AXIS_OUT: _in_top,
    StageKind.FIFO: _in_top,
}


def _thresholds(a: HAct, pe: int):
    """Threshold and negation images of an activation: the table the HLS build holds."""
    return rtl_mem.thresholds(a.table, a.sign, pe, a.cb)


def emit(plan: Plan, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    mem: dict[str, list[str]] = {}
    ctx = context(plan, mem)
    render("rtl/top.v.j2", out / "edgec_top.v", ctx=ctx)
    shutil.copytree(resources.path("hw") / "rtl", out / "lib", ignore=shutil.ignore_patterns("*.md"))
    (out / "mem").mkdir()
    for name in sorted(mem):
        rtl_mem.write(out / "mem" / name, mem[name])
    files = sorted(f"lib/{p.name}" for p in (out / "lib").glob("*.v")) + ["edgec_top.v"]
    (out / "files.f").write_text("\n".join(files) + "\n")
    (out / "instances.json").write_text(json.dumps(instances(ctx), indent=1) + "\n")


def instances(ctx: RtlContext) -> dict:
    """The top's kernel instances with their parameters (what `edgec synth` synthesizes one
    by one): the stages, and the FIFO on each stream."""
    return {"top": ctx.top,
            "stages": [{"id": i.id, "name": i.name, "module": i.module, "params": i.values} for i in ctx.insts],
            "fifos": [{"stream": w.var, "module": "edgec_fifo", "params": {"W": w.width, "DEPTH": w.depth}}
                      for w in ctx.wires]}


__all__ = ["emit", "context", "instances"]
