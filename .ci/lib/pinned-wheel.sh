# Sourced by .ci/setup.d scripts: fetch_pinned_wheel SPEC WHEEL SHA256 DIR downloads the PyPI
# wheel SPEC (e.g. "sklesion==0.2.2") into DIR unless WHEEL is already there, and stops the
# set-up when its sha256 is not SHA256.
fetch_pinned_wheel() {
  local spec="$1" wheel="$2" sha256="$3" dir="$4" actual
  mkdir -p "$dir"
  if [ -f "$dir/$wheel" ]; then
    echo "$wheel already in $dir"
  else
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
      "$spec" -d "$dir"
  fi
  actual="$(sha256sum "$dir/$wheel" | cut -d' ' -f1)"
  if [ "$actual" != "$sha256" ]; then
    echo "error: $dir/$wheel has sha256 $actual, expected $sha256" >&2
    exit 1
  fi
}
