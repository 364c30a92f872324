"""`edgec explore`: the design-space search, on Ray Tune.

Each trial is one `edgec.build` of the model with settings drawn from the space (bits,
Winograd, pruning, sparsity, low rank, target frame rate, fine-tuning epochs, per-layer
bits), on one CPU of a Ray cluster (a local one by default). It measures the accuracy of
the simulator on the labelled data (or its top-1 agreement with the float model when there
are no labels) and takes LUT, FF, BRAM36, DSP and the frame rate from the cost model; fine-
tuning reports its loss after every epoch, so an ASHA scheduler stops the fine-tunes that
lag. A trial whose build fails is recorded with its error and the search goes on.

Results in DIR: trials.csv (every trial's settings, metrics, status and error),
pareto.json (the non-dominated feasible designs under the space's objectives), pareto/<id>/
(each Pareto design's build folder; the other trials' builds are removed), report.html (the
Pareto fronts as plots, each point linking to its build's report), and ray/ (Ray Tune's own
state, which ``resume`` continues). The space file is YAML:

    searcher: random        # random (default), grid, or optuna (model-based)
    samples: 24             # trials (random, optuna); grid: every combination
    seed: 0
    params:                 # each a list of choices
      preset: [w1a1, w2a2, int4, int8]
      winograd: [off, f2]
      prune: [0.0, 0.5]
      requant: [off, auto]  # any other build option of the list PARAMS, by its edgec.build name
      finetune_epochs: [0, 10]
      layers: {conv2d: {wbits: [4, 8]}}   # per-layer bits
    objectives: {accuracy: max, LUT: min, fps: max}
    constraints: {fits: true, min_fps: 1000, min_accuracy: 90}

Deterministic for a seed with the random and grid searchers (each trial's build is
deterministic; the order of proposals is the seeded generator's); optuna proposes from
the results it has seen, so it is deterministic with ``jobs=1``.
"""
from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
import shutil
from pathlib import Path

import yaml

from .errors import EdgecError

SEARCHERS = ("random", "grid", "optuna")
METRICS = ("accuracy", "fps", "LUT", "FF", "BRAM36", "DSP")
MODES = ("max", "min")
# space parameters -> edgec.build keyword arguments
PARAMS = {"preset": "preset", "wbits": "wbits", "abits": "abits", "winograd": "winograd", "prune": "prune",
          "prune_mode": "prune_mode", "sparse": "sparse", "lowrank": "lowrank", "target_fps": "target_fps",
          "finetune_epochs": "finetune_epochs", "requant": "requant"}
LAYER_KEYS = ("wbits", "abits")
WORD_PARAMS = ("winograd", "sparse", "prune_mode", "requant")
CONSTRAINTS = ("fits", "min_fps", "min_accuracy")
DEFAULT_OBJECTIVES = {"accuracy": "max", "LUT": "min", "fps": "max"}


# ---- the space -------------------------------------------------------------------------------

def _choices(where: str, v) -> list:
    if not isinstance(v, list) or not v:
        raise EdgecError(f"space {where}: give a non-empty list of choices, e.g. [w2a2, int4]")
    for c in v:
        if not isinstance(c, (str, int, float, bool)) and c is not None:
            raise EdgecError(f"space {where}: choice {c!r} is not a number or a word")
    return v


