"""edgec: compile trained networks into bit-exact FPGA dataflow accelerators."""
__version__ = "0.1.0"

from .errors import EdgecError  # noqa: E402

__all__ = ["EdgecError", "__version__"]
