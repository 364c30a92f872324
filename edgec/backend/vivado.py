"""OUT/vivado/: the block design script (build_bd.tcl) and the script that packages
OUT/rtl as a Vivado IP (package_ip.tcl).

build_bd.tcl puts the accelerator between a Zynq PS7 and an AXI DMA. The accelerator is
either the Vitis HLS export of OUT/hls (``hls``, vlnv edgec:hls:edgec_top:1.0) or OUT/rtl
packaged by package_ip.tcl (``rtl``, vlnv edgec:rtl:edgec_top:1.0); both have the same
ports. The build's choice (``edgec build --vivado-ip``) is the script's default, and
``vivado -mode batch -source build_bd.tcl -tclargs rtl`` (or ``hls``) overrides it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..options import VIVADO_IPS
from ..version import __version__
from ..errors import EdgecError
from .stages import TOP
from .render import render

IP_CHOICES = VIVADO_IPS
# AXI DMA buffer length register width (c_sg_length_width): one simple-mode transfer moves
# at most 2**26 - 1 bytes; the driver posts one MM2S and one S2MM transfer per run.
SG_LENGTH_WIDTH = 26
MAX_TRANSFER_BYTES = (1 << SG_LENGTH_WIDTH) - 1
VENDOR = "edgec"
VERSION = "1.0"
HLS_IP_REPO = "../hls/edgec_prj/sol1/impl/ip"  # relative to OUT/vivado (export_design of build_hls.tcl)
RTL_IP_REPO = "rtl_ip"  # relative to OUT/vivado: where package_ip.tcl writes the packaged OUT/rtl
RTL_PACKAGE_PROJECT = "rtl_ip_prj"  # relative to OUT/vivado: package_ip.tcl's throw-away project
# the Vitis HLS control map of the C++ top (s_axilite): ap_ctrl, GIE, IER, ISR, frames
CONTROL_ADDR_BITS = 5
CONTROL_DATA_BITS = 32
_SAFE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]*")  # a file name written into tcl between braces


def vlnv(ip: str, top: str = TOP) -> str:
    return f"{VENDOR}:{ip}:{top}:{VERSION}"


@dataclass
class VivadoContext:
    top: str
    version: str
    part: str
    board_part_pattern: str
    clock_mhz: int
    in_beat_bits: int
    out_beat_bits: int
    ip: str = "hls"  # the default accelerator IP of build_bd.tcl: hls or rtl
    sg_length_width: int = SG_LENGTH_WIDTH
    hls_vlnv: str = vlnv("hls")
    rtl_vlnv: str = vlnv("rtl")
    hls_repo: str = HLS_IP_REPO
    rtl_repo: str = RTL_IP_REPO

    @property
    def max_transfer_bytes(self) -> int:
        """The largest buffer one DMA transfer moves (the buffer length register's width)."""
        return (1 << self.sg_length_width) - 1

    @staticmethod
    def mm_bits(stream_bits: int) -> int:
        """AXI DMA memory-map width for a stream width: at least 32, and never below the
        stream's (the DMA requires stream width <= memory-map width)."""
        return max(32, stream_bits)


@dataclass
class PackageContext:
    top: str
    version: str
    part: str
    in_beat_bits: int
    out_beat_bits: int
    vendor: str = VENDOR
    library: str = "rtl"
    ip_version: str = VERSION
    repo: str = RTL_IP_REPO
    project: str = RTL_PACKAGE_PROJECT
    control_addr_bits: int = CONTROL_ADDR_BITS
    control_data_bits: int = CONTROL_DATA_BITS
    sources: list[str] = field(default_factory=list)  # Verilog, relative to OUT/rtl (files.f)
    headers: list[str] = field(default_factory=list)  # Verilog headers the sources include, relative to OUT/rtl
    mems: list[str] = field(default_factory=list)  # $readmemh images, relative to OUT/rtl


def _listed(names: list[str], what: str) -> list[str]:
    for n in names:
        if not _SAFE.fullmatch(n) or ".." in n.split("/"):
            raise AssertionError(f"{what}: unexpected file name {n!r}")
    return names


def emit(board, axis: dict, out_dir: Path, ip: str = "hls") -> None:
    """OUT/vivado/build_bd.tcl and package_ip.tcl. ``axis``: {'in': layout, 'out': layout}
    (edgec.backend.hls.stream_layout); OUT/rtl must be written already (its files.f and
    mem/ are what package_ip.tcl packages)."""
    if ip not in IP_CHOICES:
        raise EdgecError(f"--vivado-ip {ip!r}: choose one of {', '.join(IP_CHOICES)}")
    viv = out_dir / "vivado"
    viv.mkdir(parents=True, exist_ok=True)
    known = board.name != "zynq7020"  # an alias names a board with Vivado board files
    in_bits, out_bits = axis["in"]["beat_bytes"] * 8, axis["out"]["beat_bytes"] * 8
    ctx = VivadoContext(TOP, __version__, board.part, f"*{board.name}*" if known else "", int(board.clock_mhz),
                        in_bits, out_bits, ip)
    render("vivado/build_bd.tcl.j2", viv / "build_bd.tcl", ctx=ctx)
    rtl = out_dir / "rtl"
    sources = _listed((rtl / "files.f").read_text().split(), "rtl/files.f")
    mems = _listed(sorted(p.relative_to(rtl).as_posix() for p in (rtl / "mem").glob("*.mem")), "rtl/mem")
    headers = _listed(sorted(p.relative_to(rtl).as_posix() for p in (rtl / "lib").glob("*.vh")), "rtl/lib")
    pctx = PackageContext(TOP, __version__, board.part, in_bits, out_bits, sources=sources, headers=headers, mems=mems)
    render("vivado/package_ip.tcl.j2", viv / "package_ip.tcl", ctx=pctx)


__all__ = ["emit", "VivadoContext", "PackageContext", "IP_CHOICES", "SG_LENGTH_WIDTH", "MAX_TRANSFER_BYTES", "vlnv"]
