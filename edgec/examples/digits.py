"""The built-in example: a small CNN for scikit-learn's 8x8 digits (shipped offline).

The weights in digits_cnn.npz were trained by examples/train_digits.py in the
repository; ``model()`` rebuilds the trained network.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

WEIGHTS = Path(__file__).resolve().parent / "digits_cnn.npz"
INPUT_SHAPE = (1, 8, 8)


class DigitsCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Linear(32 * 2 * 2, 10)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def _split():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]
    return train_test_split(x, d.target.astype(np.int64), test_size=0.3, random_state=0, stratify=d.target)


def train_split():
    xtr, _, ytr, _ = _split()
    return xtr, ytr


def test_split():
    _, xte, _, yte = _split()
    return xte, yte


def model() -> DigitsCNN:
    m = DigitsCNN()
    with np.load(WEIGHTS) as f:
        m.load_state_dict({k: torch.from_numpy(f[k]) for k in f.files})
    return m.eval()
