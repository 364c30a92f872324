"""Straight-through-estimator fine-tuning of a quantized network on labelled data.

Trains the float weights, biases and BatchNorm affine parameters through the
quantizers of ``FakeQuantModel`` (float32); activation scales stay as calibrated.
Deterministic: fixed seed, one thread, fixed batch order.
"""
from __future__ import annotations

import copy

import numpy as np
import torch

from .qmodel import FakeQuantModel
from .qnet import QNet


def finetune(qnet: QNet, x: np.ndarray, y: np.ndarray, epochs: int, seed: int = 0, lr: float = 2e-3,
             progress=None, on_epoch=None) -> QNet:
    q = copy.deepcopy(qnet)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        m = FakeQuantModel(q, torch.float32)
        opt = torch.optim.Adam(m.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(epochs, 1))
        xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.int64)
        gen = torch.Generator().manual_seed(seed)
        for ep in range(epochs):
            total = 0.0
            for idx in torch.randperm(len(xt), generator=gen).split(64):
                opt.zero_grad()
                _, logits, _ = m(xt[idx])
                loss = torch.nn.functional.cross_entropy(logits.reshape(len(idx), -1), yt[idx])
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
            sched.step()
            if progress:
                progress(f"fine-tune epoch {ep + 1}/{epochs}: loss {total / len(xt):.4f}")
            if on_epoch:  # e.g. edgec explore: a trial's scheduler may stop it here
                on_epoch(ep + 1, epochs, total / len(xt))
    finally:
        torch.set_num_threads(threads)
    for n in q.graph.nodes:
        for k in n.params:
            n.params[k] = m.param(n, k).detach().to(torch.float64).numpy().copy()
    return q
