#!/usr/bin/env bash
# Headless Chromium for the end-to-end test of `medxfer serve`'s web page
# (crates/medxfer/tests/serve_browser.rs drives crates/medxfer/tests/serve_browser.py):
#  - Debian's `chromium` and `chromium-driver`, apt-get installed when missing (needs root, as
#    CI machines are; otherwise the test prints SKIP);
#  - `selenium` from PyPI into the shared venv `.cache/venv` (made by 20-python-reference.sh
#    when this runs alone).
# Idempotent: nothing is installed when both are already there.
set -euo pipefail
root="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
cache="${MEDXFER_CACHE:-$root/.cache}"
venv="$cache/venv"
selenium_version="4.27.1"

if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  echo "chromium and chromedriver already installed"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
  echo "installed chromium and chromium-driver"
else
  echo "chromium/chromedriver missing and apt-get unavailable (not root): the browser test will SKIP"
fi

if [ ! -x "$venv/bin/python" ]; then
  mkdir -p "$cache"
  python3 -m venv "$venv"
fi
if "$venv/bin/python" -c "import selenium, sys; sys.exit(selenium.__version__ != sys.argv[1])" \
  "$selenium_version" 2>/dev/null; then
  echo "selenium $selenium_version already installed in $venv"
  exit 0
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "selenium==$selenium_version"
echo "installed selenium $selenium_version into $venv"
