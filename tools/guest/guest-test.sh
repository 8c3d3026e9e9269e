#!/bin/bash
# guest-test.sh - a real Linux guest drives umdev's mtty card over vfio-user.
#
# Starts `umdev serve` on temporary directories, creates an mtty-2 device through the mounted sysfs, boots
# the small Debian guest of ../shared/tools/guest under QEMU (vfio-user-pci on the device's socket) and
# asserts on what the guest printed: lspci sees the CH352 card bound to the 8250 `serial` driver, the
# kernel finds a 16550A at each of its I/O BARs, and a loopback through each port reads back what it
# wrote. Then the same for an mtty-1 device (one port). Prints one line per check, a PASS/FAIL summary
# and, last, "guest: N passed, M failed" (test.sh adds those to its totals). Exit 1 if any check failed.
#
# Env: QEMU=...                 qemu-system-x86_64 >= 10.1 to use (else tools/qemu/build-qemu.sh's build)
#      UMDEV_GUEST_TEST=required  no QEMU found: build one (~15 min) instead of skipping
#      UMDEV_GUEST_TEST=off       skip
#      QEMU_WORK=DIR            where build-qemu.sh builds (default ~/.cache/umdev-qemu)
#      GUEST_DIR=DIR            guest kernel + initramfs (default ~/.cache/umdev-guest; built if missing)
#      GUEST_TIMEOUT=300        seconds one boot may take (TCG, no KVM needed)
#      UMDEV_DLL=PATH           a built umdev.dll to run (test.sh passes its build's); else ./umdev builds one
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
repo=$(cd "$here/../.." && pwd)
shared=$(realpath -m "$repo/../shared/tools/guest")   # shared/ is a sibling of the repository
mode=${UMDEV_GUEST_TEST:-auto}
export GUEST_DIR=${GUEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/umdev-guest}

if [ "$mode" = off ]; then echo "guest test: skipped — UMDEV_GUEST_TEST=off"; exit 0; fi

