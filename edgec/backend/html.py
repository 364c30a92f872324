"""report.json -> OUT/report.html (templates/report/report.html.j2): one self-contained
offline page (inline CSS and SVG, no scripts, no fetches) with the per-layer table, the
resources against the board, the cycles of every stage with the bottleneck marked, the
multiplications of every execution, and the accuracy and simulator-vs-reference figures.

Everything drawn is computed here from the report; the template only lays it out, and
escapes every name (autoescape: layer names are the model's text)."""
from __future__ import annotations

import re
from pathlib import Path

from ..cost.hw import PLATFORM
from .render import environment
from .report import COLUMNS, HW_COLUMNS, MULT_LABELS, cell

RESOURCES = ("LUT", "FF", "BRAM36", "DSP")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
BAR_W = 480  # px: the width of a full bar (all of the board, or the slowest stage)


def _text(v) -> str:
    """A report cell as page text: control characters (a name may hold any) shown as U+FFFD."""
    return _CONTROL.sub("\ufffd", cell({"v": v}, "v") if not isinstance(v, str) else v)


def _cells(row: dict, columns) -> list[str]:
    return [_text(cell(row, k)) for k, _ in columns]


def _resources(hw: dict) -> list[dict]:
    """Per resource: the design's total (it includes the Zynq platform's share, cost.hw.PLATFORM)
    against the board and the budget; the bar shows the accelerator and the platform apart."""
    out = []
    for k in RESOURCES:
        cap, total = hw["board"][k], float(hw["total"][k])
        plat = min(float(PLATFORM.get(k, 0)), total)
        out.append({"name": k, "total": total, "platform": plat, "board": cap, "share": total / cap if cap else 0.0,
                    "w_design": round(BAR_W * min((total - plat) / cap, 1.0), 1) if cap else 0,
                    "w_platform": round(BAR_W * min(plat / cap, max(0.0, 1.0 - (total - plat) / cap)), 1) if cap else 0,
                    "x_budget": round(BAR_W * hw["budget"], 1), "over": total > hw["budget"] * cap})
    return out


def _stages(hw: dict) -> list[dict]:
    top = max((s["cycles"] for s in hw["stages"]), default=1) or 1
    return [{"stage": _text(s["stage"]), "kind": s["kind"], "cycles": s["cycles"],
             "w": round(BAR_W * s["cycles"] / top, 1), "bottleneck": s["stage"] == hw["bottleneck"]}
            for s in hw["stages"]]


def _mults(m: dict) -> dict:
    direct = m["totals"].get("direct", 0)
    rows = []
    for k, v in m.get("choices", {}).items():
        mults = v.get("mults", 0)
        rows.append({"label": MULT_LABELS[k], "mults": f"{mults:,}",
                     "saving": f"{direct / mults:.2f}x" if mults else "-",
                     "w": round(BAR_W * mults / direct, 1) if direct else 0,
                     **{r: cell(v, r) for r in ("LUT", "FF", "BRAM36", "DSP")},
                     "fps": f"{v['fps']:,.0f}" if "fps" in v else "-", "fits": "yes" if v.get("fits") else "no"})
    return {"rows": rows, "chosen": f"{m['totals'].get('chosen', 0):,}"}


def context(rep: dict, name: str) -> dict:
    hw = rep.get("hardware")
    check = rep.get("sim_vs_reference")
    return {
        "name": _text(name), "board": rep["board"],
        "quantization": {k: _text(v) for k, v in rep.get("quantization", {}).items()},
        "layer_head": [h for _, h in COLUMNS], "layers": [_cells(r, COLUMNS) for r in rep["layers"]],
        "totals": _cells({"layer": "total", **rep["totals"]}, COLUMNS),
        "hw": hw, "bottleneck": _text(hw["bottleneck"]) if hw else "",
        "resources": _resources(hw) if hw else [], "stages": _stages(hw) if hw else [],
        "stage_head": [h for _, h in HW_COLUMNS],
        "stage_rows": [_cells(s, HW_COLUMNS) for s in hw["stages"]] if hw else [],
        "mults": _mults(rep["multiplications"]) if "multiplications" in rep else None,
        "accuracy": rep.get("accuracy"), "bar_w": BAR_W,
        "check": {k: _text(v) if isinstance(v, str) else v for k, v in check.items()} if check else None,
    }


def write(rep: dict, name: str, out: Path) -> None:
    env = environment()
    env.autoescape = True
    out.write_text(env.get_template("report/report.html.j2").render(ctx=context(rep, name)))