def load_space(path) -> dict:
    """The space file, checked: every key known, every list non-empty (YAML safe_load: no tags)."""
    p = Path(path)
    if not p.is_file():
        raise EdgecError(f"--space {path}: no such file")
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise EdgecError(f"--space {path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("params"), dict) or not raw["params"]:
        raise EdgecError(f"--space {path}: give a mapping with 'params' (each a list of choices)")
    unknown = set(raw) - {"searcher", "samples", "seed", "params", "objectives", "constraints"}
    if unknown:
        raise EdgecError(f"--space {path}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; known: searcher, "
                         "samples, seed, params, objectives, constraints")
    space = {"searcher": raw.get("searcher", "random"), "samples": raw.get("samples", 24),
             "seed": raw.get("seed", 0), "params": {}, "layers": {},
             "objectives": raw.get("objectives", DEFAULT_OBJECTIVES), "constraints": raw.get("constraints", {})}
    if space["searcher"] not in SEARCHERS:
        raise EdgecError(f"space searcher {space['searcher']!r}: give one of {', '.join(SEARCHERS)}")
    for k in ("samples", "seed"):
        if not isinstance(space[k], int) or isinstance(space[k], bool) or space[k] < (1 if k == "samples" else 0):
            raise EdgecError(f"space {k} {space[k]!r}: give a {'positive' if k == 'samples' else 'non-negative'} "
                             "integer")
    for k, v in raw["params"].items():
        if k == "layers":
            if not isinstance(v, dict) or not v:
                raise EdgecError("space params.layers: give {layer: {wbits: [...], abits: [...]}}")
            for layer, spec in v.items():
                if not isinstance(spec, dict) or not spec or set(spec) - set(LAYER_KEYS):
                    raise EdgecError(f"space params.layers.{layer}: give wbits and/or abits, each a list")
                for lk, lv in spec.items():
                    space["layers"][f"{layer}.{lk}"] = _choices(f"params.layers.{layer}.{lk}", lv)
        elif k in PARAMS:
            # YAML 1.1 reads off/on as booleans: the word options take them back as words
            words = k in WORD_PARAMS
            space["params"][k] = [("on" if c else "off") if words and isinstance(c, bool) else c
                                  for c in _choices(f"params.{k}", v)]
        else:
            raise EdgecError(f"space params.{k}: unknown; give any of {', '.join([*PARAMS, 'layers'])}")
    obj = space["objectives"]
    if not isinstance(obj, dict) or not obj or any(k not in METRICS or m not in MODES for k, m in obj.items()):
        raise EdgecError(f"space objectives: give {{metric: max|min}} with metrics among {', '.join(METRICS)}")
    con = space["constraints"]
    if not isinstance(con, dict) or set(con) - set(CONSTRAINTS):
        raise EdgecError(f"space constraints: give any of {', '.join(CONSTRAINTS)}")
    return space


def _axes(space: dict) -> list[tuple[str, list]]:
    return [*space["params"].items(), *((f"layer:{k}", v) for k, v in space["layers"].items())]


def designs(space: dict, n: int) -> list[dict]:
    """The random and grid searchers' trials, in order: grid, every combination; random, n distinct
    combinations drawn with the space's seed (all of them when there are fewer)."""
    import itertools

    import numpy as np

    axes = _axes(space)
    size = math.prod(len(v) for _, v in axes)
    if space["searcher"] == "grid" or size <= n:
        picks = list(itertools.product(*(range(len(v)) for _, v in axes)))
    else:
        rng = np.random.default_rng(space["seed"])
        seen: dict = {}
        while len(seen) < n:
            seen.setdefault(tuple(int(rng.integers(len(v))) for _, v in axes), None)
        picks = list(seen)
    return [{k: v[i] for (k, v), i in zip(axes, pick)} for pick in picks]


# ---- one trial -------------------------------------------------------------------------------

def trial_id(config: dict) -> str:
    """A trial's name from its settings alone (the same settings, the same folder)."""
    return "t" + hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:10]


def build_kwargs(config: dict, workdir: Path) -> dict:
    """A trial's settings as edgec.build keyword arguments (per-layer bits via a config file)."""
    kw = {PARAMS[k]: v for k, v in config.items() if k in PARAMS and v is not None}
    layers: dict = {}
    for k, v in config.items():
        if k.startswith("layer:"):
            layer, what = k[len("layer:"):].rsplit(".", 1)
            layers.setdefault(layer, {})[what] = v
    if layers:
        cfg = workdir / f"{trial_id(config)}.yaml"
        body = {"layers": layers}
        if "preset" in kw:
            body["preset"] = kw.pop("preset")
        cfg.write_text(yaml.safe_dump(body, sort_keys=True))
        kw["config"] = str(cfg)
    return kw


