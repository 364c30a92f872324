"""The pragmas the report's cycle counts rely on, read from the generated HLS (OUT/hls: the
top, the constant arrays and the copy of the kernel library), so that a template or
library change cannot drop them silently:
- every loop of the library is pipelined at II = 1 or unrolled inside a pipelined one;
  every loop that runs per frame has a LOOP_TRIPCOUNT;
- each mvau partitions its weights by PE and its accumulators completely; the top
  partitions every activation's thresholds by PE lane and threshold and its negation
  flags by lane (an activation with signed steps: its falling-step flags like the
  thresholds), and each depthwise stage's weights by lane; the upsample's line buffer
  keeps its true read-after-write distance;
- the dataflow region is canonical: every stage call passes the top's `frames` and named
  streams and constants, no computed expressions or temporaries;
- one BIND_OP per function body; AP_INT_MAX_W covers every ap_int/ap_uint width.
The checker is shown to fail on copies with a pragma removed."""
import re
import shutil

import pytest

from edgec import build
from edgec.examples import digits

from .nets import ConvNet, trained
from .signed_steps import build_with_signed_steps
from .test_unet import unet_qonnx


def _bodies(text: str, head: re.Pattern):
    """(match, body text inside the braces) for each match of ``head`` followed by a block."""
    for m in head.finditer(text):
        i = text.index("{", m.end() - 1) if text[m.end() - 1] != "{" else m.end() - 1
        depth, j = 0, i
        while True:
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        yield m, text[i + 1:j]


LOOP = re.compile(r"for \(([^;]*);([^;]*);[^)]*\)\s*\{")
FUNC = re.compile(r"\n(?:template <[^\n]*>\n)?(?:static |inline )*[\w:<>, ]+ (\w+)\([^;{]*\)\s*(?:const\s*)?\{")


def _leading_pragmas(body: str) -> list[str]:
    out = []
    for ln in body.strip().splitlines():
        ln = ln.strip()
        if not ln.startswith("#pragma HLS"):
            break
        out.append(" ".join(ln.split()))
    return out


def library_problems(lib: str) -> list[str]:
    probs = []
    for m, body in _bodies(lib, LOOP):
        prag = _leading_pragmas(body)
        line = lib.count("\n", 0, m.start()) + 1
        bound = m.group(2)
        if not any(p.startswith("#pragma HLS UNROLL") for p in prag) and "#pragma HLS PIPELINE II = 1" not in prag:
            probs.append(f"line {line}: loop `{m.group(0)[:60]}` neither pipelined at II = 1 nor unrolled")
        if "frames" in bound or "total" in bound:
            if not any(p.startswith("#pragma HLS LOOP_TRIPCOUNT min =") for p in prag):
                probs.append(f"line {line}: per-frame loop `{m.group(0)[:60]}` has no LOOP_TRIPCOUNT")
    for m, body in _bodies(lib, FUNC):
        if body.count("BIND_OP") > 1:
            probs.append(f"{m.group(1)}: {body.count('BIND_OP')} BIND_OP pragmas in one body")
    mv = next((b for m, b in _bodies(lib, FUNC) if m.group(1) == "mvau"), None)
    if mv is None:
        probs.append("no mvau() in the library")
    else:
        for need in ("#pragma HLS ARRAY_PARTITION variable = weights complete dim = 1",
                     "#pragma HLS ARRAY_PARTITION variable = acc complete",
                     "#pragma HLS DEPENDENCE variable = buf inter RAW distance = SF true"):
            if need not in mv:
                probs.append(f"mvau: missing `{need}`")
    up = next((b for m, b in _bodies(lib, FUNC) if m.group(1) == "upsample"), None)
    if up is None:
        probs.append("no upsample() in the library")
    elif "#pragma HLS DEPENDENCE variable = row inter RAW distance = DIST true" not in up:
        probs.append("upsample: missing the line buffer's DEPENDENCE")
    return probs


CALL = re.compile(r"edgec::(\w+)<(.*?)>\(\s*(.*?)\);", re.S)


def _act_arrays(args: str) -> list[tuple[int, str]]:
    """(dim, array) a Thresholds<args> activation's arrays are partitioned in: t by lane and
    threshold, neg by lane, and with signed steps (the last argument STEPS = true) dn like t."""
    out = [(1, "t"), (3, "t"), (1, "neg")]
    if args.rstrip().endswith(", true"):
        out += [(1, "dn"), (3, "dn")]
    return out


