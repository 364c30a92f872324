"""The tcl a build writes (OUT/hls/build_hls.tcl, OUT/vivado/build_bd.tcl and
package_ip.tcl, any other OUT/**/*.tcl) runs to its end in tclsh with every Vivado and
Vitis HLS command stubbed, and the commands it would give are the right ones.

The harness (HARNESS below) defines ``unknown``, so every command tclsh does not know
(create_bd_cell, ipx::package_project, ...) is recorded with its arguments, one JSON line
per call, and answered with a plausible value (a get_*/add_*/create_* command returns its
first name argument, current_* a handle). Builtins that would touch files or end the
process are replaced: ``file`` keeps its path arithmetic and records the rest (``file
exists`` answers as told), ``glob`` and ``cd`` are recorded, ``exit`` ends the script and
is recorded, ``source`` runs only scripts inside the build folder, ``open`` and ``exec``
are errors. A parse error, unbalanced braces, an unset variable or an error raised by the
script fails the test; tclsh must be installed (scripts/setup.sh), never skipped.

What this does not show: that Vivado and Vitis HLS accept these commands and properties.
That takes a real Vivado run (docs/hardware.md).
"""
import json
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from edgec import EdgecError, boards, build
from edgec.backend import vivado
from edgec.cli import main

TCLSH = "/usr/bin/tclsh"

HARNESS = r"""
namespace eval ::harness {
    variable log [lindex $::argv 0]
    variable script [file normalize [lindex $::argv 1]]
    variable root [file normalize [lindex $::argv 2]]
    variable exists [lindex $::argv 3]
    variable tclargs [lrange $::argv 4 end]
    variable fh [open $log w]
    fconfigure $fh -encoding utf-8
    # options of Vivado commands that take a value (the rest of the -words are flags)
    variable valued {-of_objects -of -filter -vlnv -type -name -config -dict -rule -root_dir -vendor -library
                     -taxonomy -part -fileset -busif -clock -reset -mode -jobs -to_step -files -directory
                     -format -rtl -version -ipname -flow_target -period -cflags -argv -set_current -component}
    variable jmap {}
    for {set i 0} {$i < 32} {incr i} { lappend jmap [format %c $i] [format \\u%04x $i] }
    set jmap [linsert $jmap 0 \\ \\\\ \" \\\"]
}
proc ::harness::json {s} { variable jmap; return "\"[string map $jmap $s]\"" }
proc ::harness::record {cmd args} {
    variable fh
    set raw [list [json $cmd]]
    set lists {}
    foreach a $args {
        lappend raw [json $a]
        if {[string is list $a]} {
            set el {}
            foreach e $a { lappend el [json $e] }
            lappend lists "\[[join $el ,]\]"
        } else {
            lappend lists null
        }
    }
    puts $fh "{\"cmd\": [json $cmd], \"args\": \[[join [lrange $raw 1 end] ,]\], \"lists\": \[[join $lists ,]\]}"
    flush $fh
}
proc ::harness::positional {args} {
    variable valued
    set out {}
    for {set i 0} {$i < [llength $args]} {incr i} {
        set a [lindex $args $i]
        if {[string index $a 0] eq "-" && ![string is double -strict $a]} {
            if {$a in $valued} { incr i }
        } else {
            lappend out $a
        }
    }
    return $out
}
proc ::unknown {cmd args} {
    ::harness::record $cmd {*}$args
    set tail [namespace tail $cmd]
    set pos [::harness::positional {*}$args]
    if {[string match current_* $tail] && $pos eq ""} { return "stub_$tail" }
    if {[regexp {^(get_|add_|create_|infer_)} $tail] && $pos ne ""} { return [lindex $pos 0] }
    return ""
}
rename ::exit ::harness::real_exit
proc ::exit {{code 0}} {
    ::harness::record exit $code
    return -code error -errorcode [list HARNESS EXIT $code] "exit $code"
}
rename ::file ::harness::real_file
proc ::file {sub args} {
    if {$sub in {dirname tail join normalize split rootname extension nativename pathtype separator}} {
        return [::harness::real_file $sub {*}$args]
    }
    ::harness::record file $sub {*}$args
    if {$sub eq "exists"} { return $::harness::exists }
    if {$sub in {isfile isdirectory readable writable executable}} { return 0 }
    return ""
}
rename ::glob ::harness::real_glob
proc ::glob {args} {
    ::harness::record glob {*}$args
    return [::harness::positional {*}$args]
}
rename ::cd ::harness::real_cd
proc ::cd {args} { ::harness::record cd {*}$args }
rename ::source ::harness::real_source
proc ::source {args} {
    ::harness::record source {*}$args
    set f [::harness::real_file normalize [lindex $args end]]
    if {[string first $::harness::root/ $f] != 0 || ![::harness::real_file isfile $f]} {
        error "source of a file that is not part of the build: $f"
    }
    return [uplevel #0 [list ::harness::real_source $f]]
}
rename ::open ::harness::real_open
proc ::open {args} { error "the script opens a file: $args" }
rename ::exec ::harness::real_exec
proc ::exec {args} { error "the script runs a program: $args" }

set ::argv $::harness::tclargs
set ::argc [llength $::argv]
set ::argv0 $::harness::script
set ::harness::code [catch {::harness::real_source $::harness::script} ::harness::msg ::harness::opts]
close $::harness::fh
set ::harness::ec [expr {[dict exists $::harness::opts -errorcode] ? [dict get $::harness::opts -errorcode] : ""}]
if {$::harness::code == 1 && [lrange $::harness::ec 0 1] eq {HARNESS EXIT}} {
    ::harness::real_exit [lindex $::harness::ec 2]
}
if {$::harness::code == 1} {
    puts stderr "error: $::harness::msg\n[dict get $::harness::opts -errorinfo]"
    ::harness::real_exit 1
}
if {$::harness::code != 0 && $::harness::code != 2} {
    puts stderr "the script ended with return code $::harness::code: $::harness::msg"
    ::harness::real_exit 1
}
::harness::real_exit 0
"""


