#!/usr/bin/env bash
# Installs tide's build and test dependencies from Debian's archive (idempotent), then
# configures and builds tide. Usage: scripts/setup.sh [--sanitize] [--werror]
# Build directories: build/ (normal), build-san/ (ASan+UBSan).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential g++ cmake ninja-build pkg-config
  libboost1.81-dev libboost-json1.81-dev libxml2-dev libxml2-utils
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  qemu-system-x86 gnuplot-nox curl
  libvirt0 libvirt-clients
  xz-utils zstd lz4
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

build=build; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
for arg in "$@"; do
  case "$arg" in
    --sanitize) build=build-san; flags+=(-DTIDE_SANITIZE=ON) ;;
    --werror) flags+=(-DTIDE_WERROR=ON) ;;
    *) echo "setup: unknown option $arg" >&2; exit 2 ;;
  esac
done
cmake -S . -B "$build" -G Ninja "${flags[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"
