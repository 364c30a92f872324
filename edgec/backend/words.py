"""Word packing shared by the HLS and RTL backends: elements into integers, and the
compressed weight stream of a sparse matrix unit."""
from __future__ import annotations

import numpy as np

from ..dataflow import index_bits, sparse_steps


def pack_words(w: np.ndarray, bits: int, bipolar: bool) -> list[int]:
    """Rows of elements -> one integer per row, element i at bits [i*bits, (i+1)*bits)."""
    w = np.asarray(w, np.int64)
    rows = w.reshape(-1, w.shape[-1])
    u = (rows > 0).astype(np.int64) if bipolar else rows & ((1 << bits) - 1)
    n, e = u.shape
    if e * bits <= 63:  # the word fits an int64: shift and sum in numpy
        return (u << (np.arange(e, dtype=np.int64) * bits)).sum(axis=1).tolist()
    # wider: each row's bits, little endian, packed to bytes, then one Python int per row
    b = ((u[:, :, None] >> np.arange(bits)) & 1).astype(np.uint8).reshape(n, e * bits)
    return [int.from_bytes(r.tobytes(), "little") for r in np.packbits(b, axis=1, bitorder="little")]


def sparse_stream(weight: np.ndarray, pe: int, simd: int, wbits: int) -> tuple[list[int], np.ndarray]:
    """The compressed weight stream of a sparse MVAU: (words, steps (groups,)).

    ``weight`` (G*PE, MW), G groups of PE rows (a set's neuron folds, sets one after
    another). Group k takes steps[k] words (dataflow.sparse_steps); in step t, lane pe
    holds the non-zeros t*SIMD .. t*SIMD + SIMD-1 of row k*PE + pe (ascending input
    index), padded with (value 0, index 0). Entry (pe, s) sits
    at bits [(pe*SIMD + s)*E, +E), E = WB + IXB: value in the low WB bits (two's
    complement), input index in the high IXB bits (index_bits(MW)); the top bit,
    PE*SIMD*E, marks a group's last step."""
    e = wbits + index_bits(weight.shape[1])
    steps = sparse_steps(weight, pe, simd)
    words = []
    for k in range(len(steps)):
        nz = [np.flatnonzero(weight[k * pe + p]) for p in range(pe)]
        for t in range(steps[k]):
            v = 0
            for p in range(pe):
                for j in range(simd):
                    q = t * simd + j
                    if q < len(nz[p]):
                        idx = int(nz[p][q])
                        ent = (int(weight[k * pe + p, idx]) & ((1 << wbits) - 1)) | (idx << wbits)
                        v |= ent << ((p * simd + j) * e)
            if t == steps[k] - 1:
                v |= 1 << (pe * simd * e)
            words.append(v)
    return words, steps


__all__ = ["pack_words", "sparse_stream"]
