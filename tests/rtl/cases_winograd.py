"""Random cases of this family of hw/rtl kernels for the sweep top (tests/rtl/sweep.py)."""

LINT_PARAMS: dict[str, list[str]] = {}


def make(rng) -> list:
    return []
