"""$readmemh memory images of the hw/rtl kernels (one hex word per line)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .words import pack_words


def hex_lines(words: list[int], width: int) -> list[str]:
    digits = max(1, -(-width // 4))
    return [f"{w:0{digits}x}" for w in words]


def mvau_weights(weight: np.ndarray, pe: int, simd: int, wbits: int, bipolar: bool) -> list[str]:
    """Word nf*SF + sf: PE blocks of SIMD weights (block pe at [pe*SIMD*WB])."""
    mh, mw = weight.shape
    nf, sf = mh // pe, mw // simd
    w = weight.reshape(nf, pe, sf, simd).transpose(0, 2, 1, 3).reshape(nf * sf, pe * simd)
    return hex_lines(pack_words(w, wbits, bipolar), pe * simd * wbits)


def depthwise_weights(weight: np.ndarray, pe: int, wbits: int) -> list[str]:
    """edgec_window's depthwise weights (C, K): word k*CF + cf, lane pe at [pe*WB]."""
    c, k = weight.shape
    cf = c // pe
    w = weight.reshape(cf, pe, k).transpose(2, 0, 1).reshape(k * cf, pe)
    return hex_lines(pack_words(w, wbits, False), pe * wbits)


def lookup(lanes: np.ndarray, ob: int) -> list[list[str]]:
    """edgec_lookup's images, one per lane: ``lanes`` (PE, CF * 2^IB) unsigned ob-bit codes
    in address order (stages.HLut.lanes)."""
    return [hex_lines([int(v) for v in row], ob) for row in np.asarray(lanes)]


def thresholds(thr: np.ndarray, sign: np.ndarray, pe: int, cb: int) -> tuple[list[str], list[str]]:
    """(threshold words, negation words): word nf holds channels nf*PE .. nf*PE + PE-1."""
    c, nt = thr.shape
    nf = c // pe
    t = thr.reshape(nf, pe * nt)
    neg = (sign < 0).astype(np.int64).reshape(nf, pe)
    return hex_lines(pack_words(t, cb, False), pe * nt * cb), hex_lines(pack_words(neg, 1, False), pe)


def falling_steps(steps: np.ndarray, pe: int) -> list[str]:
    """Falling-step flags of signed steps (C, nt) of +-1, laid out like the thresholds: word
    nf holds channels nf*PE .. nf*PE + PE-1, channel nf*PE + p's step i at bit p*nt + i,
    set where the step is -1."""
    c, nt = steps.shape
    nf = c // pe
    dn = (np.asarray(steps) < 0).astype(np.int64).reshape(nf, pe * nt)
    return hex_lines(pack_words(dn, 1, False), pe * nt)


def requant(mult: np.ndarray, bias: np.ndarray, shift: np.ndarray, pe: int, mb: int, bb: int, shb: int,
            smin: int) -> dict:
    """edgec_requant's images {MFILE, BFILE, SFILE}: word nf holds channels nf*PE ..
    nf*PE + PE-1, lane p's multiplier at [p*MB +: MB], bias at [p*BB +: BB] (two's
    complement), shift beyond SMIN at [p*SHB +: SHB]."""
    nf = len(mult) // pe
    shift = np.asarray(shift, np.int64) - smin
    return {key: hex_lines(pack_words(np.asarray(v, np.int64).reshape(nf, pe), bits, False), pe * bits)
            for key, v, bits in (("MFILE", mult, mb), ("BFILE", bias, bb), ("SFILE", shift, shb))}


def write(path: Path, lines: list[str]) -> None:
    Path(path).write_text("\n".join(lines) + "\n")