def metrics(rep: dict) -> dict:
    """A build's figures for the search: accuracy (labels) or agreement with the float model."""
    hw = rep.get("hardware", {})
    acc = rep.get("accuracy", {}).get("sim")
    if acc is None:
        acc = rep.get("agreement", {}).get("top1_vs_float", 0.0)
    total = hw.get("total", {})
    return {"accuracy": float(acc), "fps": float(hw.get("fps", 0.0)), "fits": bool(hw.get("fits", False)),
            **{k: float(total.get(k, 0.0)) for k in ("LUT", "FF", "BRAM36", "DSP")}}


def _worst(objectives: dict) -> dict:
    return {k: (0.0 if m == "max" else 1e12) for k, m in objectives.items()}


def _trainable(config: dict, *, model, board: str, calib, labels, input_shape, builds: str, objectives: dict,
               seed: int):
    """Ray Tune's function trainable: one build; the fine-tune loss after each epoch, then the metrics."""
    import torch
    from ray import tune

    from .compiler import build

    torch.set_num_threads(1)
    config = config.get("design", config)  # random and grid: the design edgec drew; optuna: its own proposal
    tid = trial_id(config)
    out = Path(builds) / f"{tid}-{tune.get_context().get_trial_id()}"
    if out.exists():
        shutil.rmtree(out)
    epochs = [0]

    def on_epoch(ep, n, loss):
        epochs[0] = ep
        tune.report({"finetune_loss": float(loss), "epoch": ep, "complete": False, **_worst(objectives)})

    try:
        res = build(model, out, board=board, calib=calib, labels=labels, input_shape=input_shape, seed=seed,
                    progress=None, on_epoch=on_epoch, **build_kwargs(config, Path(builds)))
    except EdgecError as e:  # the search goes on: the trial is recorded with its error
        tune.report({"finetune_loss": 1e9, "epoch": epochs[0], "complete": True, "error": str(e), "build": "",
                     "trial": tid, **_worst(objectives), "fits": False})
        return
    tune.report({"finetune_loss": 0.0, "epoch": epochs[0], "complete": True, "error": "", "build": str(out),
                 "trial": tid, **metrics(res.report)})


# ---- the search ------------------------------------------------------------------------------

def _param_space(space: dict, n: int) -> dict:
    from ray import tune

    if space["searcher"] == "optuna":
        return {k: tune.choice(v) for k, v in _axes(space)}
    return {"design": tune.grid_search(designs(space, n))}


def _searcher(space: dict, jobs: int):
    from ray.tune.search import BasicVariantGenerator, ConcurrencyLimiter

    if space["searcher"] == "optuna":
        from ray.tune.search.optuna import OptunaSearch

        obj = space["objectives"]
        return ConcurrencyLimiter(OptunaSearch(metric=list(obj), mode=list(obj.values()), seed=space["seed"]),
                                  max_concurrent=jobs)
    return BasicVariantGenerator(max_concurrent=jobs)


def _callback(progress, total):
    from ray.tune import Callback

    class Report(Callback):
        """A progress line per finished trial."""

        def __init__(self):
            self.done = 0

        def on_trial_complete(self, iteration, trials, trial, **info):
            self.done += 1
            m = trial.last_result or {}
            what = ("stopped early (its fine-tune lagged)" if not m.get("complete") else
                    f"error: {m['error'][:120]}" if m.get("error") else
                    f"accuracy {m.get('accuracy', 0):.2f}%, {m.get('LUT', 0):,.0f} LUT, {m.get('fps', 0):,.0f} fps")
            progress(f"explore: trial {self.done}/{total} {trial_id(trial.config.get('design', trial.config))}: {what}")

        def on_trial_error(self, iteration, trials, trial, **info):
            self.done += 1
            progress(f"explore: trial {self.done}/{total} failed: {trial.error_file or ''}")

    return Report()


def feasible(row: dict, constraints: dict) -> bool:
    if row.get("status") != "done" or row.get("error"):
        return False
    if constraints.get("fits", False) and not row.get("fits"):
        return False
    if row.get("fps", 0.0) < float(constraints.get("min_fps", 0.0)):
        return False
    return row.get("accuracy", 0.0) >= float(constraints.get("min_accuracy", 0.0))


