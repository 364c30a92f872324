#!/usr/bin/env bash
# Build the same set (scripts/build_set.py) with edgec at REV and with the working tree
# (or at a second revision), and diff the output folders: a refactoring must leave every
# byte as it was.
#   scripts/compare_builds.sh REV [OTHER_REV]
# EDGEC_COMPARE_DIR: the folder to work in (default: a new temporary one). Needs the
# project's .venv (bash scripts/setup.sh). Exit 0 when all folders are identical.
set -euo pipefail
REV=${1:?usage: scripts/compare_builds.sh REV [OTHER_REV]}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY="$ROOT/.venv/bin/python"
WORK=${EDGEC_COMPARE_DIR:-$(mktemp -d -t edgec-compare-XXXXXX)}
mkdir -p "$WORK/rev"
git -C "$ROOT" archive "$REV" | tar -x -C "$WORK/rev"
OTHER="$ROOT"
NAME="the working tree"
if [ -n "${2:-}" ]; then
    OTHER="$WORK/other"
    NAME="$2"
    mkdir -p "$OTHER"
    git -C "$ROOT" archive "$2" | tar -x -C "$OTHER"
fi
"$PY" "$ROOT/scripts/build_set.py" models "$WORK/models"
(cd "$WORK" && PYTHONPATH="$WORK/rev" "$PY" "$ROOT/scripts/build_set.py" builds "$WORK/models" "$WORK/a")
(cd "$WORK" && PYTHONPATH="$OTHER" "$PY" "$ROOT/scripts/build_set.py" builds "$WORK/models" "$WORK/b")
if diff -r -q "$WORK/a" "$WORK/b"; then
    echo "compare_builds: $(ls "$WORK/a" | wc -l) output folders identical at $REV and $NAME ($WORK)"
else
    echo "compare_builds: the output folders differ ($WORK/a: $REV, $WORK/b: $NAME)" >&2
    exit 1
fi
