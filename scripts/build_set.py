"""The builds scripts/compare_builds.sh compares: the example at every preset, with
--winograd f2 and f4, with --prune 0.9 --sparse on and with --lowrank 0.9, and the eleven
BNN-PYNQ QONNX exports (tests/qonnx_nets.py, seeded).

    python scripts/build_set.py models DIR         # export the QONNX models into DIR once
    python scripts/build_set.py builds MODELS OUT  # build everything into OUT/<name>

`builds` uses whichever edgec is first on the import path (compare_builds.sh points
PYTHONPATH at a revision's tree), `models` the working tree's tests/qonnx_nets.py, so both
trees build from the same files."""
import sys
from pathlib import Path

EXAMPLE = {  # the variants at the default preset (w2a2)
    "int8": dict(preset="int8"), "int4": dict(preset="int4"), "w2a2": dict(preset="w2a2"),
    "w1a1": dict(preset="w1a1"), "winograd-f2": dict(winograd="f2"), "winograd-f4": dict(winograd="f4"),
    "prune-sparse": dict(prune=0.9, sparse="on"), "lowrank": dict(lowrank=0.9),
}


def models(out: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests import qonnx_nets as Q

    out.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(Q.BNN_PYNQ):
        Q.export(Q.bnn_pynq(name, seed=i), Q.input_shape(name), out / f"{name}.onnx")
        print(f"exported {name}", flush=True)


def builds(model_dir: Path, out: Path) -> None:
    import edgec

    print(f"edgec from {Path(edgec.__file__).parent}", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    for name, kw in EXAMPLE.items():
        edgec.build(None, out / f"example-{name}", progress=None, **kw)
        print(f"built example-{name}", flush=True)
    for f in sorted(model_dir.glob("*.onnx")):
        edgec.build(str(f), out / f.stem, progress=None)
        print(f"built {f.stem}", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "models":
        models(Path(sys.argv[2]))
    else:
        builds(Path(sys.argv[2]), Path(sys.argv[3]))
