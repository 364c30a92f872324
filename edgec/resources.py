"""Where templates/, hw/ and boards/ are: the repository's top level in a checkout or
editable install, ``edgec/_data/`` inside an installed wheel."""
from pathlib import Path

_PKG = Path(__file__).resolve().parent


def path(name: str) -> Path:
    for base in (_PKG / "_data", _PKG.parent):
        if (base / name).is_dir():
            return base / name
    raise FileNotFoundError(f"edgec resource folder '{name}' is missing from the installation")