def dominates(a: dict, b: dict, objectives: dict) -> bool:
    """a is at least as good as b on every objective and better on one."""
    ge = [(a[k] >= b[k]) if m == "max" else (a[k] <= b[k]) for k, m in objectives.items()]
    gt = [(a[k] > b[k]) if m == "max" else (a[k] < b[k]) for k, m in objectives.items()]
    return all(ge) and any(gt)


def pareto(rows: list[dict], objectives: dict) -> list[dict]:
    """The non-dominated rows (one of each set of identical points), in trial order."""
    front, seen = [], set()
    for r in rows:
        key = tuple(r[k] for k in objectives)
        if key not in seen and not any(dominates(o, r, objectives) for o in rows):
            front.append(r)
            seen.add(key)
    return front


def build_flag(param: str) -> str:
    """The `edgec build` option of a space parameter (tests/test_explore.py holds it against the parser)."""
    return "--" + PARAMS[param].replace("_", "-")


def rebuild_command(model, board: str, config: dict, out: str, calib=None, labels=None) -> str:
    """The `edgec build` command line that rebuilds a trial's design."""
    parts = ["edgec", "build"] + ([str(model)] if model is not None else []) + ["--board", board, "-o", out]
    if calib:
        parts += ["--calib", str(calib)] + (["--labels", str(labels)] if labels else [])
    for k, v in sorted(config.items()):
        if k in PARAMS and v is not None:  # each build keyword is the `edgec build` flag of its name
            parts += [build_flag(k), str(v)]
    if any(k.startswith("layer:") for k in config):
        parts += ["--config", f"{trial_id(config)}.yaml"]
    return " ".join(parts)


