"""`edgec verify OUT --inputs X.npy`: a build's simulator on a whole data set, against the
reference the build kept (OUT/reference, verify.save_reference), sharded over local cores
or a Ray cluster, with csim and cosim on the first vectors.

The input file is split into shards by index ranges; every shard (a Ray task, or in this
process for one job) loads OUT's simulator and the reference, reads its rows of the
memory-mapped input file and runs the build-time checks of edgec.verify on them in batches
of bounded memory: ``check_qonnx`` (qonnx execute_onnx, every quantized activation),
``check_onnxruntime`` (an int8 ONNX model's output codes), ``check_pt2e`` (PyTorch's
execution of a PT2E-quantized program, "pytorch") or ``compare`` (the fake-quant
reference of a float model, "torch"). Mismatches and ties count as those checks count them
(docs/design.md §4). On a cluster, OUT and the input files must be at the same paths on
every node (a shared file system) and edgec installed there.
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np

from . import outdir, validate
from .errors import EdgecError
from .options import VERIFY_REFERENCES
from .verify import REFERENCE_DIR

SHARD_MIN = 100  # vectors: a shard loads the simulator and the reference, so not fewer
SHARDS_PER_JOB = 4  # for a progress bar that moves


def references(d: Path) -> str | None:
    """The reference OUT keeps (verify.save_reference: reference.json), or None."""
    p = d / REFERENCE_DIR / "reference.json"
    if not p.is_file():
        return None
    try:
        r = json.loads(p.read_text()).get("reference")
    except (ValueError, AttributeError):
        raise EdgecError(f"'{p}' is damaged; rebuild the folder") from None
    if r not in VERIFY_REFERENCES[1:]:
        raise EdgecError(f"'{p}' names an unknown reference {r!r}; rebuild the folder")
    return r


def choose_reference(d: Path, want: str) -> str:
    have = references(d)
    if want not in VERIFY_REFERENCES:
        raise EdgecError(f"--reference {want!r}: choose one of {', '.join(VERIFY_REFERENCES)}")
    if have is None:
        raise EdgecError(f"'{d}' keeps no reference to verify against (no reference/reference.json: built by an "
                         "older edgec, or from a model whose reference cannot be stored); rebuild it")
    if want not in ("auto", have):
        kinds = {"qonnx": "a QONNX model", "onnxruntime": "an int8 ONNX model", "torch": "a float model",
                 "pytorch": "a PT2E-quantized program"}
        raise EdgecError(f"--reference {want}: '{d}' was built from {kinds[have]}, whose reference is {have}; "
                         f"give --reference {have} or auto")
    return have


def _shard(out: str, inputs: str, labels, start: int, stop: int, reference: str, memory: int,
           threads: int | None = None) -> dict:
    """One shard: the simulator against the reference on inputs[start:stop]."""
    t0 = time.perf_counter()
    if threads:
        import torch

        torch.set_num_threads(threads)
    import onnx

    from .backend import sim as sim_backend
    from .ir.graph import Graph
    from .verify import check_onnxruntime, check_pt2e, check_qonnx, compare, load_qnet

    d = Path(out)
    sim = sim_backend.load(d / "sim")
    x = np.load(inputs, mmap_mode="r", allow_pickle=False)[start:stop]
    correct = [0]

    def seen(i, q, y):
        if labels is not None:
            correct[0] += int((y.reshape(len(y), -1).argmax(1) == labels[i : i + len(y)]).sum())

    ref = d / REFERENCE_DIR
    if reference in ("qonnx", "onnxruntime"):
        model = onnx.load(str(ref / "model.onnx"))
        g = Graph.load(d / "model")
        r = (check_qonnx if reference == "qonnx" else check_onnxruntime)(model, g, sim, x, on_outputs=seen)
        r = {"vectors": r["vectors"], "mismatches": r["mismatches"], "ties": r["ties"], "mismatched": r["mismatched"]}
    elif reference == "pytorch":  # the program PyTorch executes, in batches of bounded memory
        from .frontend.torch_import import load_pt2

        ep = load_pt2(ref / "model.pt2")
        g = Graph.load(d / "model")
        step = max(1, min(1024, memory // (4 * sim.PER_SAMPLE_BYTES)))  # PyTorch keeps every quantizer's values
        r = {"vectors": 0, "mismatches": 0, "ties": 0, "mismatched": np.zeros(0, np.int64)}
        for i in range(0, len(x), step):
            c = check_pt2e(ep, g, sim, np.asarray(x[i : i + step]), on_outputs=lambda _, q, y, i=i: seen(i, q, y))
            r = {"vectors": r["vectors"] + c["vectors"], "mismatches": r["mismatches"] + c["mismatches"],
                 "ties": r["ties"] + c["ties"], "mismatched": np.concatenate([r["mismatched"], c["mismatched"] + i])}
    else:
        qnet = load_qnet(ref)
        step = max(1, min(4096, memory // (3 * sim.PER_SAMPLE_BYTES)))  # the reference holds as much again
        r = {"vectors": 0, "mismatches": 0, "ties": 0, "mismatched": np.zeros(0, np.int64)}
        for i in range(0, len(x), step):
            c = compare(qnet, sim, np.asarray(x[i : i + step]))
            seen(i, c["q"], c["y"])
            r = {"vectors": r["vectors"] + c["vectors"], "mismatches": r["mismatches"] + c["mismatches"],
                 "ties": r["ties"] + c["ties"], "mismatched": np.concatenate([r["mismatched"], c["mismatched"] + i])}
    return {"start": start, "stop": stop, "vectors": int(r["vectors"]), "mismatches": int(r["mismatches"]),
            "ties": int(r["ties"]), "mismatched": [int(v) + start for v in r["mismatched"][:100]],
            "correct": correct[0] if labels is not None else None, "seconds": time.perf_counter() - t0,
            "engine": sim.ENGINE, "node": os.uname().nodename}


def shards(n: int, jobs: int) -> list[tuple[int, int]]:
    """Index ranges covering [0, n): about SHARDS_PER_JOB per job, at least SHARD_MIN vectors each."""
    k = max(1, min(jobs * SHARDS_PER_JOB, n // SHARD_MIN))
    size = math.ceil(n / k)
    return [(i, min(n, i + size)) for i in range(0, n, size)]


def _ray(address, jobs):
    try:
        import ray
    except ImportError:
        raise EdgecError("verify on more than one job needs Ray: pip install 'edgec[explore]' (scripts/setup.sh "
                         "does this), or give --jobs 1") from None
    import logging

    if not ray.is_initialized():
        try:
            ray.init(address=address, num_cpus=None if address else jobs, include_dashboard=False,
                     log_to_driver=False, logging_level=logging.ERROR)
        except Exception as e:  # noqa: BLE001 - no cluster there, a version clash: one line
            raise EdgecError(f"--address {address}: cannot connect to the Ray cluster: "
                             f"{(str(e).strip().splitlines() or [type(e).__name__])[0]}") from None
    return ray


def verify(out, inputs, labels=None, reference: str = "auto", csim_vectors: int = 0, cosim_vectors: int = 0,
           address: str | None = None, jobs: int | None = None, memory: int = 1 << 30, simulator: str = "icarus",
           progress=None) -> dict:
    """Verify the build in ``out`` on the .npy ``inputs`` (and ``labels``): see the module's
    docstring. Returns the result of `edgec verify --json`."""
    progress = progress or (lambda m: None)
    d, manifest = outdir.open_build(out, "sim", "model.json", "model.npz")
    if any(f.startswith(REFERENCE_DIR + "/") for f in manifest["files"]):
        outdir.open_build(out, REFERENCE_DIR)  # as the build wrote it
    ref = choose_reference(d, reference)
    for flag, v in (("--csim", csim_vectors), ("--cosim", cosim_vectors)):
        validate.integer(v, flag, 0, None, "a number of vectors")
    if jobs is not None:
        validate.integer(jobs, "--jobs", 1, None, "a number of jobs")
    inputs_path = Path(inputs)
    x = validate.numeric(validate.load_array(inputs, "--inputs", mmap=True), "--inputs",
                         tuple(manifest["input_shape"]))
    n = len(x)
    lab = None
    if labels is not None:
        lab = validate.labels(validate.load_array(labels, "--labels"), n, "--labels",
                              math.prod(manifest["output_shape"]))
    t0 = time.perf_counter()
    local = address is None and (jobs or 0) == 1
    if not local:
        ray = _ray(address, jobs or (os.cpu_count() or 1))
        jobs = int(ray.cluster_resources().get("CPU", 1)) if address else (jobs or (os.cpu_count() or 1))
    parts = shards(n, jobs or 1)
    where = "this process" if local else (f"the Ray cluster at {address}" if address else "a local Ray")
    progress(f"verifying {n:,} vectors against {ref} in {len(parts)} shards on {where} ({jobs} CPUs)")
    bar = progress.counter("verify", n) if hasattr(progress, "counter") else \
        (lambda done: progress(f"verify: {done:,}/{n:,} vectors"))
    args = (str(d), str(inputs_path.resolve()))
    results, done = [], 0
    if local:
        for a, b in parts:
            results.append(_shard(*args, None if lab is None else lab[a:b], a, b, ref, memory))
            done += b - a
            bar(done)
    else:
        task = ray.remote(num_cpus=1)(_shard)
        pending = [task.remote(*args, None if lab is None else lab[a:b], a, b, ref, memory, 1) for a, b in parts]
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            try:
                r = ray.get(ready[0])
            except Exception as e:  # noqa: BLE001 - a shard failing: one line, with its first line
                msg = (str(e).strip().splitlines() or [type(e).__name__])[-1]
                raise EdgecError(f"a verify shard failed: {msg}"[:600]) from None
            results.append(r)
            done += r["stop"] - r["start"]
            bar(done)
    results.sort(key=lambda r: r["start"])
    res = {"out": str(d), "vectors": sum(r["vectors"] for r in results), "reference": ref,
           "mismatches": sum(r["mismatches"] for r in results), "ties": sum(r["ties"] for r in results),
           "first_mismatches": [i for r in results for i in r["mismatched"]][:10],
           "accuracy": None if lab is None else round(100 * sum(r["correct"] for r in results) / n, 2),
           "shards": len(results), "jobs": jobs, "ray": None if local else (address or "local"),
           "engine": results[0]["engine"], "seconds": round(time.perf_counter() - t0, 2), "csim": None,
           "cosim": None}
    if csim_vectors:
        from . import csim

        xs = np.asarray(x[: min(csim_vectors, n)])
        c = csim.run(d, xs, len(xs), progress=progress)
        res["csim"] = {k: c[k] for k in ("vectors", "mismatches", "compile_s", "run_s")}
    if cosim_vectors:
        from .cosim.run import run as cosim_run

        xs = np.asarray(x[: min(cosim_vectors, n)])
        c = cosim_run(d, simulator, xs, len(xs), progress=progress)
        res["cosim"] = {k: c[k] for k in ("vectors", "mismatches", "cycles_per_frame", "fps", "ok")}
        res["cosim"]["simulator"] = simulator
    res["ok"] = res["mismatches"] == 0 and (res["csim"] is None or res["csim"]["mismatches"] == 0) and \
        (res["cosim"] is None or bool(res["cosim"]["ok"]))
    return res
