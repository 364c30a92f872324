"""Checks of the generated simulator against the source framework (docs/design.md §4)."""
from __future__ import annotations

import numpy as np
import torch

from .frontend.qmodel import FakeQuantModel
from .frontend.qnet import QNet

TIE = 1e-5  # a pre-quantization value this close to a rounding boundary is a tie


def reference(qnet: QNet, x: np.ndarray, batch: int = 512):
    """The fake-quant reference in float64: (q, y, near_tie per sample)."""
    m = FakeQuantModel(qnet, torch.float64)
    qs, ys, ties = [], [], []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            q, y, pre = m(x[i : i + batch])
            qs.append(q.numpy())
            ys.append(y.numpy())
            t = np.zeros(len(q), bool)
            for seg, v in pre.items():
                v = v.numpy().reshape(len(q), -1)
                bipolar = qnet.segment_by_compute(seg).out.bipolar
                frac = np.abs(v) if bipolar else np.abs(v - np.floor(v) - 0.5)
                t |= (frac < TIE).any(axis=1)
            ties.append(t)
    return np.rint(np.concatenate(qs)).astype(np.int64), np.concatenate(ys), np.concatenate(ties)


def compare(qnet: QNet, sim, x: np.ndarray) -> dict:
    """Run the generated simulator module and the reference on x; count vectors whose
    integer outputs differ, separating those the reference computed at a tie."""
    q_ref, y_ref, tie = reference(qnet, x)
    q, y = sim.run(x)
    bad = (q.reshape(len(q), -1) != q_ref.reshape(len(q), -1)).any(axis=1)
    return {"vectors": int(len(x)), "mismatches": int((bad & ~tie).sum()), "ties": int((bad & tie).sum()),
            "q": q, "y": y, "q_ref": q_ref, "y_ref": y_ref}
