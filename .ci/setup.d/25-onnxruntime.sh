#!/usr/bin/env bash
# ONNX Runtime for the `medxfer export --to onnx` cross-check
# (crates/medxfer/tests/export_onnxruntime.py), in the shared venv `.cache/venv` that
# 20-python-reference.sh creates (NumPy comes from there). Idempotent: when the pinned version
# is already there it only runs one quick `python -c` check.
set -euo pipefail
root="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
cache="${MEDXFER_CACHE:-$root/.cache}"
venv="$cache/venv"

onnxruntime_version="1.31.1"

if [ ! -x "$venv/bin/python" ]; then
  mkdir -p "$cache"
  python3 -m venv "$venv"
fi

if "$venv/bin/python" - "$onnxruntime_version" <<'PY' 2>/dev/null
import sys
import numpy, onnxruntime
sys.exit(0 if onnxruntime.__version__ == sys.argv[1] else 1)
PY
then
  echo "onnxruntime already installed in $venv"
  exit 0
fi

"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  "onnxruntime==$onnxruntime_version" numpy
echo "installed onnxruntime $onnxruntime_version into $venv"
