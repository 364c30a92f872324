"""Bad input gives one `edgec: error:` line naming the problem, exit code 2, no
traceback and no output folder (nor a temporary one) left behind."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from edgec.cli import main
from edgec.examples import digits


def run_main(capsys, *args):
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.err


def assert_one_line_error(code, err, *needles):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgec: error: "), err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], (n, lines[0])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    m = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)).eval()
    torch.onnx.export(m, (torch.zeros(1, 1, 8, 8),), str(d / "good.onnx"), dynamo=False)
    data = (d / "good.onnx").read_bytes()
    (d / "trunc.onnx").write_bytes(data[: len(data) // 2])
    s = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10), torch.nn.Softsign()).eval()
    torch.onnx.export(s, (torch.zeros(1, 1, 8, 8),), str(d / "softsign.onnx"), dynamo=False)
    np.save(d / "x.npy", digits.train_split()[0][:64])
    return d


def _no_leftovers(parent, name):
    assert not (parent / name).exists()
    assert not [p for p in parent.iterdir() if p.name.startswith(f".{name}.edgec-tmp")]


def test_truncated_onnx(capsys, files, tmp_path):
    code, err = run_main(capsys, "build", files / "trunc.onnx", "--calib", files / "x.npy", "-o", tmp_path / "o")
    assert_one_line_error(code, err, "cannot read ONNX file", "trunc.onnx")
    _no_leftovers(tmp_path, "o")


def test_unsupported_op_names_node_and_op(capsys, files, tmp_path):
    code, err = run_main(capsys, "build", files / "softsign.onnx", "--calib", files / "x.npy", "-o", tmp_path / "o")
    assert_one_line_error(code, err, "(Abs)", "supported")  # Softsign, exported as Abs, Add, Div
    _no_leftovers(tmp_path, "o")


def test_unsupported_torch_op_names_node(tmp_path):
    import edgec

    m = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10), torch.nn.LogSigmoid()).eval()
    with pytest.raises(edgec.EdgecError, match="log_sigmoid"):
        edgec.build(m, tmp_path / "o", input_shape=(1, 8, 8), calib=np.zeros((4, 1, 8, 8)), progress=None)
    _no_leftovers(tmp_path, "o")


@pytest.mark.parametrize("flag,value,needle", [("--wbits", "0", "weight bits"), ("--abits", "9", "activation bits"),
                                                ("--wbits", "two", "weight bits")])
def test_impossible_bit_widths(capsys, tmp_path, flag, value, needle):
    code, err = run_main(capsys, "build", "-o", tmp_path / "o", flag, value)
    assert_one_line_error(code, err, needle, value)
    _no_leftovers(tmp_path, "o")


def test_unknown_board(capsys, tmp_path):
    code, err = run_main(capsys, "build", "--board", "zynq9999", "-o", tmp_path / "o")
    assert_one_line_error(code, err, "unknown board 'zynq9999'", "zynq7020")
    _no_leftovers(tmp_path, "o")


def test_output_folder_with_other_files_is_left_alone(capsys, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, err = run_main(capsys, "build", "-o", out)
    assert_one_line_error(code, err, "already holds other files")
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_missing_calibration_and_bad_config(capsys, files, tmp_path):
    code, err = run_main(capsys, "build", files / "good.onnx", "-o", tmp_path / "o")
    assert_one_line_error(code, err, "--calib")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("layers:\n  nosuchlayer: {wbits: 4}\n")
    code, err = run_main(capsys, "build", files / "good.onnx", "--calib", files / "x.npy", "--config", cfg,
                         "-o", tmp_path / "o")
    assert_one_line_error(code, err, "nosuchlayer")
    _no_leftovers(tmp_path, "o")


def test_unknown_flag_and_sim_on_non_build(capsys, tmp_path):
    code, err = run_main(capsys, "build", "-o", tmp_path / "o", "--frobnicate")
    assert_one_line_error(code, err, "--frobnicate")
    code, err = run_main(capsys, "sim", tmp_path, "--inputs", "x.npy", "--out", "y.npz")
    assert_one_line_error(code, err, "not an edgec build folder")


def test_real_entry_point_prints_no_traceback(files, tmp_path):
    r = subprocess.run([sys.executable, "-m", "edgec.cli", "build", str(files / "trunc.onnx"), "--calib",
                        str(files / "x.npy"), "-o", str(tmp_path / "o"), "-q"], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.startswith("edgec: error: ") and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_per_layer_config_overrides(files, tmp_path):
    import edgec
    from edgec.frontend.onnx_import import import_onnx

    name = [n.name for n in import_onnx(files / "good.onnx").nodes if n.op == "linear"][0]
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"preset: int4\nlayers:\n  {name!r}: {{wbits: ternary}}\n")
    res = edgec.build(str(files / "good.onnx"), tmp_path / "o", config=str(cfg), calib=str(files / "x.npy"),
                      progress=None)
    rows = [r for r in res.report["layers"] if r["op"] == "MatMul"]
    assert rows[0]["wbits"] == "ternary"


def test_command_line_preset_overrides_the_config_file(files, tmp_path):
    import edgec

    cfg = tmp_path / "c.yaml"
    cfg.write_text("preset: int4\ncalibrator: minmax\n")
    res = edgec.build(str(files / "good.onnx"), tmp_path / "o", preset="int8", config=str(cfg),
                      calib=str(files / "x.npy"), progress=None)
    assert res.report["quantization"]["preset"] == "int8"
    assert [r["wbits"] for r in res.report["layers"] if r["op"] == "MatMul"] == ["int8"]
    res = edgec.build(str(files / "good.onnx"), tmp_path / "o2", config=str(cfg), calib=str(files / "x.npy"),
                      progress=None)
    assert res.report["quantization"]["preset"] == "int4"


@pytest.mark.parametrize("text,needles", [
    ("conv2d_9: {pe: 2}\n", ["conv2d_9", "not a foldable unit", "conv2d_1"]),
    ("conv2d_1: {pe: 3, simd: 4}\n", ["conv2d_1", "pe 3", "must divide"]),
    ("conv2d_1: [2, 4]\n", ["conv2d_1", "{pe: N, simd: M}"]),
    ("- 1\n", ["must map layer names"]),
])
def test_bad_folding_file(capsys, tmp_path, text, needles):
    f = tmp_path / "fold.yaml"
    f.write_text(text)
    code, err = run_main(capsys, "build", "-o", tmp_path / "o", "--preset", "int8", "--folding", f, "-q")
    assert_one_line_error(code, err, *needles)
    _no_leftovers(tmp_path, "o")
    code, err = run_main(capsys, "build", "-o", tmp_path / "o", "--folding", "fastest")
    assert_one_line_error(code, err, "'fastest'", "auto", "min")


def test_export_qonnx_into_a_missing_folder(capsys, tmp_path):
    code, err = run_main(capsys, "build", "-o", tmp_path / "o", "--preset", "int8",
                         "--export-qonnx", tmp_path / "nowhere" / "m.onnx")
    assert_one_line_error(code, err, "--export-qonnx", "does not exist")
    _no_leftovers(tmp_path, "o")


def test_config_requant_and_the_flag_over_it(files, tmp_path):
    """config `requant:` (YAML's bare on/off included) chooses the requantizer form; --requant wins."""
    import edgec

    m = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10))
    torch.onnx.export(m.eval(), (torch.zeros(1, 1, 8, 8),), str(tmp_path / "two.onnx"), dynamo=False)

    def acts(name, text, **kw):
        (tmp_path / f"{name}.yaml").write_text(f"preset: int8\n{text}")
        res = edgec.build(str(tmp_path / "two.onnx"), tmp_path / name, config=str(tmp_path / f"{name}.yaml"),
                          calib=str(files / "x.npy"), progress=None, **kw)
        return [r["act"] for r in res.report["layers"] if r["op"] == "MatMul"][0]

    assert acts("on", "requant: on\n").startswith("requant")
    assert acts("off", "requant: 'off'\n").startswith("thresholds")
    assert acts("flag", "requant: on\n", requant="off").startswith("thresholds")
    with pytest.raises(edgec.EdgecError, match="config requant 'sometimes': choose one of auto, on, off"):
        acts("bad", "requant: sometimes\n")
