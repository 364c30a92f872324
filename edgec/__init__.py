"""edgec: compile trained networks into bit-exact FPGA dataflow accelerators."""
from .errors import EdgecError
from .version import __version__

__all__ = ["build", "BuildResult", "EdgecError", "__version__"]


def __getattr__(name):
    """``build`` and ``BuildResult`` (edgec/compiler.py) import torch: only when asked for,
    so that the command line sets up its error handling first."""
    if name in ("build", "BuildResult"):
        from . import compiler

        return getattr(compiler, name)
    raise AttributeError(f"module 'edgec' has no attribute {name!r}")
