"""QONNX models for the interop tests: the BNN-PYNQ reference topologies shipped with
brevitas_examples (seeded random weights, randomised BatchNorm statistics with negative
gammas), Brevitas versions of the MLP and conv net of tests/nets.py, and a runner that
executes a QONNX file with qonnx's own ``execute_onnx`` and compares it with an edgec
simulator under the rule of docs/design.md §4."""
from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edgec.verify import TIE  # noqa: F401
from edgec.verify import qonnx_batched as batched  # noqa: F401 - the runner lives in edgec.verify
from edgec.verify import qonnx_compare as compare  # noqa: F401
from edgec.verify import qonnx_execute as execute  # noqa: F401

BNN_PYNQ = ("tfc_1w1a", "tfc_1w2a", "tfc_2w2a", "sfc_1w1a", "sfc_1w2a", "sfc_2w2a", "lfc_1w1a", "lfc_1w2a",
            "cnv_1w1a", "cnv_1w2a", "cnv_2w2a")


def input_shape(name: str) -> tuple:
    return (3, 32, 32) if name.startswith("cnv") else (1, 28, 28)


def randomise(m: nn.Module, seed: int) -> nn.Module:
    """Seeded random weights; BatchNorm/TensorNorm statistics spread like their layer's
    accumulators, gammas of both signs."""
    gen = torch.Generator().manual_seed(seed)
    last = None
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=gen))
                fan_in = mod.weight[0].numel()
                mod.spread = fan_in ** 0.5
            if hasattr(mod, "running_var") and hasattr(mod, "weight") and mod.weight is not None:
                c = mod.running_var.shape
                spread = getattr(last, "spread", 4.0)
                mod.weight.copy_(torch.randn(c, generator=gen) * 0.5 + 0.1 * torch.sign(torch.randn(c, generator=gen)))
                mod.bias.copy_(torch.randn(c, generator=gen) * 0.3)
                mod.running_mean.copy_(torch.randn(c, generator=gen) * spread * 0.5)
                mod.running_var.copy_((torch.rand(c, generator=gen) + 0.5) * spread**2)
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                last = mod
    return m.eval()


def bnn_pynq(name: str, seed: int = 0) -> nn.Module:
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    m, _ = model_with_cfg(name, pretrained=False)
    return randomise(m, seed)


def export(module: nn.Module, shape: tuple, path: Path) -> Path:
    from brevitas.export import export_qonnx

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):  # torch.onnx's progress lines
        warnings.simplefilter("ignore")
        export_qonnx(module, torch.rand(1, *shape), export_path=str(path))
    return Path(path)


def images(shape: tuple, n: int, seed: int) -> np.ndarray:
    """Inputs like 8-bit images in [0, 1]: k / 255."""
    return (np.random.default_rng(seed).integers(0, 256, size=(n, *shape)) / 255.0).astype(np.float32)


# ---- Brevitas versions of tests/nets.py's MLP and ConvNet -----------------------------------

def brevitas_mlp(seed: int = 0) -> nn.Module:
    """tests/nets.MLP with int8 per-channel float-scaled weights, an asymmetric (zero point)
    input quantizer, 4-bit unsigned activations and a quantized int32 bias on the head."""
    import brevitas.nn as qnn
    from brevitas.quant import (Int8WeightPerChannelFloat, Int32Bias, ShiftedUint8ActPerTensorFloat,
                                Uint8ActPerTensorFloat)

    torch.manual_seed(seed)

    class QMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(act_quant=ShiftedUint8ActPerTensorFloat, return_quant_tensor=True)
            self.fc1 = qnn.QuantLinear(64, 64, bias=True, weight_quant=Int8WeightPerChannelFloat)
            self.bn1 = nn.BatchNorm1d(64)
            self.r1 = qnn.QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=4, return_quant_tensor=True)
            self.fc2 = qnn.QuantLinear(64, 32, bias=True, weight_quant=Int8WeightPerChannelFloat)
            self.r2 = qnn.QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=4, return_quant_tensor=True)
            self.fc3 = qnn.QuantLinear(32, 10, bias=True, weight_quant=Int8WeightPerChannelFloat, bias_quant=Int32Bias)

        def forward(self, x):
            x = self.inp(torch.flatten(x, 1) - 0.25)  # centred: the shifted quantizer gets a zero point
            x = self.r1(self.bn1(self.fc1(x)))
            return self.fc3(self.r2(self.fc2(x)))

    return QMLP()


