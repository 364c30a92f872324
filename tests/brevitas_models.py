"""QONNX files of Brevitas' own example topologies beyond BNN-PYNQ (whose eleven networks
are tests/qonnx_nets.py's), with seeded random weights, for edgec's tests and benchmarks.

Every model is built from the installed ``brevitas_examples`` (or from ``brevitas.nn``
layers) with ``pretrained=False``: nothing is downloaded. ``export(name, path)`` seeds
torch, builds the module, gives every BatchNorm (and the BNN-PYNQ ``TensorNorm``)
random affine parameters of both signs and statistics measured on seeded random inputs
(so it is not the identity), calibrates the runtime-statistics activation quantizers on
the same inputs (so their scales are not the uncalibrated 1.0; see ``calibrate``), and
writes the file with ``brevitas.export.export_qonnx``. The same name gives the same bytes on every run.

Where each model comes from (brevitas 0.13.4):

``mobilenet_v1_4b_64``
    ``brevitas_examples.imagenet_classification.models.model_with_cfg(
    'quant_mobilenet_v1_4b')``: MobileNet v1, 4-bit weights and activations (8-bit first
    layer weights), at a 3x64x64 input instead of 224x224. The network downsamples by 32,
    so its final ``TruncAvgPool2d`` (kernel 7 for 224x224) is given kernel 2 to pool the
    2x2 map to 1x1; nothing else changes.

``a2q_resnet18_w4a4_16b``
    ``brevitas_examples.imagenet_classification.a2q.resnet.quant_resnet18`` with the
    arguments of ``a2q.utils.model_impl['quant_resnet18_w4a4_a2q_16b']`` (4-bit weights
    under ``a2q.quant.CommonIntAccumulatorAwareWeightQuant`` for a 16-bit accumulator,
    4-bit activations, 8-bit first/last layers): the A2Q CIFAR-10 ResNet-18, 3x32x32, no
    input quantizer (its first conv takes the float image). ``a2q.utils`` itself is not
    imported: it needs torchvision, which is not installed. Exported with the TorchScript
    exporter (``dynamo=False``; see ``TORCHSCRIPT``), all the others with the default.

``mobilenet_v1_4b_64_qin`` ``a2q_resnet18_w4a4_16b_qin``
    The two above behind an 8-bit signed ``QuantIdentity`` input quantizer (not in
    brevitas_examples: those networks take the float image, which edgec refuses).

``layer_*``
    One Brevitas layer between a ``QuantIdentity`` input quantizer and a quantized
    output: ``layer_conv1d`` (QuantConv1d, 4-bit weights, Int32Bias, then QuantIdentity),
    ``layer_linear`` (QuantLinear, 8-bit weights, Int32Bias, then QuantIdentity),
    ``layer_relu`` (QuantReLU 4-bit), ``layer_identity`` (a 4-bit QuantIdentity after the
    8-bit one), ``layer_hardtanh`` (QuantHardTanh 4-bit in [-1, 1]), ``layer_maxpool1d``
    and ``layer_maxpool2d`` (brevitas 0.13 has no QuantMaxPool1d/2d: ``nn.MaxPool1d/2d``
    on a QuantTensor is its quantization-invariant replacement, so the output keeps the
    input quantizer's grid and the graph ends in MaxPool), ``layer_avgpool2d``
    (TruncAvgPool2d 2x2, rounding to 8 bits: the graph ends in Trunc).
"""
from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path
from typing import Callable

import torch
from torch import nn

SEED = 0
CALIB_BATCHES = 4
CALIB_BATCH = 8

# ---- brevitas_examples ----------------------------------------------------------------------

def mobilenet_v1_4b_64():
    from brevitas_examples.imagenet_classification.models import model_with_cfg

    m, _ = model_with_cfg("quant_mobilenet_v1_4b", pretrained=None)
    m.final_pool.kernel_size = 2  # 64 / 32 = 2x2 before the pool (7x7 at 224x224)
    return m.eval(), (3, 64, 64)


