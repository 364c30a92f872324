"""Board descriptions from boards/*.yaml (part, resources, clock, PS type, aliases)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import yaml

from . import resources
from .errors import EdgecError


@dataclass(frozen=True)
class Board:
    name: str
    part: str
    family: str
    ps: str
    lut: int
    ff: int
    bram36: int
    dsp: int
    clock_mhz: float
    aliases: tuple[str, ...]
    max_clock_mhz: float = 250.0  # the highest clock a build may ask for (--clock-mhz)

    def at(self, clock_mhz: float | None) -> "Board":
        """The board clocked at ``clock_mhz`` (None: its own clock): the folding, the frame
        rates, the HLS clock period and the block design's FCLK all follow it."""
        return self if clock_mhz is None else dataclasses.replace(self, clock_mhz=float(clock_mhz))

    @property
    def capacity(self) -> dict[str, int]:
        """The resources the cost model and the report count, by the report's names."""
        return {"LUT": self.lut, "FF": self.ff, "BRAM36": self.bram36, "DSP": self.dsp}


def _load_all() -> dict[str, dict]:
    out = {}
    for f in sorted(resources.path("boards").glob("*.yaml")):
        d = yaml.safe_load(f.read_text())
        out[d["name"]] = d
    return out


def boards() -> list[Board]:
    return [get(n) for n in _load_all()]


def get(name: str) -> Board:
    key = name.strip().lower()
    for d in _load_all().values():
        names = [d["name"], *d.get("aliases", [])]
        if key in names:
            part = d.get("alias_parts", {}).get(key, d["part"])
            return Board(key if key != d["name"] else d["name"], part, d["family"], d["ps"], d["lut"], d["ff"],
                         d["bram36"], d["dsp"], float(d["clock_mhz"]), tuple(d.get("aliases", [])),
                         float(d.get("max_clock_mhz", d["clock_mhz"])))
    known = ", ".join(f"{d['name']} ({', '.join(d.get('aliases', []))})" for d in _load_all().values())
    raise EdgecError(f"unknown board '{name}'; known boards: {known} (see `edgec boards`)")
