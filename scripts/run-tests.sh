#!/usr/bin/env bash
# Sets up everything (Debian packages, build, test images) and runs every test layer.
# Usage: scripts/run-tests.sh [--sanitize] [--werror] [ctest args...]
#   --sanitize  use the ASan+UBSan build (build-san/)
# Fails if /dev/kvm exists and any test was skipped: KVM tests skip only without KVM.
# Output ends with ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."

setup_args=(); build=build; ctest_args=()
for arg in "$@"; do
  case "$arg" in
    --sanitize) setup_args+=(--sanitize); build=build-san ;;
    --werror) setup_args+=(--werror) ;;
    *) ctest_args+=("$arg") ;;
  esac
done
scripts/setup.sh "${setup_args[@]}"
images/linux/prepare.sh "$build/images/linux"
scripts/libvirt-ch.sh "$build/libvirt-ch"
# The libFuzzer targets, in their own clang tree (build-fuzz/); any finding fails the run.
scripts/fuzz.sh 30

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
ctest --test-dir "$build" --output-on-failure --no-tests=error "${ctest_args[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if [ -e /dev/kvm ] && grep -q "(Skipped)" "$log"; then
  echo "run-tests: /dev/kvm exists but tests were skipped (see above); KVM tests must run here" >&2
  exit 1
fi
exit "$status"
