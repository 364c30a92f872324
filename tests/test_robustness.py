"""A corpus of bad input for the `edgec` command line. Every case holds the contract of
edgec.errors: exit code 2; stderr is exactly one line, starting `edgec: error: ` and
naming the offending flag, key, file or node; no traceback and no warning; no output
folder created (or an earlier build folder byte-for-byte unchanged); no leftover
`.edgec-*` or `*edgec-tmp*` entries beside the output; and no marker file created by a
payload. A few cases where a clean success is as good as a clean error (a 250-character
folder name, a symbolic link to an earlier build...) accept either, never a traceback,
another exit code or leftovers.

Cases run in-process through `edgec.cli.main` (warnings and log records that a real run
would print on stderr count as extra lines); the ones marked `sub` run `python -m
edgec.cli` in a subprocess, under a 3 GB address-space limit and a timeout, so that a
refusal must come before any large allocation. The interrupt tests signal a real build
at several of its progress lines."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from edgec.cli import main
from edgec.examples import digits

from . import robustness_cases as R

ROOT = Path(__file__).resolve().parent.parent
SUB_TIMEOUT = 120  # seconds for one subprocess case
SUB_MEM_GB = 3  # address-space limit of a subprocess case
SILENT = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)  # hidden by default
DIR = object()  # a maker result: make a folder at the path


# ---- running edgec --------------------------------------------------------------------

@dataclass
class Run:
    code: object  # exit code; None when main() raised or the subprocess timed out
    err: str
    out: str = ""
    exc: str = ""  # "TypeError: ... (at file:line)" when main() raised
    extra: list = field(default_factory=list)  # what a real run would print on stderr besides


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines = []

    def emit(self, record):
        self.lines.append(f"[log {record.levelname} {record.name}] {record.getMessage()}"[:200])


def run_main(capsys, *args) -> Run:
    """edgec.cli.main in-process; warnings and WARNING log records are what a real run
    would also print on stderr."""
    capsys.readouterr()
    h = _Records()
    logging.getLogger().addHandler(h)
    code, exc = None, ""
    try:
        with warnings.catch_warnings(record=True) as ws:
            warnings.simplefilter("always")
            try:
                code = main([str(a) for a in args])
            except SystemExit as e:
                code = e.code
            except Exception as e:  # noqa: BLE001 - the case reports it
                tb = traceback.extract_tb(e.__traceback__)[-1]
                msg = (str(e).strip().splitlines() or [""])[0][:200]
                exc = f"{type(e).__name__}: {msg} (at {Path(tb.filename).name}:{tb.lineno})"
    finally:
        logging.getLogger().removeHandler(h)
    cap = capsys.readouterr()
    extra = [f"[{w.category.__name__}] {str(w.message)[:200]}" for w in ws if not issubclass(w.category, SILENT)]
    return Run(code, cap.err, cap.out, exc, extra + h.lines)


def _limit_memory():
    lim = SUB_MEM_GB << 30
    resource.setrlimit(resource.RLIMIT_AS, (lim, lim))


def run_cli(*args, cwd=None, timeout=SUB_TIMEOUT) -> Run:
    """`python -m edgec.cli ...` in a subprocess with a memory limit and a timeout."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        r = subprocess.run([sys.executable, "-m", "edgec.cli", *map(str, args)], capture_output=True, text=True,
                           cwd=cwd or ROOT, env=env, timeout=timeout, preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        return Run(None, err, exc=f"timed out after {timeout} s")
    return Run(r.returncode, r.stderr, r.stdout)


def execute(capsys, case, args, cwd=None) -> Run:
    return run_cli(*args, cwd=cwd) if case.sub else run_main(capsys, *args)


# ---- checking the contract -------------------------------------------------------------

def _tail(s: str, n: int = 300) -> str:
    s = s.strip().replace("\n", " | ")
    return s if len(s) <= n else "..." + s[-n:]


def _has(line: str, needle) -> bool:
    return any(a.lower() in line.lower() for a in ((needle,) if isinstance(needle, str) else needle))


def assert_one_line_error(r: Run, needles=(), forbid=(), maxlen=None):
    assert not r.exc, f"raised {r.exc}"
    assert r.code == 2, f"exit code {r.code}, not 2; stderr: {_tail(r.err)}"
    assert "Traceback" not in r.err, f"traceback on stderr: {_tail(r.err)}"
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, f"{len(lines)} stderr lines, not 1: {_tail(r.err)}"
    line = lines[0]
    assert line.startswith("edgec: error: "), f"stderr does not start with 'edgec: error: ': {line[:200]}"
    assert not r.extra, f"a real run would also print: {r.extra[0]}"
    for n in needles:
        assert _has(line, n), f"message lacks {n!r}: {line[:300]}"
    for n in forbid:
        assert n.lower() not in line.lower(), f"message names {n!r}: {line[:300]}"
    if maxlen:
        assert len(line) <= maxlen, f"message is {len(line):,} characters long: {line[:120]}..."


def assert_clean_success(r: Run):
    assert not r.exc, f"raised {r.exc}"
    assert r.code == 0
    assert "Traceback" not in r.err, f"traceback on stderr: {_tail(r.err)}"
    assert not r.extra, f"a real run would also print: {r.extra[0]}"


def _entry(p: Path) -> str:
    if p.is_symlink():
        return "link:" + os.readlink(p)
    if p.is_dir():
        return "dir"
    return hashlib.sha256(p.read_bytes()).hexdigest()


def snapshot(root: Path) -> dict | None:
    """{relative path: sha256 | 'dir' | 'link:<target>'} of everything under root (not
    following links); None when root does not exist."""
    root = Path(root)
    if not os.path.lexists(root):
        return None
    if root.is_symlink() or not root.is_dir():
        return {".": _entry(root)}
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath) / name
            out[p.relative_to(root).as_posix()] = _entry(p)
    return out


def diff(before: dict | None, after: dict | None, ignore=()) -> str:
    """'' when equal, else the first differences (entries under ``ignore`` folders skipped)."""
    if before is None or after is None:
        return "" if before == after else f"{'created' if before is None else 'removed'}"
    skip = lambda k: any(k == w or k.startswith(w + "/") for w in ignore)  # noqa: E731
    b = {k: v for k, v in before.items() if not skip(k)}
    a = {k: v for k, v in after.items() if not skip(k)}
    changes = [f"+{k}" for k in sorted(set(a) - set(b))] + [f"-{k}" for k in sorted(set(b) - set(a))] + \
              [f"~{k}" for k in sorted(set(a) & set(b)) if a[k] != b[k]]
    return ", ".join(changes[:5]) + (f" (+{len(changes) - 5} more)" if len(changes) > 5 else "")


def leftovers(parent: Path) -> list[str]:
    parent = Path(parent)
    if not parent.is_dir():
        return []
    return sorted(n for n in os.listdir(parent) if n.startswith(".edgec-") or "edgec-tmp" in n)


def assert_complete_build(out: Path, exact=False):
    """Every file the manifest lists exists (with its SHA-256, when the manifest has them);
    ``exact``: and the folder holds no other file (outside the work folders)."""
    out = Path(out)
    assert (out / "edgec.json").is_file(), f"'{out.name}' holds no edgec.json: not a complete build"
    m = json.loads((out / "edgec.json").read_text())
    files = m["files"]
    names = list(files)
    assert names, "the manifest lists no files"
    missing = [f for f in names if not (out / f).is_file()]
    assert not missing, f"incomplete build: {missing[:3]} missing"
    if isinstance(files, dict):
        bad = [f for f, h in files.items() if f != "edgec.json" and isinstance(h, str) and len(h) == 64
               and hashlib.sha256((out / f).read_bytes()).hexdigest() != h]
        assert not bad, f"incomplete build: {bad[:3]} differ from the manifest"
    if exact:
        extra = [k for k, v in snapshot(out).items() if v != "dir" and k not in names
                 and k.split("/")[0] not in ("csim", "cosim", "synth")]
        assert not extra, f"a mix of builds: {extra[:3]} are not in the manifest"


def fill(needles, subs: dict):
    def one(s):
        for k, v in subs.items():
            s = s.replace(k, v)
        return s
    return tuple(one(n) if isinstance(n, str) else tuple(one(a) for a in n) for n in needles)


