"""QNet -> integer IR (before any pass): sliding windows, MatMuls on weight codes,
AffineQuant quantizers, pools on codes; channels-last layout."""
from __future__ import annotations

import numpy as np
import torch

from ..ir.graph import Graph, Node
from ..ir.ops import Op
from ..ir.types import Bipolar, IntType, join_type, window_type
from .fgraph import FNode, model_input_shape
from .qmodel import FakeQuantModel
from .qnet import COMPUTE, ActQuant, QNet, join_shifts, pad_code


def _hwc(shape):
    return (shape[1], shape[2], shape[0]) if len(shape) == 3 else tuple(shape)


def _avg_type(t):
    """The mean of +-1 codes rounds to -1, 0 or +1."""
    return IntType(2, True) if isinstance(t, Bipolar) else t


def code_type(aq: ActQuant):
    return Bipolar() if aq.bipolar else IntType(aq.bits, aq.signed)


def segment_arrays(qnet: QNet) -> dict[str, tuple]:
    """Per segment (weight codes or None, a, c0) as numpy, from the float64 reference
    model: the very numbers the fake-quant reference computes with."""
    m = FakeQuantModel(qnet, torch.float64)
    out = {}
    with torch.no_grad():
        for s in qnet.segments:
            s_in = qnet.quant_of(s.compute.inputs[0]).scale
            if s.compute.op == "add":
                s_in = join_shifts(s.compute, *(qnet.quant_of(i).scale for i in s.compute.inputs))[1]
            elif s.compute.op == "mul":
                s_in = qnet.quant_of(s.compute.inputs[0]).scale * qnet.quant_of(s.compute.inputs[1]).scale
            codes, a, c0 = m.segment_affine(s, s_in)
            codes = None if codes is None else np.rint(codes.numpy()).astype(np.int64)
            out[s.name] = (codes, a.numpy().copy(), c0.detach().numpy().copy())
    return out


def _foldable_pad(qnet: QNet, n, code: int, t) -> bool:
    """Whether pad node ``n`` (its constant's code ``code``, input type ``t``) folds into the
    padding of its one consumer: a direct convolution that pads with 0 or has no padding of
    its own (its window then pads with ``code``), or a max pool whose padding code, the
    input's lowest, is ``code``."""
    g = qnet.graph
    cons = g.consumers(n.name)
    if len(cons) != 1 or n.name == g.output:
        return False
    c = cons[0]
    if c.op == "conv":
        return not qnet.segment_by_compute(c.name).winograd and (code == 0 or not any(c.attrs["pad"]))
    return c.op == "maxpool" and code == t.lo


