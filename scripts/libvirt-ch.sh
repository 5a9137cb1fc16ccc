#!/usr/bin/env bash
# Builds libvirt with its Cloud Hypervisor driver (`virtchd`) and `virsh`, from Debian 12's
# own libvirt source (Debian's packages are built without that driver), and installs them
# into a prefix. Cached: a second run with the same source and options does nothing.
#
# Usage: scripts/libvirt-ch.sh [OUTDIR]     (default: build/libvirt-ch)
# Result: OUTDIR/sbin/virtchd, OUTDIR/bin/virsh (their paths are the last two lines printed)
#
# The source is the version of Debian's libvirt0 package (installed, else the candidate),
# fetched from Debian's pool and checked against the sha256 in the Sources index of
# bookworm, bookworm-updates or bookworm-security; Debian's patch series is applied so the
# code is the code Debian ships. None of those patches touches the ch driver; three fix
# the RPC code that virsh and virtchd speak (a security fix among them). If that version's source is gone from the
# pool, the build falls back to the release tarball that bookworm lists, unpatched.
# The build is trimmed to the ch driver, the remote driver and the daemons: no other
# hypervisor, network, storage or security driver, no docs, no tests.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/libvirt-ch}
mkdir -p "$out"
out=$(cd "$out" && pwd)
marker="$out/.libvirt-ch"
mirror=http://deb.debian.org

# Debian's tools first: a python3 or meson from elsewhere on PATH must not take part.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

packages=(
  build-essential pkg-config meson ninja-build python3 perl rpcsvc-proto
  libxml2-utils xsltproc curl xz-utils patch
  libglib2.0-dev libxml2-dev libgnutls28-dev libtirpc-dev libcurl4-gnutls-dev libyajl-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "libvirt-ch: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q >/dev/null
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

disabled=(
  driver_bhyve driver_esx driver_hyperv driver_interface driver_libxl driver_lxc
  driver_network driver_openvz driver_qemu driver_secrets driver_test driver_vbox
  driver_vmware driver_vz secdriver_apparmor secdriver_selinux apparmor apparmor_profiles
  selinux attr audit bash_completion blkid capng fuse glusterfs libiscsi libnl libpcap
  libssh libssh2 netcf numactl openwsman pciaccess polkit readline sanlock sasl udev
  wireshark_dissector storage_dir storage_disk storage_fs storage_gluster storage_iscsi
  storage_iscsi_direct storage_lvm storage_mpath storage_rbd storage_scsi storage_vstorage
  storage_zfs dtrace firewalld firewalld_zone host_validate login_shell nss numad pm_utils
  sysctl_config docs tests expensive_tests nls
)
options=(
  --prefix="$out" --buildtype=plain -Doptimization=2
  -Ddriver_ch=enabled -Ddriver_remote=enabled -Ddriver_libvirtd=enabled
  -Dyajl=enabled -Dcurl=enabled -Drpath=enabled -Dinit_script=none
)
for o in "${disabled[@]}"; do options+=("-D$o=disabled"); done

version=$(dpkg-query -W -f='${Version}' libvirt0 2>/dev/null || true)
[ -n "$version" ] || version=$(apt-cache show libvirt0 2>/dev/null | awk '/^Version:/{print $2; exit}')
[ -n "$version" ] || { echo "libvirt-ch: libvirt0 is unknown to apt (run apt-get update)" >&2; exit 1; }
key="libvirt $version; options $(printf '%s\n' "${options[@]}" | sha256sum | cut -c1-16)"

report() {
  echo "libvirt-ch: $1"
  echo "$out/sbin/virtchd"
  echo "$out/bin/virsh"
}
if [ "$(cat "$marker" 2>/dev/null)" = "$key" ] && [ -x "$out/sbin/virtchd" ] && [ -x "$out/bin/virsh" ]; then
  report "libvirt $version with the ch driver in $out (cached)"
  exit 0
fi
# Everything in OUTDIR is replaced: refuse a directory this script did not make.
if [ -n "$(ls -A "$out")" ] && [ ! -f "$marker" ]; then
  echo "libvirt-ch: $out is not empty and was not made by this script; choose another OUTDIR" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fetch() { curl -sfL --retry 3 -o "$2" "$1" || { echo "libvirt-ch: could not download $1" >&2; exit 1; }; }

# The Sources stanza of libvirt $1 in the given index: "directory file sha256" lines.
stanza_files() {
  xz -dc "$2" | awk -v want="$1" '
    BEGIN { RS = ""; FS = "\n" }
    {
      pkg = ""; ver = ""; dir = ""; n = 0; in_sha = 0
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^Package: /) pkg = substr($i, 10)
        else if ($i ~ /^Version: /) ver = substr($i, 10)
        else if ($i ~ /^Directory: /) dir = substr($i, 12)
        else if ($i ~ /^Checksums-Sha256:/) in_sha = 1
        else if ($i ~ /^ / && in_sha) { split($i, f, " "); files[++n] = f[3] " " f[1] }
        else in_sha = 0
      }
      if (!done && pkg == "libvirt" && (want == "" || ver == want)) {
        for (j = 1; j <= n; j++) print dir, files[j]
        done = 1
      }
    }'
}

