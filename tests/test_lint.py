"""The code is lint-clean: ruff (the venv's, configured in pyproject.toml's [tool.ruff])
finds nothing in edgec, tests, benchmarks, scripts and examples."""
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATHS = ["edgec", "tests", "benchmarks", "scripts", "examples"]


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    assert ruff, f"ruff is not installed next to {sys.executable}: run scripts/setup.sh (it installs the test extras)"
    r = subprocess.run([ruff, "check", "--no-cache", "--output-format", "concise", *PATHS], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, f"ruff check {' '.join(PATHS)} (exit {r.returncode}):\n{r.stdout}{r.stderr}"
