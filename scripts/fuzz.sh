#!/usr/bin/env bash
# Builds tide's libFuzzer targets in their own clang tree (build-fuzz/, -DTIDE_FUZZ=ON:
# coverage + ASan + UBSan) and runs the balloon queue fuzzer for a bounded time.
# Usage: scripts/fuzz.sh [seconds]   (default 60)
# Installs clang (and libFuzzer's runtime) from Debian only if missing. The corpus persists
# in build-fuzz/fuzz-corpus/, so each run continues the last one. Exits non-zero if the
# fuzzer finds a crash, a leak, a timeout or a broken invariant; the reproducer is left in
# build-fuzz/fuzz-artifacts/ (replay: build-fuzz/tests/fuzz/<target> <file>).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz: the run time must be a positive number of seconds, not '$seconds'" >&2
  exit 2
fi

apt_install() {
  echo "fuzz: installing $*"
  export DEBIAN_FRONTEND=noninteractive
  local sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "$@"
}
links_fuzzer() {
  echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' |
    clang++ -x c++ -fsanitize=fuzzer - -o /dev/null 2>/dev/null
}
if ! command -v clang >/dev/null || ! command -v clang++ >/dev/null; then
  apt_install clang
fi
if ! links_fuzzer; then
  # Debian ships libFuzzer's runtime apart from the compiler (libclang-rt-<major>-dev).
  major=$(clang++ -dumpversion | cut -d. -f1)
  apt_install "libclang-rt-${major}-dev"
  links_fuzzer || { echo "fuzz: clang++ cannot link -fsanitize=fuzzer" >&2; exit 1; }
fi

build=build-fuzz
target=tide_fuzz_balloon_queue
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTIDE_FUZZ=ON >/dev/null
cmake --build "$build" --target "$target" -j"$(nproc)"

corpus="$build/fuzz-corpus/$target"
artifacts="$build/fuzz-artifacts"
mkdir -p "$corpus" "$artifacts"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "fuzz: running $target for ${seconds}s (corpus $corpus)"
set +e
"$build/tests/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$artifacts/$target-" "$corpus" >"$log" 2>&1
status=$?
set -e
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
if [ "$status" -ne 0 ]; then
  tail -n 60 "$log" >&2
  echo "fuzz: $target FAILED (exit $status); reproducer in $artifacts/" >&2
  exit "$status"
fi
echo "fuzz: $target ok: ${execs:-?} inputs in ${seconds}s, corpus $(find "$corpus" -type f | wc -l) entries"
