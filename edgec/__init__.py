"""edgec: compile trained networks into bit-exact FPGA dataflow accelerators."""
__version__ = "0.1.0"

from .errors import EdgecError  # noqa: E402

__all__ = ["build", "BuildResult", "EdgecError", "__version__"]


def __getattr__(name):
    """``build`` and ``BuildResult`` import torch: only when asked for, so that the command
    line sets up its error handling first."""
    if name in ("build", "BuildResult"):
        import importlib

        mod = importlib.import_module(".build", __name__)
        # the import made ``edgec.build`` the module; the public name is the function
        globals().update(build=mod.build, BuildResult=mod.BuildResult)
        return globals()[name]
    raise AttributeError(f"module 'edgec' has no attribute {name!r}")