@pytest.fixture(scope="module")
def harness(tmp_path_factory) -> Path:
    assert Path(TCLSH).is_file(), f"tclsh is required at {TCLSH} (scripts/setup.sh installs it: apt-get install tcl)"
    p = tmp_path_factory.mktemp("harness") / "harness.tcl"
    p.write_text(HARNESS)
    return p


def run_tcl(harness, script: Path, root: Path, *tclargs, exists: int = 0, ok: bool = True):
    """Run ``script`` under the stubs; the recorded calls (dicts: cmd, args, lists)."""
    with tempfile.TemporaryDirectory() as d:
        log = Path(d) / "calls.jsonl"
        r = subprocess.run([TCLSH, str(harness), str(log), str(script), str(root), str(exists), *tclargs],
                           capture_output=True, text=True, timeout=60, cwd=script.parent)
        calls = [json.loads(ln) for ln in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    if ok:
        assert r.returncode == 0, f"{script}: exit {r.returncode}\n{r.stderr[-3000:]}"
    return calls if ok else (r, calls)


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """hls: the example at w1a1 through edgec.build (default --vivado-ip hls, zynq7020);
    rtl: w2a2 for the PYNQ-Z2 through the CLI with --vivado-ip rtl."""
    d = tmp_path_factory.mktemp("tcl")
    out = {"hls": build(None, d / "hls", preset="w1a1", finetune_epochs=0, progress=None).out}
    rc = main(["build", "-o", str(d / "rtl"), "--preset", "w2a2", "--finetune-epochs", "0", "--board", "pynq-z2",
               "--vivado-ip", "rtl", "-q"])
    assert rc == 0
    out["rtl"] = d / "rtl"
    return out


def manifest(out: Path) -> dict:
    return json.loads((out / "edgec.json").read_text())


def calls_of(calls, cmd):
    return [c for c in calls if c["cmd"] == cmd]


def opt(call, name):
    """The value of option ``name`` in a recorded call (None if absent)."""
    a = call["args"]
    return a[a.index(name) + 1] if name in a else None


def pairs(lst) -> dict:
    assert lst is not None and len(lst) % 2 == 0, lst
    return dict(zip(lst[::2], lst[1::2]))


def dict_on(calls, target):
    """The merged -dict of every `set_property -dict [...] <target>`."""
    out = {}
    for c in calls_of(calls, "set_property"):
        if c["args"][0] == "-dict" and c["args"][-1] == target:
            out.update(pairs(c["lists"][1]))
    return out


@pytest.mark.parametrize("kind", ["hls", "rtl"])
def test_every_tcl_runs_to_the_end_under_stubs(builds, harness, kind):
    out = builds[kind]
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.tcl"))
    assert {"hls/build_hls.tcl", "vivado/build_bd.tcl", "vivado/package_ip.tcl"} <= set(files), files
    for f in files:
        calls = run_tcl(harness, out / f, out)
        assert calls, f"{f}: no Vivado/Vitis command recorded"
        for c in calls:
            assert not (c["cmd"] == "file" and c["args"][0] in ("delete", "rename", "mkdir")), (f, c)
    hls = run_tcl(harness, out / "hls/build_hls.tcl", out)
    assert [c["cmd"] for c in hls][-2:] == ["export_design", "exit"] and calls_of(hls, "exit")[0]["args"] == ["0"]
    exp = calls_of(hls, "export_design")[0]
    assert (opt(exp, "-vendor"), opt(exp, "-library"), opt(exp, "-ipname"), opt(exp, "-version")) == \
        ("edgec", "hls", "edgec_top", "1.0")
    assert calls_of(hls, "set_part")[0]["args"] == [manifest(out)["part"]]
    # every file the tcl scripts are written in is in the manifest: open_build checks them
    from edgec.outdir import open_build

    open_build(out, "vivado", "hls/build_hls.tcl")


def test_the_harness_fails_broken_scripts(harness, tmp_path):
    """Unbalanced braces, an unset variable, a wrong nesting (a script error) and a
    non-zero exit each fail; a stubbed command alone does not."""
    cases = {"brace.tcl": "create_project x {\n", "var.tcl": "create_bd_cell $nowhere\n",
             "nest.tcl": "if {1} { set x 1 } else\n", "exit.tcl": "create_project p\nexit 3\n",
             "argerr.tcl": "set a [lindex]\n", "outside.tcl": "source /etc/hosts\n"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        r, _ = run_tcl(harness, tmp_path / name, tmp_path, ok=False)
        assert r.returncode != 0, name
    (tmp_path / "fine.tcl").write_text("set c [create_bd_cell -type ip -vlnv a:b:c:1.0 c0]\nputs $c\n")
    calls = run_tcl(harness, tmp_path / "fine.tcl", tmp_path)
    assert calls == [{"cmd": "create_bd_cell", "args": ["-type", "ip", "-vlnv", "a:b:c:1.0", "c0"],
                      "lists": [["-type"], ["ip"], ["-vlnv"], ["a:b:c:1.0"], ["c0"]]}]


@pytest.mark.parametrize("kind", ["hls", "rtl"])
def test_block_design_widths_and_clock(builds, harness, kind):
    out = builds[kind]
    m = manifest(out)
    calls = run_tcl(harness, out / "vivado/build_bd.tcl", out)
    dma = dict_on(calls, "axi_dma_0")
    in_bits, out_bits = 8 * m["axis"]["in"]["beat_bytes"], 8 * m["axis"]["out"]["beat_bytes"]
    assert int(dma["CONFIG.c_m_axis_mm2s_tdata_width"]) == in_bits
    assert int(dma["CONFIG.c_s_axis_s2mm_tdata_width"]) == out_bits
    assert int(dma["CONFIG.c_m_axi_mm2s_data_width"]) >= max(32, in_bits)
    assert int(dma["CONFIG.c_m_axi_s2mm_data_width"]) >= max(32, out_bits)
    assert int(dma["CONFIG.c_sg_length_width"]) == vivado.SG_LENGTH_WIDTH == 26
    assert dma["CONFIG.c_include_sg"] == "0"
    assert vivado.MAX_TRANSFER_BYTES == 2**26 - 1
    ps7 = dict_on(calls, "ps7")
    assert float(ps7["CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ"]) == boards.get(m["board"]).clock_mhz
    assert ps7["CONFIG.PCW_USE_S_AXI_HP0"] == "1"
    part = calls_of(calls, "create_project")[-1]
    assert opt(part, "-part") == m["part"]
    bp = [c for c in calls if c["cmd"] == "set_property" and c["args"][0] == "board_part"]
    assert len(bp) == (1 if kind == "rtl" else 0)  # pynq-z2 names a board with board files; zynq7020 does not


@pytest.mark.parametrize("kind", ["hls", "rtl"])
def test_block_design_connections(builds, harness, kind):
    out = builds[kind]
    calls = run_tcl(harness, out / "vivado/build_bd.tcl", out)
    auto = [(opt(c, "-rule"), pairs(c["lists"][c["args"].index("-config") + 1]), c["args"][-1])
            for c in calls_of(calls, "apply_bd_automation")]
    axi4 = {(tgt, cfg.get("Master") or cfg.get("Slave"))
            for rule, cfg, tgt in auto if rule == "xilinx.com:bd_rule:axi4"}
    assert axi4 == {("axi_dma_0/S_AXI_LITE", "/ps7/M_AXI_GP0"), ("edgec_top_0/s_axi_control", "/ps7/M_AXI_GP0"),
                    ("axi_dma_0/M_AXI_MM2S", "/ps7/S_AXI_HP0"), ("axi_dma_0/M_AXI_S2MM", "/ps7/S_AXI_HP0")}
    assert len([a for a in auto if a[0] == "xilinx.com:bd_rule:axi4"]) == 4  # none repeated
    # ap_clk is connected once, by the s_axi_control rule (its associated clock): no
    # clock rule and no net names it
    assert not [a for a in auto if a[0] == "xilinx.com:bd_rule:clkrst"], auto
    assert not [c for c in calls if c["cmd"] in ("connect_bd_net", "apply_bd_automation")
                and any("ap_clk" in a for a in c["args"])]
    nets = {tuple(c["args"]) for c in calls_of(calls, "connect_bd_intf_net")}
    assert nets == {("axi_dma_0/M_AXIS_MM2S", "edgec_top_0/s_axis"), ("edgec_top_0/m_axis", "axi_dma_0/S_AXIS_S2MM")}
    names = [c["cmd"] for c in calls]
    assert names.index("assign_bd_address") > max(i for i, n in enumerate(names) if n == "apply_bd_automation")
    assert names.index("assign_bd_address") < names.index("validate_bd_design") < names.index("launch_runs")


def _ip(calls):
    cells = [c for c in calls_of(calls, "create_bd_cell") if c["args"][-1] == "edgec_top_0"]
    assert len(cells) == 1
    repo = [c for c in calls if c["cmd"] == "set_property" and c["args"][0] == "ip_repo_paths"]
    assert len(repo) == 1 and len(repo[0]["lists"][1]) == 1
    return opt(cells[0], "-vlnv"), repo[0]["lists"][1][0]


@pytest.mark.parametrize("kind", ["hls", "rtl"])
def test_block_design_ip_choice(builds, harness, kind):
    """The build's choice is the default; -tclargs hls|rtl overrides it; for rtl the
    packaging script runs first when the IP is not there yet, and MEM_DIR points at the
    build's images."""
    out = builds[kind]
    bd = out / "vivado/build_bd.tcl"
    vivado_dir = str(bd.parent.resolve())
    assert re.search(rf"^set edgec_ip {kind}$", bd.read_text(), re.M)
    for arg in ("", "hls", "rtl"):
        for exists in (0, 1):
            calls = run_tcl(harness, bd, out, *([arg] if arg else []), exists=exists)
            choice = arg or kind
            vlnv, repo = _ip(calls)
            assert vlnv == f"edgec:{choice}:edgec_top:1.0" == vivado.vlnv(choice)
            names = [c["cmd"] for c in calls]
            sourced = calls_of(calls, "source")
            mem = [c for c in calls if c["cmd"] == "set_property" and c["args"][0] == "CONFIG.MEM_DIR"]
            if choice == "hls":
                assert repo == vivado_dir + "/../hls/edgec_prj/sol1/impl/ip"
                assert not sourced and not mem and "ipx::package_project" not in names
            else:
                assert repo == vivado_dir + "/rtl_ip"
                assert [c["args"][1:] for c in mem] == [[str((out / "rtl/mem").resolve()), "edgec_top_0"]]
                assert calls.index(mem[0]) > calls.index(calls_of(calls, "create_bd_cell")[-1])
                if exists:  # rtl_ip/component.xml is there: no packaging
                    assert not sourced and "ipx::package_project" not in names
                else:
                    assert [s["args"] for s in sourced] == [[vivado_dir + "/package_ip.tcl"]]
                    # packaged (and its project closed) before the block design's project
                    assert names.index("ipx::save_core") < names.index("close_project") < \
                        max(i for i, c in enumerate(calls) if c["cmd"] == "create_project")
    r, _ = run_tcl(harness, bd, out, "bogus", ok=False)
    assert r.returncode != 0 and "give hls" in r.stderr and "bogus" in r.stderr


def _port_maps(calls) -> dict:
    """{bus interface: {logical: physical}} from the recorded ipx::add_port_map /
    set_property physical_name calls (the stub returns the logical name as the handle)."""
    maps, bif = {}, None
    for c in calls:
        if c["cmd"] == "ipx::add_bus_interface":
            bif = c["args"][0]
            maps[bif] = {}
        elif c["cmd"] == "set_property" and c["args"][0] == "physical_name":
            maps[bif][c["args"][2]] = c["args"][1]
    return maps


def _props(calls, target) -> dict:
    return {c["args"][0]: c["args"][1] for c in calls_of(calls, "set_property") if len(c["args"]) == 3
            and c["args"][2] == target}


def test_package_ip(builds, harness):
    out = builds["rtl"]
    calls = run_tcl(harness, out / "vivado/package_ip.tcl", out)
    rtl = str((out / "rtl").resolve())
    pkg = calls_of(calls, "ipx::package_project")
    assert len(pkg) == 1
    assert (opt(pkg[0], "-vendor"), opt(pkg[0], "-library")) == ("edgec", "rtl")
    assert opt(pkg[0], "-root_dir") == str((out / "vivado").resolve()) + "/rtl_ip"
    core = _props(calls, "stub_current_core")
    assert (core["vendor"], core["library"], core["name"], core["version"]) == ("edgec", "rtl", "edgec_top", "1.0")
    # the sources: every file of files.f, and every memory image
    added = [e for c in calls_of(calls, "add_files") for e in c["lists"][-1]]
    listed = (out / "rtl/files.f").read_text().split()
    mems = sorted(p.name for p in (out / "rtl/mem").glob("*.mem"))
    headers = sorted(p.name for p in (out / "rtl/lib").glob("*.vh"))
    assert headers == ["edgec_mulc.vh"]
    assert mems and added == ([f"{rtl}/{f}" for f in listed] + [f"{rtl}/lib/{f}" for f in headers]
                              + [f"{rtl}/mem/{f}" for f in mems])
    assert _props(calls, "sources_1")["top"] == "edgec_top"
    # the interfaces, port by port
    bifs = {c["args"][0] for c in calls_of(calls, "ipx::add_bus_interface")}
    assert bifs == {"s_axis", "m_axis", "s_axi_control", "ap_clk", "ap_rst_n", "interrupt"}
    kinds = {b: (_props(calls, b)["bus_type_vlnv"], _props(calls, b)["interface_mode"]) for b in bifs}
    assert kinds == {"s_axis": ("xilinx.com:interface:axis:1.0", "slave"),
                     "m_axis": ("xilinx.com:interface:axis:1.0", "master"),
                     "s_axi_control": ("xilinx.com:interface:aximm:1.0", "slave"),
                     "ap_clk": ("xilinx.com:signal:clock:1.0", "slave"),
                     "ap_rst_n": ("xilinx.com:signal:reset:1.0", "slave"),
                     "interrupt": ("xilinx.com:signal:interrupt:1.0", "master")}
    maps = _port_maps(calls)
    stream = ["TDATA", "TVALID", "TREADY", "TKEEP", "TSTRB", "TLAST"]
    lite = ["AWVALID", "AWREADY", "AWADDR", "WVALID", "WREADY", "WDATA", "WSTRB", "ARVALID", "ARREADY", "ARADDR",
            "RVALID", "RREADY", "RDATA", "RRESP", "BVALID", "BREADY", "BRESP"]
    assert maps["s_axis"] == {s: f"s_axis_{s}" for s in stream}
    assert maps["m_axis"] == {s: f"m_axis_{s}" for s in stream}
    assert maps["s_axi_control"] == {s: f"s_axi_control_{s}" for s in lite}
    assert (maps["ap_clk"], maps["ap_rst_n"], maps["interrupt"]) == ({"CLK": "ap_clk"}, {"RST": "ap_rst_n"},
                                                                     {"INTERRUPT": "interrupt"})
    # clock, reset, interrupt parameters
    params = {(c["args"][0], c["args"][1]) for c in calls_of(calls, "ipx::add_bus_parameter")}
    assert params == {("POLARITY", "ap_rst_n"), ("SENSITIVITY", "interrupt")}
    assert _props(calls, "POLARITY")["value"] == "ACTIVE_LOW"
    assoc = {tuple(c["args"][:-1]) for c in calls_of(calls, "ipx::associate_bus_interfaces")}
    assert assoc == {("-busif", b, "-clock", "ap_clk") for b in ("s_axis", "m_axis", "s_axi_control")} | \
        {("-clock", "ap_clk", "-reset", "ap_rst_n")}
    # the control registers' memory map
    assert [c["args"][0] for c in calls_of(calls, "ipx::add_memory_map")] == ["s_axi_control"]
    ref = [c for c in calls_of(calls, "set_property") if c["args"][0] == "slave_memory_map_ref"]
    assert [(c["args"][1], c["args"][2]) for c in ref] == [("s_axi_control", "s_axi_control")]
    blk = _props(calls, "Reg")
    assert int(blk["range"]) >= 2 ** vivado.CONTROL_ADDR_BITS and blk["width"] == "32" and blk["usage"] == "register"
    # MEM_DIR: the absolute folder of the build's images
    assert {c["args"][1] for c in calls if c["cmd"] == "set_property" and c["args"][0] == "value"
            and c["args"][2] == "MEM_DIR"} == {f"{rtl}/mem"}
    names = [c["cmd"] for c in calls]
    assert names.index("ipx::check_integrity") < names.index("ipx::save_core") < names.index("close_project")


def test_cli_vivado_ip_rtl_selects_the_rtl_ip(builds, harness):
    """`edgec build --vivado-ip rtl`: build_bd.tcl without -tclargs instantiates the packaged
    RTL; the default build's instantiates the Vitis HLS export."""
    for kind in ("rtl", "hls"):
        vlnv, repo = _ip(run_tcl(harness, builds[kind] / "vivado/build_bd.tcl", builds[kind], exists=1))
        assert vlnv == f"edgec:{kind}:edgec_top:1.0"
        assert repo.endswith("/rtl_ip" if kind == "rtl" else "/hls/edgec_prj/sol1/impl/ip")


def test_vivado_ip_option_errors(tmp_path, capsys):
    out = tmp_path / "o"
    rc = main(["build", "-o", str(out), "--vivado-ip", "bogus"])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("edgec: error: ") and "--vivado-ip" in lines[0], err
    assert not out.exists() and not list(tmp_path.iterdir())
    with pytest.raises(EdgecError, match="--vivado-ip"):
        build(None, out, vivado_ip="vhdl", progress=None)
    assert not out.exists()


def test_package_ip_maps_ports_of_the_rtl_top(builds, harness):
    """Every physical port package_ip.tcl maps is a port of module edgec_top in
    OUT/rtl/edgec_top.v, and every port of the top is mapped (the Vitis HLS export's ports)."""
    out = builds["rtl"]
    maps = _port_maps(run_tcl(harness, out / "vivado/package_ip.tcl", out))
    top = (out / "rtl/edgec_top.v").read_text()
    start = top.index("module edgec_top")
    header = top[start:top.index(");", start)]
    ports = set(re.findall(r"\b(?:input|output)\s+(?:wire|reg)?\s*(?:\[[^\]]*\]\s*)?(\w+)", header))
    mapped = {p for m in maps.values() for p in m.values()}
    assert not mapped - ports, f"ports the IP maps but rtl/edgec_top.v lacks: {sorted(mapped - ports)}"
    assert not ports - mapped, f"ports of rtl/edgec_top.v no bus interface maps: {sorted(ports - mapped)}"