def check(r: Run, case, *, tmp: Path, top_before: set, subs=None, marker=None, kept=(), out=None, parents=()):
    """The contract after one run. ``tmp``: the case's folder, where nothing new may appear
    (no output folder, no leftovers) unless the case succeeded; ``kept``: (path, snapshot)
    of folders or files that must stay byte-for-byte unchanged (third item, optional:
    sub-folders that may change, the work folders of csim/cosim/synth)."""
    try:
        if case.either and r.code == 0 and not r.exc:
            assert_clean_success(r)
            if out is not None:
                assert_complete_build(out)
        else:
            assert_one_line_error(r, fill(case.needles, subs or {}), case.forbid, case.maxlen)
            new = sorted(set(os.listdir(tmp)) - top_before)
            assert not new, f"left new entries in the case folder: {new[:5]}"
            for k in kept:
                path, before, ignore = (*k, ())[:3]
                d = diff(before, snapshot(path), ignore)
                assert not d, f"changed '{Path(path).name}': {d}"
        for p in {Path(tmp), *map(Path, parents)}:
            lo = leftovers(p)
            assert not lo, f"leftovers in {p.name}/: {lo[:3]}"
    finally:
        if marker is not None:
            assert not Path(marker).exists(), "a payload ran: the marker file was created"


@dataclass(frozen=True)
class Case:
    id: str
    make: object = None  # content of the bad file, a maker, or an argv template
    needles: tuple = ()  # each: a string, or a tuple of alternatives (case-insensitive)
    forbid: tuple = ()  # strings the message must not contain
    either: bool = False  # a clean success is as good as a clean error
    sub: bool = False  # run in a subprocess (memory limit, timeout, real stderr)
    maxlen: int | None = None  # the message is at most this long
    cmd: str = ""  # family-specific: the subcommand / the flag


def params(cases):
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    return [pytest.param(c, id=c.id) for c in cases]


# ---- shared files ----------------------------------------------------------------------

@dataclass
class Base:
    dir: Path
    model: Path  # torch.onnx.export of Flatten + Linear(64, 10), input (1, 1, 8, 8)
    x: Path  # 64 calibration inputs (N, 1, 8, 8) of the digits train split
    y: Path  # their labels
    tx: Path  # the digits test split inputs
    layer: str  # the model's Linear layer name (config layers: and folding key)
    xa: np.ndarray
    ya: np.ndarray
    txa: np.ndarray


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Base:
    import torch

    d = tmp_path_factory.mktemp("base")
    m = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (torch.zeros(1, 1, 8, 8),), str(d / "good.onnx"), dynamo=False)
    x, y = digits.train_split()
    xa, ya = np.asarray(x[:64]), np.asarray(y[:64])
    txa = np.asarray(digits.test_split()[0])
    np.save(d / "x.npy", xa)
    np.save(d / "y.npy", ya)
    np.save(d / "tx.npy", txa)
    try:
        from edgec.frontend.onnx_import import import_onnx

        layer = [n.name for n in import_onnx(d / "good.onnx").nodes if n.op == "linear"][0]
    except Exception:  # noqa: BLE001 - the importer is being changed; the exporter's name
        layer = "/1/Gemm"
    return Base(d, d / "good.onnx", d / "x.npy", d / "y.npy", d / "tx.npy", layer, xa, ya, txa)


@pytest.fixture(scope="module")
def earlier(base, tmp_path_factory) -> Path:
    """An earlier build of the base model (int4), to copy and damage."""
    out = tmp_path_factory.mktemp("earlier") / "build"
    r = run_cli("build", base.model, "--calib", base.x, "--preset", "int4", "-q", "-o", out)
    assert r.code == 0, r.err
    assert_complete_build(out)
    return out


@pytest.fixture
def tmp(tmp_path_factory) -> Path:
    """The case's own folder, neutrally named (pytest's tmp_path holds the case id, which
    would let a message that echoes the path satisfy a needle)."""
    return tmp_path_factory.mktemp("case")