found=""; base=""
for where in "debian bookworm" "debian bookworm-updates" "debian-security bookworm-security"; do
  set -- $where
  fetch "$mirror/$1/dists/$2/main/source/Sources.xz" "$work/Sources.xz"
  found=$(stanza_files "$version" "$work/Sources.xz")
  if [ -n "$found" ]; then base=$1; break; fi
done
patched=yes
if [ -z "$found" ]; then
  echo "libvirt-ch: the source of libvirt0 $version is not in Debian's pool; building the release bookworm lists, without Debian's patches"
  fetch "$mirror/debian/dists/bookworm/main/source/Sources.xz" "$work/Sources.xz"
  found=$(stanza_files "" "$work/Sources.xz" | grep '\.orig\.tar\.' || true)
  base=debian; patched=no
fi

src="$work/src"; mkdir -p "$src"
while read -r dir file sha; do
  case "$file" in
    *.orig.tar.xz | *.debian.tar.xz) ;;
    *) continue ;;
  esac
  fetch "$mirror/$base/$dir/$file" "$work/$file"
  echo "$sha  $work/$file" | sha256sum -c --quiet - || { echo "libvirt-ch: checksum mismatch for $file" >&2; exit 1; }
  case "$file" in
    *.orig.tar.xz) tar -xJf "$work/$file" -C "$src" --strip-components=1 ;;
    *.debian.tar.xz) tar -xJf "$work/$file" -C "$src" ;;
  esac
done <<<"$found"
[ -f "$src/meson.build" ] || { echo "libvirt-ch: no libvirt source found in Debian's Sources index" >&2; exit 1; }
if [ "$patched" = yes ] && [ -f "$src/debian/patches/series" ]; then
  n=0
  while read -r p _; do
    case "$p" in '' | '#'*) continue ;; esac
    patch -d "$src" -p1 --quiet --no-backup-if-mismatch <"$src/debian/patches/$p"
    n=$((n + 1))
  done <"$src/debian/patches/series"
  echo "libvirt-ch: libvirt $version: applied Debian's $n patches"
fi

echo "libvirt-ch: configuring and building (a few minutes)"
if ! meson setup "$work/build" "$src" "${options[@]}" >"$work/meson.log" 2>&1; then
  tail -30 "$work/meson.log" >&2
  echo "libvirt-ch: meson setup failed" >&2
  exit 1
fi
if ! ninja -C "$work/build" >"$work/ninja.log" 2>&1; then
  grep -B2 -A12 -m3 "error" "$work/ninja.log" >&2 || tail -30 "$work/ninja.log" >&2
  echo "libvirt-ch: build failed" >&2
  exit 1
fi
find "$out" -mindepth 1 -delete
echo incomplete >"$marker"
meson install -C "$work/build" --no-rebuild >"$work/install.log" 2>&1 || { tail -20 "$work/install.log" >&2; exit 1; }
echo "$key" >"$marker"
report "libvirt $version with the ch driver installed in $out"