def a2q_resnet18_w4a4_16b():
    from brevitas_examples.imagenet_classification.a2q.quant import CommonIntAccumulatorAwareWeightQuant
    from brevitas_examples.imagenet_classification.a2q.resnet import quant_resnet18

    m = quant_resnet18(act_bit_width=4, acc_bit_width=16, weight_bit_width=4,
                       weight_quant=CommonIntAccumulatorAwareWeightQuant)
    return m.eval(), (3, 32, 32)


def _with_input_quant(build):
    """``build``'s network behind an 8-bit signed QuantIdentity (Int8ActPerTensorFloat):
    MobileNet and the A2Q ResNet have no input quantizer (they expect the float image),
    which edgec refuses; these variants quantize the input like the layer_* nets."""
    def wrapped():
        import brevitas.nn as qnn

        m, shape = build()
        return nn.Sequential(qnn.QuantIdentity(return_quant_tensor=True), m).eval(), shape

    wrapped.__doc__ = f"{build.__name__} behind an 8-bit QuantIdentity"
    return wrapped


# ---- single Brevitas layers -----------------------------------------------------------------

def _wrap(*mods: nn.Module) -> nn.Module:
    return nn.Sequential(*mods)


def _inp():
    import brevitas.nn as qnn

    return qnn.QuantIdentity(return_quant_tensor=True)  # Int8ActPerTensorFloat


def layer_conv1d():
    import brevitas.nn as qnn
    from brevitas.quant import Int32Bias

    return _wrap(_inp(), qnn.QuantConv1d(4, 8, 3, padding=1, bias=True, weight_bit_width=4, bias_quant=Int32Bias),
                 qnn.QuantIdentity()).eval(), (4, 32)


def layer_linear():
    import brevitas.nn as qnn
    from brevitas.quant import Int32Bias

    return _wrap(_inp(), qnn.QuantLinear(64, 16, bias=True, bias_quant=Int32Bias), qnn.QuantIdentity()).eval(), (64,)


def layer_relu():
    import brevitas.nn as qnn

    return _wrap(_inp(), qnn.QuantReLU(bit_width=4)).eval(), (8, 8, 8)


def layer_identity():
    import brevitas.nn as qnn

    return _wrap(_inp(), qnn.QuantIdentity(bit_width=4)).eval(), (8, 8, 8)


def layer_hardtanh():
    import brevitas.nn as qnn

    return _wrap(_inp(), qnn.QuantHardTanh(bit_width=4, min_val=-1.0, max_val=1.0)).eval(), (8, 8, 8)


def layer_maxpool1d():
    return _wrap(_inp(), nn.MaxPool1d(2)).eval(), (4, 32)


def layer_maxpool2d():
    return _wrap(_inp(), nn.MaxPool2d(2)).eval(), (4, 8, 8)


def layer_avgpool2d():
    import brevitas.nn as qnn

    return _wrap(_inp(), qnn.TruncAvgPool2d(2, stride=2)).eval(), (4, 8, 8)


MODELS: dict[str, Callable[[], tuple[nn.Module, tuple]]] = {
    "mobilenet_v1_4b_64": mobilenet_v1_4b_64,
    "a2q_resnet18_w4a4_16b": a2q_resnet18_w4a4_16b,
    "mobilenet_v1_4b_64_qin": _with_input_quant(mobilenet_v1_4b_64),
    "a2q_resnet18_w4a4_16b_qin": _with_input_quant(a2q_resnet18_w4a4_16b),
    "layer_conv1d": layer_conv1d,
    "layer_linear": layer_linear,
    "layer_relu": layer_relu,
    "layer_identity": layer_identity,
    "layer_hardtanh": layer_hardtanh,
    "layer_maxpool1d": layer_maxpool1d,
    "layer_maxpool2d": layer_maxpool2d,
    "layer_avgpool2d": layer_avgpool2d,
}


# ---- weights, statistics, export ------------------------------------------------------------