def copy_build(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


def build_args(base, out, *extra, calib=True):
    return ["build", base.model, *(["--calib", base.x] if calib else []), "-o", out, *extra]


def _write_all(d: Path, cases, ext, content_of):
    """{case id: (path, marker)} with each case's file written (None: no file; DIR: a folder)."""
    files = {}
    for i, c in enumerate(cases):  # neutral names: a needle must not match the path
        path, marker = d / f"f{i:02d}{ext}", d / f"MARKER-{i:02d}"
        content = content_of(c, marker)
        if content is DIR:
            path.mkdir()
        else:
            R.write(path, content)
        files[c.id] = (path, marker)
    return files


# ---- calibration and label arrays ------------------------------------------------------

def _poke(v, where=(0, 0, 0, 0)):
    def f(x, y, m):
        x = x.astype(np.float64).copy()
        x[where] = v
        return x
    return f


def _structured(x, y, m):
    s = np.zeros(x.shape, dtype=[("a", "<f4"), ("b", "<f4")])
    s["a"] = x
    return s


def _npz(x, y, m):
    import io

    buf = io.BytesIO()
    np.savez(buf, x=x)
    return buf.getvalue()


F_CALIB = ("{file}", "--calib")
F_LABELS = ("{file}", "--labels")
NAN = ("nan", "finite")
INF = ("inf", "finite")

CALIB = [
    Case("calib-unicode-strings", lambda x, y, m: np.full((8, 1, 8, 8), "abc"), (F_CALIB,)),
    Case("calib-numeric-strings", lambda x, y, m: x.astype(str), (F_CALIB,)),
    Case("calib-bytes-strings", lambda x, y, m: x.astype("S8"), (F_CALIB,)),
    Case("calib-complex", lambda x, y, m: x.astype(np.complex128), (F_CALIB, ("complex",))),
    Case("calib-structured-dtype", _structured, (F_CALIB,)),
    Case("calib-object-pickled", lambda x, y, m: R.npy_bytes(x.astype(object), allow_pickle=True), (F_CALIB,)),
    Case("calib-object-payload",
         lambda x, y, m: R.npy_bytes(np.array([R.Payload(m)] * 4, dtype=object), allow_pickle=True), (F_CALIB,)),
    Case("calib-empty-0-samples", lambda x, y, m: np.zeros((0, 1, 8, 8), np.float32), (F_CALIB,)),
    Case("calib-0d", lambda x, y, m: np.array(0.5), (F_CALIB,)),
    Case("calib-1d", lambda x, y, m: x.reshape(-1)[:64], (F_CALIB,)),
    Case("calib-rank5", lambda x, y, m: x[:, None], (F_CALIB,)),
    Case("calib-wrong-sample-shape", lambda x, y, m: np.zeros((8, 1, 8, 9), np.float32), (F_CALIB,)),
    Case("calib-wrong-channels", lambda x, y, m: np.zeros((8, 3, 8, 8), np.float32), (F_CALIB,)),
    Case("calib-nan", _poke(np.nan), (F_CALIB, NAN), sub=True),
    Case("calib-all-nan", lambda x, y, m: np.full(x.shape, np.nan), (F_CALIB, NAN)),
    Case("calib-posinf", _poke(np.inf), (F_CALIB, INF), sub=True),
    Case("calib-neginf", _poke(-np.inf), (F_CALIB, INF)),
    Case("calib-bool", lambda x, y, m: x > 0.5, (F_CALIB,), either=True),
    Case("calib-huge-values", lambda x, y, m: x.astype(np.float64) * 1e300, (F_CALIB,), either=True),
    Case("calib-header-claims-10e7x10e7", lambda x, y, m: R.npy_header_only((10**7, 10**7)), (F_CALIB,)),
    Case("calib-truncated", lambda x, y, m: R.npy_bytes(x)[: len(R.npy_bytes(x)) // 2], (F_CALIB,)),
    Case("calib-not-npy", lambda x, y, m: "x,y\n1,2\n", (F_CALIB,)),
    Case("calib-empty-file", lambda x, y, m: b"", (F_CALIB,)),
    Case("calib-npz-archive", _npz, (F_CALIB,)),
    Case("calib-missing-file", lambda x, y, m: None, (F_CALIB,)),
    Case("calib-is-a-folder", lambda x, y, m: DIR, (F_CALIB,)),
]

LABELS = [
    Case("labels-out-of-range", lambda x, y, m: np.where(np.arange(64) == 3, 10, y), (F_LABELS,)),
    Case("labels-negative", lambda x, y, m: np.where(np.arange(64) == 3, -1, y), (F_LABELS,)),
    Case("labels-huge", lambda x, y, m: np.full(64, 2**40, np.int64), (F_LABELS,)),
    Case("labels-nan", lambda x, y, m: np.where(np.arange(64) == 3, np.nan, y.astype(float)), (F_LABELS,), sub=True),
    Case("labels-inf", lambda x, y, m: np.where(np.arange(64) == 3, np.inf, y.astype(float)), (F_LABELS,)),
    Case("labels-non-integer", lambda x, y, m: y.astype(float) + 0.5, (F_LABELS,)),
    Case("labels-strings", lambda x, y, m: np.array(["cat"] * 64), (F_LABELS,)),
    Case("labels-numeric-strings", lambda x, y, m: y.astype(str), (F_LABELS,)),
    Case("labels-wrong-length", lambda x, y, m: y[:63], (F_LABELS,)),
    Case("labels-2d", lambda x, y, m: y[:, None], (F_LABELS,)),
    Case("labels-empty", lambda x, y, m: np.zeros(0, np.int64), (F_LABELS,)),
    Case("labels-object-pickled", lambda x, y, m: R.npy_bytes(y.astype(object), allow_pickle=True), (F_LABELS,)),
    Case("labels-missing-file", lambda x, y, m: None, (F_LABELS,)),
]


@pytest.fixture(scope="module")
def array_files(base, tmp_path_factory):
    d = tmp_path_factory.mktemp("arrays")
    return _write_all(d, CALIB + LABELS, ".npy", lambda c, m: c.make(base.xa, base.ya, m))


@pytest.mark.parametrize("case", params(CALIB + LABELS))
def test_calibration_and_label_arrays(capsys, base, array_files, tmp, case):
    bad, marker = array_files[case.id]
    out = tmp / "o"
    if case.id.startswith("calib"):
        args = ["build", base.model, "--calib", bad, "-o", out]
    else:
        args = ["build", base.model, "--calib", base.x, "--labels", bad, "--finetune-epochs", "1", "-o", out]
    top = set(os.listdir(tmp))
    r = execute(capsys, case, args)
    check(r, case, tmp=tmp, top_before=top, subs={"{file}": bad.name}, marker=marker, out=out)


# ---- config YAML (--config) ------------------------------------------------------------

CFG = [
    Case("cfg-non-utf8", b"wbits: 4\n# caf\xe9 \xff\xfe\n", (("{file}",),)),
    Case("cfg-alias-bomb-document", R.yaml_bomb_document(), (("{file}",),), sub=True, maxlen=2000),
    Case("cfg-alias-bomb-percentile", "percentile: " + R.yaml_bomb() + "\n", (("percentile", "{file}"),), sub=True,
         maxlen=2000),
    Case("cfg-alias-bomb-layer-wbits", "layers:\n  {layer}: {wbits: " + R.yaml_bomb() + "}\n",
         (("wbits", "{file}"),), sub=True, maxlen=2000),
    Case("cfg-larger-than-1mb", "layers:\n" + "".join(f"  l{i}: {{wbits: 4}}\n" for i in range(80000)),
         (("{file}", "layers"),), maxlen=2000),
    Case("cfg-python-object-apply", '!!python/object/apply:os.system ["touch {marker}"]\n', (("{file}",),)),
    Case("cfg-python-apply-in-value", 'wbits: !!python/object/apply:os.system ["touch {marker}"]\n',
         (("{file}", "wbits"),)),
    Case("cfg-python-name-tag", "calibrator: !!python/name:os.system\n", (("{file}", "calibrator"),)),
    Case("cfg-percentile-abc", "percentile: abc\n", ("percentile",)),
    Case("cfg-percentile-200", "percentile: 200\n", ("percentile", "200")),
    Case("cfg-percentile-nan", "percentile: .nan\n", ("percentile",)),
    Case("cfg-percentile-list", "percentile: [99]\n", ("percentile",)),
    Case("cfg-wbits-4.7", "wbits: 4.7\n", ("wbits", "4.7")),
    Case("cfg-wbits-0", "wbits: 0\n", ("wbits",)),
    Case("cfg-wbits-99", "wbits: 99\n", ("wbits", "99")),
    Case("cfg-wbits-bool", "wbits: true\n", ("wbits",)),
    Case("cfg-wbits-misspelt-ternary", "wbits: ternery\n", ("wbits", "ternery")),
    Case("cfg-abits-negative", "abits: -1\n", ("abits",)),
    Case("cfg-abits-list", "abits: [1]\n", ("abits",)),
    Case("cfg-abits-2.5", "abits: 2.5\n", ("abits",)),
    Case("cfg-preset-int3", "preset: int3\n", ("int3",)),
    Case("cfg-preset-list", "preset: [int4]\n", ("preset",)),
    Case("cfg-calibrator-foo", "calibrator: foo\n", ("calibrator", "foo")),
    Case("cfg-calibrator-list", "calibrator: [minmax]\n", ("calibrator",)),
    Case("cfg-unknown-key-lists-known", "frobnicate: 1\n", ("frobnicate", "wbits")),
    Case("cfg-unknown-layer-key", "layers:\n  {layer}: {frobnicate: 1}\n", ("frobnicate",)),
    Case("cfg-layers-a-list", "layers: [a, b]\n", ("layers",)),
    Case("cfg-layers-a-scalar", "layers: 3\n", ("layers",)),
    Case("cfg-layer-entry-not-mapping", "layers:\n  {layer}: 4\n", (("{layer_raw}",),)),
    Case("cfg-layer-does-not-exist", "layers:\n  nosuchlayer: {wbits: 4}\n", ("nosuchlayer",)),
    Case("cfg-layer-wbits-9", "layers:\n  {layer}: {wbits: 9}\n", (("{layer_raw}",), "wbits")),
    Case("cfg-layer-calibrator-foo", "layers:\n  {layer}: {calibrator: foo}\n", ("calibrator", "foo")),
    Case("cfg-layer-prune-1.5", "layers:\n  {layer}: {prune: 1.5}\n", ("prune",)),
    Case("cfg-layer-winograd-f9", "layers:\n  {layer}: {winograd: f9}\n", ("winograd", "f9")),
    Case("cfg-layer-sparse-maybe", "layers:\n  {layer}: {sparse: maybe}\n", ("sparse", "maybe")),
    Case("cfg-prune-1.5", "prune: 1.5\n", ("prune",)),
    Case("cfg-prune-negative", "prune: -0.1\n", ("prune",)),
    Case("cfg-prune-abc", "prune: abc\n", ("prune",)),
    Case("cfg-prune-mode-foo", "prune_mode: foo\n", (("prune_mode", "prune mode", "prune-mode"), "foo")),
    Case("cfg-prune-domain-foo", "prune_domain: foo\n", (("prune_domain", "prune domain", "prune-domain"), "foo")),
    Case("cfg-input-bits-1", "input_bits: 1\n", ("input_bits",)),
    Case("cfg-input-bits-12", "input_bits: 12\n", ("input_bits",)),
    Case("cfg-top-level-list", "- wbits: 4\n", (("{file}",),)),
    Case("cfg-top-level-scalar", "int4\n", (("{file}",),)),
    Case("cfg-syntax-error", "wbits: [4\n", (("{file}",),)),
    Case("cfg-duplicate-keys", "wbits: 4\nwbits: 2\n", ("wbits",), either=True),
    Case("cfg-missing-file", None, (("{file}",),)),
    Case("cfg-is-a-folder", DIR, (("{file}",),)),
]


def _yaml_content(c, marker, layer):
    if c.make is None or c.make is DIR:
        return c.make
    if isinstance(c.make, bytes):
        return c.make.replace(b"{layer}", json.dumps(layer).encode())
    return c.make.replace("{layer}", json.dumps(layer)).replace("{marker}", str(marker))


@pytest.fixture(scope="module")
def config_files(base, tmp_path_factory):
    d = tmp_path_factory.mktemp("configs")
    return _write_all(d, CFG, ".yaml", lambda c, m: _yaml_content(c, m, base.layer))


def _yaml_case(capsys, base, files, tmp, case, flags):
    """Build with the case's YAML file after ``flags`` (--config or --folding)."""
    bad, marker = files[case.id]
    out = tmp / "o"
    top = set(os.listdir(tmp))
    r = execute(capsys, case, ["build", base.model, "--calib", base.x, *flags, bad, "-o", out])
    check(r, case, tmp=tmp, top_before=top, subs={"{file}": bad.name, "{layer_raw}": base.layer},
          marker=marker, out=out)


@pytest.mark.parametrize("case", params(CFG))
def test_config_yaml(capsys, base, config_files, tmp, case):
    _yaml_case(capsys, base, config_files, tmp, case, ["--config"])


# ---- folding files (--folding) ---------------------------------------------------------

FOLD = [
    Case("fold-non-utf8", b"# \xff\xfe\n{layer}: {pe: 1}\n", (("{file}",),)),
    Case("fold-alias-bomb", "{layer}: {pe: " + R.yaml_bomb() + "}\n", (("{layer_raw}", "pe", "{file}"),), sub=True,
         maxlen=2000),
    Case("fold-python-tag", '{layer}: !!python/object/apply:os.system ["touch {marker}"]\n', (("{file}",),)),
    Case("fold-pe-0", "{layer}: {pe: 0}\n", (("{layer_raw}",), "pe")),
    Case("fold-pe-negative", "{layer}: {pe: -2}\n", (("{layer_raw}",), "pe")),
    Case("fold-pe-2.5", "{layer}: {pe: 2.5}\n", (("{layer_raw}",), "pe")),
    Case("fold-pe-string", '{layer}: {pe: "x"}\n', (("{layer_raw}",), "pe")),
    Case("fold-pe-bool", "{layer}: {pe: true}\n", (("{layer_raw}",), "pe")),
    Case("fold-pe-3-does-not-divide-10", "{layer}: {pe: 3}\n", (("{layer_raw}",), "pe")),
    Case("fold-simd-3-does-not-divide-64", "{layer}: {simd: 3}\n", (("{layer_raw}",), "simd")),
    Case("fold-unknown-layer", "nosuchlayer: {pe: 1}\n", ("nosuchlayer",)),
    Case("fold-unknown-key", "{layer}: {pe: 1, foo: 2}\n", ("foo",)),
    Case("fold-layer-null", "{layer}: null\n", (("{layer_raw}",),)),
    Case("fold-a-list", "- 1\n- 2\n", (("{file}",),)),
    Case("fold-a-scalar", "3\n", (("{file}",),)),
    Case("fold-syntax-error", "{layer}: {pe: [1\n", (("{file}",),)),
    Case("fold-missing-file", None, (("{file}",),)),
]


@pytest.fixture(scope="module")
def folding_files(base, tmp_path_factory):
    d = tmp_path_factory.mktemp("foldings")
    return _write_all(d, FOLD, ".yaml", lambda c, m: _yaml_content(c, m, base.layer))


@pytest.mark.parametrize("case", params(FOLD))
def test_folding_file(capsys, base, folding_files, tmp, case):
    _yaml_case(capsys, base, folding_files, tmp, case, ["--preset", "int4", "--folding"])


# ---- command-line values ---------------------------------------------------------------

B = ("build", "{model}", "--calib", "{calib}", "-o", "{out}")
SIM = ("sim", "{build}", "--inputs", "{tx}")

CLI = [
    Case("seed-negative", B + ("--seed", "-1"), ("--seed",)),
    Case("target-fps-zero", B + ("--target-fps", "0"), ("--target-fps",)),
    Case("target-fps-negative", B + ("--target-fps", "-5"), ("--target-fps",)),
    Case("target-fps-nan", B + ("--target-fps", "nan"), ("--target-fps",)),
    Case("target-fps-inf", B + ("--target-fps", "inf"), ("--target-fps",)),
    Case("target-fps-text", B + ("--target-fps", "fast"), ("--target-fps",)),
    Case("prune-2", B + ("--prune", "2"), ("--prune",)),
    Case("prune-nan", B + ("--prune", "nan"), ("--prune",)),
    Case("prune-inf", B + ("--prune", "inf"), ("--prune",)),
    Case("prune-negative", B + ("--prune", "-0.1"), ("--prune",)),
    Case("wbits-2.5", B + ("--wbits", "2.5"), ("--wbits",)),
    Case("wbits-negative", B + ("--wbits", "-2"), ("--wbits",)),
    Case("abits-0", B + ("--abits", "0"), ("--abits",)),
    Case("abits-1.5", B + ("--abits", "1.5"), ("--abits",)),
    Case("board-unknown", B + ("--board", "nosuchboard"), ("nosuchboard",)),
    Case("board-empty", B + ("--board", ""), ("board",)),
    Case("input-shape-zero", B + ("--input-shape", "0,8,8"), ("--input-shape",)),
    Case("input-shape-letters", B + ("--input-shape", "a,b"), ("--input-shape",)),
    Case("input-shape-empty", B + ("--input-shape", ""), ("--input-shape",)),
    Case("finetune-epochs-negative", B + ("--labels", "{labels}", "--finetune-epochs", "-1"),
         ("--finetune-epochs",)),
    Case("finetune-epochs-fraction", B + ("--labels", "{labels}", "--finetune-epochs", "1.5"),
         ("--finetune-epochs",)),
    Case("lowrank-text", B + ("--lowrank", "abc"), ("--lowrank",)),
    Case("lowrank-zero", B + ("--lowrank", "0"), ("--lowrank",)),
    Case("lowrank-0x", B + ("--lowrank", "0x"), ("--lowrank",)),
    Case("csim-vectors-negative", ("csim", "{build}", "--vectors", "-3"), ("--vectors",)),
    Case("csim-vectors-zero", ("csim", "{build}", "--vectors", "0"), ("--vectors",)),
    Case("csim-inputs-missing", ("csim", "{build}", "--inputs", "{tmp}/nosuch.npy"), ("nosuch.npy",)),
    Case("cosim-idle-1.5", ("cosim", "{build}", "--idle", "1.5"), ("--idle",)),
    Case("cosim-idle-nan", ("cosim", "{build}", "--idle", "nan"), ("--idle",)),
    Case("cosim-backpressure-negative", ("cosim", "{build}", "--backpressure", "-0.1"), ("--backpressure",)),
    Case("cosim-vectors-zero", ("cosim", "{build}", "--vectors", "0"), ("--vectors",)),
    Case("cosim-rtl-missing-folder", ("cosim", "{build}", "--rtl", "{tmp}/nosuch_rtl"), ("nosuch_rtl",)),
    Case("synth-jobs-0", ("synth", "{build}", "--jobs", "0"), ("--jobs",)),
    Case("synth-jobs-negative", ("synth", "{build}", "--jobs", "-2"), ("--jobs",)),
    Case("sim-out-in-missing-folder", SIM + ("--out", "{tmp}/missing_dir/y.npz"), (("--out", "missing_dir"),)),
    Case("sim-inputs-missing", ("sim", "{build}", "--inputs", "{tmp}/nosuch.npy", "--out", "{tmp}/y.npz"),
         ("nosuch.npy",)),
    Case("report-missing-folder", ("report", "{tmp}/nosuch_build"), ("nosuch_build",)),
    Case("unknown-subcommand", ("frobnicate",), ("frobnicate",)),
    Case("no-subcommand", (), (("cmd", "command"),)),
]


@pytest.mark.parametrize("case", params(CLI))
def test_command_line_value(capsys, base, earlier, tmp, case):
    build = copy_build(earlier, tmp / "build") if "{build}" in case.make else None
    snap = snapshot(build) if build else None
    subs = {"{model}": str(base.model), "{calib}": str(base.x), "{labels}": str(base.y), "{tx}": str(base.tx),
            "{out}": str(tmp / "o"), "{build}": str(build), "{tmp}": str(tmp)}
    args = [fill((a,), subs)[0] for a in case.make]
    top = set(os.listdir(tmp))
    r = execute(capsys, case, args)
    work = ("csim", "cosim", "synth")  # those commands' own work folders inside the build
    check(r, case, tmp=tmp, top_before=top, kept=[(build, snap, work)] if build else [])


# ---- output paths (-o, --export-qonnx) -------------------------------------------------

OUT_PATHS = [
    Case("out-empty-string", needles=(("-o", "--out", "output"),)),
    Case("out-dot-in-empty-cwd", needles=(("-o", "--out", "output"),), either=True),
    Case("out-dot-inside-earlier-build", needles=(("-o", "--out", "output"),), either=True),
    Case("out-dotdot-from-inside-earlier-build", needles=(("-o", "--out", "output"),), either=True),
    Case("out-below-a-regular-file", needles=("file.txt",)),
    Case("out-250-character-name", needles=(("-o", "--out", "output", "long"),), either=True),
    Case("out-symlink-to-earlier-build", needles=(("-o", "--out", "link"),), either=True),
    Case("out-dangling-symlink", needles=(("dangling",),), either=True),
    Case("out-symlink-loop", needles=(("loop",),)),
    Case("export-qonnx-existing-folder", needles=("--export-qonnx",)),
    Case("export-qonnx-missing-folder", needles=("--export-qonnx",)),
    Case("export-qonnx-below-a-regular-file", needles=("--export-qonnx",)),
]


@pytest.mark.parametrize("case", params(OUT_PATHS))
def test_output_path(capsys, monkeypatch, base, earlier, tmp, case):
    out, extra, kept, parents, success_check = tmp / "o", [], [], [], None
    if case.id == "out-empty-string":
        cwd = tmp / "cwd"
        cwd.mkdir()
        monkeypatch.chdir(cwd)
        out, kept, parents = "", [(cwd, snapshot(cwd))], [cwd]
    elif case.id == "out-dot-in-empty-cwd":
        cwd = tmp / "cwd"
        cwd.mkdir()
        monkeypatch.chdir(cwd)
        out, kept, parents = ".", [(cwd, snapshot(cwd))], [cwd]
        success_check = lambda: assert_complete_build(cwd)  # noqa: E731
    elif case.id == "out-dot-inside-earlier-build":
        cwd = copy_build(earlier, tmp / "build")
        monkeypatch.chdir(cwd)
        out, kept, parents = ".", [(cwd, snapshot(cwd))], [cwd]
        success_check = lambda: assert_complete_build(cwd)  # noqa: E731
    elif case.id == "out-dotdot-from-inside-earlier-build":
        build = copy_build(earlier, tmp / "build")
        monkeypatch.chdir(build / "hls")
        out, kept, parents = "..", [(build, snapshot(build))], [build]
        success_check = lambda: assert_complete_build(build)  # noqa: E731
    elif case.id == "out-below-a-regular-file":
        (tmp / "file.txt").write_text("mine\n")
        out, kept = tmp / "file.txt" / "out", [(tmp / "file.txt", snapshot(tmp / "file.txt"))]
    elif case.id == "out-250-character-name":
        out = tmp / ("a" * 250)
        success_check = lambda: assert_complete_build(out)  # noqa: E731
    elif case.id == "out-symlink-to-earlier-build":
        real = copy_build(earlier, tmp / "real")
        out = tmp / "link"
        out.symlink_to(real, target_is_directory=True)
        kept = [(real, snapshot(real)), (out, snapshot(out))]

        def success_check():
            assert out.is_symlink() and out.resolve() == real.resolve(), "the link was replaced"
            assert_complete_build(real)
    elif case.id == "out-dangling-symlink":
        out = tmp / "dangling"
        out.symlink_to(tmp / "nowhere", target_is_directory=True)
        kept = [(out, snapshot(out)), (tmp / "nowhere", None)]
        success_check = lambda: assert_complete_build(out)  # noqa: E731
    elif case.id == "out-symlink-loop":
        out = tmp / "loop"
        out.symlink_to(out)
        kept = [(out, snapshot(out))]
    elif case.id == "export-qonnx-existing-folder":
        q = tmp / "qdir"
        q.mkdir()
        extra, kept, parents = ["--export-qonnx", q], [(q, snapshot(q))], [q]
    elif case.id == "export-qonnx-missing-folder":
        extra = ["--export-qonnx", tmp / "nowhere" / "m.onnx"]
    elif case.id == "export-qonnx-below-a-regular-file":
        (tmp / "file.txt").write_text("mine\n")
        extra, kept = ["--export-qonnx", tmp / "file.txt" / "m.onnx"], [(tmp / "file.txt",
                                                                              snapshot(tmp / "file.txt"))]
    top = set(os.listdir(tmp))
    r = execute(capsys, case, build_args(base, out, "--preset", "int4", *extra))
    check(r, case, tmp=tmp, top_before=top, kept=kept, parents=parents)
    if r.code == 0 and success_check is not None:
        success_check()


# ---- output folders that are not (only) edgec's ----------------------------------------

def _foreign_json(d: Path, earlier):
    d.mkdir()
    (d / "edgec.json").write_text(json.dumps({"name": "my app", "files": ["main.c", "data/a.bin"]}))
    (d / "main.c").write_text("int main(void) { return 0; }\n")
    (d / "data").mkdir()
    (d / "data" / "a.bin").write_bytes(b"\x00\x01\x02")


def _garbage_json(d: Path, earlier):
    d.mkdir()
    (d / "edgec.json").write_bytes(os.urandom(300))
    (d / "notes.txt").write_text("mine\n")


def _only_json(d: Path, earlier):
    d.mkdir()
    (d / "edgec.json").write_text('{"version": 3, "owner": "someone else"}\n')


def _lookalike_manifest(d: Path, earlier):
    d.mkdir()
    (d / "edgec.json").write_text(json.dumps({"edgec": "0.1.0", "board": "zynq7020", "files": ["report.json",
                                                                                                "edgec.json"]}))
    (d / "report.json").write_text("{}\n")
    (d / "precious.txt").write_text("the only copy\n")


def _json_is_folder(d: Path, earlier):
    d.mkdir()
    (d / "edgec.json").mkdir()
    (d / "edgec.json" / "mine.txt").write_text("mine\n")


def _in_build(fn):
    def setup(d: Path, earlier):
        copy_build(earlier, d)
        fn(d)
    return setup


def _append(rel, text):
    def f(d):
        with open(d / rel, "a") as fh:
            fh.write(text)
    return f


def _symlink_inside(d):
    (d.parent / "elsewhere").mkdir()
    (d.parent / "elsewhere" / "keep.txt").write_text("keep\n")
    (d / "mylink").symlink_to(d.parent / "elsewhere", target_is_directory=True)


OUT_DIRS = [
    Case("folder-foreign-edgec-json-and-files", _foreign_json, (("edgec.json", "main.c", "data"),)),
    Case("folder-garbage-edgec-json-and-notes", _garbage_json, (("edgec.json", "notes.txt"),)),
    Case("folder-only-a-foreign-edgec-json", _only_json, ("edgec.json",)),
    Case("folder-lookalike-manifest-and-user-file", _lookalike_manifest, (("edgec.json", "precious.txt"),)),
    Case("folder-edgec-json-is-a-folder", _json_is_folder, ("edgec.json",)),
    Case("build-plus-user-notes-txt", _in_build(lambda d: (d / "notes.txt").write_text("mine\n")), ("notes.txt",)),
    Case("build-plus-nested-user-file", _in_build(lambda d: (d / "hls" / "my_notes.md").write_text("mine\n")),
         ("my_notes.md",)),
    Case("build-plus-empty-user-folder", _in_build(lambda d: (d / "mydata").mkdir()), ("mydata",), either=True),
    Case("build-with-edited-top-cpp", _in_build(_append("hls/top.cpp", "\n// my fix\n")), ("top.cpp",)),
    Case("build-with-edited-report-json", _in_build(_append("report.json", "\n")), ("report.json",)),
    Case("build-with-symlink-inside", _in_build(_symlink_inside), ("mylink",)),
    Case("build-missing-a-generated-file", _in_build(lambda d: (d / "sim" / "model.py").unlink()),
         ("model.py",), either=True),
    Case("regular-file-at-o", lambda d, e: d.write_text("mine\n"), ("{out}",)),
]


@pytest.mark.parametrize("case", params(OUT_DIRS))
def test_output_folder(capsys, base, earlier, tmp, case):
    out = tmp / "outdir"
    case.make(out, earlier)
    kept = [(out, snapshot(out))]
    if (tmp / "elsewhere").exists():
        kept.append((tmp / "elsewhere", snapshot(tmp / "elsewhere")))
    top = set(os.listdir(tmp))
    r = execute(capsys, case, build_args(base, out, "--preset", "int4"))
    check(r, case, tmp=tmp, top_before=top, subs={"{out}": out.name}, kept=kept, out=out)


# ---- damaged build folders -------------------------------------------------------------

def _garbage(n=400):
    return np.random.default_rng(11).bytes(n)


def _damage(d: Path, how: str, rel: str):
    p = d / rel
    if how == "delete":
        p.unlink()
    elif how == "truncate":
        p.write_bytes(p.read_bytes()[: max(1, p.stat().st_size // 2)])
    elif how == "garbage":
        p.write_bytes(_garbage())
    elif how == "empty":
        p.write_bytes(b"")
    else:  # literal content
        p.write_text(how)


def _weights_missing_array(d: Path):
    import zipfile

    p = d / "sim" / "weights.npz"
    with zipfile.ZipFile(p) as z:
        members = {i.filename: z.read(i.filename) for i in z.infolist()}
    members.pop(sorted(members)[0])
    with zipfile.ZipFile(p, "w") as z:
        for k, v in members.items():
            z.writestr(k, v)


DAMAGED = [
    # (id, command, damage, needles)
    ("sim-weights-npz-deleted", "sim", ("delete", "sim/weights.npz"), "weights.npz"),
    ("sim-weights-npz-truncated", "sim", ("truncate", "sim/weights.npz"), "weights.npz"),
    ("sim-weights-npz-garbage", "sim", ("garbage", "sim/weights.npz"), "weights.npz"),
    ("sim-weights-npz-missing-array", "sim", _weights_missing_array, "weights.npz"),
    ("sim-model-py-deleted", "sim", ("delete", "sim/model.py"), "model.py"),
    ("sim-model-py-truncated", "sim", ("truncate", "sim/model.py"), "model.py"),
    ("sim-model-py-garbage", "sim", ("garbage", "sim/model.py"), "model.py"),
    ("sim-kernels-py-deleted", "sim", ("delete", "sim/kernels.py"), "kernels.py"),
    ("sim-edgec-json-deleted", "sim", ("delete", "edgec.json"), "edgec.json"),
    ("sim-edgec-json-garbage", "sim", ("garbage", "edgec.json"), "edgec.json"),
    ("sim-edgec-json-truncated", "sim", ("truncate", "edgec.json"), "edgec.json"),
    ("sim-edgec-json-wrong-structure", "sim", ("[1, 2, 3]\n", "edgec.json"), "edgec.json"),
    ("report-report-json-deleted", "report", ("delete", "report.json"), "report.json"),
    ("report-report-json-truncated", "report", ("truncate", "report.json"), "report.json"),
    ("report-report-json-garbage", "report", ("garbage", "report.json"), "report.json"),
    ("report-report-json-wrong-structure", "report", ('{"layers": 3}\n', "report.json"), "report.json"),
    ("report-report-json-a-list", "report", ("[]\n", "report.json"), "report.json"),
    ("report-edgec-json-garbage", "report", ("garbage", "edgec.json"), "edgec.json"),
    ("csim-weights-npz-garbage", "csim", ("garbage", "sim/weights.npz"), "weights.npz"),
    ("csim-model-py-deleted", "csim", ("delete", "sim/model.py"), "model.py"),
    ("csim-edgec-json-wrong-structure", "csim", ('{"files": 3}\n', "edgec.json"), "edgec.json"),
    ("csim-report-json-garbage", "csim", ("garbage", "report.json"), "report.json"),
    ("cosim-weights-npz-garbage", "cosim", ("garbage", "sim/weights.npz"), "weights.npz"),
    ("cosim-edgec-json-garbage", "cosim", ("garbage", "edgec.json"), "edgec.json"),
    ("cosim-report-json-deleted", "cosim", ("delete", "report.json"), "report.json"),
    ("cosim-top-v-deleted", "cosim", ("delete", "rtl/edgec_top.v"), "edgec_top.v"),
    ("synth-edgec-json-wrong-structure", "synth", ('{"files": {"a": 1}}\n', "edgec.json"), "edgec.json"),
    ("synth-report-json-garbage", "synth", ("garbage", "report.json"), "report.json"),
    ("synth-instances-json-deleted", "synth", ("delete", "rtl/instances.json"), "instances.json"),
    ("synth-instances-json-garbage", "synth", ("garbage", "rtl/instances.json"), "instances.json"),
]
DAMAGED_CASES = [Case(i, make=dmg, needles=(needle,), cmd=cmd) for i, cmd, dmg, needle in DAMAGED]


def _command(cmd, build, base, tmp):
    return {"sim": ["sim", build, "--inputs", base.tx, "--out", tmp / "y.npz"], "report": ["report", build],
            "csim": ["csim", build, "--vectors", "5"], "cosim": ["cosim", build, "--vectors", "2"],
            "synth": ["synth", build, "-q"]}[cmd]


@pytest.mark.parametrize("case", params(DAMAGED_CASES))
def test_damaged_build_folder(capsys, base, earlier, tmp, case):
    build = copy_build(earlier, tmp / "build")
    if callable(case.make):
        case.make(build)
    else:
        _damage(build, *case.make)
    snap = snapshot(build)
    top = set(os.listdir(tmp))
    r = execute(capsys, case, _command(case.cmd, build, base, tmp))
    check(r, case, tmp=tmp, top_before=top, kept=[(build, snap, ("csim", "cosim", "synth"))])


SIM_INPUTS = [
    Case("sim-inputs-nan", lambda x: _poke(np.nan)(x, None, None), (NAN,), forbid=("out of range",), sub=True),
    Case("sim-inputs-inf", lambda x: _poke(np.inf)(x, None, None), (INF,), forbid=("out of range",)),
    Case("sim-inputs-wrong-shape", lambda x: np.zeros((4, 1, 8, 9), np.float32), (("--inputs", "{file}"),)),
    Case("sim-inputs-codes-out-of-range", lambda x: np.full((4, 1, 8, 8), 1000, np.int64),
         (("--inputs", "{file}"),)),
    Case("sim-inputs-negative-codes", lambda x: np.full((4, 1, 8, 8), -5, np.int64), (("--inputs", "{file}"),)),
    Case("sim-inputs-strings", lambda x: x[:4].astype(str), (("--inputs", "{file}"),)),
    Case("sim-inputs-empty", lambda x: np.zeros((0, 1, 8, 8), np.float32), (("--inputs", "{file}"),)),
    Case("sim-inputs-object-pickled", lambda x: R.npy_bytes(x[:4].astype(object), allow_pickle=True),
         (("--inputs", "{file}"),)),
    Case("sim-labels-wrong-length", lambda x: np.zeros(7, np.int64), (("--labels", "{file}"),), cmd="labels"),
    Case("sim-labels-strings", lambda x: np.array(["a"] * len(x)), (("--labels", "{file}"),), cmd="labels"),
]


@pytest.mark.parametrize("case", params(SIM_INPUTS))
def test_sim_inputs(capsys, base, earlier, tmp, case):
    build = copy_build(earlier, tmp / "build")
    bad = R.write(tmp / "bad.npy", case.make(base.txa))
    snap = snapshot(build)
    args = ["sim", build, "--out", tmp / "y.npz"]
    args += ["--inputs", base.tx, "--labels", bad] if case.cmd == "labels" else ["--inputs", bad]
    top = set(os.listdir(tmp))
    r = execute(capsys, case, args)
    check(r, case, tmp=tmp, top_before=top, subs={"{file}": bad.name}, kept=[(build, snap)])


# ---- ONNX models -----------------------------------------------------------------------

def _ext_model(location, data=b"W"):
    def make(d, base, marker, cid):
        payload = R.fc_weights()[0].tobytes() if data == b"W" else data
        return R.external(R.mlp(), d / cid, "m.onnx", location, payload)
    return make


def _ext_outside(d, base, marker, cid):
    (d / "secret.bin").write_bytes(R.fc_weights()[0].tobytes())
    return R.external(R.mlp(), d / cid, "m.onnx", "../secret.bin", None)


def _ext_absolute(d, base, marker, cid):
    (d / "abs_secret.bin").write_bytes(R.fc_weights()[0].tobytes())
    return R.external(R.mlp(), d / cid, "m.onnx", str(d / "abs_secret.bin"), None)


def _ext_zero_byte(d, base, marker, cid):
    p = R.external(R.mlp(), d / cid, "m.onnx", "m.onnx.data", R.fc_weights()[0].tobytes())
    (d / cid / "m.onnx.data").write_bytes(b"")
    return p


def _ext_short(d, base, marker, cid):
    return R.external(R.mlp(), d / cid, "m.onnx", "m.onnx.data", R.fc_weights()[0].tobytes()[:100])


def _onnx_file(build_model):
    def make(d, base, marker, cid):
        return R.save(build_model(), d / f"{cid}.onnx")
    return make


def _raw(content_of):
    def make(d, base, marker, cid):
        content = content_of(base)
        if content is DIR:
            (d / f"{cid}.onnx").mkdir()
            return d / f"{cid}.onnx"
        return R.write(d / f"{cid}.onnx", content)
    return make


def _nan_w():
    w, b = R.fc_weights()
    w[3, 4] = np.nan
    return R.mlp(W=w)


def _inf_w():
    w, b = R.fc_weights()
    w[3, 4] = np.inf
    return R.mlp(W=w)


def _nan_b():
    w, b = R.fc_weights()
    b[2] = np.nan
    return R.mlp(b=b)


def _mismatch():
    w, b = R.fc_weights()
    return R.mlp(W=np.zeros((63, 10), np.float32))


def _undefined():
    w, b = R.fc_weights()
    return R.model(R.mlp_nodes(mm_input="ghost"), {"W": w, "b": b})


def _dynamic_dims():
    return R.mlp(inputs=[R.vi("x", ["N", 1, "H", 8])])


def _string_input():
    return R.mlp(inputs=[R.vi("x", [1, 1, 8, 8], R.TensorProto.STRING)])


def _torch_zip(base):
    import io

    import torch

    buf = io.BytesIO()
    torch.save({"w": torch.zeros(3)}, buf)
    return buf.getvalue()


SIZE = ("large", "size", "too big", "exceed", "limit", "at most", "maximum", "values", "bytes", "elements", "memory",
        "fit", "MB", "GB")

ONNX = [
    Case("onnx-truncated", _raw(lambda b: b.model.read_bytes()[: b.model.stat().st_size // 2]), (("{file}",),)),
    Case("onnx-random-bytes", _raw(lambda b: _garbage(2000)), (("{file}",),)),
    Case("onnx-empty-file", _raw(lambda b: b""), (("{file}",),)),
    Case("onnx-text-file", _raw(lambda b: "this is not a model\n"), (("{file}",),)),
    Case("onnx-really-a-zip", _raw(_torch_zip), (("{file}",),)),
    Case("onnx-missing-file", _raw(lambda b: None), (("{file}",),)),
    Case("onnx-is-a-folder", _raw(lambda b: DIR), (("{file}",),)),
    Case("onnx-external-data-zero-bytes", _ext_zero_byte, (("m.onnx.data", "external"),)),
    Case("onnx-external-data-too-short", _ext_short, (("m.onnx.data", "external"),)),
    Case("onnx-external-data-outside-folder", _ext_outside, (("secret.bin", "outside", "external"),)),
    Case("onnx-external-data-absolute-path", _ext_absolute, (("abs_secret.bin", "outside", "external"),)),
    Case("onnx-external-data-missing", _ext_model("gone.bin", data=None), (("gone.bin",),)),
    Case("onnx-opset-99", _onnx_file(lambda: R.mlp(opset=99)), ("99", "opset")),
    Case("onnx-nan-weights", _onnx_file(_nan_w), (("fc", "'W'"), NAN), sub=True),
    Case("onnx-inf-weights", _onnx_file(_inf_w), (("fc", "'W'"), INF)),
    Case("onnx-nan-bias", _onnx_file(_nan_b), (("bias", "'b'"), NAN)),
    Case("onnx-einsum", _onnx_file(R.einsum_model), ("the_einsum", "Einsum")),
    Case("onnx-tan", _onnx_file(lambda: R.with_op("Tan", "the_tan")), ("the_tan", "Tan")),
    Case("onnx-custom-domain-op", _onnx_file(lambda: _custom_domain()), ("the_frob", "Frob")),
    Case("onnx-conv-strides-0", _onnx_file(lambda: R.conv_model(strides=[0, 0])), ("bad_conv", "stride"),
         forbid=("next_relu",)),
    Case("onnx-conv-negative-pads", _onnx_file(lambda: R.conv_model(pads=[-1, -1, -1, -1])), ("bad_conv",),
         forbid=("next_relu",)),
    Case("onnx-conv-kernel-shape-mismatch", _onnx_file(lambda: R.conv_model(kernel_shape=[5, 5])), ("bad_conv",),
         forbid=("next_relu",)),
    Case("onnx-conv-dilations-0", _onnx_file(lambda: R.conv_model(dilations=[0, 0])), ("bad_conv",),
         forbid=("next_relu",)),
    Case("onnx-maxpool-kernel-0", _onnx_file(lambda: R.maxpool_model(kernel_shape=[0, 0])), ("bad_pool",)),
    Case("onnx-input-1x1x8192x8192", _onnx_file(lambda: R.conv_model(input_shape=(1, 1, 8192, 8192))),
         ("8192", SIZE), sub=True),
    Case("onnx-constantofshape-40000x40000", _onnx_file(R.constant_of_shape_model), ("big_const",),
         forbid=("allocate", "MemoryError"), sub=True),
    Case("onnx-two-inputs", _onnx_file(R.two_inputs_model),
         (("2 inputs", "two inputs", "more than one input", "'x2'"),)),
    Case("onnx-two-outputs", _onnx_file(R.two_outputs_model),
         (("2 outputs", "two outputs", "more than one output", "'y2'"),)),
    Case("onnx-zero-nodes", _onnx_file(R.zero_nodes_model), (("{file}",), ("node", "empty", "nothing"))),
    Case("onnx-undefined-tensor", _onnx_file(_undefined), ("ghost",)),
    Case("onnx-matmul-shape-mismatch", _onnx_file(_mismatch), ("fc",)),
    Case("onnx-node-consumes-its-own-output", _onnx_file(R.cycle_model), (("loop", "'z'"),)),
    Case("onnx-reshape-wrong-size", _onnx_file(R.reshape_model), ("bad_reshape",)),
    Case("onnx-dynamic-dims", _onnx_file(_dynamic_dims), ("'x'",)),
    Case("onnx-string-input", _onnx_file(_string_input), ("'x'",)),
]


def _custom_domain():
    w, b = R.fc_weights()
    m = R.model([R.helper.make_node("Frob", ["x"], ["t"], name="the_frob", domain="com.example"),
                 R.helper.make_node("Flatten", ["t"], ["f"], name="flat", axis=1),
                 R.helper.make_node("MatMul", ["f", "W"], ["mm"], name="fc"),
                 R.helper.make_node("Add", ["mm", "b"], ["y"], name="bias")], {"W": w, "b": b})
    m.opset_import.append(R.helper.make_opsetid("com.example", 1))
    return m


@pytest.fixture(scope="module")
def onnx_files(base, tmp_path_factory):
    d = tmp_path_factory.mktemp("onnx")
    files = {}
    for i, c in enumerate(ONNX):
        marker = d / f"MARKER-{i:02d}"
        files[c.id] = (Path(c.make(d, base, marker, f"m{i:02d}")), marker)
    return files


@pytest.mark.parametrize("case", params(ONNX))
def test_onnx_model(capsys, base, onnx_files, tmp, case):
    bad, marker = onnx_files[case.id]
    out = tmp / "o"
    top = set(os.listdir(tmp))
    r = execute(capsys, case, ["build", bad, "--calib", base.x, "-o", out])
    check(r, case, tmp=tmp, top_before=top, subs={"{file}": bad.name}, marker=marker, out=out,
          parents=[bad.parent])


# ---- QONNX models ----------------------------------------------------------------------

def _inject(marker, quote='"'):
    return f'q{quote}+str(__import__("os").system("touch {marker}"))+{quote}'


OUT_TENSOR = {"in_quant": "xq", "w_quant": "wq", "out_quant": "y"}  # the Quant nodes' output tensors
FIELD = {"scale": "scale", "zp": "zp", "bits": "bits"}  # their initializers: <output>_<field>


def _q(cid, quant, field, value, what):
    """A QONNX case that changes ``field`` of ``quant``: the message names the node (or the
    initializer holding that field) and ``what``."""
    names = (quant,) + ((f"{OUT_TENSOR[quant]}_{FIELD[field]}",) if field in FIELD else ())
    return Case(cid, {(quant, field): value}, (names, what))


QONNX = [
    Case("qonnx-good-builds", {}, either=True),  # the base graph: a clean success
    _q("qonnx-bitwidth-2.5", "out_quant", "bits", 2.5, "bit"),
    _q("qonnx-bitwidth-3.5-weights", "w_quant", "bits", 3.5, "bit"),
    _q("qonnx-bitwidth-0", "in_quant", "bits", 0, "bit"),
    _q("qonnx-bitwidth-40", "out_quant", "bits", 40, "bit"),
    _q("qonnx-bitwidth-negative", "w_quant", "bits", -4, "bit"),
    _q("qonnx-bitwidth-nan", "out_quant", "bits", np.nan, "bit"),
    _q("qonnx-scale-0", "out_quant", "scale", 0.0, "scale"),
    _q("qonnx-scale-negative", "in_quant", "scale", -1 / 255, "scale"),
    Case("qonnx-scale-nan", {("out_quant", "scale"): np.nan}, (("out_quant", "y_scale"), "scale"), sub=True),
    _q("qonnx-scale-inf", "w_quant", "scale", np.inf, "scale"),
    _q("qonnx-zeropoint-nan", "out_quant", "zp", np.nan, ("zero", "zp")),
    _q("qonnx-rounding-sideways", "out_quant", "rounding_mode", "SIDEWAYS", "SIDEWAYS"),
    _q("qonnx-signed-7", "out_quant", "signed", 7, "signed"),
    _q("qonnx-narrow-3", "out_quant", "narrow", 3, "narrow"),
    Case("qonnx-quant-missing-bitwidth-input", {("out_quant", "inputs"): "drop"}, ("out_quant",)),
    Case("qonnx-weight-scale-wrong-shape", {("w_quant", "scale"): np.ones((1, 7), np.float32)},
         (("w_quant", "wq_scale"),)),
    Case("qonnx-injection-node-name", "node:out_quant", either=True),
    Case("qonnx-injection-matmul-node-name", "node:fc", either=True),
    Case("qonnx-injection-tensor-name", "tensor:mm", either=True),
    Case("qonnx-injection-input-name", "input", either=True),
    Case("qonnx-injection-single-quote", ("node:out_quant", "'"), either=True),
    Case("qonnx-injection-newline", ("node:in_quant", "\n"), either=True),
]


def _qonnx_file(c, d: Path, marker: Path, name: str) -> Path:
    if isinstance(c.make, dict):
        m = R.qonnx_model(c.make)
    else:
        where, quote = (c.make, '"') if isinstance(c.make, str) else c.make
        evil = (f"q\nimport os; os.system('touch {marker}')\n#" if quote == "\n" else _inject(marker, quote))
        m = R.qonnx_model(names={where: evil})
    return R.save(m, d / f"{name}.onnx")


@pytest.fixture(scope="module")
def qonnx_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("qonnx")
    return {c.id: (_qonnx_file(c, d, d / f"MARKER-{i:02d}", f"q{i:02d}"), d / f"MARKER-{i:02d}")
            for i, c in enumerate(QONNX)}


@pytest.mark.parametrize("case", params(QONNX))
def test_qonnx_model(capsys, qonnx_files, tmp, case):
    bad, marker = qonnx_files[case.id]
    out = tmp / "o"
    top = set(os.listdir(tmp))
    r = execute(capsys, case, ["build", bad, "-o", out])
    check(r, case, tmp=tmp, top_before=top, marker=marker, out=out)
    if r.code == 0 and case.either:  # a build: its simulator runs without running the payload
        np.save(tmp / "xin.npy", np.random.default_rng(0).uniform(0, 1, (8, 64)).astype(np.float32))
        s = run_main(capsys, "sim", out, "--inputs", tmp / "xin.npy", "--out", tmp / "y.npz")
        assert s.code == 0 and not s.exc, f"sim of the build failed: {s.exc or _tail(s.err)}"
        assert not marker.exists(), "a payload ran in the simulator: the marker file was created"


# ---- .pt2 programs and other files -----------------------------------------------------

def _module(kind):
    import torch

    class Two(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(64, 10)

        def forward(self, a, b):
            return self.fc(torch.flatten(a + b, 1))

    class Tan(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(64, 10)

        def forward(self, x):
            return torch.tan(self.fc(torch.flatten(x, 1)))

    return {"two": Two, "tan": Tan}[kind]().eval()


PT2 = [
    Case("pt2-payload-in-sample-inputs", "sample_inputs", (("{file}",),)),
    Case("pt2-payload-as-pickled-weight", "weight", (("{file}",),)),
    Case("pt2-payload-as-opaque-constant", "constant", (("{file}",),)),
    Case("pt2-torch-save-of-payload", "torch_save", (("{file}",),)),
    Case("pt2-raw-pickle-payload", "pickle", (("{file}",),)),
    Case("pt2-truncated", "truncated", (("{file}",),)),
    Case("pt2-random-zip", "random_zip", (("{file}",),)),
    Case("pt2-random-bytes", "random_bytes", (("{file}",),)),
    Case("pt2-empty-file", "empty", (("{file}",),)),
    Case("pt2-missing-file", "missing", (("{file}",),)),
    Case("pt2-two-inputs", "two_inputs", (("2 inputs", "two inputs", "more than one input"),)),
    Case("pt2-unsupported-op-tan", "tan", ("tan",)),
    Case("model-unknown-extension-h5", "h5", (("{file}",),)),
    Case("model-no-extension", "noext", (("{file}",),)),
    Case("model-pth-state-dict", "pth", (("{file}",),)),
]


@pytest.fixture(scope="module")
def pt2_files(tmp_path_factory):
    import torch

    d = tmp_path_factory.mktemp("pt2")
    good = d / "good.pt2"
    m = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)).eval()
    torch.export.save(torch.export.export(m, (torch.zeros(1, 1, 8, 8),)), str(good))
    files = {}
    for i, c in enumerate(PT2):
        name = f"p{i:02d}"
        marker = d / f"MARKER-{name}"
        p = d / f"{name}.pt2"
        k = c.make
        if k == "sample_inputs":
            R.pt2_payload_sample_inputs(good, p, marker)
        elif k == "weight":
            R.pt2_payload_weight(good, p, marker)
        elif k == "constant":
            R.pt2_payload_constant(good, p, marker)
        elif k == "torch_save":
            torch.save(R.Payload(marker), str(p))
        elif k == "pickle":
            p.write_bytes(R.pickled_payload(marker))
        elif k == "truncated":
            p.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
        elif k == "random_zip":
            R.random_zip(p)
        elif k == "random_bytes":
            p.write_bytes(_garbage(3000))
        elif k == "empty":
            p.write_bytes(b"")
        elif k == "two_inputs":
            z = torch.zeros(1, 1, 8, 8)
            torch.export.save(torch.export.export(_module("two"), (z, z)), str(p))
        elif k == "tan":
            torch.export.save(torch.export.export(_module("tan"), (torch.zeros(1, 1, 8, 8),)), str(p))
        elif k == "h5":
            p = d / f"{name}.h5"
            p.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(200))
        elif k == "noext":
            p = d / name
            R.copy(good, p)
        elif k == "pth":
            p = d / f"{name}.pth"
            torch.save(m.state_dict(), str(p))
        files[c.id] = (p, marker)
    return files


@pytest.mark.parametrize("case", params(PT2))
def test_pt2_and_other_model_files(capsys, base, pt2_files, tmp, case):
    bad, marker = pt2_files[case.id]
    out = tmp / "o"
    top = set(os.listdir(tmp))
    r = execute(capsys, case, ["build", bad, "--calib", base.x, "-o", out])
    check(r, case, tmp=tmp, top_before=top, subs={"{file}": bad.name}, marker=marker, out=out)


# ---- interrupted builds ----------------------------------------------------------------

@pytest.fixture(scope="module")
def example_build(tmp_path_factory) -> Path:
    """An earlier build of the built-in example (int4)."""
    out = tmp_path_factory.mktemp("example") / "build"
    r = run_cli("build", "--preset", "int4", "-q", "-o", out, timeout=600)
    assert r.code == 0, r.err
    return out


INTERRUPTS = [
    ("first", signal.SIGINT, "quantizing"),
    ("first", signal.SIGINT, "emitting the HLS accelerator"),
    ("first", signal.SIGTERM, "estimating every execution"),
    ("rebuild", signal.SIGINT, "emitting the RTL network"),
    ("rebuild", signal.SIGTERM, "lowering"),
]


@pytest.mark.parametrize("kind,sig,trigger", [pytest.param(k, s, t, id=f"{k}-{s.name}-at-{t.split()[0]}"
                                                           f"{'-' + t.split()[-1] if len(t.split()) > 1 else ''}")
                                              for k, s, t in INTERRUPTS])
def test_interrupted_build(request, tmp_path, kind, sig, trigger):
    out = tmp_path / "out"
    before = None
    if kind == "rebuild":
        copy_build(request.getfixturevalue("example_build"), out)
        before = snapshot(out)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "edgec.cli", "build", "--preset", "int4", "-o", str(out)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(300, proc.kill)
    watchdog.start()
    seen, sent = [], False
    try:
        for line in proc.stderr:
            seen.append(line.rstrip())
            if not sent and trigger in line:
                proc.send_signal(sig)
                sent = True
        rc = proc.wait()
    finally:
        watchdog.cancel()
    assert sent, f"no progress line with {trigger!r}; stderr: {seen[:10]}"
    assert rc != 0, "the build finished although interrupted"
    assert "Traceback" not in "\n".join(seen), f"traceback on stderr: {_tail(chr(10).join(seen))}"
    if kind == "first":
        if os.path.lexists(out):  # a build committed as the signal came is acceptable only complete
            assert_complete_build(out, exact=True)
    else:
        if diff(before, snapshot(out)):
            assert_complete_build(out, exact=True)
    lo = leftovers(tmp_path)
    if lo:  # the next build into the same output must clean them up
        r = run_cli("build", "--preset", "int4", "-q", "-o", out, timeout=600)
        assert r.code == 0, f"the next build failed: {_tail(r.err)}"
        assert_complete_build(out, exact=True)
        assert not leftovers(tmp_path), f"leftovers {lo[:3]} survive the next successful build"


# ---- start-up ---------------------------------------------------------------------------

def test_the_command_line_sets_up_before_heavy_imports():
    """`edgec.cli` imports neither numpy nor torch: main() installs its handlers first."""
    code = "import sys, edgec.cli; print(sorted(m for m in ('numpy', 'torch', 'onnx') if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "[]", (r.stdout, r.stderr)


@pytest.mark.parametrize("sig,code,word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_a_signal_during_start_up_is_one_line(tmp_path, sig, code, word):
    """Ctrl-C or SIGTERM while torch is being imported (the first seconds of a build)."""
    import time

    p = subprocess.Popen([sys.executable, "-m", "edgec.cli", "build", "--preset", "int4", "-o", str(tmp_path / "o")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    maps = Path(f"/proc/{p.pid}/maps")
    deadline = time.monotonic() + 60
    while "libtorch" not in maps.read_text() and time.monotonic() < deadline:  # torch is being imported
        time.sleep(0.01)
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    assert p.returncode == code, (p.returncode, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgec: error: ") and word in lines[0], err
    assert not (tmp_path / "o").exists() and not [q for q in tmp_path.iterdir() if q.name.startswith(".edgec-")]
