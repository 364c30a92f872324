"""PyTorch 2 export quantization (PT2E): programs quantized with torchao's prepare_pt2e /
convert_pt2e and the XNNPACK quantizer (static, per-channel or per-tensor int8 weights), saved with
torch.export.save and built with no options. The simulator is checked against PyTorch's own
execution of the saved program on 1,000 inputs: no differing output code outside ties, a tie being a
vector whose first differing code (its inputs equal in both) has PyTorch's float32 value within
verify.PT2E_TIE of a rounding boundary (docs/pt2e.md)."""
import json

import numpy as np
import pytest
import torch

from edgec.backend import sim as sim_backend
from edgec.cli import main
from edgec.frontend.torch_import import load_pt2
from edgec.ir.graph import Graph
from edgec.verify import check_pt2e

from .nets import ResNet8, mlperf_net
from .test_int8_onnx import _CNN  # conv + relu + maxpool, twice, then linear
from .test_cli_errors import assert_one_line_error, run_main

import torchao.quantization.pt2e.quantize_pt2e as pt2e  # noqa: E402  (the test extra installs torchao: missing, it fails)
import torchao.testing.pt2e._xnnpack_quantizer as xnnpack  # noqa: E402

VECTORS = 1000


class _Tanh(torch.nn.Module):  # a float op the XNNPACK quantizer leaves between quantizers
    def __init__(self):
        super().__init__()
        self.c1, self.fc = torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.Linear(4 * 8 * 8, 10)

    def forward(self, x):
        return self.fc(torch.flatten(torch.tanh(self.c1(x)), 1))


def _mlp():
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 12), torch.nn.ReLU(), torch.nn.Linear(12, 5))


NETS = {"cnn": (_CNN, (1, 8, 8)), "tanh": (_Tanh, (1, 8, 8)), "mlp": (_mlp, (1, 4, 4)),
        "resnet8": (lambda: mlperf_net("resnet8"), ResNet8.INPUT)}


def program(d, net, per_channel=True, dynamic=False, fold=True):
    """The float model exported, quantized with prepare_pt2e / convert_pt2e and the XNNPACK quantizer
    (calibrated on 32 uniform inputs), exported again and saved with torch.export.save."""
    make, shape = NETS[net]
    torch.manual_seed(0)
    m = make().eval()
    ex = (torch.rand(1, *shape),)
    q = xnnpack.XNNPACKQuantizer().set_global(
        xnnpack.get_symmetric_quantization_config(is_per_channel=per_channel, is_dynamic=dynamic))
    p = pt2e.prepare_pt2e(torch.export.export(m, ex).module(), q)
    g = torch.Generator().manual_seed(0)
    for _ in range(32):
        p(torch.rand(1, *shape, generator=g))
    path = d / f"{net}_{'pc' if per_channel else 'pt'}{'_dyn' if dynamic else ''}{'' if fold else '_nofold'}.pt2"
    torch.export.save(torch.export.export(pt2e.convert_pt2e(p, fold_quantize=fold), ex), str(path))
    return path, shape


def build_and_compare(tmp_path, path, shape, vectors=VECTORS):
    out = tmp_path / "out"
    assert main(["build", str(path), "-o", str(out)]) == 0
    rep = json.loads((out / "report.json").read_text())["sim_vs_reference"]  # the build's own check
    assert rep["reference"] == "pytorch" and rep["vectors"] > 0 and rep["mismatches"] == 0, rep
    sim, g = sim_backend.load(out / "sim"), Graph.load(out / "model")
    x = np.random.default_rng(1).uniform(-0.2, 1.2, (vectors, *shape)).astype(np.float32)
    c = check_pt2e(load_pt2(path), g, sim, x)
    assert c["vectors"] == vectors and c["mismatches"] == 0, c
    assert len(np.unique(sim.run(x)[0])) > 50  # the outputs use the code range
    return out, c


@pytest.mark.parametrize("per_channel", [True, False], ids=["per-channel", "per-tensor"])
def test_pt2e_cnn_equals_pytorch(tmp_path, per_channel):
    path, shape = program(tmp_path, "cnn", per_channel)
    _, c = build_and_compare(tmp_path, path, shape)
    assert c["ties"] <= 10 and c["tie_distance"] < 1e-4, c  # measured: 1 tie vector of 1,000


def test_pt2e_weights_not_folded(tmp_path):
    """convert_pt2e(fold_quantize=False) keeps quantize_per_channel of the float weights: torch's own
    op gives their codes."""
    path, shape = program(tmp_path, "cnn", fold=False)
    assert any("quantize_per_channel.default" in str(n.target) and "dequantize" not in str(n.target)
               for n in load_pt2(path).graph.nodes)
    build_and_compare(tmp_path, path, shape, vectors=200)


def test_pt2e_mlp_equals_pytorch(tmp_path):
    path, shape = program(tmp_path, "mlp")
    _, c = build_and_compare(tmp_path, path, shape)
    assert c["ties"] <= 10, c


