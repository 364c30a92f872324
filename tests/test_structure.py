"""The shape of the code: edgec's modules import each other without cycles (at module
and at function level), every import goes down the layers below, the RTL backend does
not import the HLS backend, the cost model imports no backend and no pass imports the
cost model."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "edgec"

# lower layers first; a module may import its own layer or any layer below
LAYERS = [
    {"edgec.errors", "edgec.version", "edgec.options"},
    {"edgec.resources", "edgec.validate", "edgec.outdir", "edgec.tools",
     "edgec.boards", "edgec.examples"},
    {"edgec.ir"},
    {"edgec.passes", "edgec.frontend", "edgec.sim"},
    {"edgec.dataflow"},
    {"edgec.cost", "edgec.verify"},
    {"edgec.backend"},
    {"edgec.csim", "edgec.synth"},
    {"edgec.cosim"},
    {"edgec.compiler", "edgec.verify_run"},
    {"edgec.cli", "edgec"},
]


def modules(root: Path = ROOT) -> dict[str, Path]:
    out = {}
    for p in root.rglob("*.py"):
        parts = p.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = p
    return out


def imports(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the edgec modules it imports anywhere in its text (functions included)."""
    mods = modules(root)
    edges = {}
    for name, p in mods.items():
        pkg = name if p.name == "__init__.py" else name.rsplit(".", 1)[0]
        out = set()
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                for a in node.names:
                    out.add(f"{mod}.{a.name}" if f"{mod}.{a.name}" in mods else mod)
            elif isinstance(node, ast.Import):
                out |= {a.name for a in node.names}
        edges[name] = {m for m in out if m in mods and m != name}
    return edges


def layer(mod: str) -> tuple[int, str]:
    for i, group in enumerate(LAYERS):
        for g in sorted(group, key=len, reverse=True):
            if mod == g or mod.startswith(g + "."):
                return i, g
    raise AssertionError(f"{mod} is in no layer of tests/test_structure.py")


def test_every_module_has_a_layer():
    for m in modules():
        layer(m)


def cycles(edges) -> list[tuple[str, str]]:
    def reach(a):
        seen, todo = set(), [a]
        while todo:
            for b in edges.get(todo.pop(), ()):
                if b not in seen:
                    seen.add(b)
                    todo.append(b)
        return seen

    return sorted({tuple(sorted((a, b))) for a in edges for b in edges[a] if a in reach(b)})


def test_no_import_cycles():
    assert cycles(imports()) == []


def test_imports_go_down_the_layers():
    up = []
    for a, bs in imports().items():
        (la, ga) = layer(a)
        for b in bs:
            (lb, gb) = layer(b)
            if lb > la:
                up.append(f"{a} -> {b}")
    assert up == []


@pytest.mark.parametrize("src,forbidden", [("edgec.backend.rtl", "edgec.backend.hls"),
                                           ("edgec.backend.rtl_mem", "edgec.backend.hls"),
                                           ("edgec.cost", "edgec.backend"), ("edgec.passes", "edgec.cost")])
def test_concerns_do_not_reach_into_each_other(src, forbidden):
    bad = [f"{a} -> {b}" for a, bs in imports().items() if a == src or a.startswith(src + ".")
           for b in bs if b == forbidden or b.startswith(forbidden + ".")]
    assert bad == []


def test_the_walker_sees_function_level_imports(tmp_path):
    """The checks above can fail: an import inside a function is an edge, and two such
    imports make a cycle."""
    pkg = tmp_path / "edgec"
    (pkg / "backend").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "backend" / "__init__.py").write_text("")
    (pkg / "backend" / "rtl.py").write_text("def f():\n    from .hls import TOP\n    return TOP\n")
    (pkg / "backend" / "hls.py").write_text("from . import rtl\nTOP = 1\n")
    e = imports(pkg)
    assert e["edgec.backend.rtl"] == {"edgec.backend.hls"}
    assert cycles(e) == [("edgec.backend.hls", "edgec.backend.rtl")]


def test_every_all_names_what_its_module_defines():
    """A module's __all__ lists only names it has (an import of * never fails)."""
    import importlib

    bad = []
    for name in sorted(modules()):
        if name.startswith("edgec.cosim.tb_") or name == "edgec.cosim.axi":
            continue  # cocotb testbenches: imported inside a simulation only
        mod = importlib.import_module(name)
        for n in getattr(mod, "__all__", []):
            if not hasattr(mod, n):
                bad.append(f"{name}.{n}")
    assert bad == []
