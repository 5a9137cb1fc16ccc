#!/usr/bin/env bash
# Prepares a stock Debian kernel for tide: downloads linux-image-cloud-amd64 from Debian's
# archive, unpacks it and extracts the uncompressed ELF `vmlinux` that PVH boots (Debian's
# cloud kernel is built with CONFIG_PVH=y). Cached: a second run with the same kernel
# version does nothing.
#
# Usage: images/linux/prepare.sh [OUTDIR]     (default: build/images/linux)
# Result: OUTDIR/vmlinux (and OUTDIR/version, OUTDIR/config)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-build/images/linux}
mkdir -p "$out"
out=$(cd "$out" && pwd)

need() { command -v "$1" >/dev/null || { echo "prepare.sh: missing $1 (run scripts/setup.sh)" >&2; exit 1; }; }
need apt-cache; need dpkg-deb; need lz4; need xz; need zstd

pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
if [ -z "$pkg" ]; then
  echo "prepare.sh: linux-image-cloud-amd64 is unknown to apt (run apt-get update)" >&2
  exit 1
fi
if [ -f "$out/vmlinux" ] && [ "$(cat "$out/version" 2>/dev/null)" = "$pkg" ]; then
  echo "prepare.sh: $out/vmlinux is $pkg (cached)"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# apt drops privileges to _apt for downloads; let it write here.
chmod 0777 "$work"
if ! (cd "$work" && apt-get download -q "$pkg" >"$work/apt.log" 2>&1); then
  cat "$work/apt.log" >&2
  echo "prepare.sh: could not download $pkg" >&2
  exit 1
fi
dpkg-deb -x "$work"/*.deb "$work/root"
vmlinuz=$(ls "$work"/root/boot/vmlinuz-*)
cp "$work"/root/boot/config-* "$out/config"

# The bzImage setup header (Documentation/arch/x86/boot.rst): setup_sects at 0x1f1,
# payload_offset/payload_length at 0x248/0x24c, relative to the protected-mode code that
# starts at (setup_sects + 1) * 512.
u8()  { od -An -tu1 -j "$2" -N1 "$1" | tr -d ' '; }
u32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
setup_sects=$(u8 "$vmlinuz" $((0x1f1))); [ "$setup_sects" -eq 0 ] && setup_sects=4
pm=$(( (setup_sects + 1) * 512 ))
poff=$(u32 "$vmlinuz" $((0x248)))
plen=$(u32 "$vmlinuz" $((0x24c)))
dd if="$vmlinuz" of="$work/payload" bs=1M iflag=skip_bytes,count_bytes skip=$((pm + poff)) count="$plen" status=none

magic=$(od -An -tx1 -N4 "$work/payload" | tr -d ' ')
case "$magic" in
  02214c18) lz4 -dc < "$work/payload" > "$work/vmlinux" 2>/dev/null || true ;;  # legacy lz4 frames
  fd377a58) xz -dc < "$work/payload" > "$work/vmlinux" 2>/dev/null || true ;;
  28b52ffd) zstd -dc < "$work/payload" > "$work/vmlinux" 2>/dev/null || true ;;
  1f8b08*)  gzip -dc < "$work/payload" > "$work/vmlinux" 2>/dev/null || true ;;
  *) echo "prepare.sh: unknown kernel compression (magic $magic)" >&2; exit 1 ;;
esac
# The kernel appends its decompressed size after the stream, which decompressors may call
# trailing garbage; what matters is a complete ELF.
if [ "$(od -An -tx1 -N4 "$work/vmlinux" | tr -d ' ')" != "7f454c46" ]; then
  echo "prepare.sh: extraction did not produce an ELF vmlinux" >&2
  exit 1
fi
mv "$work/vmlinux" "$out/vmlinux"
echo "$pkg" > "$out/version"
echo "prepare.sh: $out/vmlinux from $pkg ($(du -h "$out/vmlinux" | cut -f1))"
