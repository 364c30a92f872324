#!/usr/bin/env bash
# Creates .venv with everything edgec and its tests need. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# torch first and pinned: the CPU wheel; an unpinned torch pulls gigabytes of CUDA packages.
.venv/bin/pip install -q "torch==2.13.0"
.venv/bin/pip install -q -e ".[test,sim,explore]"
# torchao (the test extra, for tests/test_pt2e.py's PT2E quantization) pinned to the torch above, without
# dependencies so that it can never replace the CPU torch
.venv/bin/pip install -q --no-deps "torchao==0.18.0"
# The ap_types headers (ap_int, hls_stream) for the g++ C simulation ship in the hls4ml
# wheel; edgec uses only those headers, so none of hls4ml's dependencies are needed.
.venv/bin/pip install -q --no-deps "hls4ml==1.3.0"
# Debian packages: g++ for the C simulation (`edgec csim`), Icarus Verilog for
# co-simulation, yosys for synthesis.
missing=""
command -v g++ >/dev/null || missing="$missing g++"
command -v iverilog >/dev/null || missing="$missing iverilog"
command -v yosys >/dev/null || missing="$missing yosys"
# tclsh parses the generated tcl in tests/test_hostile_names.py
command -v tclsh >/dev/null || missing="$missing tcl"
# headless Chromium renders OUT/report.html in tests/test_example.py
[ -x /usr/bin/chromium ] || missing="$missing chromium"
if [ -n "$missing" ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi
