"""Random cases of this family of hw/hls kernels (tests/hls/kernel_cases.py)."""


def make(rng, start: int) -> list:
    """Cases numbered from ``start`` (the case index is the kernel's counter id)."""
    return []