def top_problems(hls) -> list[str]:
    probs = []
    top = (hls / "top.cpp").read_text()
    weights = (hls / "weights.h").read_text()
    region = top[top.index("#pragma HLS DATAFLOW"):]
    pragmas = {" ".join(ln.split()) for ln in region.splitlines() if ln.strip().startswith("#pragma")}
    for args, name in re.findall(r"edgec::Thresholds<([^;]*)> (act_\d+) =", weights):
        for dim, var in _act_arrays(args):
            if f"#pragma HLS ARRAY_PARTITION variable = {name}.{var} complete dim = {dim}" not in pragmas:
                probs.append(f"{name}.{var}: not partitioned in dim {dim}")
    for name in re.findall(r"typedef edgec::DepthwiseOp<[^;]*> (op_\d+)_t;", weights):
        if f"#pragma HLS ARRAY_PARTITION variable = {name}.w complete dim = 1" not in pragmas:
            probs.append(f"{name}.w: depthwise weights not partitioned by lane")
        m = re.search(rf"typedef edgec::DepthwiseOp<[^;]*edgec::Thresholds<([^;]*)> > {name}_t;", weights)
        if m:
            for dim, var in _act_arrays(m.group(1)):
                if f"#pragma HLS ARRAY_PARTITION variable = {name}.act.{var} complete dim = {dim}" not in pragmas:
                    probs.append(f"{name}.act.{var}: not partitioned in dim {dim}")
    calls = CALL.findall(region)
    if not calls:
        probs.append("no stage calls in the dataflow region")
    for kernel, _, args in calls:
        parts = [a.strip() for a in args.split(",")]
        if parts[-1] != "frames":
            probs.append(f"{kernel}: last argument `{parts[-1]}`, not the top's frames")
        for a in parts:
            if not re.fullmatch(r"[A-Za-z_]\w*", a):
                probs.append(f"{kernel}: argument `{a}` is an expression or temporary (non-canonical dataflow)")
    m = re.search(r"#define AP_INT_MAX_W (\d+)", (hls / "top.h").read_text())
    if not m:
        probs.append("top.h: AP_INT_MAX_W not defined")
    else:
        widest = max(int(w) for w in re.findall(r"ap_u?int<(\d+)>", top + weights + (hls / "top.h").read_text()))
        rom = [int(w) for w in re.findall(r"rom_word<(\d+)>", weights)]
        if max([widest, *rom]) > int(m.group(1)):
            probs.append(f"AP_INT_MAX_W {m.group(1)} < {max([widest, *rom])}")
    return probs


def problems(hls) -> list[str]:
    lib = "\n".join(p.read_text() for p in sorted((hls / "edgec").glob("*.h")))
    return library_problems(lib) + top_problems(hls)


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    d = tmp_path_factory.mktemp("pragmas")
    cx = digits.train_split()[0][:300]
    net = trained(ConvNet(), epochs=2)
    return {
        "example": build(None, d / "ex", preset="w1a1", finetune_epochs=0, progress=None).out,
        "conv": build(net, d / "conv", input_shape=(1, 8, 8), preset="int4", calib=cx, progress=None).out,
        "wino": build(net, d / "wino", input_shape=(1, 8, 8), preset="w2a2", calib=cx, winograd="f2", prune=0.5,
                      sparse="on", finetune_epochs=0, progress=None).out,
        "steps": build_with_signed_steps(net, d / "steps", input_shape=(1, 8, 8), preset="int4", calib=cx).out,
        "unet": build(str(unet_qonnx(d / "unet.onnx")), d / "unet", progress=None).out,
    }


@pytest.mark.parametrize("name", ["example", "conv", "wino", "steps", "unet"])
def test_generated_hls_has_the_pragmas_the_cycle_counts_need(builds, name):
    hls = builds[name] / "hls"
    assert problems(hls) == []
    if name in ("conv", "steps"):  # the checks had something to look at
        assert "DepthwiseOp" in (hls / "weights.h").read_text()
    if name == "steps":
        assert ".dn complete dim = 3" in (hls / "top.cpp").read_text()
        assert re.search(r"typedef edgec::DepthwiseOp<[^;]*, true > > op_\d+_t;", (hls / "weights.h").read_text())
    assert "edgec::Thresholds" in (hls / "weights.h").read_text()
    if name == "unet":
        assert "edgec::upsample<" in (hls / "top.cpp").read_text() and "edgec::concat<" in (hls / "top.cpp").read_text()


@pytest.mark.parametrize("mutation", [
    ("edgec/mvau.h", "#pragma HLS ARRAY_PARTITION variable = weights complete dim = 1\n", "", "mvau: missing"),
    ("edgec/streams.h", "#pragma HLS LOOP_TRIPCOUNT min = TRIP max = TRIP\n", "", "no LOOP_TRIPCOUNT"),
    ("edgec/swg.h", "#pragma HLS PIPELINE II = 1\n", "#pragma HLS PIPELINE II = 2\n", "neither pipelined"),
    ("edgec/upsample.h", "#pragma HLS DEPENDENCE variable = row inter RAW distance = DIST true\n", "",
     "upsample: missing"),
    ("top.cpp", "complete dim = 3\n", "complete dim = 2\n", "not partitioned in dim 3"),
    ("top.cpp", ", frames);", ", (unsigned long long)frames * 2);", "non-canonical"),
    ("edgec/mvau.h", "op = mul impl = fabric\n",
     "op = mul impl = fabric\n#pragma HLS BIND_OP variable = p op = mul impl = dsp\n", "BIND_OP pragmas in one body"),
    ("top.h", "#define AP_INT_MAX_W", "#define AP_INT_MAX_W_UNUSED", "AP_INT_MAX_W not defined"),
])
def test_the_checker_catches_a_dropped_pragma(builds, tmp_path, mutation):
    path, old, new, message = mutation
    hls = tmp_path / "hls"
    shutil.copytree(builds["conv"] / "hls", hls)
    f = hls / path
    text = f.read_text()
    assert old in text, (path, old)
    f.write_text(text.replace(old, new, 1))
    assert any(message in p for p in problems(hls)), problems(hls)


@pytest.mark.parametrize("old,new,message", [
    ("dn complete dim = 3\n", "dn complete dim = 2\n", ".dn: not partitioned in dim 3"),
    ("dn complete dim = 1\n", "t complete dim = 1\n", ".dn: not partitioned in dim 1"),
])
def test_the_checker_catches_an_unpartitioned_step_table(builds, tmp_path, old, new, message):
    """The falling-step flags of an activation with signed steps are checked like its thresholds."""
    hls = tmp_path / "hls"
    shutil.copytree(builds["steps"] / "hls", hls)
    f = hls / "top.cpp"
    assert old in f.read_text()
    f.write_text(f.read_text().replace(old, new, 1))
    assert any(message in p for p in problems(hls)), problems(hls)