passed=0 failed=0
check() {  # check DESCRIPTION COMMAND...: run COMMAND, count and print the outcome
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "  ok    $what"
  else failed=$((failed + 1)); echo "  FAIL  $what"; fi
}
finish() {
  if [ "$failed" -eq 0 ]; then echo "guest test: PASS ($passed checks)"
  else echo "guest test: FAIL ($failed of $((passed + failed)) checks failed)"; fi
  echo "guest: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
abort() { echo "guest test: $*"; failed=$((failed + 1)); finish || true; exit 1; }

# --- QEMU >= 10.1 with the vfio-user-pci client ---
qemu_ok() {
  local v
  v=$("$1" --version 2>/dev/null | sed -n 's/^QEMU emulator version \([0-9][0-9.]*\).*/\1/p')
  [ -n "$v" ] && printf '%s\n' 10.1 "$v" | sort -V -C && "$1" -device vfio-user-pci,help >/dev/null 2>&1
}
if [ -n "${QEMU:-}" ]; then
  qemu_ok "$QEMU" || abort "QEMU=$QEMU is not a qemu-system-x86_64 >= 10.1 with vfio-user-pci"
elif QEMU=$("$repo/tools/qemu/build-qemu.sh" --path) && qemu_ok "$QEMU"; then
  :
elif [ "$mode" = required ]; then
  echo "guest test: no QEMU >= 10.1 found, building one (tools/qemu/build-qemu.sh)"
  QEMU=$("$repo/tools/qemu/build-qemu.sh") && qemu_ok "$QEMU" || abort "building QEMU failed"
else
  echo "guest test: skipped — no QEMU >= 10.1 (build one with tools/qemu/build-qemu.sh)"
  exit 0
fi
export QEMU
echo "guest test: $("$QEMU" --version | head -1) at $QEMU"

# --- the guest (Debian kernel + busybox initramfs), built once ---
if [ ! -s "$GUEST_DIR/vmlinuz" ] || [ ! -s "$GUEST_DIR/initramfs.cpio.gz" ]; then
  need=()
  command -v busybox >/dev/null 2>&1 || need+=(busybox)
  command -v cpio >/dev/null 2>&1 || need+=(cpio)
  command -v readelf >/dev/null 2>&1 || need+=(binutils)
  if [ ${#need[@]} -gt 0 ]; then
    echo "guest test: installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  mkdir -p "$GUEST_DIR"
  start=$SECONDS
  ( flock 9   # other worktrees may build the same cache at the same time
    { [ -s "$GUEST_DIR/vmlinuz" ] && [ -s "$GUEST_DIR/initramfs.cpio.gz" ]; } || "$shared/build-guest.sh" "$GUEST_DIR"
  ) 9>"$GUEST_DIR/.build-lock" >&2 || abort "building the guest failed ($shared/build-guest.sh)"
  echo "guest test: guest built in $((SECONDS - start)) s"
fi

# --- the daemon ---
if [ -n "${UMDEV_DLL:-}" ]; then umdev=(dotnet "$UMDEV_DLL"); else umdev=("$repo/umdev"); fi
"${umdev[@]}" --help >/dev/null || abort "building umdev failed"   # build before timing the start
tmp=$(mktemp -d /tmp/umdev-guest.XXXXXX)
sysfs=$tmp/sys sockets=$tmp/sock pid=""
mkdir -p "$sysfs" "$sockets"
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"   # serve unmounts on SIGTERM
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
  fi
  if mountpoint -q "$sysfs" 2>/dev/null; then fusermount3 -u -z "$sysfs" 2>/dev/null || umount -l "$sysfs"; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
"${umdev[@]}" serve --sysfs "$sysfs" --sockets "$sockets" >"$tmp/serve.out" 2>"$tmp/serve.err" &
pid=$!
for _ in $(seq 240); do
  grep -q '^ready ' "$tmp/serve.out" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.5
done
grep -q '^ready ' "$tmp/serve.out" || { tail -20 "$tmp/serve.err"; abort "umdev serve did not print ready"; }

parent=$sysfs/devices/virtual/mtty/mtty
wait_for() { for _ in $(seq 120); do [ -e "$1" ] && return 0; sleep 0.25; done; return 1; }
write_attr() { echo "$2" > "$1"; }   # echo VALUE > sysfs attribute
section() { awk -v a="$2" -v b="$3" 'index($0, a) == 1 { on = 1; next } index($0, b) == 1 { on = 0 } on' "$1"; }
# The card's lspci block (header line to blank line) and its BDF.
card_re='^([0-9a-f]{2}:[0-9a-f]{2}\.[0-7]) Serial controller \[0700\]: .*\[4348:3253\] \(rev 10\) \(prog-if 02 \[16550\]\)$'

# boot TYPE UUID PORTS: create the device, boot the guest on it, assert, remove the device.
boot() {
  local type=$1 uuid=$2 ports=$3 log rc start lspci card bdf dmesg ttys tty addr n ok failed0=$failed
  local sock=$sockets/$uuid.sock
  echo "guest test: $type ($ports port(s)), device $uuid"
  check "$type: create through $parent/mdev_supported_types/$type/create" \
    write_attr "$parent/mdev_supported_types/$type/create" "$uuid"
  check "$type: vfio-user socket $sock appears" wait_for "$sock"
  mkdir -p "$GUEST_DIR/logs"
  log=$GUEST_DIR/logs/guest-test-$type-$(date +%Y%m%d-%H%M%S).log
  start=$SECONDS
  set +e
  TIMEOUT=${GUEST_TIMEOUT:-300} LOG=$log "$shared/run-guest.sh" "$sock" >/dev/null 2>&1
  rc=$?
  set -e
  echo "guest test: $type boot and test took $((SECONDS - start)) s (console log $log)"
  tr -d '\r' < "$log" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g' > "$tmp/console"   # CRLF, SeaBIOS escapes
  check "$type: guest booted, ran its test and powered off (run-guest.sh exit $rc)" [ "$rc" -eq 0 ]

  lspci=$(section "$tmp/console" "=== PCI DEVICES" "=== /proc/tty/driver/serial")
  n=$(grep -cE "$card_re" <<<"$lspci" || true)
  check "$type: lspci shows one '… [4348:3253] (rev 10) (prog-if 02 [16550])' (found $n)" [ "$n" -eq 1 ]
  bdf=$(grep -E "$card_re" <<<"$lspci" | head -1 | cut -d' ' -f1 || true); bdf=${bdf:-none}
  card=$(awk -v b="$bdf" 'index($0, b " ") == 1 { on = 1 } on && /^$/ { exit } on' <<<"$lspci")
  check "$type: lspci: Kernel driver in use: serial" grep -qx $'\tKernel driver in use: serial' <<<"$card"
  n=$(grep -cE $'^\tRegion [0-9]: I/O ports at [0-9a-f]+ \\[size=8\\]$' <<<"$card" || true)
  check "$type: lspci: $ports I/O region(s) of 8 bytes (found $n)" [ "$n" -eq "$ports" ]

  dmesg=$(section "$tmp/console" "=== dmesg" "=== TEST" |
    grep -E "0000:$bdf: ttyS[0-9]+ at I/O 0x[0-9a-f]+ \(irq = [0-9]+, base_baud = 115200\) is a 16550A" || true)
  n=$(grep -c . <<<"$dmesg" || true)
  check "$type: dmesg: $ports '0000:$bdf: ttyS… is a 16550A' line(s) (found $n)" [ "$n" -eq "$ports" ]
  ok=$([ -n "$dmesg" ] && echo 1 || echo 0)
  for addr in $(sed -nE $'s/^\tRegion [0-9]: I\\/O ports at ([0-9a-f]+) .*/\\1/p' <<<"$card"); do
    grep -q "at I/O 0x$addr " <<<"$dmesg" || ok=0
  done
  check "$type: every 16550A sits at one of the card's I/O BARs" [ "$ok" -eq 1 ]
  ttys=$(grep -oE 'ttyS[0-9]+' <<<"$dmesg" || true)
  for tty in $ttys; do
    check "$type: PASS $tty (0000:$bdf) loopback read back" \
      grep -qE "^PASS $tty \\(0000:$bdf\\) read back 'loopback-$tty-[0-9]+'$" "$tmp/console"
  done
  n=$(grep -c '^PASS ' "$tmp/console" || true)
  check "$type: $ports PASS line(s) from the guest's loopback test (found $n)" [ "$n" -eq "$ports" ]
  check "$type: no FAIL line from the guest" eval '! grep -q "^FAIL" "$tmp/console"'
  grep -q '^FAIL' "$tmp/console" && grep '^FAIL' "$tmp/console" | sed 's/^/        guest: /'

  check "$type: remove through $parent/$uuid/remove" write_attr "$parent/$uuid/remove" 1
  if [ "$failed" -gt "$failed0" ]; then   # show what the guest printed
    echo "--- guest output ($log) ---"
    sed -n '/^=== GUEST-START/,$p' "$tmp/console" | head -200
    tail -5 "$tmp/console"
    echo "--- umdev serve stderr (last 20 lines) ---"; tail -20 "$tmp/serve.err"
  fi
}

boot mtty-2 83b8f4f2-509f-382f-3c1e-e6bfe0fa1001 2
boot mtty-1 83b8f4f2-509f-382f-3c1e-e6bfe0fa1002 1
finish
