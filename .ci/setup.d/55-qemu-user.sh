#!/usr/bin/env bash
# qemu-user for the AVX2-fallback check (.ci/avx2-fallback): medxfer builds gemm's AVX-512
# kernels (`x86-v4`) and picks them at run time; the check runs the fast CPU kernels' tests on
# an emulated AVX2-only CPU. Debian's `qemu-user`, apt-get installed when missing (needs root,
# as CI machines are; otherwise the check prints SKIP). Idempotent.
set -euo pipefail
[ "$(uname -m)" = x86_64 ] || { echo "not x86_64: no AVX2-fallback check"; exit 0; }
if command -v qemu-x86_64 >/dev/null; then
  echo "qemu-user already installed"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends qemu-user >/dev/null
  echo "installed qemu-user"
else
  echo "qemu-x86_64 missing and apt-get unavailable (not root): the AVX2-fallback check will SKIP"
fi
