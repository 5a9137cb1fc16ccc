#!/usr/bin/env bash
# Sets up everything (Debian packages, build) and runs tide's main job on its default
# guest: `tide host` boots tideguest natively, the guest runs a short scenario, then tide
# inflates its balloon to half the guest and deflates it again, printing at each step
# what the guest, the balloon and the host memory show.
# Usage: scripts/quickstart.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
tide=build/tide
dir=$(mktemp -d /tmp/tide-quickstart.XXXXXX)
sock=$dir/api.sock
cleanup() {
  "$tide" ctl --api-socket "$sock" host-shutdown >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
ctl() { echo "\$ tide ctl $*"; "$tide" ctl --api-socket "$sock" "$@"; }

scenario='info; pci; rng 32; memtouch 128M seq 2; memtouch 128M rand 1; echo scenario done; serve'
cat >"$dir/quickstart.json" <<JSON
{"name": "quickstart", "memory": "512M",
 "cmdline": "tide.run=\"$scenario\"",
 "balloon": {"free_page_reporting": true, "stats_period": 1}}
JSON
echo "quickstart: tide host --api-socket $sock --pool 512M"
"$tide" host --api-socket "$sock" --pool 512M 2>"$dir/host.log" &
for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
ctl create "$dir/quickstart.json"
for _ in $(seq 600); do
  "$tide" ctl --api-socket "$sock" console quickstart | grep -q '^scenario done' && break
  sleep 0.05
done
echo "--- tideguest's console ---"
"$tide" ctl --api-socket "$sock" console quickstart
echo "---"
ctl balloon quickstart
ctl info quickstart | grep -E 'resident'
ctl balloon quickstart 256M --wait
ctl info quickstart | grep -E 'resident'
ctl setmem quickstart 512M --wait
ctl info quickstart | grep -E 'resident'
ctl audit
ctl host-shutdown
wait
