"""edgec: compile trained networks into bit-exact FPGA dataflow accelerators."""
__version__ = "0.1.0"

from .errors import EdgecError  # noqa: E402
from .build import BuildResult, build  # noqa: E402

__all__ = ["build", "BuildResult", "EdgecError", "__version__"]
