"""Integer Winograd minimal filtering F(m x m, 3 x 3), m = 2 or 4 (Lavin and Gray, 2016),
without division (docs/design.md §3).

A tile of n x n inputs d (n = m + 2) gives m x m outputs Y = A^T [U . (B^T d B)] A, with
the transformed kernel U = G' g G'^T. edgec's G' is the textbook G scaled to integers
(2G for F2, 24G for F4), so U is an integer matrix and Y = FACTOR * (direct correlation)
exactly: FACTOR = 4 (F2) or 576 (F4). The factor goes into the next thresholds, never
into a division (passes/winograd.py). B^T and A^T are integer already.

Positions p = i * n + j of the n x n transformed tile; U is stored (P, MH, C), P = n * n.
"""
from __future__ import annotations

import numpy as np

BT = {
    2: np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.int64),
    4: np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0],
                 [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], np.int64),
}
G = {  # G' = scale * G
    2: np.array([[2, 0, 0], [1, 1, 1], [1, -1, 1], [0, 0, 2]], np.int64),
    4: np.array([[6, 0, 0], [-4, -4, -4], [-4, 4, -4], [1, 2, 4], [1, -2, 4], [0, 0, 24]], np.int64),
}
AT = {
    2: np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.int64),
    4: np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]], np.int64),
}
FACTOR = {2: 4, 4: 576}
TILES = (2, 4)


def size(m: int) -> int:
    """n, the input tile's side."""
    return m + 2


def transform_weights(w: np.ndarray, m: int) -> np.ndarray:
    """Direct 3x3 weight codes (MH, 3, 3, C) -> integer U (n*n, MH, C): U = G' g G'^T."""
    g = G[m]
    u = np.einsum("ia,oabc,jb->ijoc", g, np.asarray(w, np.int64), g)
    n = size(m)
    return u.reshape(n * n, w.shape[0], w.shape[3])


def input_coefficients(m: int) -> np.ndarray:
    """(P, n, n): V[p] = sum over (a, b) of K[p, a, b] * d[a, b] (p = i*n + j, K = BT[i,a] BT[j,b])."""
    bt = BT[m]
    n = size(m)
    return np.einsum("ia,jb->ijab", bt, bt).reshape(n * n, n, n)


def output_coefficients(m: int) -> np.ndarray:
    """(m, m, P): Y[y, x] = sum over p of K[y, x, p] * M[p] (K = AT[y,i] AT[x,j])."""
    at = AT[m]
    n = size(m)
    return np.einsum("yi,xj->yxij", at, at).reshape(m, m, n * n)


def geometry(h: int, w: int, pad, m: int) -> dict:
    """Output size of the 3x3 stride-1 convolution, the tile grid covering it, and the
    padding of the tiled input (the conv's, plus extra rows/columns at the bottom/right
    for partial edge tiles: their outputs are computed and dropped)."""
    pt, pl, pb, pr = pad
    oh, ow = h + pt + pb - 2, w + pl + pr - 2
    th, tw = -(-oh // m), -(-ow // m)
    return {"oh": oh, "ow": ow, "th": th, "tw": tw,
            "tile_pad": (pt, pl, pb + th * m - oh, pr + tw * m - ow)}


def mults(m: int, c: int, mh: int, tiles: int) -> int:
    """Multiplications of the per-position channel products: P * C * MH per tile."""
    return size(m) ** 2 * c * mh * tiles