def brevitas_convnet(seed: int = 0) -> nn.Module:
    """tests/nets.ConvNet (stride, padding, a residual add on one shared quantizer, a
    depthwise conv, max pooling) with per-channel int4 weights, 4-bit activations and an
    asymmetric input quantizer (zero padding pads with its zero point)."""
    import brevitas.nn as qnn
    from brevitas.quant import Int8WeightPerChannelFloat, ShiftedUint8ActPerTensorFloat, Uint8ActPerTensorFloat

    torch.manual_seed(seed)
    w4 = dict(weight_quant=Int8WeightPerChannelFloat, weight_bit_width=4)
    a4 = dict(act_quant=Uint8ActPerTensorFloat, bit_width=4, return_quant_tensor=True)

    class QConvNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(act_quant=ShiftedUint8ActPerTensorFloat, return_quant_tensor=True)
            self.c1 = qnn.QuantConv2d(1, 8, 3, stride=1, padding=1, **w4)
            self.b1 = nn.BatchNorm2d(8)
            self.r1 = qnn.QuantReLU(**a4)  # shared by both branches of the residual add
            self.c2 = qnn.QuantConv2d(8, 8, 3, padding=1, **w4)
            self.b2 = nn.BatchNorm2d(8)
            self.r3 = qnn.QuantReLU(**a4)
            self.dw = qnn.QuantConv2d(8, 8, 3, padding=1, groups=8, **w4)
            self.rdw = qnn.QuantReLU(**a4)
            self.c3 = qnn.QuantConv2d(8, 16, 3, stride=2, padding=1, **w4)
            self.b3 = nn.BatchNorm2d(16)
            self.r4 = qnn.QuantReLU(**a4)
            self.fc = qnn.QuantLinear(16 * 2 * 2, 10, bias=True, **w4)

        def forward(self, x):
            x = self.r1(self.b1(self.c1(self.inp(x - 0.25))))  # padding with the input's zero point
            x = self.r3(self.r1(self.b2(self.c2(x))) + x)
            x = nn.functional.max_pool2d(self.rdw(self.dw(x)), 2)
            x = self.r4(self.b3(self.c3(x)))
            return self.fc(torch.flatten(x, 1))

    return QConvNet()


def calibrate(m: nn.Module, x: np.ndarray, seed: int = 0) -> nn.Module:
    """Random BatchNorm statistics, then Brevitas's activation calibration on x (so scales
    are learnt from data: not powers of two)."""
    from brevitas.graph.calibrate import calibration_mode

    randomise(m, seed)
    with torch.no_grad(), calibration_mode(m):
        m(torch.as_tensor(x))
    return m.eval()



def brevitas_activations(acts: list, seed: int = 0) -> nn.Module:
    """One Brevitas conv layer per activation module of ``acts`` (float, between the conv
    (+BatchNorm) and a 4-bit signed QuantIdentity), then a max pool and a quantized head: the
    QONNX export has each activation as a standard ONNX op (or ops) between two Quants."""
    import brevitas.nn as qnn
    from brevitas.quant import Int8ActPerTensorFloat, Int8WeightPerChannelFloat, Uint8ActPerTensorFloat

    torch.manual_seed(seed)
    w4 = dict(weight_quant=Int8WeightPerChannelFloat, weight_bit_width=4)

    class QActs(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat, return_quant_tensor=True)
            layers = []
            for i, a in enumerate(acts):
                layers += [qnn.QuantConv2d(1 if i == 0 else 6, 6, 3, padding=1, **w4), nn.BatchNorm2d(6), a,
                           qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=4, return_quant_tensor=True)]
            self.body = nn.Sequential(*layers)
            self.fc = qnn.QuantLinear(6 * 4 * 4, 10, bias=True, **w4)

        def forward(self, x):
            x = nn.functional.max_pool2d(self.body(self.inp(x)), 2)
            return self.fc(torch.flatten(x, 1))

    return QActs()
