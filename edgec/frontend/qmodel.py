"""PyTorch execution of the float graph and of the quantized network.

``float_forward`` runs the float model. ``FakeQuantModel`` runs the quantized network in
the source framework: in float64 without gradients it is the *fake-quant reference*
the simulator must equal; in float32 with straight-through estimators it is what
``--finetune-epochs`` trains. Both paths compute, per segment, the integer accumulator
from integer-valued codes (exact in float64 while |acc| < 2^53), then
``z = acc * a + c0`` and the quantizer ``floor(z / s + 0.5)`` clipped — the same float64
expression the threshold folding evaluates (docs/numerics.md).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .fgraph import FGraph, FNode, channels_first, flatten_order
from .qnet import COMPUTE, QNet, Segment, WeightQuant, join_shifts, pad_code


def _conv(n: FNode, x, w, b=None):
    pt, pl, pb, pr = n.attrs["pad"]
    if pt != pb or pl != pr:
        x = F.pad(x, (pl, pr, pt, pb))
        pad = 0
    else:
        pad = (pt, pl)
    return F.conv2d(x, w, b, stride=tuple(n.attrs["stride"]), padding=pad, groups=n.attrs.get("groups", 1))


def winograd_weight(w, m: int):
    """Direct 3x3 weights (O, I, 3, 3) -> U (O, P, I) of F(m x m, 3 x 3), U = G' g G'^T
    (ir/winograd.py), differentiable."""
    from ..ir import winograd as W

    g = torch.as_tensor(W.G[m], dtype=w.dtype)
    o, i = w.shape[:2]
    return torch.einsum("ia,ocab,jb->oijc", g, w, g).reshape(o, -1, i)


def _winograd_conv(n: FNode, x, u, m: int):
    """The integer Winograd convolution of ir/ref.py (Y = FACTOR x a direct one for a
    dense U) on codes x (N, C, H, W) and U (O, P, C), in torch."""
    from ..ir import winograd as W

    h, w = x.shape[2:]
    geo = W.geometry(h, w, n.attrs["pad"], m)
    pt, pl, pb, pr = geo["tile_pad"]
    xp = F.pad(x, (pl, pr, pt, pb))
    k = m + 2
    tiles = xp.unfold(2, k, m).unfold(3, k, m)  # (N, C, TH, TW, k, k)
    bt, at = (torch.as_tensor(W.BT[m], dtype=x.dtype), torch.as_tensor(W.AT[m], dtype=x.dtype))
    v = torch.einsum("ia,nctuab,jb->ntuijc", bt, tiles, bt)
    mm = torch.einsum("ntuijc,oijc->ntuijo", v, u.reshape(u.shape[0], k, k, -1))
    y = torch.einsum("yi,ntuijo,xj->notyux", at, mm, at)
    nb, o, th, _, tw, _ = y.shape
    return y.reshape(nb, o, th * m, tw * m)[:, :, : geo["oh"], : geo["ow"]]


def _pool(n: FNode, x, lo_value):
    kh, kw = n.attrs["kernel"]
    st = tuple(n.attrs["stride"])
    if n.op == "maxpool":
        pt, pl, pb, pr = n.attrs.get("pad", (0, 0, 0, 0))
        if any((pt, pl, pb, pr)):
            x = F.pad(x, (pl, pr, pt, pb), value=lo_value)
        return F.max_pool2d(x, (kh, kw), st)
    return F.avg_pool2d(x, (kh, kw), st, divisor_override=1)  # window sums


def _t(a, dtype):
    return torch.as_tensor(np.array(a), dtype=dtype)


def upsample(x, factor, fill="nearest", value: float = 0.0):
    """Upsampling of (N, C, H, W) by whole factors (fh, fw): nearest, or (fill "zero") x
    at (i·fh, j·fw) and ``value`` (0, or on codes the code of 0) elsewhere."""
    fh, fw = int(factor[0]), int(factor[1])
    if fill == "nearest":
        return x.repeat_interleave(fh, dim=2).repeat_interleave(fw, dim=3)
    n, c, h, w = x.shape
    out = torch.full((n, c, h * fh, w * fw), float(value), dtype=x.dtype)
    out[:, :, ::fh, ::fw] = x
    return out


def pad(x, pad, value: float):
    """Constant padding of (N, C, H, W) by (top, left, bottom, right)."""
    pt, pl, pb, pr = (int(p) for p in pad)
    return F.pad(x, (pl, pr, pt, pb), mode="constant", value=value)


def apply_act(n: FNode, z, args):
    """Activation node ``n`` (ir/act.py) on z (N, C, ...) with its args (C, k)."""
    from ..ir.act import apply_torch

    args = torch.as_tensor(np.asarray(args), dtype=z.dtype)
    shape = (1, -1) + (1,) * (z.dim() - 2)
    return apply_torch(n.attrs["kind"], z, [args[:, j].view(shape) for j in range(args.shape[1])])


@torch.no_grad()
def float_forward(g: FGraph, x: np.ndarray, keep: set[str] | None = None):
    """Float64 execution of the float graph on a batch (N, *input shape). Returns the
    output array, or with ``keep`` a dict of the named tensors."""
    dt = torch.float64
    vals = {}
    for n in g.nodes:
        ins = [vals[i] for i in n.inputs]
        p = {k: _t(v, dt) for k, v in n.params.items()}
        if n.op == "input":
            y = _t(channels_first(x, g), dt)
        elif n.op == "conv":
            y = _conv(n, ins[0], p["weight"], p["bias"])
        elif n.op == "linear":
            y = F.linear(ins[0], p["weight"], p["bias"])
        elif n.op == "bn":
            shape = (1, -1) + (1,) * (ins[0].dim() - 2)
            g_ = p["gamma"] / torch.sqrt(p["var"] + n.attrs["eps"])
            y = (ins[0] - p["mean"].view(shape)) * g_.view(shape) + p["beta"].view(shape)
        elif n.op == "relu":
            y = torch.relu(ins[0])
        elif n.op == "act":
            y = apply_act(n, ins[0], n.params["args"])
        elif n.op == "maxpool":
            y = _pool(n, ins[0], float("-inf"))
        elif n.op == "avgpool":
            y = _pool(n, ins[0], 0.0) / (n.attrs["kernel"][0] * n.attrs["kernel"][1])
        elif n.op == "gap":
            y = ins[0].mean(dim=(2, 3), keepdim=True)
        elif n.op == "flatten":
            y = flatten_order(ins[0], n.attrs.get("order", "chw"))
        elif n.op == "add":
            y = ins[0] + ins[1]
        elif n.op == "identity":
            y = ins[0]
        elif n.op == "mul":
            y = ins[0] * ins[1]
        elif n.op == "concat":
            y = torch.cat([ins[0], ins[1]], dim=1)
        elif n.op == "upsample":
            y = upsample(ins[0], n.attrs["factor"], n.attrs.get("fill", "nearest"))
        elif n.op == "pad":
            y = pad(ins[0], n.attrs["pad"], float(n.attrs["value"]))
        elif n.op == "slice":
            y = ins[0][:, n.attrs["lo"]:n.attrs["hi"]]
        vals[n.name] = y
    if keep is None:
        return vals[g.output].numpy()
    return {k: vals[k].numpy() for k in keep}


# ---- quantizers (forward values exact; straight-through gradients) -----------------

class _RoundHalfUp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, v):
        return torch.floor(v + 0.5)

    @staticmethod
    def backward(ctx, g):
        return g


class _Sign(torch.autograd.Function):
    """+1 for v >= 0, else -1; gradient of hardtanh (1 inside |v| <= 1)."""

    @staticmethod
    def forward(ctx, v):
        ctx.save_for_backward(v)
        return torch.where(v >= 0, 1.0, -1.0).to(v.dtype)

    @staticmethod
    def backward(ctx, g):
        (v,) = ctx.saved_tensors
        return g * (v.abs() <= 1).to(g.dtype)


def quantize_weight(w: torch.Tensor, wq: WeightQuant):
    """Per-output-channel weight codes and scales. Returns (codes, scale[O]); codes carry
    straight-through gradients to ``w``. The numpy export calls this too (one rule)."""
    flat = w.reshape(w.shape[0], -1)
    absw = flat.detach().abs()
    if wq.bits == 1:
        scale = absw.mean(dim=1)
        codes = _Sign.apply(flat / scale.clamp_min(1e-12)[:, None])
    elif wq.bits == 0:
        delta = 0.7 * absw.mean(dim=1, keepdim=True)
        mask = (absw > delta).to(w.dtype)
        scale = (absw * mask).sum(1) / mask.sum(1).clamp_min(1)
        r = flat / scale.clamp_min(1e-12)[:, None]
        hard = torch.sign(flat.detach()) * mask
        codes = r + (hard - r).detach()
    else:
        qmax = 2 ** (wq.bits - 1) - 1
        scale = absw.amax(dim=1) / qmax
        r = flat / scale.clamp_min(1e-12)[:, None]
        codes = torch.clamp(_RoundHalfUp.apply(r), -qmax, qmax)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return codes.reshape(w.shape), scale.detach()


def quantize_act(z: torch.Tensor, aq, scale: float):
    """Codes of the activation z under quantizer ``aq`` (STE in training)."""
    if aq.bipolar:
        return _Sign.apply(z / scale)
    v = z / scale
    codes = torch.clamp(_RoundHalfUp.apply(v), aq.lo, aq.hi)
    if v.requires_grad:  # clipped straight-through estimator
        inside = ((v >= aq.lo - 0.5) & (v <= aq.hi + 0.5)).to(v.dtype)
        codes = codes.detach() + (v - v.detach()) * inside
    return codes


def requant_codes(seg: Segment, acc, a, c0):
    """A Requant segment's codes (ir/requant.py's parameters, ir/ref.py's rule) from its
    accumulator (N, C, ...)."""
    from ..ir.ref import requant_rule

    p = seg.requant_params(a.detach().reshape(-1).numpy(), c0.detach().reshape(-1).numpy())
    if p is None:
        raise ValueError(f"segment {seg.name} is marked requant but has no Requant form")
    codes = requant_rule(np.moveaxis(np.rint(acc.detach().numpy()).astype(np.int64), 1, -1), p)
    return torch.as_tensor(np.moveaxis(codes, -1, 1), dtype=acc.dtype)


class FakeQuantModel(torch.nn.Module):
    """The quantized network in PyTorch. Float parameters are trainable; every forward
    re-derives the weight codes. ``forward`` returns (output codes or accumulator, the
    output's real value, dict of every segment's pre-quantization value z / scale)."""

    def __init__(self, qnet: QNet, dtype=torch.float64):
        super().__init__()
        self.qnet = qnet
        self.dtype = dtype
        self.p = torch.nn.ParameterDict()
        self.index = {n.name: i for i, n in enumerate(qnet.graph.nodes)}  # node names may hold '.'
        for n in qnet.graph.nodes:
            for k, v in n.params.items():
                self.p[f"n{self.index[n.name]}_{k}"] = torch.nn.Parameter(_t(v, dtype),
                                                                          requires_grad=k not in ("mean", "var"))

    def param(self, node: FNode, key: str):
        return self.p[f"n{self.index[node.name]}_{key}"]

    def segment_affine(self, seg: Segment, s_in: float):
        """(codes of the weights or None, a, c0) of a segment, as tensors."""
        n = seg.compute
        if n.op in ("add", "mul", "identity"):
            codes, a = None, torch.full((n.shape[0],), s_in, dtype=self.dtype)
            c0 = torch.zeros(n.shape[0], dtype=self.dtype)
        else:
            w = self.param(n, "weight")
            if seg.winograd:  # quantized (per output channel) and pruned as U = G' g G'^T
                w = winograd_weight(w, seg.winograd)
            codes, ws = quantize_weight(w, seg.wq)
            if seg.mask is not None:  # pruned weights stay zero, also while fine-tuning
                codes = codes * torch.as_tensor(seg.mask, dtype=codes.dtype)
            a = ws * s_in
            if seg.winograd:  # the layer computes FACTOR times the convolution with U / FACTOR
                from ..ir.winograd import FACTOR

                a = a / FACTOR[seg.winograd]
            c0 = self.param(n, "bias")
        if seg.bn is not None:
            b = seg.bn
            g = self.param(b, "gamma") / torch.sqrt(self.param(b, "var") + b.attrs["eps"])
            a = a * g
            c0 = (c0 - self.param(b, "mean")) * g + self.param(b, "beta")
        return codes, a, c0

    def forward(self, x):
        q = self.qnet
        g = q.graph
        vals, scales, pre = {}, {}, {}
        for n in g.nodes:
            ins = [vals[i] for i in n.inputs]
            if n.op == "input":
                xi = torch.as_tensor(channels_first(x, g), dtype=torch.float32)  # the host quantizer: float32
                vals[n.name] = quantize_act(xi, q.input_quant, q.input_quant.scale).to(self.dtype)
                scales[n.name] = q.input_quant.scale
                continue
            seg = q.segment_of(n.name)
            if n.op in COMPUTE:
                s_in = scales[n.inputs[0]]
                if n.op == "add":  # inputs of scales 2^k apart: the sum at the finer one
                    shift, s_in = join_shifts(n, scales[n.inputs[0]], scales[n.inputs[1]])
                elif n.op == "mul":  # the product of codes is at the product of the scales
                    s_in = scales[n.inputs[0]] * scales[n.inputs[1]]
                codes, a, c0 = self.segment_affine(q.segment_by_compute(n.name), s_in)
                seg_c = q.segment_by_compute(n.name)
                if n.op == "conv" and seg_c.winograd:
                    acc = _winograd_conv(n, ins[0], codes, seg_c.winograd)
                elif n.op == "conv":
                    acc = _conv(n, ins[0], codes)
                elif n.op == "linear":
                    acc = F.linear(ins[0], codes)
                elif n.op == "identity":
                    acc = ins[0]
                elif n.op == "mul":
                    acc = ins[0] * ins[1]
                else:
                    acc = ins[0] * 2.0 ** shift[0] + ins[1] * 2.0 ** shift[1]
                shape = (1, -1) + (1,) * (acc.dim() - 2)
                vals[n.name] = (acc, a.view(shape), c0.view(shape))
            elif n.op in ("bn", "relu", "act"):
                vals[n.name] = ins[0]
            elif n.op in ("maxpool", "avgpool"):
                lo = q.quant_of(n.inputs[0]).lo
                y = _pool(n, ins[0], float(lo))
                if n.op == "avgpool":
                    y = torch.floor(y / (n.attrs["kernel"][0] * n.attrs["kernel"][1]) + 0.5)
                vals[n.name] = y
                scales[n.name] = scales[n.inputs[0]]
            elif n.op == "gap":
                s = ins[0].sum(dim=(2, 3), keepdim=True)
                vals[n.name] = torch.floor(s / (ins[0].shape[2] * ins[0].shape[3]) + 0.5)
                scales[n.name] = scales[n.inputs[0]]
            elif n.op == "flatten":
                vals[n.name] = flatten_order(ins[0], n.attrs.get("order", "chw"))
                scales[n.name] = scales[n.inputs[0]]
            elif n.op == "concat":  # on codes; a concat's inputs share one scale
                vals[n.name] = torch.cat(ins, dim=1)
                scales[n.name] = scales[n.inputs[0]]
            elif n.op == "upsample":  # on codes; zero insertion fills with the code of 0
                fill = n.attrs.get("fill", "nearest")
                zero = pad_code(n, q.quant_of(n.inputs[0])) if fill == "zero" else 0
                vals[n.name] = upsample(ins[0], n.attrs["factor"], fill, float(zero))
                scales[n.name] = scales[n.inputs[0]]
            elif n.op == "pad":  # the constant's code (exact, or an error naming the node)
                vals[n.name] = pad(ins[0], n.attrs["pad"], float(pad_code(n, q.quant_of(n.inputs[0]))))
                scales[n.name] = scales[n.inputs[0]]
            elif n.op == "slice":
                vals[n.name] = ins[0][:, n.attrs["lo"]:n.attrs["hi"]]
                scales[n.name] = scales[n.inputs[0]]
            if seg is not None:
                acc, a, c0 = vals[seg.compute.name]
                z = acc * a + c0
                if seg.fn is not None:  # the activation between the accumulator and the quantizer
                    z = apply_act(seg.fn, z, seg.fn.params["args"])
                if seg.out is None:
                    vals[n.name] = (acc, z)
                elif seg.requant and self.dtype == torch.float64:  # the integer rule: no ties
                    vals[n.name] = requant_codes(seg, acc, a, c0)
                    scales[n.name] = seg.out.scale
                else:
                    pre[seg.name] = z / seg.out.scale
                    vals[n.name] = quantize_act(z, seg.out, seg.out.scale)
                    scales[n.name] = seg.out.scale
        out = vals[g.output]
        if isinstance(out, tuple):
            return out[0], out[1], pre
        return out, out * scales[g.output], pre
