"""Build folders: edgec deletes and replaces only what it wrote itself.

A build folder is recognised by its manifest ``edgec.json``, which lists every file the
build wrote with its SHA-256. The commands that work inside a build (``csim``, ``cosim``,
``synth``) keep their files in a work folder of their own (``OUT/csim`` ...) with a work
manifest ``.edgec-work.json`` of the same kind. A folder is edgec's to replace only when
every file in it is listed, unchanged, in one of these manifests; anything else (a file
of the user's, an edited file, a symbolic link, a manifest that is not edgec's) stops the
build with an error naming it.

A build is written into a sibling temporary folder, and committed with two renames while
SIGINT and SIGTERM are held back: the old build is renamed aside, the new one in, then the
old one is deleted. An interruption therefore leaves the old build or the new one,
complete; the temporary folders it may leave (``.edgec-<tag>-new-<pid>`` and
``.edgec-<tag>-old-<pid>`` next to the output) are removed, or the old build restored,
by the next run for the same output.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
from pathlib import Path

from .errors import EdgecError

MANIFEST = "edgec.json"
WORK_MANIFEST = ".edgec-work.json"
WORK_DIRS = ("csim", "cosim", "synth")
_HEX = re.compile(r"[0-9a-f]{64}")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def hashes(root: Path, skip: tuple = ()) -> dict[str, str]:
    """{relative posix path: sha256} of every file under ``root`` (sorted)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and not p.is_symlink() and rel not in skip:
            out[rel] = sha256(p)
    return out


def _read_manifest(path: Path) -> dict | None:
    """The manifest at ``path`` if it is one of edgec's (a JSON object whose ``files`` map
    relative paths to SHA-256 digests), else None."""
    try:
        if path.is_symlink() or path.stat().st_size > 64 << 20:
            return None
        m = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = m.get("files") if isinstance(m, dict) else None
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) and _HEX.fullmatch(v)
                                              for k, v in files.items()):
        return None
    return m


def _old_build(path: Path) -> bool:
    """A manifest of edgec before hashes: a JSON object whose ``files`` is a list."""
    try:
        m = json.loads(path.read_text(encoding="utf-8")) if path.is_file() and not path.is_symlink() else None
    except (OSError, ValueError):
        return False
    return isinstance(m, dict) and "edgec" in m and isinstance(m.get("files"), list)


def foreign_files(folder: Path, manifest: dict, skip: tuple) -> list[str]:
    """Entries under ``folder`` that ``manifest`` does not list unchanged (work folders
    are checked against their own manifests)."""
    listed = manifest["files"]
    bad = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if rel in skip or any(rel == w or rel.startswith(w + "/") for w in skip if w in WORK_DIRS):
            continue
        if p.is_symlink():
            bad.append(rel)
        elif p.is_file() and (rel not in listed or sha256(p) != listed[rel]):
            bad.append(rel)
    return bad


def check_replaceable(out: Path) -> None:
    """An error unless ``out`` is missing, empty, or a build folder holding only edgec's files."""
    if out.is_symlink() and not out.exists():
        raise EdgecError(f"output '{out}' is a dangling symbolic link; remove it or choose another -o")
    if out.exists() and not out.is_dir():
        raise EdgecError(f"output '{out}' exists and is not a folder; choose another -o")
    if not out.exists() or not any(out.iterdir()):
        return
    m = _read_manifest(out / MANIFEST)
    some = ", ".join(sorted(p.name for p in out.iterdir())[:3])
    if m is None and _old_build(out / MANIFEST):
        raise EdgecError(f"output folder '{out}' ({some}) has the {MANIFEST} of an older edgec, which recorded no "
                         "file hashes, so edgec cannot tell your files from its own; delete it yourself or choose "
                         "another -o")
    if m is None:
        raise EdgecError(f"output folder '{out}' already holds other files ({some}) and is not an edgec build; "
                         "choose an empty or new folder with -o")
    bad = foreign_files(out, m, (MANIFEST,) + WORK_DIRS)
    for w in WORK_DIRS:
        if (out / w).is_symlink() or (out / w).exists() and not (out / w).is_dir():
            bad.append(w)
        elif (out / w).is_dir():
            wm = _read_manifest(out / w / WORK_MANIFEST) or {"files": {}}
            bad += [f"{w}/{r}" for r in foreign_files(out / w, wm, (WORK_MANIFEST,))]
    if bad:
        more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
        raise EdgecError(f"output folder '{out}' is an edgec build, but '{bad[0]}'{more} is not a file edgec wrote "
                         "there (added or changed since); move it out, or choose another -o")


def _tag(out: Path) -> str:
    return hashlib.sha256(out.name.encode("utf-8", "surrogateescape")).hexdigest()[:10]


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(out: Path) -> None:
    """Remove what an interrupted run for ``out`` left next to it; restore the old build
    when the run stopped between its two renames."""
    if not out.parent.is_dir():
        return
    pat = re.compile(rf"\.edgec-{_tag(out)}-(new|old)-(\d+)")
    for p in sorted(out.parent.iterdir()):
        m = pat.fullmatch(p.name)
        if not m or _alive(int(m.group(2))):
            continue
        if m.group(1) == "old" and not out.exists() and not out.is_symlink():
            p.rename(out)
        elif p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


