"""Synthesize the built-in example at every preset (auto folding, and w2a2 fully folded) and
the test suite's MLP and conv net with yosys (`edgec synth`), and set each stage's LUTs
beside the cost model's estimate.

    .venv/bin/python benchmarks/synth.py [OUT_DIR] [--json FILE]

Prints a Markdown table per design (yosys LUT / FF / BRAM36 / DSP, the estimate's LUT and
its difference, the timing estimate's fmax) and a summary: the worst LUT difference of any
stage, and the totals.
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import edgec  # noqa: E402
from edgec import synth  # noqa: E402
from edgec.examples import digits  # noqa: E402


def designs(out_dir: Path):
    for preset in ("w1a1", "w2a2", "int4", "int8"):
        yield f"example-{preset}", lambda p=preset: edgec.build(None, out_dir / f"example-{p}", preset=p,
                                                                finetune_epochs=0, progress=None).out
    yield "example-w2a2-min", lambda: edgec.build(None, out_dir / "example-w2a2-min", preset="w2a2", folding="min",
                                                  finetune_epochs=0, progress=None).out
    from tests.nets import MLP, ConvNet, trained

    cx = digits.train_split()[0][:300]
    yield "mlp-int4", lambda: edgec.build(trained(MLP(), epochs=3), out_dir / "mlp", input_shape=(1, 8, 8),
                                          preset="int4", calib=cx, progress=None).out
    yield "conv-w2a2", lambda: edgec.build(trained(ConvNet(), epochs=3), out_dir / "conv", input_shape=(1, 8, 8),
                                           preset="w2a2", calib=cx, progress=None).out


def diff(est, got):
    return (est - got) / got if got else (0.0 if est == 0 else float("inf"))


def main(out_dir: Path, json_file: str | None) -> None:
    rows, summary = [], []
    for name, make in designs(out_dir):
        r = synth.run(make())
        print(f"\n### {name} ({r['seconds']:.0f} s)\n")
        print("| stage | kind | LUT | est. | diff | FF | BRAM36 | DSP | fmax MHz (est.) |")
        print("|---|---|---|---|---|---|---|---|---|")
        for s in r["stages"]:
            y, e = s["yosys"], s["estimate"]
            d = diff(e["LUT"], y["LUT"])
            rows.append({"design": name, "stage": s["stage"], "kind": s["kind"], "yosys": y, "estimate": e, "diff": d,
                         "fmax_mhz": s["fmax_mhz"]})
            print(f"| {s['stage']} | {s['kind']} | {y['LUT']:,} | {e['LUT']:,} | {d:+.0%} | {y['FF']:,} | "
                  f"{y['BRAM36']:g} | {y['DSP']} | {s['fmax_mhz'] or '-'} |")
        f = r["fifos"]
        d = diff(f["estimate"]["LUT"], f["yosys"]["LUT"])
        rows.append({"design": name, "stage": "FIFOs", "kind": "fifo", "yosys": f["yosys"], "estimate": f["estimate"],
                     "diff": d})
        fifo_fmax = min((k["fmax_mhz"] for k in f["kinds"] if k["fmax_mhz"]), default="-")
        print(f"| FIFOs | fifo | {f['yosys']['LUT']:,} | {f['estimate']['LUT']:,} | {d:+.0%} | {f['yosys']['FF']:,} | "
              f"{f['yosys']['BRAM36']:g} | 0 | {fifo_fmax} |")
        t = r["timing"]
        print(f"\nfmax estimate {t['fmax_mhz']} MHz ({t['limited_by']}): "
              + ("meets" if t["meets"] else "does not meet") + f" {t['clock_mhz']:g} MHz")
        summary.append((name, r["total"]["LUT"], r["estimate_total"]["LUT"] - r["platform"]["LUT"]))
        sys.stdout.flush()
    worst = max(rows, key=lambda x: abs(x["diff"]))
    print(f"\nworst stage: {worst['design']} {worst['stage']} ({worst['kind']}): estimate {worst['estimate']['LUT']:,} "
          f"LUT against yosys {worst['yosys']['LUT']:,} ({worst['diff']:+.0%})")
    for name, got, est in summary:
        print(f"{name}: RTL total {got:,} LUT by yosys, {est:,} estimated ({diff(est, got):+.0%})")
    if json_file:
        Path(json_file).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir", nargs="?")
    ap.add_argument("--json")
    a = ap.parse_args()
    if a.out_dir:
        main(Path(a.out_dir), a.json)
    else:
        with tempfile.TemporaryDirectory() as d:
            main(Path(d), a.json)
