"""Value types of the integer IR."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IntType:
    """A two's-complement (signed) or unsigned integer of ``bits`` bits."""

    bits: int
    signed: bool

    @property
    def lo(self) -> int:
        return -(2 ** (self.bits - 1)) if self.signed else 0

    @property
    def hi(self) -> int:
        return 2 ** (self.bits - 1) - 1 if self.signed else 2**self.bits - 1

    def __str__(self) -> str:
        return f"{'int' if self.signed else 'uint'}{self.bits}"

    def to_json(self):
        return str(self)


@dataclass(frozen=True)
class Bipolar:
    """Values -1 and +1 held in one bit (bit 1 means +1)."""

    bits = 1
    signed = True
    lo = -1
    hi = 1

    def __str__(self) -> str:
        return "bipolar"

    def to_json(self):
        return "bipolar"


def int_type_for(lo: int, hi: int) -> IntType:
    """The narrowest IntType holding every integer in [lo, hi]."""
    lo, hi = int(lo), int(hi)
    if lo >= 0:
        return IntType(max(1, hi.bit_length()), False)
    bits = max((-lo - 1).bit_length(), hi.bit_length()) + 1
    return IntType(bits, True)


def join_type(a, b):
    """The type of a concatenation of tensors of types ``a`` and ``b``."""
    if isinstance(a, Bipolar) and isinstance(b, Bipolar):
        return a
    return int_type_for(min(a.lo, b.lo), max(a.hi, b.hi))


def window_type(t, pad_value: int):
    """The element type of windows over a map of type ``t`` padded with ``pad_value``: a
    bipolar map padded with 0 becomes int2, an integer map widens to hold the pad value."""
    if isinstance(t, Bipolar):
        return t if pad_value in (-1, 1) else IntType(2, True)
    return int_type_for(min(t.lo, pad_value), max(t.hi, pad_value))


def parse_type(s: str):
    if s == "bipolar":
        return Bipolar()
    if s.startswith("uint"):
        return IntType(int(s[4:]), False)
    if s.startswith("int"):
        return IntType(int(s[3:]), True)
    raise ValueError(f"not an IR type: {s}")
