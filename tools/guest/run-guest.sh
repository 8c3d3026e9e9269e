#!/bin/bash
# run-guest.sh - boot the build-guest.sh guest under QEMU (TCG, no KVM needed) with one vfio-user-pci device.
#
# Usage: run-guest.sh [--interactive] SOCKET_PATH [extra qemu args...]   (SOCKET_PATH "none": no device)
#   The vfio-user server must already be listening on SOCKET_PATH. The guest is built first if needed
#   (build-guest.sh --if-needed).
#   Batch (default): the guest prints what it sees, runs its loopback test and powers off; the console goes
#     to stdout and LOG. Exit 0 if the guest reached GUEST-DONE and printed no FAIL line, else 1.
#   --interactive: the guest's console on this terminal (QEMU owns it: keys go to the guest, Ctrl-C
#     included; Ctrl-A X quits QEMU), a shell after the listing, no test, no time limit; also logged to LOG.
#     Exit status: QEMU's (0 when the guest powered off).
# Env: QEMU=...        qemu-system-x86_64 >= 10.1 with vfio-user-pci (tools/qemu/find-qemu.sh finds one)
#      GUEST_DIR=...   the guest (default ~/.cache/umdev-guest);  GUEST_MODULES: see build-guest.sh
#      TIMEOUT=300     batch: hard limit in seconds;  MACHINE=q35 (or pc);  MEM=512M
#      APPEND="..."    extra kernel command line (e.g. guest.shell=1, 8250.nr_uarts=8)
#      GUEST_TEST=file host script run in the guest instead of the built-in loopback test
#      LOG=file        console log (default GUEST_DIR/logs/console-<date>.log)
# Example: run-guest.sh /tmp/mtty.sock --trace 'vfio_user_*'
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
interactive=0
[ "${1:-}" = --interactive ] && { interactive=1; shift; }
SOCK=${1:?usage: run-guest.sh [--interactive] SOCKET_PATH [extra qemu args]}; shift
QEMU=${QEMU:?set QEMU to a qemu-system-x86_64 of version 10.1 or newer (tools/qemu/find-qemu.sh finds one)}
export GUEST_DIR=${GUEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/umdev-guest}
"$here/build-guest.sh" --if-needed
mkdir -p "$GUEST_DIR/logs"
LOG=${LOG:-$GUEST_DIR/logs/console-$(date +%Y%m%d-%H%M%S).log}
INITRD=$GUEST_DIR/initramfs.cpio.gz
if [ -n "${GUEST_TEST:-}" ]; then   # append a second cpio archive holding /test.sh
  d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
  install -m 755 "$GUEST_TEST" "$d/test.sh"
  (cat "$INITRD"; cd "$d" && echo test.sh | cpio -o -H newc --quiet | gzip) > "$d/initrd"; INITRD=$d/initrd
fi
DEV=()
[ "$SOCK" = none ] || DEV=(-device "{\"driver\":\"vfio-user-pci\",\"socket\":{\"type\":\"unix\",\"path\":\"$SOCK\"}}")
MEM=${MEM:-512M}
COMMON=(-accel tcg -nodefaults -nographic -no-reboot -machine "${MACHINE:-q35},memory-backend=mem" -m "$MEM"
  -object memory-backend-memfd,id=mem,size="$MEM",share=on -kernel "$GUEST_DIR/vmlinuz" -initrd "$INITRD")

if [ "$interactive" = 1 ]; then
  # The console multiplexed with QEMU's monitor (Ctrl-A C) so that Ctrl-A X always gets the user out;
  # signal=off hands Ctrl-C to the guest instead of killing QEMU.
  set +e
  "$QEMU" "${COMMON[@]}" -chardev "stdio,id=console,mux=on,signal=off,logfile=$LOG" -serial chardev:console \
    -mon chardev=console -append "console=ttyS0,115200 panic=-1 guest.shell=1 guest.test=none guest.lspci=-v ${APPEND:-}" \
    "${DEV[@]}" "$@"
  exit $?
fi

FG=; [ -t 0 ] && FG=--foreground   # QEMU must own a terminal it reads from (else SIGTTIN stops it)
set +e
timeout $FG -k 5 "${TIMEOUT:-300}" "$QEMU" "${COMMON[@]}" -serial stdio -monitor none \
  -append "console=ttyS0,115200 panic=-1 ${APPEND:-}" "${DEV[@]}" "$@" 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}; set -e
echo "run-guest: qemu exit $rc, log $LOG"
grep -q '^=== GUEST-DONE' "$LOG" && ! grep -q '^FAIL' "$LOG"