def test_pt2e_resnet8_equals_pytorch_outside_ties(tmp_path):
    """MLPerf Tiny ResNet-8 (BatchNorm folded by prepare_pt2e, three residual adds as PyTorch's table
    of every code pair): 0 differing vectors outside ties. PyTorch's float32 convolutions round ~1 in
    50,000 codes the other way than the exact value (all within 1e-4 of a step of the boundary), and
    such a code often reaches the output: 138 of 1,000 vectors were ties when measured. The HLS C++
    (g++) equals the simulator on 3 inputs."""
    from .test_csim import check_csim

    path, shape = program(tmp_path, "resnet8")
    out, c = build_and_compare(tmp_path, path, shape)
    assert c["ties"] <= 250 and c["tie_distance"] < 1e-4, c
    check_csim(out, np.random.default_rng(2).uniform(0, 1, (3, *shape)).astype(np.float32))


def test_edgec_verify_reruns_pytorchs_execution_of_the_kept_program(tmp_path):
    """A PT2E build keeps its program in OUT/reference (the .pt2 copied, read back by load_pt2),
    and `edgec verify` reruns check_pt2e on a data set in batches: the same counts as
    check_pt2e on the original file, and the accuracy of the simulator's outputs."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    path, shape = program(tmp_path, "cnn")
    out = tmp_path / "out"
    assert main(["build", str(path), "-o", str(out)]) == 0
    ref = out / "reference"
    assert json.loads((ref / "reference.json").read_text()) == {"files": ["model.pt2"], "reference": "pytorch"}
    assert (ref / "model.pt2").read_bytes() == path.read_bytes()
    x = np.random.default_rng(4).uniform(-0.2, 1.2, (300, *shape)).astype(np.float32)
    labels = np.random.default_rng(5).integers(0, 10, 300)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", labels)
    want = check_pt2e(load_pt2(path), Graph.load(out / "model"), sim_backend.load(out / "sim"), x)
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-m", "edgec.cli", "verify", str(out), "--inputs", str(tmp_path / "x.npy"),
                        "--labels", str(tmp_path / "y.npy"), "--jobs", "1", "--memory", "2000000", "--json"],
                       capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["reference"] == "pytorch" and res["vectors"] == 300, res
    assert (res["mismatches"], res["ties"]) == (want["mismatches"], want["ties"]) == (0, want["ties"]), res
    _, y = sim_backend.load(out / "sim").run(x)
    assert res["accuracy"] == round(100 * float((y.argmax(1) == labels).mean()), 2)


def test_pt2e_csim_is_bit_exact(tmp_path):
    from .test_csim import check_csim

    path, shape = program(tmp_path, "cnn")
    out = tmp_path / "out"
    assert main(["build", str(path), "-o", str(out)]) == 0
    x = np.random.default_rng(2).uniform(0, 1, (20, *shape)).astype(np.float32)
    check_csim(out, x)


def test_pt2e_unsupported_op_names_the_node(tmp_path, capsys):
    path, _ = program(tmp_path, "tanh")
    capsys.readouterr()
    code, err = run_main(capsys, "build", path, "-o", tmp_path / "out")
    assert_one_line_error(code, err, "'tanh' (aten.tanh.default)", "unsupported op in a PT2E-quantized program")
    assert not (tmp_path / "out").exists()


def test_pt2e_dynamic_quantization_is_refused_with_a_hint(tmp_path, capsys):
    path, _ = program(tmp_path, "mlp", dynamic=True)
    capsys.readouterr()
    code, err = run_main(capsys, "build", path, "-o", tmp_path / "out")
    assert_one_line_error(code, err, "dynamic quantization", "is_dynamic=False")
    assert not (tmp_path / "out").exists()


def test_pt2e_takes_no_preset(tmp_path, capsys):
    path, _ = program(tmp_path, "mlp")
    capsys.readouterr()
    code, err = run_main(capsys, "build", path, "-o", tmp_path / "out", "--preset", "int8")
    assert_one_line_error(code, err, "--preset", "PT2E-quantized program states its own quantization")


def test_input_quantizer_is_torchs_quantize_per_tensor():
    """The host input quantizer (steps mul float32(1 / s), round, add zp, in float32) equals torch's
    quantize_per_tensor on values at and next to every rounding tie; the same rule in float64 does not."""
    from edgec.frontend.pt2e import ensure_ops
    from edgec.sim.kernels import quantize_input

    ensure_ops()
    rng = np.random.default_rng(0)
    for _ in range(5):
        s, zp = float(np.float32(rng.uniform(0.001, 0.05))), int(rng.integers(-128, 0))
        x = ((rng.integers(-200, 200, 100_000) + 0.5) * s).astype(np.float32)
        x = np.nextafter(x, x + rng.choice([-1, 0, 1], x.shape).astype(np.float32))
        ref = torch.ops.quantized_decomposed.quantize_per_tensor(torch.from_numpy(x), s, zp, -128, 127, torch.int8)
        spec = {"steps": [["mul", float(np.float32(1.0 / s))], ["round", 0.0], ["add", float(zp)]], "float32": True,
                "rounding": "half_even", "lo": -128, "hi": 127, "bipolar": False}
        np.testing.assert_array_equal(quantize_input(x, spec), ref.numpy())
        assert (np.clip(np.rint(x.astype(np.float64) / s) + zp, -128, 127) != ref.numpy()).any()
