"""DIR/report.html of `edgec explore`: the Pareto fronts (accuracy against LUT, accuracy
against frame rate) as inline SVG plots drawn by matplotlib, every feasible trial grey,
the Pareto designs coloured, each linking to its build's report.html; and the trial table.
One offline file: no scripts, no fetches, deterministic bytes (no dates, a fixed SVG salt)."""
from __future__ import annotations

import io
import re
from pathlib import Path

from .render import environment


def _plot(rows: list[dict], front: list[dict], x: str, y: str, xlabel: str, logx: bool) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"svg.hashsalt": "edgec", "svg.fonttype": "none", "font.size": 9}):
        fig, ax = plt.subplots(figsize=(5.2, 3.6))
        pts = [r for r in rows if r.get(x) is not None and r.get(y) is not None]
        ax.scatter([r[x] for r in pts], [r[y] for r in pts], s=14, c="#bbbbbb", label="trials")
        fr = sorted(front, key=lambda r: r[x])
        sc = ax.scatter([r[x] for r in fr], [r[y] for r in fr], s=30, c="#b3261e", label="Pareto designs")
        sc.set_urls([f"{r['build']}/report.html" if r.get("build") else None for r in fr])
        ax.plot([r[x] for r in fr], [r[y] for r in fr], c="#b3261e", lw=0.8, alpha=0.5)
        if logx:
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
        fig.tight_layout()
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
        plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]  # the element only: it sits inline in the page
    return re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.S)  # matplotlib's RDF block


def write(rows: list[dict], summary: dict, out: Path) -> None:
    front = summary["pareto"]
    params = sorted({k for r in rows for k in r if k.startswith("param:")})
    ctx = {"summary": summary, "rows": rows, "params": params,
           "lut_plot": _plot([r for r in rows if r.get("accuracy") is not None], front, "LUT", "accuracy", "LUT",
                             True),
           "fps_plot": _plot([r for r in rows if r.get("accuracy") is not None], front, "fps", "accuracy",
                             "frames per second", True)}
    env = environment()
    env.autoescape = True
    out.write_text(env.get_template("report/explore.html.j2").render(ctx=ctx))