@torch.no_grad()
def calibrate(m: nn.Module, shape: tuple, gen: torch.Generator) -> None:
    """Random norms and calibrated activation scales, in one pass over seeded random
    inputs so that each is measured on what the other produces:

    * every BatchNorm (and the BNN-PYNQ TensorNorm) gets random gammas of both signs and
      random betas, and running statistics measured on its actual input (BatchNorm: true
      average over the batches; TensorNorm: the last batch), so it is not the identity;
    * the runtime-statistics activation scales (brevitas' ParameterFromRuntimeStatsScaling,
      uncalibrated they are all 1.0) are set as brevitas' PTQ calibration does (true
      average, then ``init_scale``), but with quantization left on: ``calibration_mode``
      disables it, and the ResNets' residual adds then fail their QuantTensor assertion.
      Only the activation quantizer proxies are put in training mode (their QuantTensors
      then skip the same-scale check of the residual add); weights and dropout stay in
      eval mode. Constant-scaled quantizers (BNN-PYNQ's) are unaffected.
    """
    from brevitas.graph.calibrate import (extend_collect_stats_steps, finalize_collect_stats,
                                          set_collect_stats_to_average)
    from brevitas.proxy.runtime_quant import ActQuantProxyFromInjectorBase

    norms = [x for x in m.modules() if hasattr(x, "running_mean") and hasattr(x, "running_var")]
    for n in norms:
        c = n.running_mean.shape
        if getattr(n, "weight", None) is not None:
            sign = torch.where(torch.rand(c, generator=gen) < 0.2, -1.0, 1.0)
            n.weight.copy_(sign * (torch.rand(c, generator=gen) * 1.5 + 0.25))
            n.bias.copy_(torch.randn(c, generator=gen) * 0.5)
        n.running_mean.zero_()
        n.running_var.fill_(1.0)
        if isinstance(n, nn.modules.batchnorm._BatchNorm):
            n.num_batches_tracked.zero_()
            n.momentum = None  # cumulative average
        else:
            n.momentum = 1.0  # TensorNorm: no cumulative mode
        n.train()
    stats = [x for x in m.modules() if hasattr(x, "collect_stats_steps")]
    for x in stats:
        extend_collect_stats_steps(x)
        set_collect_stats_to_average(x)
    for x in m.modules():
        if isinstance(x, ActQuantProxyFromInjectorBase):
            x.train()
    for _ in range(CALIB_BATCHES):
        m(torch.randn(CALIB_BATCH, *shape, generator=gen))
    for x in stats:
        finalize_collect_stats(x)
    for n in norms:
        n.momentum = 0.1
    m.eval()


def build(name: str, seed: int = SEED) -> tuple[nn.Module, tuple]:
    """The eval-mode module of ``name`` with seeded weights, random norms and
    calibrated activation scales (``calibrate``), and its input shape without the batch dimension."""
    torch.manual_seed(seed)
    m, shape = MODELS[name]()
    gen = torch.Generator().manual_seed(seed + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calibrate(m, shape, gen)
    return m.eval(), tuple(shape)


# torch.export (the dynamo exporter, export_qonnx's default under torch >= 2.9) fails on the
# ResNets: in export mode the QuantReLUs hand plain tensors to the residual add, and
# bnn_pynq.models.resnet.QuantBasicBlock asserts QuantTensors. The TorchScript exporter works.
TORCHSCRIPT = {"a2q_resnet18_w4a4_16b", "a2q_resnet18_w4a4_16b_qin"}


def export(name: str, path, seed: int = SEED) -> Path:
    """Write the QONNX file of model ``name`` to ``path`` and return it. The file holds
    its weights: the ``<path>.data`` side file the dynamo exporter leaves is removed."""
    import onnx
    from brevitas.export import export_qonnx

    m, shape = build(name, seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    x = torch.randn(1, *shape)
    kw = {"dynamo": False} if name in TORCHSCRIPT else {}
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):  # the exporter's progress lines
        warnings.simplefilter("ignore")
        export_qonnx(m, x, export_path=str(path), **kw)
    side = path.with_name(path.name + ".data")
    if side.exists():
        g = onnx.load(str(path), load_external_data=False).graph
        if not any(t.data_location == onnx.TensorProto.EXTERNAL for t in g.initializer):
            side.unlink()
    return path


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="models (default: all)")
    ap.add_argument("-o", "--out", default=".", help="output folder")
    args = ap.parse_args()
    for n in args.names or MODELS:
        print(export(n, Path(args.out) / f"{n}.onnx"))