def explore(model, board: str, space_path, out, budget: int | None = None, address: str | None = None,
            resume: bool = False, calib=None, labels=None, input_shape=None, jobs: int | None = None,
            progress=lambda m: None) -> dict:
    """Run the search (see the module's doc); returns {"trials", "pareto", "best", "command"}."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # Ray Tune's own console tables off: edgec reports progress
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    import ray
    from ray import tune

    from . import boards

    board = boards.get(board).name
    space = load_space(space_path)
    out = Path(out).resolve()
    if resume and not (out / "ray" / "explore").is_dir():
        raise EdgecError(f"--resume: {out} holds no earlier search (no ray/explore folder)")
    if not resume and out.exists() and any(out.iterdir()):
        raise EdgecError(f"-o {out}: the folder is not empty; give a new folder, or --resume an earlier search there")
    (out / "builds").mkdir(parents=True, exist_ok=True)
    n = budget if budget is not None else space["samples"]
    if budget is not None and budget < 1:
        raise EdgecError(f"--budget {budget}: give at least 1")
    total = n if space["searcher"] == "optuna" else len(designs(space, n))
    jobs = jobs or (os.cpu_count() or 1)
    obj = space["objectives"]
    fn = tune.with_parameters(_trainable, model=model, board=board, calib=calib, labels=labels,
                              input_shape=input_shape, builds=str(out / "builds"), objectives=obj,
                              seed=space["seed"])
    fn = tune.with_resources(fn, {"cpu": 1})
    if not ray.is_initialized():
        ray.init(address=address, num_cpus=None if address else jobs, include_dashboard=False,
                 log_to_driver=False, logging_level=logging.ERROR)
    from ray.tune.schedulers import ASHAScheduler

    epochs = [e for e in space["params"].get("finetune_epochs", [0]) if e]
    scheduler = ASHAScheduler(time_attr="training_iteration", metric="finetune_loss", mode="min",
                              max_t=max(epochs, default=1) + 1, grace_period=max(1, min(epochs, default=1) // 2),
                              reduction_factor=2) if epochs else None
    progress(f"explore: {total} trials ({space['searcher']}) on "
             f"{'the Ray cluster at ' + address if address else f'a local Ray with {jobs} CPUs'}")
    if resume:
        # trials have no checkpoints: the unfinished and the interrupted (errored) ones start again
        tuner = tune.Tuner.restore(str(out / "ray" / "explore"), fn, resume_unfinished=True, restart_errored=True)
    else:
        tuner = tune.Tuner(
            fn, param_space=_param_space(space, n),
            tune_config=tune.TuneConfig(num_samples=n if space["searcher"] == "optuna" else 1,
                                        search_alg=_searcher(space, jobs), scheduler=scheduler),
            run_config=tune.RunConfig(name="explore", storage_path=str(out / "ray"), verbose=0,
                                      callbacks=[_callback(progress, total)],
                                      failure_config=tune.FailureConfig(max_failures=0)))
    results = tuner.fit()
    trials = getattr(getattr(results, "_experiment_analysis", None), "trials", None) or []
    if len(results) < total or any(t.status not in ("TERMINATED", "ERROR") for t in trials):  # Ctrl-C, SIGTERM
        progress(f"explore: interrupted; `edgec explore ... -o {out} --resume` continues the search")
        raise KeyboardInterrupt
    rows = _rows(results, obj)
    return _finish(rows, space, out, model, board, calib, labels, progress)


def _rows(results, objectives: dict) -> list[dict]:
    rows = []
    for r in results:
        m = dict(r.metrics or {})
        config = dict((r.config or {}).get("design", r.config or {}))
        status = "done" if m.get("complete") else "error" if r.error else "stopped"
        row = {"trial": trial_id(config), "status": status, "error": m.get("error") or (str(r.error).splitlines()[0]
                                                                                           if r.error else ""),
               "epochs": m.get("epoch", 0), "build": m.get("build", "") if m.get("complete") else "",
               **{f"param:{k}": v for k, v in sorted(config.items())}}
        for k in (*METRICS, "fits"):
            row[k] = m.get(k) if status == "done" and not row["error"] else None
        rows.append(row)
    rows.sort(key=lambda r: r["trial"])
    return rows


def _finish(rows, space, out: Path, model, board, calib, labels, progress) -> dict:
    obj, con = space["objectives"], space["constraints"]
    ok = [r for r in rows if feasible(r, con)]
    front = pareto(ok, obj)
    keep = {r["trial"] for r in front}
    (out / "pareto").mkdir(exist_ok=True)
    for r in rows:
        src = Path(r["build"]) if r["build"] else None
        if r["trial"] in keep and src is not None and src.is_dir():
            dst = out / "pareto" / r["trial"]
            if dst.exists():
                shutil.rmtree(dst)
            shutil.move(str(src), str(dst))
            r["build"] = f"pareto/{r['trial']}"
        elif src is not None:
            shutil.rmtree(src, ignore_errors=True)
            r["build"] = ""
    shutil.rmtree(out / "builds", ignore_errors=True)
    cols = sorted({k for r in rows for k in r}, key=lambda k: (k.startswith("param:"), k))
    with open(out / "trials.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if r.get(k) is None else r[k] for k in cols})
    best = max(ok, key=lambda r: (r["accuracy"], -r["LUT"], r["fps"]), default=None)
    config_of = {r["trial"]: {k[len("param:"):]: v for k, v in r.items() if k.startswith("param:")} for r in rows}
    cmd = rebuild_command(model if not callable(getattr(model, "forward", None)) else None, board,
                          config_of[best["trial"]], "OUT", calib, labels) if best else None
    summary = {"objectives": obj, "constraints": con, "trials": len(rows),
               "done": sum(r["status"] == "done" and not r["error"] for r in rows),
               "failed": sum(bool(r["error"]) for r in rows), "stopped": sum(r["status"] == "stopped" for r in rows),
               "pareto": [{**{k: r[k] for k in ("trial", "build", *METRICS, "fits")}, "config": config_of[r["trial"]]}
                          for r in front],
               "best": best and {**{k: best[k] for k in ("trial", "build", *METRICS)}, "command": cmd}}
    (out / "pareto.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    from .backend import explore_html

    explore_html.write(rows, summary, out / "report.html")
    progress(f"explore: {summary['done']} designs built, {summary['failed']} failed, {summary['stopped']} stopped "
             f"early; {len(front)} on the Pareto front")
    return summary


__all__ = ["explore", "load_space", "pareto", "dominates", "feasible", "SEARCHERS"]
