"""One validation layer for everything a user hands edgec, run before any work.

Arrays (.npy) are read without pickles, their header checked before any data is
allocated; YAML is read with the safe loader under a size and an alias-expansion limit;
numbers from configs and flags are checked for type and range. Each check raises one
:class:`EdgecError` that names the file, flag or key and says what would be accepted.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from .errors import EdgecError

MAX_ARRAY_BYTES = int(os.environ.get("EDGEC_MAX_ARRAY_MB", "4096")) << 20  # one .npy input
MAX_YAML_BYTES = 1 << 20
MAX_YAML_NODES = 100_000  # after expanding aliases


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


# ---- numbers -------------------------------------------------------------------------

def integer(v, where: str, lo: int | None = None, hi: int | None = None, what: str = "an integer") -> int:
    """``v`` as an int: an int (not a bool), an integral float or a decimal string."""
    n = None
    if isinstance(v, bool):
        n = None
    elif isinstance(v, (int, np.integer)):
        n = int(v)
    elif isinstance(v, (float, np.floating)) and math.isfinite(v) and float(v).is_integer():
        n = int(v)
    elif isinstance(v, str):
        try:
            n = int(v.strip(), 10)
        except ValueError:
            n = None
    if n is None or (lo is not None and n < lo) or (hi is not None and n > hi):
        rng = (f" from {lo} to {hi}" if hi is not None else f" of at least {lo}") if lo is not None else ""
        raise EdgecError(f"{where} {v!r}: give {what}{rng}")
    return n


def number(v, where: str, lo: float | None = None, hi: float | None = None, what: str = "a number",
           lo_open: bool = False, hi_open: bool = False) -> float:
    """``v`` as a finite float inside [lo, hi] (open ends where asked)."""
    f = None
    if not isinstance(v, bool) and isinstance(v, (int, float, str, np.integer, np.floating)):
        try:
            f = float(v)
        except ValueError:
            f = None
    ok = f is not None and math.isfinite(f)
    if ok and lo is not None:
        ok = f > lo if lo_open else f >= lo
    if ok and hi is not None:
        ok = f < hi if hi_open else f <= hi
    if not ok:
        raise EdgecError(f"{where} {v!r}: give {what}")
    return f


def choice(v, where: str, options) -> str:
    if not isinstance(v, str) or v not in options:
        raise EdgecError(f"{where} {v!r}: choose one of {', '.join(options)}")
    return v


def known_keys(d: dict, where: str, known) -> None:
    bad = [k for k in d if k not in known]
    if bad:
        raise EdgecError(f"{where}: unknown key{'s' if len(bad) > 1 else ''} {', '.join(repr(k) for k in bad)}; "
                         f"the known ones are {', '.join(sorted(known))}")


# ---- arrays --------------------------------------------------------------------------

def _npy_header(path: Path):
    """(shape, dtype) from a .npy header, without reading the data."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=10_000)
        elif version in ((2, 0), (3, 0)):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=10_000)
        else:
            raise ValueError(f"unsupported .npy version {version}")
        return shape, dtype, f.tell()


def load_array(path, what: str, mmap: bool = False) -> np.ndarray:
    """An array from a .npy file (or an ndarray given directly): no pickles, the header's
    shape checked against the file size and MAX_ARRAY_BYTES before reading. ``mmap``: mapped
    read-only (np.load mmap_mode='r'), read as it is used, so no size limit applies."""
    if isinstance(path, np.ndarray):
        return path
    if not isinstance(path, (str, os.PathLike)):
        raise EdgecError(f"{what}: give a .npy file or a numpy array, not {type(path).__name__}")
    p = Path(path)
    if not p.is_file():
        raise EdgecError(f"cannot read {what} '{path}': no such file; give a .npy file")
    try:
        shape, dtype, offset = _npy_header(p)
    except Exception as e:  # noqa: BLE001 - foreign, truncated or damaged headers
        raise EdgecError(f"cannot read {what} '{path}': {_first_line(e)}; give a .npy file written by np.save") \
            from None
    if dtype.hasobject:
        raise EdgecError(f"{what} '{path}' holds Python objects (a pickle); edgec reads only numeric arrays: "
                         "save a numeric array with np.save")
    need = math.prod(shape) * dtype.itemsize
    if need > MAX_ARRAY_BYTES and not mmap:
        raise EdgecError(f"{what} '{path}' declares shape {tuple(shape)} ({need / 2**20:,.0f} MiB), over the "
                         f"{MAX_ARRAY_BYTES >> 20:,} MiB limit (EDGEC_MAX_ARRAY_MB raises it)")
    if p.stat().st_size < offset + need:
        raise EdgecError(f"cannot read {what} '{path}': the file is truncated (its header declares shape "
                         f"{tuple(shape)})")
    try:
        return np.load(p, allow_pickle=False, mmap_mode="r" if mmap and need else None)
    except Exception as e:  # noqa: BLE001
        raise EdgecError(f"cannot read {what} '{path}': {_first_line(e)}; give a .npy file") from None


CHECK_BYTES = 64 << 20  # numeric checks a large (memory-mapped) array this many bytes at a time


