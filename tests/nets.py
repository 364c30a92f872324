"""Small networks shared by the tests: random float graphs and torch modules."""
import numpy as np
import torch
from torch import nn

from edgec.frontend.fgraph import FGraph, FNode, infer_shapes


def random_fgraph(rng: np.random.Generator, residual: bool, depthwise: bool, pool: str, mlp: bool) -> FGraph:
    """A small random net: conv(+BN with some negative gammas)+ReLU, optional residual
    add, depthwise conv, max/avg/global pool, linear head; or an MLP."""
    def bn(name, c, inp):
        return FNode(name, "bn", [inp], {"eps": 1e-5}, {
            "gamma": rng.normal(size=c), "beta": rng.normal(size=c),
            "mean": rng.normal(size=c) * 0.3, "var": rng.uniform(0.3, 2.0, size=c)})

    if mlp:
        f = int(rng.integers(3, 20))
        h = int(rng.integers(2, 16))
        nodes = [FNode("x", "input", [], {"shape": (f,)}),
                 FNode("fc1", "linear", ["x"], {},
                       {"weight": rng.normal(size=(h, f)), "bias": rng.normal(size=h) * 0.2}),
                 bn("bn1", h, "fc1"), FNode("r1", "relu", ["bn1"]),
                 FNode("fc2", "linear", ["r1"], {},
                       {"weight": rng.normal(size=(h, h)), "bias": rng.normal(size=h) * 0.2}),
                 FNode("r2", "relu", ["fc2"]),
                 FNode("fc3", "linear", ["r2"], {}, {"weight": rng.normal(size=(4, h)), "bias": rng.normal(size=4)})]
        return infer_shapes(FGraph(nodes, "fc3"))
    cin, c = int(rng.integers(1, 4)), int(rng.integers(2, 6))
    hw = int(rng.integers(4, 8))
    stride = int(rng.integers(1, 3))
    nodes = [FNode("x", "input", [], {"shape": (cin, hw, hw)}),
             FNode("c1", "conv", ["x"], {"stride": (stride, stride), "pad": (1, 1, 1, 1), "groups": 1},
                   {"weight": rng.normal(size=(c, cin, 3, 3)), "bias": rng.normal(size=c) * 0.2}),
             bn("b1", c, "c1"), FNode("r1", "relu", ["b1"])]
    last = "r1"
    if residual:
        nodes += [FNode("c2", "conv", [last], {"stride": (1, 1), "pad": (1, 1, 1, 1), "groups": 1},
                        {"weight": rng.normal(size=(c, c, 3, 3)), "bias": rng.normal(size=c) * 0.2}),
                  FNode("r2", "relu", ["c2"]), FNode("add", "add", ["r2", last]), FNode("r3", "relu", ["add"])]
        last = "r3"
    if depthwise:
        nodes += [FNode("dw", "conv", [last], {"stride": (1, 1), "pad": (1, 1, 1, 1), "groups": c},
                        {"weight": rng.normal(size=(c, 1, 3, 3)), "bias": rng.normal(size=c) * 0.2}),
                  bn("bdw", c, "dw"), FNode("rdw", "relu", ["bdw"])]
        last = "rdw"
    if pool == "max":
        nodes.append(FNode("pool", "maxpool", [last], {"kernel": (2, 2), "stride": (2, 2), "pad": (0, 0, 0, 0)}))
    elif pool == "avg":
        nodes.append(FNode("pool", "avgpool", [last], {"kernel": (2, 2), "stride": (2, 2)}))
    else:
        nodes.append(FNode("pool", "gap", [last]))
    nodes.append(FNode("flat", "flatten", ["pool"]))
    g = infer_shapes(FGraph(nodes, "flat"))
    f = g.node("flat").shape[0]
    g.nodes.append(FNode("fc", "linear", ["flat"], {}, {"weight": rng.normal(size=(5, f)), "bias": rng.normal(size=5)}))
    g.output = "fc"
    return infer_shapes(g)


class ConvNet(nn.Module):
    """Stride, padding, a residual add, max pooling and a depthwise conv."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 8, 3, stride=1, padding=1)
        self.b1 = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1)
        self.b2 = nn.BatchNorm2d(8)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.c3 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.b3 = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16 * 2 * 2, 10)

    def forward(self, x):
        x = torch.relu(self.b1(self.c1(x)))
        x = torch.relu(torch.relu(self.b2(self.c2(x))) + x)
        x = torch.relu(self.dw(x))
        x = nn.functional.max_pool2d(x, 2)
        x = torch.relu(self.b3(self.c3(x)))
        return self.fc(torch.flatten(x, 1))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.1),
                                 nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))

    def forward(self, x):
        return self.net(x)


def trained(module: nn.Module, epochs: int = 15, seed: int = 0) -> nn.Module:
    """Train a test net briefly on the digits train split (deterministic)."""
    from edgec.examples import digits

    torch.manual_seed(seed)
    for m in module.modules():  # initialised here, not by whatever ran before the module was made
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    xtr, ytr = digits.train_split()
    x, y = torch.from_numpy(xtr), torch.from_numpy(ytr)
    opt = torch.optim.Adam(module.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        module.train()
        for idx in torch.randperm(len(x), generator=gen).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(module(x[idx]), y[idx]).backward()
            opt.step()
    return module.eval()


class VGG(nn.Module):
    """VGG-style: 3x3 convolutions (padded, and one unpadded whose 2x2 output is a partial
    F4 tile) with BatchNorm and ReLU, max pooling, a linear head."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 16, 3), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


def reseal(out, rel: str) -> None:
    """Record the file ``rel`` of build ``out`` in its manifest as it is now (a test that
    changes a generated file on purpose, to check that a comparison catches it)."""
    import json

    from edgec.outdir import sha256

    m = json.loads((out / "edgec.json").read_text())
    m["files"][rel] = sha256(out / rel)
    (out / "edgec.json").write_text(json.dumps(m))


ACT_ARGS = {"clip": lambda r: sorted(r.uniform(-1.5, 3.0, 2)), "leaky_relu": lambda r: [r.uniform(-0.6, 0.6)],
            "elu": lambda r: [r.uniform(0.2, 1.5)], "hardsigmoid_ab": lambda r: [r.uniform(0.1, 0.4), 0.5],
            "softplus": lambda r: [r.uniform(0.5, 2.0), 20.0]}


def with_activation(g: FGraph, kind: str, rng: np.random.Generator, per_channel: bool = False) -> FGraph:
    """``g`` with every ReLU replaced by the activation ``kind`` (ir/act.py), random arguments
    (a per-channel slope for leaky_relu when ``per_channel``: PReLU)."""
    nodes = []
    for n in g.nodes:
        if n.op == "relu":
            c = next(m for m in g.nodes if m.name == n.inputs[0]).shape[0]
            args = np.asarray(ACT_ARGS.get(kind, lambda r: [])(rng), np.float64).reshape(1, -1)
            args = np.tile(args, (c, 1))
            if per_channel and kind == "leaky_relu":
                args = rng.uniform(-0.5, 0.5, (c, 1))
            n = FNode(n.name, "act", n.inputs, {"kind": kind}, {"args": args})
        nodes.append(n)
    return infer_shapes(FGraph(nodes, g.output, g.head))
