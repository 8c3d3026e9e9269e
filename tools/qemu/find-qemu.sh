#!/bin/bash
# find-qemu.sh - print the path of a qemu-system-x86_64 >= 10.1 with the vfio-user-pci client, or exit 1.
#
# Usage: find-qemu.sh            look: $QEMU if set (and nothing else), else the newest build-qemu.sh build
#                                (under QEMU_WORK, default ~/.cache/umdev-qemu), else qemu-system-x86_64 on PATH
#        find-qemu.sh --build    the same, and when nothing is found build one with build-qemu.sh (progress on
#                                stderr; about 15 min on 2 cores, needs root and the Debian mirror)
# Exit 1 with one line on stderr saying what is wrong and how to get a QEMU. Debian 12's QEMU is 7.2: no vfio-user.
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
usable() {  # usable PATH: version >= 10.1 and the vfio-user-pci device
  local v
  v=$("$1" --version 2>/dev/null | sed -n 's/^QEMU emulator version \([0-9][0-9.]*\).*/\1/p')
  [ -n "$v" ] && printf '%s\n' 10.1 "$v" | sort -V -C && "$1" -device vfio-user-pci,help >/dev/null 2>&1
}
if [ -n "${QEMU:-}" ]; then
  usable "$QEMU" && { echo "$QEMU"; exit 0; }
  echo "$QEMU is not a qemu-system-x86_64 >= 10.1 with vfio-user-pci" >&2
  exit 1
fi
for q in "$("$here/build-qemu.sh" --path 2>/dev/null || true)" "$(command -v qemu-system-x86_64 || true)"; do
  [ -n "$q" ] && usable "$q" && { echo "$q"; exit 0; }
done
if [ "${1:-}" = --build ]; then
  echo "no QEMU >= 10.1 with vfio-user-pci found: building one with tools/qemu/build-qemu.sh (about 15 min)" >&2
  q=$("$here/build-qemu.sh") && usable "$q" && { echo "$q"; exit 0; }
  echo "building QEMU failed (tools/qemu/build-qemu.sh)" >&2
  exit 1
fi
echo "no QEMU >= 10.1 with vfio-user-pci found (Debian 12 has 7.2); build one with tools/qemu/build-qemu.sh (about 15 min)" >&2
exit 1