def lower(qnet: QNet) -> Graph:
    g = qnet.graph
    arrays = segment_arrays(qnet)
    nodes: list[Node] = []
    alias: dict[str, str] = {}  # float-graph tensor -> IR tensor holding it
    types: dict[str, object] = {}

    def add(node: Node) -> str:
        nodes.append(node)
        types[node.name] = node.type
        return node.name

    meta: dict = {}
    folded: dict[str, tuple] = {}  # pad node -> (pad, code): folded into the window of its one consumer
    for n in g.nodes:
        src = [alias.get(i, i) for i in n.inputs]
        if n.inputs and n.inputs[0] in folded:
            fpad = folded[n.inputs[0]][0]
            n = FNode(n.name, n.op, n.inputs, {**n.attrs, "pad": tuple(p + q for p, q in
                                                                        zip(n.attrs.get("pad", (0,) * 4), fpad))},
                      n.params, n.source_op, n.shape)
        shape = _hwc(n.shape)
        if n.op == "input":
            iq = qnet.input_quant
            alias[n.name] = add(Node(n.name, Op.INPUT, [], shape, code_type(iq)))
            meta["input_quant"] = {"bits": iq.bits, "signed": iq.signed, "scale": iq.scale, "float32": True}
            meta["input_shape"] = list(model_input_shape(g))
            meta["input_layout"] = n.attrs.get("layout", "chw")
            continue
        if n.op in ("bn", "relu", "act"):
            continue  # absorbed into their segment's quantizer below
        seg_w = qnet.segment_by_compute(n.name).winograd if n.op == "conv" else None
        if seg_w:  # quantized in the Winograd domain: the IR op itself, on the codes of U
            from ..ir.winograd import FACTOR

            u = arrays[n.name][0].transpose(1, 0, 2)  # (O, P, I) -> (P, O, I)
            alias[n.name] = add(Node(n.name, Op.WINOGRAD, src, shape, IntType(32, True), {
                "tile": seg_w, "pad": tuple(n.attrs["pad"]), "pad_value": 0, "factor": FACTOR[seg_w],
                "layer": n.name, "wq": qnet.segment_by_compute(n.name).wq.label, "domain": "winograd"},
                {"weight": np.ascontiguousarray(u)}))
        elif n.op == "conv":
            codes = arrays[n.name][0]
            kh, kw = codes.shape[2:]
            groups = n.attrs.get("groups", 1)
            t_in = types[src[0]]
            pad = tuple(n.attrs["pad"])
            pv = folded[n.inputs[0]][1] if n.inputs[0] in folded else 0
            win_t = window_type(t_in, pv) if any(pad) else t_in
            in_c = g.node(n.inputs[0]).shape[0]
            oh, ow = shape[0], shape[1]
            w = add(Node(f"{n.name}_window", Op.SLIDING_WINDOW, src, (oh, ow, kh * kw * in_c), win_t,
                         {"kernel": (kh, kw), "stride": tuple(n.attrs["stride"]), "pad": pad, "pad_value": pv}))
            wmat = codes.transpose(0, 2, 3, 1).reshape(codes.shape[0], -1)
            alias[n.name] = add(Node(n.name, Op.MATMUL, [w], shape, IntType(32, True),
                                     {"groups": groups, "layer": n.name,
                                      "wq": qnet.segment_by_compute(n.name).wq.label},
                                     {"weight": wmat}))
        elif n.op == "linear":
            alias[n.name] = add(Node(n.name, Op.MATMUL, src, shape, IntType(32, True),
                                     {"groups": 1, "layer": n.name, "wq": qnet.segment_by_compute(n.name).wq.label},
                                     {"weight": arrays[n.name][0]}))
        elif n.op == "add":
            shift = join_shifts(n, *(qnet.quant_of(i).scale for i in n.inputs))[0]
            alias[n.name] = add(Node(n.name, Op.ADD, src, shape, IntType(32, True),
                                     {"layer": n.name, **({"shift": shift} if any(shift) else {})}))
        elif n.op == "maxpool":
            t = types[src[0]]
            alias[n.name] = add(Node(n.name, Op.MAX_POOL, src, shape, t, {
                "kernel": tuple(n.attrs["kernel"]), "stride": tuple(n.attrs["stride"]),
                "pad": tuple(n.attrs.get("pad", (0, 0, 0, 0))), "pad_value": t.lo}))
        elif n.op == "avgpool":
            alias[n.name] = add(Node(n.name, Op.AVG_POOL, src, shape, _avg_type(types[src[0]]), {
                "kernel": tuple(n.attrs["kernel"]), "stride": tuple(n.attrs["stride"])}))
        elif n.op == "gap":
            hw = g.node(n.inputs[0]).shape[1:]
            alias[n.name] = add(Node(n.name, Op.AVG_POOL, src, shape, _avg_type(types[src[0]]), {
                "kernel": tuple(hw), "stride": tuple(hw)}))
        elif n.op == "concat":
            alias[n.name] = add(Node(n.name, Op.CONCAT, src, shape, join_type(types[src[0]], types[src[1]])))
        elif n.op == "upsample":
            fill = {"fill": "zero", "value": pad_code(n, qnet.quant_of(n.inputs[0]))} \
                if n.attrs.get("fill", "nearest") == "zero" else {}
            alias[n.name] = add(Node(n.name, Op.UPSAMPLE, src, shape, types[src[0]],
                                     {"factor": tuple(n.attrs["factor"]), **fill}))
        elif n.op == "pad":
            code = pad_code(n, qnet.quant_of(n.inputs[0]))
            if _foldable_pad(qnet, n, code, types[src[0]]):
                folded[n.name] = (tuple(int(p) for p in n.attrs["pad"]), code)
                alias[n.name] = src[0]
                continue
            alias[n.name] = add(Node(n.name, Op.PAD, src, shape, window_type(types[src[0]], code),
                                     {"pad": tuple(int(p) for p in n.attrs["pad"]), "value": code}))
        elif n.op == "slice":
            alias[n.name] = add(Node(n.name, Op.SLICE, src, shape, types[src[0]],
                                     {"lo": int(n.attrs["lo"]), "hi": int(n.attrs["hi"])}))
        elif n.op == "flatten":
            if len(g.node(n.inputs[0]).shape) == 1:
                alias[n.name] = src[0]
            else:
                alias[n.name] = add(Node(n.name, Op.FLATTEN, src, shape, types[src[0]],
                                         {"order": n.attrs.get("order", "chw")}))
        elif n.op == "mul":  # the map first, a (1, 1, C) gate second (fgraph.infer_shapes)
            alias[n.name] = add(Node(n.name, Op.MUL, src, shape, IntType(32, True), {"layer": n.name}))
        elif n.op == "identity":  # a segment on codes: its quantizer reads them (a threshold stage)
            alias[n.name] = src[0]
        seg = qnet.segment_by_compute(n.name) if n.op in COMPUTE else None
        if seg is None:
            continue
        _, a, c0 = arrays[seg.name]
        if seg.out is None:
            meta["output_affine"] = {"a": a.tolist(), "c0": c0.tolist()}
            alias[seg.end] = alias[n.name]
            continue
        q = seg.out
        attrs, params = {"scale": q.scale, "lo": q.lo, "hi": q.hi, "bipolar": q.bipolar}, {"a": a, "c0": c0}
        if seg.fn is not None:
            attrs["act"], params["act_args"] = seg.fn.attrs["kind"], np.asarray(seg.fn.params["args"], np.float64)
        if seg.requant:  # passes/fold_requant.py makes it a Requant node (ir/requant.py)
            attrs["requant"], attrs["requant_multiple"] = True, seg.requant_multiple()
        qn = add(Node(f"{seg.name}_quant", Op.AFFINE_QUANT, [alias[n.name]], shape, code_type(q), attrs, params))
        alias[seg.end] = qn
    out = alias.get(g.output, g.output)
    out_node = next(x for x in nodes if x.name == out)
    if "output_affine" not in meta:
        aq = qnet.quant_of(g.output)
        c = out_node.shape[-1]
        meta["output_affine"] = {"a": [aq.scale] * c, "c0": [0.0] * c}
    meta["output_shape"] = list(g.node(g.output).shape)
    if meta["input_layout"] == "cl" and len(meta["output_shape"]) == 3:  # a 1-D signal out: (C, L)
        meta["output_shape"], meta["output_layout"] = [meta["output_shape"][0], meta["output_shape"][2]], "cl"
    if g.head:
        meta["head"] = [list(st) for st in g.head]
    return Graph(nodes, out, meta)
