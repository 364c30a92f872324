"""The wheel ships templates/, hw/ and boards/ and builds from an installed copy."""
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_installed_wheel_builds_the_example(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
                        str(ROOT)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    wheel = next((tmp_path / "dist").glob("edgec-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "edgec/_data/templates/sim/model.py.j2" in names
    assert "edgec/sim/kernels_torch.py" in names  # the simulator's fast path, copied into OUT/sim
    assert "edgec/_data/boards/zynq7020.yaml" in names
    assert "edgec/examples/digits_cnn.npz" in names
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    env = dict(os.environ, PYTHONPATH=str(target))
    code = ("import edgec, sys; assert edgec.__file__.startswith(sys.argv[1]), edgec.__file__; "
            "from edgec.cli import main; sys.exit(main(['build', '-o', sys.argv[2], '--preset', 'int8', '-q']))")
    r = subprocess.run([sys.executable, "-c", code, str(target), str(tmp_path / "out")], capture_output=True,
                       text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rep = json.loads((tmp_path / "out" / "report.json").read_text())
    assert rep["sim_vs_reference"]["mismatches"] == 0
