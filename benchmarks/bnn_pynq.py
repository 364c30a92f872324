"""The FINN reference networks through edgec: export, build, and check against qonnx.

    .venv/bin/python benchmarks/bnn_pynq.py [OUT_DIR]

For each of the eleven brevitas_examples.bnn_pynq configurations (seeded random weights
and BatchNorm statistics, as tests/test_qonnx.py): the build time, the simulator against
qonnx's execute_onnx on 1,000 inputs (mismatching vectors, ties), and edgec's own folding
for the Zynq-7020 (frames per second, LUTs). Then CNV-w1a1 folded as FINN's published
Pynq-Z1 build (benchmarks/finn/cnv_w1a1_pynq_z1.yaml) beside edgec's folding.
"""
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import edgec  # noqa: E402
from edgec.backend import sim as sim_backend  # noqa: E402
from edgec.ir.graph import Graph  # noqa: E402
from tests import qonnx_nets as Q  # noqa: E402


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    print("| network | build s | vectors | mismatches | ties | edgec fps (zynq7020) | LUT | BRAM36 |")
    print("|---|---|---|---|---|---|---|---|")
    for i, name in enumerate(Q.BNN_PYNQ):
        shape = Q.input_shape(name)
        path = Q.export(Q.bnn_pynq(name, seed=i), shape, out_dir / f"{name}.onnx")
        t = time.perf_counter()
        res = edgec.build(str(path), out_dir / name, progress=None)
        build_s = time.perf_counter() - t
        tensors = Graph.load(out_dir / name / "model").meta["source_tensors"]
        x = Q.images(shape, 1000, seed=1)
        ref = Q.execute(path, x, keep=set(tensors) | {s["input"] for s in tensors.values()})
        keep = {s["ir"]: None for s in tensors.values()}
        sim_backend.load(out_dir / name / "sim").run(x, keep=keep)
        c = Q.compare(ref, tensors, keep, Graph.load(out_dir / name / "model"))
        h = res.report["hardware"]
        print(f"| {name} | {build_s:.1f} | {c['vectors']} | {c['mismatches']} | {c['ties']} | {h['fps']:,.0f} "
              f"| {h['total']['LUT']:,.0f} | {h['total']['BRAM36']:g} |")
    path = out_dir / "cnv_1w1a.onnx"
    print()
    print("| CNV-w1a1 on zynq7020 at 100 MHz | bottleneck cycles | fps | LUT | BRAM36 | fits |")
    print("|---|---|---|---|---|---|")
    for label, folding in (("FINN's Pynq-Z1 folding", str(ROOT / "benchmarks/finn/cnv_w1a1_pynq_z1.yaml")),
                           ("edgec's folding", "auto")):
        h = edgec.build(str(path), out_dir / f"cnv_{folding == 'auto'}", folding=folding,
                        progress=None).report["hardware"]
        print(f"| {label} | {h['cycles_per_frame']:,} | {h['fps']:,.0f} | {h['total']['LUT']:,.0f} "
              f"| {h['total']['BRAM36']:g} | {h['fits']} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
