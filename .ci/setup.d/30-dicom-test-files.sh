#!/usr/bin/env bash
# DICOM / NIfTI test files for medxfer-dicom: pinned pydicom (+ its data/test_files),
# pydicom-data (large test files), nibabel (NIfTI test files) and the pylibjpeg codecs pydicom
# needs to decode compressed transfer syntaxes, installed into the shared venv .cache/venv.
# Then writes the file locations to .cache/dicom-test-files.txt and the pydicom reference
# pixel arrays to .cache/dicom-reference/ (both read by the medxfer-dicom tests).
# Idempotent: pip skips satisfied pins, the reference dump is redone only when its inputs change.
set -euo pipefail
root="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
cache="${MEDXFER_CACHE:-$root/.cache}"
venv="$cache/venv"
mkdir -p "$cache"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
py="$venv/bin/python"

pins=(
  "pydicom==3.0.2"
  "pydicom-data==1.0.0"
  "nibabel==5.4.2"
  "pylibjpeg==2.1.0"
  "pylibjpeg-libjpeg==2.5.0"
  "pylibjpeg-openjpeg==2.6.0"
  "pylibjpeg-rle==2.2.0"
)
# numpy is shared with other setup steps: pin it only when nobody installed it yet.
if ! "$py" -c "import numpy" 2>/dev/null; then
  pins+=("numpy==2.2.6")
fi
missing=0
for pin in "${pins[@]}"; do
  name="${pin%%==*}"; want="${pin##*==}"
  # `pip show` exits 1 for a package that is not installed yet (a fresh machine): not an error.
  have="$("$py" -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p' || true)"
  [ "$have" = "$want" ] || missing=1
done
if [ "$missing" = 1 ]; then
  "$py" -m pip install --quiet --disable-pip-version-check "${pins[@]}"
fi

# Where the files are (one `key=path` per line).
"$py" - "$cache/dicom-test-files.txt" <<'PY'
import os, sys, pydicom, nibabel
import data_store  # the pydicom-data package installs as `data_store`
pyd = os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files")
ext = os.path.join(os.path.dirname(data_store.__file__), "data")
nib = os.path.join(os.path.dirname(nibabel.__file__), "tests", "data")
tmp = sys.argv[1] + ".tmp"
with open(tmp, "w") as f:
    f.write(f"pydicom_test_files={pyd}\npydicom_data={ext}\nnibabel_test_data={nib}\npython={sys.executable}\n")
os.replace(tmp, sys.argv[1])
PY

# pydicom reference pixel arrays, redone when the dump script or the pins change.
dump="$root/crates/medxfer-dicom/tests/reference/dump_pydicom.py"
stamp="$cache/dicom-reference/.stamp"
want_stamp="$(cat "$dump" <(printf '%s\n' "${pins[@]}") | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want_stamp" ]; then
  "$py" "$dump" --files "$cache/dicom-test-files.txt" --out "$cache/dicom-reference"
  echo "$want_stamp" > "$stamp"
fi
