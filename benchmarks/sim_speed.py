"""Throughput of edgec's generated simulator, fast path against numpy path, beside
onnxruntime's float execution of the same network (issue 21, item 4: the part without
hls4ml and qonnx).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sim_speed.py [--n 4096] [--out DIR]

Networks: the built-in example (the digits CNN at w2a2, and at w1a1: xnor-popcount), a
16-64-32-32-5 MLP at int8 (random weights, the jet-tagging shape) and a small CIFAR-sized
CNN at int4 (3x32x32: conv 16, pool, conv 32, pool, conv 64, pool, linear 10; random
weights). Each is built with `edgec.build`; the simulator runs ``--n`` random inputs
batched (run's own batches) on one thread, engine torch and engine numpy, and
onnxruntime runs the float model exported to ONNX with one intra-op thread on the same
inputs at once. Prints a Markdown table of samples per second (best of ``--repeat``
runs) and whether the two engines' integer outputs are equal.
"""
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one thread, before numpy loads
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import edgec  # noqa: E402
from edgec.backend import sim as sim_backend  # noqa: E402
from edgec.examples import digits  # noqa: E402


class JetMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32),
                                 nn.ReLU(), nn.Linear(32, 5))

    def forward(self, x):
        return self.net(x)


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16)
        self.c2, self.b2 = nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32)
        self.c3, self.b3 = nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64)
        self.fc = nn.Linear(64 * 4 * 4, 10)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.b1(self.c1(x))), 2)
        x = nn.functional.max_pool2d(torch.relu(self.b2(self.c2(x))), 2)
        x = nn.functional.max_pool2d(torch.relu(self.b3(self.c3(x))), 2)
        return self.fc(torch.flatten(x, 1))


def networks(rng):
    """(name, float torch module, input shape, build kwargs, float inputs for calibration/benchmark)."""
    torch.manual_seed(0)
    yield "digits CNN (example) w2a2", digits.model(), digits.INPUT_SHAPE, dict(preset="w2a2", finetune_epochs=0), None
    yield "digits CNN (example) w1a1", digits.model(), digits.INPUT_SHAPE, dict(preset="w1a1", finetune_epochs=0), None
    yield "MLP 16-64-32-32-5 int8", JetMLP().eval(), (16,), dict(preset="int8"), rng.normal(size=(512, 16))
    yield "CNN 3x32x32 int4", SmallCNN().eval(), (3, 32, 32), dict(preset="int4"), rng.normal(size=(256, 3, 32, 32))


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def onnxruntime_rate(module, shape, x, repeat, path):
    import onnxruntime as ort

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.zeros(1, *shape),), str(path), dynamo=False, input_names=["x"],
                          dynamic_axes={"x": {0: "n"}})
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    s = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    xf = x.astype(np.float32)
    s.run(None, {"x": xf[:8]})
    return len(x) / best_of(lambda: s.run(None, {"x": xf}), repeat)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=4096, help="inputs per run (default 4096)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out", help="folder for the builds (default: a temporary one)")
    a = p.parse_args()
    torch.set_num_threads(1)
    out = Path(a.out or tempfile.mkdtemp())
    rng = np.random.default_rng(0)
    print(f"{a.n} inputs, one thread, best of {a.repeat}; torch {torch.__version__}, numpy {np.__version__}")
    print("| network | edgec torch samples/s | edgec numpy samples/s | torch / numpy | onnxruntime float samples/s "
          "| torch / onnxruntime | engines equal |")
    print("|---|---|---|---|---|---|---|")
    for i, (name, module, shape, kw, calib) in enumerate(networks(rng)):
        d = out / f"net{i}"
        if calib is None:
            res = edgec.build(None, d, progress=None, **kw)
        else:
            res = edgec.build(module, d, input_shape=shape, calib=calib, progress=None, **kw)
        sim = sim_backend.load(res.out / "sim")
        x = rng.normal(size=(a.n, *shape)) if calib is not None else \
            np.resize(digits.test_split()[0], (a.n, *shape))
        rates, q = {}, {}
        for engine in ("torch", "numpy"):
            sim.run(x[:16], engine=engine)  # warm: weights loaded, torch tensors derived
            q[engine] = sim.run(x, engine=engine)[0]
            rates[engine] = a.n / best_of(lambda: sim.run(x, engine=engine), a.repeat)
        ort_rate = onnxruntime_rate(module, shape, x, a.repeat, d / "float.onnx")
        print(f"| {name} | {rates['torch']:,.0f} | {rates['numpy']:,.0f} | {rates['torch'] / rates['numpy']:.1f}x "
              f"| {ort_rate:,.0f} | {rates['torch'] / ort_rate:.2f} | {np.array_equal(q['torch'], q['numpy'])} |",
              flush=True)


if __name__ == "__main__":
    main()
