"""Hardware constants written in C++ and Verilog as well as in Python are pinned to the
Python values: the Winograd matrices (edgec/ir/winograd.py: BT, AT) in hw/hls/edgec/winograd.h
(WinoMat) and in hw/rtl/edgec_wino_in.v / edgec_wino_out.v (bt_row, at_row), and the
kernel-kind codes (backend/stages.py: KIND_ENUM, backend/rtl.py: KIND_CODE) in
hw/hls/edgec/mvau.h (enum Kind) and hw/rtl/edgec_mvau.v (the KIND comments)."""
import re

import numpy as np
import pytest

from edgec import resources
from edgec.backend.rtl import KIND_CODE
from edgec.backend.stages import KIND_ENUM
from edgec.ir import winograd as W

HLS = resources.path("hw") / "hls" / "edgec"
RTL = resources.path("hw") / "rtl"


def hls_matrix(m: int, name: str) -> np.ndarray:
    text = (HLS / "winograd.h").read_text()
    spec = text[text.index(f"struct WinoMat<{m}>"):]
    spec = spec[spec.index(f"static int {name}("):]
    body = spec[spec.index("static const int t"):spec.index("};") + 2]
    rows = re.findall(r"\{([-\d,\s]+)\}", body[body.index("=") + 1:])
    return np.array([[int(v) for v in r.split(",")] for r in rows], np.int64)


def rtl_matrix(m: int, fn: str, path: str) -> np.ndarray:
    text = (RTL / path).read_text()
    f = text[text.index(f"function [47:0] {fn}("):text.index("endfunction", text.index(f"function [47:0] {fn}("))]
    branches = f.split("else")
    branch = branches[0] if m == 2 else branches[1]
    rows = []
    for hexrow in re.findall(r"48'h([0-9A-Fa-f_]+);", branch):
        b = bytes.fromhex(hexrow.replace("_", ""))
        rows.append([int(np.int8(np.uint8(x))) for x in b])  # byte 5 - a is entry a
    n = m + 2
    return np.array([r[:n] for r in rows], np.int64)


@pytest.mark.parametrize("m", W.TILES)
def test_winograd_matrices_in_cpp_and_verilog_are_the_pythons(m):
    np.testing.assert_array_equal(hls_matrix(m, "bt"), W.BT[m])
    np.testing.assert_array_equal(hls_matrix(m, "at"), W.AT[m])
    np.testing.assert_array_equal(rtl_matrix(m, "bt_row", "edgec_wino_in.v"), W.BT[m])
    np.testing.assert_array_equal(rtl_matrix(m, "at_row", "edgec_wino_out.v"), W.AT[m])


def test_kernel_kind_codes_agree():
    enum = dict(re.findall(r"(\w+) = (\d+),?\s*//", (HLS / "mvau.h").read_text()))
    assert {k: int(v) for k, v in enum.items()} == KIND_CODE
    assert set(KIND_ENUM.values()) == set(KIND_CODE)
    doc = (RTL / "edgec_mvau.v").read_text()
    for name, code in KIND_CODE.items():
        words = {"XNOR_POPCOUNT": "xnor-popcount", "BINARY_ADDSUB": "binary add/sub", "LUT_MAC": "LUT MAC",
                 "DSP_MAC": "DSP MAC"}[name]
        assert re.search(rf"KIND {code}\s+{re.escape(words)}", doc), (name, code)
