"""The PYNQ driver (OUT/driver/). The Vivado block design (OUT/vivado/): edgec.backend.vivado."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..version import __version__
from ..ir.graph import save_npz
from .stages import TOP
from .sim import input_spec, layouts
from .render import render
from .vivado import MAX_TRANSFER_BYTES


@dataclass
class DriverContext:
    name: str
    version: str
    top: str
    input_shape: list[int]
    output_shape: list[int]
    input_quant: dict
    input_layout: str  # chw or hwc: how the model's 3-D input is laid out
    output_layout: str
    head: list  # kernels.head steps
    axis_in: dict
    axis_out: dict
    max_transfer: int = MAX_TRANSFER_BYTES


def emit(g, board, name: str, axis: dict, out_dir: Path) -> None:
    """axis: {'in': layout, 'out': layout} (edgec.backend.hls.stream_layout)."""
    from ..sim import kernels

    drv = out_dir / "driver"
    drv.mkdir(parents=True)
    ctx = DriverContext(name, __version__, TOP, list(g.meta["input_shape"]), list(g.meta["output_shape"]),
                        input_spec(g.meta["input_quant"]), *layouts(g), axis["in"], axis["out"])
    render("driver/driver.py.j2", drv / "driver.py", ctx=ctx)
    shutil.copyfile(Path(kernels.__file__), drv / "kernels.py")
    aff = g.meta["output_affine"]
    save_npz(drv / "output_affine.npz",
             {"a": np.asarray(aff["a"], np.float64), "c0": np.asarray(aff["c0"], np.float64)})
