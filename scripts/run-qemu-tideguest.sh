#!/usr/bin/env bash
# Boots tideguest under QEMU/KVM (microvm with PCIe, virtio-rng, debug-exit) with the
# serial console on stdout, and exits with the guest's own status (QEMU's >> 1).
# Usage: scripts/run-qemu-tideguest.sh [-k ELF] [-r 'script'] [extra qemu args...]
#   -k ELF      kernel (default: $TIDEGUEST_ELF or build/images/tideguest/tideguest.elf)
#   -r SCRIPT   tide.run script (default: 'info; exit 0'); -a APPEND sets the whole cmdline
#   -m/-smp/... any other argument is passed to QEMU after the defaults (later ones win).
# Environment: QEMU (binary), TIDEGUEST_MACHINE (default microvm,pcie=on).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
elf="${TIDEGUEST_ELF:-$root/build/images/tideguest/tideguest.elf}"
script='info; exit 0'
append=''
while (($#)); do
  case "$1" in
    -k) elf="$2"; shift 2 ;;
    -r) script="$2"; shift 2 ;;
    -a) append="$2"; shift 2 ;;
    *) break ;;
  esac
done
[ -n "$append" ] || append="tide.run=\"$script\""
if [ ! -f "$elf" ]; then
  echo "run-qemu-tideguest: no kernel at $elf (build the tideguest target first)" >&2
  exit 125
fi
machine="${TIDEGUEST_MACHINE:-microvm,pcie=on}"
bios=()
case "$machine" in
  q35*|pc*) bios=(-bios /usr/share/qemu/qboot.rom) ;;
esac
"${QEMU:-qemu-system-x86_64}" -accel kvm -M "$machine" "${bios[@]}" -m 512 \
  -nographic -no-reboot -serial stdio -monitor none \
  -device isa-debug-exit,iobase=0x501,iosize=2 -device virtio-rng-pci \
  -kernel "$elf" -append "$append" "$@" </dev/null
status=$?
# isa-debug-exit: QEMU exits with (value << 1) | 1; anything even is QEMU's own status.
if ((status & 1)); then
  exit $((status >> 1))
fi
echo "run-qemu-tideguest: QEMU exited with status $status without a guest exit" >&2
exit 124
