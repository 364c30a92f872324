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


# ---- the MLPerf Tiny reference topologies (from the published descriptions) --------------------

def macs(module: nn.Module, input_shape) -> int:
    """Multiply-accumulates of one inference: every Conv (1-D, 2-D, grouped) and Linear,
    counted on the output shapes of a forward pass with forward hooks."""
    total = [0]

    def hook(m, inp, out):
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            k = int(np.prod(m.kernel_size)) * (m.in_channels // m.groups)
            total[0] += int(out[0].numel()) * k
        elif isinstance(m, nn.Linear):
            total[0] += int(out[0].numel()) * m.in_features

    hs = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad():
            module.eval()(torch.zeros(1, *input_shape))
    finally:
        for h in hs:
            h.remove()
    return total[0]


def _cbr(cin, cout, k, stride=1, groups=1, act=nn.ReLU):
    pad = tuple(x // 2 for x in k) if isinstance(k, tuple) else k // 2
    return [nn.Conv2d(cin, cout, k, stride, pad, groups=groups, bias=False), nn.BatchNorm2d(cout), act()]


class _Res(nn.Module):
    """A ResNet v1 basic block: conv3x3-BN-ReLU, conv3x3-BN, plus the shortcut (identity, or
    a strided 1x1 conv when the shape changes), then ReLU."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.body = nn.Sequential(*_cbr(cin, cout, 3, stride), nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(cout))
        self.short = (nn.Identity() if stride == 1 and cin == cout
                      else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)))

    def forward(self, x):
        return torch.relu(self.body(x) + self.short(x))


class ResNet8(nn.Module):
    """MLPerf Tiny image classification: ResNet-8 on CIFAR-10 (3x32x32): a 3x3 conv of 16,
    three residual stacks of 16, 32 (stride 2) and 64 (stride 2) filters, global average
    pool, FC 10. 12,501,632 MACs (``macs``)."""
    INPUT = (3, 32, 32)

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(*_cbr(3, 16, 3), _Res(16, 16, 1), _Res(16, 32, 2), _Res(32, 64, 2),
                                 nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))

    def forward(self, x):
        return self.net(x)


class DSCNN(nn.Module):
    """MLPerf Tiny keyword spotting: DS-CNN small on 49x10 MFCC (1x49x10): conv 10x4 stride 2
    of 64 (25x5 out), four depthwise-separable blocks (depthwise 3x3, pointwise 64, each with
    BN and ReLU), average pool, FC 12. 2,656,768 MACs (``macs``)."""
    INPUT = (1, 49, 10)

    def __init__(self):
        super().__init__()
        layers = [nn.Conv2d(1, 64, (10, 4), 2, (5, 1), bias=False), nn.BatchNorm2d(64), nn.ReLU()]
        for _ in range(4):
            layers += _cbr(64, 64, 3, groups=64) + _cbr(64, 64, 1)
        self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 12))

    def forward(self, x):
        return self.net(x)


class MobileNetV1(nn.Module):
    """MLPerf Tiny visual wake words: MobileNetV1 with width multiplier 0.25 on 3x96x96: a 3x3
    stride-2 conv of 8, thirteen depthwise-separable blocks (16, 32/2, 32, 64/2, 64, 128/2,
    128 x5, 256/2, 256), global average pool, FC 2. 7,489,664 MACs (``macs``)."""
    INPUT = (3, 96, 96)
    BLOCKS = ((16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1), (128, 1), (128, 1), (128, 1),
              (128, 1), (256, 2), (256, 1))

    def __init__(self):
        super().__init__()
        layers, c = _cbr(3, 8, 3, 2), 8
        for cout, s in self.BLOCKS:
            layers += _cbr(c, c, 3, s, groups=c) + _cbr(c, cout, 1)
            c = cout
        self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 2))

    def forward(self, x):
        return self.net(x)


class AutoEncoder(nn.Module):
    """MLPerf Tiny anomaly detection: the FC autoencoder on 640 features (5 frames of 128
    log-mel bins): four Linear 128 + BatchNorm + ReLU, an 8-wide bottleneck (Linear + BN +
    ReLU), four Linear 128 + BN + ReLU, Linear 640. 264,192 MACs (``macs``)."""
    INPUT = (640,)

    def __init__(self):
        super().__init__()
        dims = [640, 128, 128, 128, 128, 8, 128, 128, 128, 128]
        layers = []
        for a, b in zip(dims, dims[1:]):
            layers += [nn.Linear(a, b), nn.BatchNorm1d(b), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(128, 640))

    def forward(self, x):
        return self.net(x)


class _Inverted(nn.Module):
    """A MobileNetV2 inverted residual: 1x1 expansion (ReLU6), depthwise 3x3 (ReLU6), 1x1
    linear bottleneck, and the residual add when stride is 1 and the width stays."""

    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        h = cin * expand
        self.body = nn.Sequential(*_cbr(cin, h, 1, act=nn.ReLU6), *_cbr(h, h, 3, stride, groups=h, act=nn.ReLU6),
                                  nn.Conv2d(h, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.res = stride == 1 and cin == cout

    def forward(self, x):
        y = self.body(x)
        return x + y if self.res else y


class MobileNetV2Tiny(nn.Module):
    """A small MobileNetV2-style net on 3x32x32: a 3x3 stride-2 conv of 8 (ReLU6), inverted
    residuals (expansion 4) 8->8, 8->16/2, 16->16, 16->24/2, 24->24 (three with the residual
    add), a 1x1 conv of 64 (ReLU6), global average pool, FC 10. 756,864 MACs (``macs``)."""
    INPUT = (3, 32, 32)

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(*_cbr(3, 8, 3, 2, act=nn.ReLU6), _Inverted(8, 8, 1, 4), _Inverted(8, 16, 2, 4),
                                 _Inverted(16, 16, 1, 4), _Inverted(16, 24, 2, 4), _Inverted(24, 24, 1, 4),
                                 *_cbr(24, 64, 1, act=nn.ReLU6), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                 nn.Linear(64, 10))

    def forward(self, x):
        return self.net(x)


MLPERF_TINY = {"resnet8": ResNet8, "dscnn": DSCNN, "mobilenet_v1": MobileNetV1, "autoencoder": AutoEncoder,
               "mobilenet_v2": MobileNetV2Tiny}


def mlperf_net(name: str, seed: int = 0) -> nn.Module:
    """One of MLPERF_TINY with seeded random weights and non-trivial BatchNorm statistics."""
    torch.manual_seed(seed)
    m = MLPERF_TINY[name]()
    g = torch.Generator().manual_seed(seed + 1)
    for b in m.modules():
        if isinstance(b, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = b.num_features
            b.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            b.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.5)
            b.weight.data.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
            b.bias.data.copy_(torch.randn(n, generator=g) * 0.1)
    return m.eval()
