#!/usr/bin/env bash
# Sets up everything (Debian packages, build) and runs tide's main job on its default
# guest: boots tideguest natively, runs a short scenario and prints what happened.
# Usage: scripts/quickstart.sh [extra tide run flags]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
scenario='info; pci; rng 32; memtouch 128M seq 2; memtouch 128M rand 1; exit 0'
echo "quickstart: build/tide run --memory 512M --cmdline 'tide.run=\"$scenario\"' $*"
exec build/tide run --memory 512M --cmdline "tide.run=\"$scenario\"" "$@"
