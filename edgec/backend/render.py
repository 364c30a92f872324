"""Jinja environment over the top-level templates/ (or the copy inside the wheel)."""
from __future__ import annotations

from pathlib import Path

import jinja2

from .. import resources
from . import names


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resources.path("templates"))),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=False,
        autoescape=False,
    )
    env.filters["repr"] = repr
    env.filters["py"] = names.py
    env.filters["c_str"] = names.c_str
    env.filters["comment"] = names.comment
    env.filters["ident"] = names.ident
    return env


def render(template: str, out: Path, **ctx) -> None:
    out.write_text(environment().get_template(template).render(**ctx))
