#!/usr/bin/env bash
# Reference implementations for medxfer-eval's cross-checks (scikit-learn, SciPy, NumPy) in the
# shared venv `.cache/venv`. Idempotent: when the pinned versions are already there it only
# runs one quick `python -c` check.
set -euo pipefail
root="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
cache="${MEDXFER_CACHE:-$root/.cache}"
venv="$cache/venv"

numpy_version="2.4.6"
scipy_version="1.17.1"
sklearn_version="1.9.1"

if [ ! -x "$venv/bin/python" ]; then
  mkdir -p "$cache"
  python3 -m venv "$venv"
fi

if "$venv/bin/python" - "$numpy_version" "$scipy_version" "$sklearn_version" <<'PY' 2>/dev/null
import sys
import numpy, scipy, sklearn
wanted = sys.argv[1:]
have = [numpy.__version__, scipy.__version__, sklearn.__version__]
sys.exit(0 if have == wanted else 1)
PY
then
  echo "python reference packages already installed in $venv"
  exit 0
fi

"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  "numpy==$numpy_version" "scipy==$scipy_version" "scikit-learn==$sklearn_version"
echo "installed numpy $numpy_version, scipy $scipy_version, scikit-learn $sklearn_version into $venv"