def resolve_out(out) -> Path:
    """The output folder ``-o`` names, checked: not empty, not a file's child, not the
    current folder or one holding it, a symbolic link followed to its build."""
    if out is None or str(out).strip() == "":
        raise EdgecError("-o '': give the output folder's name")
    if "\0" in str(out):
        raise EdgecError("-o: the folder name holds a NUL character")
    p = Path(os.path.abspath(out))
    if p.is_symlink():
        if not p.exists():
            raise EdgecError(f"output '{out}' is a dangling symbolic link; remove it or choose another -o")
        p = p.resolve()
    if len(p.name.encode("utf-8", "surrogateescape")) > 200:
        raise EdgecError(f"-o: the folder name is {len(p.name)} characters long; give at most 200")
    for a in p.parents:
        if a.exists() and not a.is_dir():
            raise EdgecError(f"-o '{out}': '{a}' is a file, not a folder")
    cwd = Path(os.getcwd()).resolve()
    if p == cwd or p in cwd.parents or p == Path(p.anchor):
        raise EdgecError(f"-o '{out}' is the current folder or holds it; edgec replaces its output folder whole, "
                         "so give a folder beside or below the current one")
    return p


def prepare(out) -> Path:
    """``out`` resolved, cleaned of an interrupted run's leftovers and checked replaceable."""
    p = resolve_out(out)
    recover(p)
    check_replaceable(p)
    return p


def temporary(out: Path) -> Path:
    """A new empty sibling folder to build ``out`` in."""
    tmp = out.parent / f".edgec-{_tag(out)}-new-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


@contextlib.contextmanager
def signals_held():
    """SIGINT and SIGTERM wait until the block ends (then they are delivered)."""
    sigs = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def commit(tmp: Path, out: Path) -> None:
    """Put the finished folder ``tmp`` in the place of ``out`` (see the module docstring)."""
    old = out.parent / f".edgec-{_tag(out)}-old-{os.getpid()}"
    with signals_held():
        if out.exists():
            check_replaceable(out)  # nothing of the user's appeared while we built
            out.rename(old)
        tmp.rename(out)
        if old.exists():
            shutil.rmtree(old, ignore_errors=True)


def write_manifest(folder: Path, manifest: dict) -> None:
    """``folder/edgec.json``: ``manifest`` plus the hash of every file in ``folder``."""
    m = dict(manifest, files=hashes(folder, skip=(MANIFEST,)))
    (folder / MANIFEST).write_text(json.dumps(m, indent=1, sort_keys=True) + "\n")


# ---- reading a build folder ---------------------------------------------------------

def open_build(d, *parts: str) -> tuple[Path, dict]:
    """(folder, manifest) of the build ``d``; every listed file under the given ``parts``
    (``sim``, ``hls``, ``rtl``, ``report.json`` ...) must be there, as edgec wrote it."""
    p = Path(d)
    if not (p / MANIFEST).is_file():
        raise EdgecError(f"'{d}' is not an edgec build folder (no {MANIFEST}); run `edgec build -o {d}` first")
    m = _read_manifest(p / MANIFEST)
    if m is None or not isinstance(m.get("axis"), dict) or "input_shape" not in m:
        raise EdgecError(f"'{p / MANIFEST}' is damaged (not the manifest edgec writes); "
                         f"rebuild with `edgec build -o {d}`")
    for part in parts:
        listed = [f for f in m["files"] if f == part or f.startswith(part + "/")]
        if not listed:
            raise EdgecError(f"'{p / MANIFEST}' lists no {part}; rebuild with `edgec build -o {d}`")
        for f in listed:
            fp = p / f
            if not fp.is_file():
                raise EdgecError(f"'{fp}' is missing from the build; rebuild with `edgec build -o {d}`")
            if sha256(fp) != m["files"][f]:
                raise EdgecError(f"'{fp}' is damaged (it differs from the file edgec wrote); "
                                 f"rebuild with `edgec build -o {d}`")
    return p, m


def read_report(d) -> dict:
    p, _ = open_build(d, "report.json")
    return json.loads((p / "report.json").read_text(encoding="utf-8"))


@contextlib.contextmanager
def work_dir(build: Path, name: str):
    """``build/name`` for a command's own files; its work manifest records them on exit,
    also when the command fails or is interrupted."""
    w = Path(build) / name
    if w.is_symlink() or w.exists() and not w.is_dir():
        raise EdgecError(f"'{w}' is not edgec's work folder; move it out of the build")
    if w.is_dir():
        wm = _read_manifest(w / WORK_MANIFEST) or {"files": {}}
        bad = foreign_files(w, wm, (WORK_MANIFEST,))
        if bad:
            raise EdgecError(f"'{w / bad[0]}' is not a file edgec wrote; move it out of the build")
    w.mkdir(parents=True, exist_ok=True)
    try:
        yield w
    finally:
        with signals_held():
            part = w / (WORK_MANIFEST + ".part")
            part.write_text(json.dumps({"files": hashes(w, skip=(WORK_MANIFEST, part.name))}, indent=1) + "\n")
            part.replace(w / WORK_MANIFEST)


def rewrite(build: Path, rel: str, text: str) -> None:
    """Replace the build's file ``rel`` (one the manifest lists, checked unchanged by the
    caller's ``open_build``) with ``text`` and record its new hash in the manifest; each
    file is written beside and renamed into place while SIGINT and SIGTERM wait."""
    build = Path(build)
    m = _read_manifest(build / MANIFEST)
    if m is None or rel not in m["files"]:
        raise EdgecError(f"'{build / MANIFEST}' lists no {rel}; rebuild with `edgec build -o {build}`")
    new = build / f"{rel}.edgec-part"
    new.write_text(text, encoding="utf-8")
    m["files"][rel] = sha256(new)
    part = build / (MANIFEST + ".edgec-part")
    part.write_text(json.dumps(m, indent=1, sort_keys=True) + "\n")
    with signals_held():
        new.replace(build / rel)
        part.replace(build / MANIFEST)
