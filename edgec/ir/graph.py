"""One node type, one graph type; JSON + npz serialisation (deterministic bytes)."""
from __future__ import annotations

import copy
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .ops import Op
from .types import Bipolar, IntType, parse_type


@dataclass
class Node:
    name: str
    op: Op
    inputs: list[str]
    shape: tuple[int, ...]
    type: IntType | Bipolar
    attrs: dict = field(default_factory=dict)
    params: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Graph:
    nodes: list[Node]
    output: str
    meta: dict = field(default_factory=dict)

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def consumers(self, name: str) -> list[Node]:
        return [n for n in self.nodes if name in n.inputs]

    @property
    def input(self) -> Node:
        return self.nodes[0]

    def copy(self) -> "Graph":
        return copy.deepcopy(self)

    # ---- serialisation ------------------------------------------------------------
    def to_json(self) -> dict:
        return {
            "output": self.output,
            "meta": self.meta,
            "nodes": [
                {
                    "name": n.name,
                    "op": n.op.value,
                    "inputs": n.inputs,
                    "shape": list(n.shape),
                    "type": str(n.type),
                    "attrs": n.attrs,
                    "params": sorted(n.params),
                }
                for n in self.nodes
            ],
        }

    def save(self, path_stem: Path) -> None:
        """Write ``<stem>.json`` and ``<stem>.npz``."""
        path_stem = Path(path_stem)
        path_stem.with_suffix(".json").write_text(dumps(self.to_json()))
        save_npz(path_stem.with_suffix(".npz"),  # keyed by position: names are the model's, any text
                 {f"{i}/{k}": v for i, n in enumerate(self.nodes) for k, v in n.params.items()})

    @staticmethod
    def load(path_stem: Path) -> "Graph":
        path_stem = Path(path_stem)
        d = json.loads(path_stem.with_suffix(".json").read_text())
        arrays = np.load(path_stem.with_suffix(".npz"))
        nodes = [
            Node(
                nd["name"], Op(nd["op"]), nd["inputs"], tuple(nd["shape"]), parse_type(nd["type"]),
                _tuples(nd["attrs"]), {k: arrays[f"{i}/{k}"] for k in nd["params"]},
            )
            for i, nd in enumerate(d["nodes"])
        ]
        return Graph(nodes, d["output"], d["meta"])


def _tuples(attrs: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in attrs.items()}


def _default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (IntType, Bipolar)):
        return str(o)
    raise TypeError(type(o))


def dumps(obj) -> str:
    return json.dumps(obj, indent=1, sort_keys=True, default=_default) + "\n"


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez with fixed timestamps and order, so that equal arrays give equal bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, buf.getvalue())
