#!/usr/bin/env bash
# Build the same set (scripts/build_set.py) with edgec at REV and with the working tree,
# and diff the output folders: a refactoring must leave every byte as it was.
#   scripts/compare_builds.sh REV [WORK_DIR]
# Needs the project's .venv (bash scripts/setup.sh). Exit 0 when all folders are identical.
set -euo pipefail
REV=${1:?usage: scripts/compare_builds.sh REV [WORK_DIR]}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY="$ROOT/.venv/bin/python"
WORK=${2:-$(mktemp -d -t edgec-compare-XXXXXX)}
mkdir -p "$WORK/rev"
git -C "$ROOT" archive "$REV" | tar -x -C "$WORK/rev"
"$PY" "$ROOT/scripts/build_set.py" models "$WORK/models"
(cd "$WORK" && PYTHONPATH="$WORK/rev" "$PY" "$ROOT/scripts/build_set.py" builds "$WORK/models" "$WORK/a")
(cd "$WORK" && PYTHONPATH="$ROOT" "$PY" "$ROOT/scripts/build_set.py" builds "$WORK/models" "$WORK/b")
if diff -r -q "$WORK/a" "$WORK/b"; then
    echo "compare_builds: $(ls "$WORK/a" | wc -l) output folders identical at $REV and the working tree ($WORK)"
else
    echo "compare_builds: the output folders differ ($WORK/a: $REV, $WORK/b: working tree)" >&2
    exit 1
fi
