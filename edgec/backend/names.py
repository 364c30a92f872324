"""The one way a name from a model reaches generated text or a file path.

Node and tensor names, and the model's file name, come from files users download: they
may hold quotes, backslashes, newlines, NULs, keywords or ``../``. Generated code never
holds them as code. Each target has one encoder here, and the templates use nothing else
(the Jinja filters of ``render.environment``):

- ``py``: a Python literal (strings by ``repr``; numbers, lists and dicts of them).
- ``c_str``: a C/C++ string literal; every byte outside plain printable ASCII, and the
  quote, backslash and question mark (trigraphs), as a three-digit octal escape.
- ``comment``: text for a comment or docstring in Python, C++, Verilog or tcl: printable
  ASCII without the characters any of those languages give a meaning inside a comment
  (quotes, backslash, ``*``, braces, backtick, ``$``), at most ``COMMENT_MAX`` characters.
- ``ident``: an identifier of all four languages (``[A-Za-z][A-Za-z0-9_]*``, no keyword,
  bounded length), also a safe file-name component.

Identifiers in generated code are numbered (``st3``, ``w_5``); ``ident`` serves the few
places where a name must be part of one, with the stage number beside it for uniqueness.
"""
from __future__ import annotations

import hashlib
import re

COMMENT_MAX = 80
IDENT_MAX = 40
_COMMENT_OK = re.compile(r"[A-Za-z0-9 _.,:;()\[\]<>=+\-#@!%^&|~?/]")
_KEYWORDS = frozenset("""
and as assert async await break case catch char class const continue def default del do double elif else
except false finally float for from global if import in int is lambda long new nonlocal none not or pass
raise return self short signed static struct switch true try typedef union unsigned void volatile while
with yield namespace template this module endmodule wire reg input output inout begin end always assign
initial parameter localparam integer generate endgenerate function endfunction task endtask proc set
puts eval exec expr source string list array info
""".split())


def py(v) -> str:
    """``v`` (a str, int, float, bool, None, or a list, tuple or dict of them) as a Python
    literal that ``ast.literal_eval`` reads back; non-finite floats as ``float('inf')``."""
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, bool) or v is None:
        return repr(v)
    if isinstance(v, int):
        return str(int(v))
    if isinstance(v, float):
        return repr(v) if v == v and abs(v) != float("inf") else f"float({repr(str(v))})"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{py(k)}: {py(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        inner = ", ".join(py(x) for x in v)
        return f"[{inner}]" if isinstance(v, list) else f"({inner}{',' if len(v) == 1 else ''})"
    raise TypeError(f"no Python literal for {type(v).__name__}")


def c_str(s) -> str:
    """``s`` as a C/C++ string literal (UTF-8 bytes; non-ASCII and specials octal-escaped)."""
    out = []
    for b in str(s).encode("utf-8", "backslashreplace"):
        ch = chr(b)
        out.append(ch if 0x20 <= b < 0x7F and ch not in '"\\?' else f"\\{b:03o}")
    return '"' + "".join(out) + '"'


def comment(s) -> str:
    """``s`` made safe inside a one-line comment or a docstring of every target language."""
    text = "".join(ch if _COMMENT_OK.fullmatch(ch) else "?" for ch in str(s))
    return text if len(text) <= COMMENT_MAX else text[: COMMENT_MAX - 3] + "..."


def ident(s, prefix: str = "n") -> str:
    """An identifier (and file-name component) derived from ``s``: letters, digits and
    underscores, starting with a letter, never a keyword of Python, C++, Verilog or tcl.
    Long names keep their start and a hash of the whole, so distinct names stay distinct."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", str(s)).strip("_") or prefix
    if not base[0].isalpha():
        base = f"{prefix}_{base}"
    if len(base) > IDENT_MAX or base != str(s):
        digest = hashlib.sha256(str(s).encode("utf-8", "backslashreplace")).hexdigest()[:8]
        base = f"{base[: IDENT_MAX - 9]}_{digest}"
    if base.lower() in _KEYWORDS:
        base = f"{prefix}_{base}"
    return base