def numeric(a: np.ndarray, what: str, shape: tuple | None = None) -> np.ndarray:
    """``a`` checked as real numbers: integer or float dtype, finite, at least one sample,
    and (with ``shape``) shaped (N, *shape)."""
    if a.dtype.names is not None:
        raise EdgecError(f"{what}: a structured array (fields {', '.join(a.dtype.names)}); give plain numbers")
    if a.dtype.kind not in "iuf":
        kinds = {"c": "complex numbers", "U": "strings", "S": "byte strings", "b": "booleans", "O": "objects",
                 "M": "dates", "m": "time spans", "V": "raw bytes"}
        raise EdgecError(f"{what}: {kinds.get(a.dtype.kind, a.dtype.name)} (dtype {a.dtype}); give real numbers "
                         "(float or integer)")
    if a.ndim == 0:
        raise EdgecError(f"{what}: a single number (0-d array); give an array shaped (N, ...), one row per sample")
    if a.shape[0] == 0:
        raise EdgecError(f"{what}: no samples (shape {a.shape}); give at least one")
    if shape is not None and tuple(a.shape[1:]) != tuple(shape):
        raise EdgecError(f"{what} has shape {a.shape}; the model takes (N, {', '.join(map(str, shape))})")
    step = max(1, CHECK_BYTES // max(a[:1].nbytes, 1))
    big = 0.0
    for start in range(0, len(a), step):  # in slices: a memory-mapped array is never read whole
        c = np.asarray(a[start : start + step])
        if a.dtype.kind == "f":
            bad = ~np.isfinite(c)
            if bad.any():
                i = start + int(np.argmax(bad.reshape(len(c), -1).any(axis=1)))
                kind = "NaN" if np.isnan(c).any() else "infinite values"
                raise EdgecError(f"{what}: {kind} (first in sample {i}); every value must be a finite number")
        big = max(big, float(np.abs(c).max()) if c.size else 0.0)
    if big > np.finfo(np.float32).max:  # the model's input is float32 (an int64 may be too)
        raise EdgecError(f"{what}: values up to {big:.3g}, beyond float32's range (3.4e38) in which the model "
                         "computes; scale the data to the range the model was trained on")
    return a


def labels(y: np.ndarray, n: int, what: str = "labels", classes: int | None = None) -> np.ndarray:
    """Class indices: integers (or integral floats) shaped (n,), in [0, classes)."""
    if y.dtype.names is not None or y.dtype.kind not in "iuf":
        raise EdgecError(f"{what}: dtype {y.dtype}; give integer class indices")
    if y.shape != (n,):
        raise EdgecError(f"{what} have shape {y.shape}; expected ({n},), one class index per input")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or not (y == np.round(y)).all():
            raise EdgecError(f"{what}: not all integers (NaN or fractions); give integer class indices")
        y = y.astype(np.int64)
    if y.min() < 0 or (classes is not None and y.max() >= classes):
        top = f" below {classes} (the model's outputs)" if classes is not None else ""
        raise EdgecError(f"{what}: values from {int(y.min())} to {int(y.max())}; class indices must be 0 or more{top}")
    return y.astype(np.int64)


# ---- YAML ----------------------------------------------------------------------------

def _expanded_size(node, memo: dict) -> int:
    """Nodes of a composed YAML document once aliases are expanded (shared nodes counted
    every time they are reached)."""
    import yaml

    k = id(node)
    if k in memo:
        if memo[k] is None:
            raise EdgecError("a recursive alias")
        return memo[k]
    memo[k] = None
    if isinstance(node, yaml.SequenceNode):
        n = 1 + sum(_expanded_size(c, memo) for c in node.value)
    elif isinstance(node, yaml.MappingNode):
        n = 1 + sum(_expanded_size(a, memo) + _expanded_size(b, memo) for a, b in node.value)
    else:
        n = 1
    memo[k] = min(n, 1 << 62)
    return memo[k]


def load_yaml(path, what: str):
    """A YAML (or JSON) file with the safe loader: no tags that build Python objects, at
    most MAX_YAML_BYTES, and at most MAX_YAML_NODES nodes with aliases expanded."""
    import yaml

    p = Path(path)
    try:
        if not p.is_file():
            raise EdgecError(f"cannot read {what} '{path}': no such file")
        if p.stat().st_size > MAX_YAML_BYTES:
            raise EdgecError(f"{what} '{path}' is {p.stat().st_size:,} bytes; edgec reads at most "
                             f"{MAX_YAML_BYTES:,}")
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise EdgecError(f"cannot read {what} '{path}': not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise EdgecError(f"cannot read {what} '{path}': {_first_line(e)}") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            size = _expanded_size(node, {})
        except EdgecError:
            raise EdgecError(f"{what} '{path}': a recursive YAML alias") from None
        if size > MAX_YAML_NODES:
            raise EdgecError(f"{what} '{path}': {size:,} values once its YAML aliases are expanded; edgec reads at "
                             f"most {MAX_YAML_NODES:,}")
        return loader.construct_document(node)
    except yaml.YAMLError as e:
        msg = " ".join(_first_line(e).split())
        if isinstance(e, yaml.constructor.ConstructorError) and e.problem:
            msg = " ".join(e.problem.split())
        raise EdgecError(f"cannot read {what} '{path}': {msg}") from None
    except RecursionError:
        raise EdgecError(f"{what} '{path}': nested too deeply") from None
    finally:
        loader.dispose()
