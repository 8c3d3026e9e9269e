#!/bin/bash
# guest-test.sh - a real Linux guest drives umdev's mtty card over vfio-user.
#
# Starts `umdev serve` on temporary directories, creates an mtty-2 device through the mounted sysfs, boots
# the small Debian guest of tools/guest/build-guest.sh under QEMU (vfio-user-pci on the device's socket) and
# asserts on what the guest printed: lspci sees the CH352 card bound to the 8250 `serial` driver, the
# kernel finds a 16550A at each of its I/O BARs, and a loopback through each port reads back what it
# wrote. Then the same for an mtty-1 device (one port). Prints one line per check, a PASS/FAIL summary
# and, last, "guest: N passed, M failed" (test.sh adds those to its totals). Exit 1 if any check failed.
#
# Last, `umdev vm` as a person uses it, driven through tmux: setserial in the guest's shell, microcom on
# ttyS1, typed text comes back through the card, poweroff ends the command with status 0.
#
# Then the checks of every other device, one file each in tools/guest/guest-test.d/ (sourced: they use check,
# wait_for, write_attr, section, $sysfs, $sockets, $tmp and "${umdev[@]}" from here).
#
# Env: QEMU=...                 qemu-system-x86_64 >= 10.1 to use (else what tools/qemu/find-qemu.sh finds)
#      UMDEV_GUEST_TEST=required  no QEMU found: build one (~15 min) instead of skipping
#      UMDEV_GUEST_TEST=off       skip
#      QEMU_WORK=DIR            where build-qemu.sh builds (default ~/.cache/umdev-qemu)
#      GUEST_DIR=DIR            guest kernel + initramfs (default ~/.cache/umdev-guest; built if missing)
#      GUEST_TIMEOUT=300        seconds one boot may take (TCG, no KVM needed)
#      UMDEV_DLL=PATH           a built umdev.dll to run (test.sh passes its build's); else ./umdev builds one
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
repo=$(cd "$here/../.." && pwd)
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

# --- QEMU >= 10.1 with the vfio-user-pci client (tools/qemu/find-qemu.sh) ---
if [ -n "${QEMU:-}" ]; then
  QEMU=$("$repo/tools/qemu/find-qemu.sh" 2>&1) || abort "$QEMU"
elif QEMU=$("$repo/tools/qemu/find-qemu.sh" 2>/dev/null); then
  :
elif [ "$mode" = required ]; then
  echo "guest test: no QEMU >= 10.1 found, building one (tools/qemu/build-qemu.sh)"
  QEMU=$("$repo/tools/qemu/find-qemu.sh" --build) || abort "building QEMU failed"
else
  echo "guest test: skipped — no QEMU >= 10.1 (build one with tools/qemu/build-qemu.sh)"
  exit 0
fi
export QEMU
echo "guest test: $("$QEMU" --version | head -1) at $QEMU"

# --- the guest (Debian kernel + busybox initramfs), built once and cached in GUEST_DIR ---
start=$SECONDS
"$here/build-guest.sh" --if-needed >&2 || abort "building the guest failed (tools/guest/build-guest.sh)"
[ $((SECONDS - start)) -lt 2 ] || echo "guest test: guest ready after $((SECONDS - start)) s"

# --- the daemon ---
if [ -n "${UMDEV_DLL:-}" ]; then umdev=(dotnet "$UMDEV_DLL"); else umdev=("$repo/umdev"); fi
"${umdev[@]}" --help >/dev/null || abort "building umdev failed"   # build before timing the start
tmp=$(mktemp -d /tmp/umdev-guest.XXXXXX)
sysfs=$tmp/sys sockets=$tmp/sock pid=""
. "$here/serve-lib.sh"
cleanup() {
  tmux -L "umdev-vm-$$" kill-server 2>/dev/null || true   # the vm check's terminal, if left
  serve_stop
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
serve_start --parent mtty --parent mbochs --parent "virtio:disk-dirs=$tmp/vblk" 2>&1 || abort "umdev serve did not print ready"

parent=$sysfs/devices/virtual/mtty/mtty
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
  TIMEOUT=${GUEST_TIMEOUT:-300} LOG=$log "$here/run-guest.sh" "$sock" >/dev/null 2>&1
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

# vm UUID: `umdev vm` as a person uses it, in a terminal (tmux): the guest's console, setserial, microcom on
# ttyS1, typed text coming back through the card (mtty loops what a port sends back to its receiver), poweroff.
vm() {
  local uuid=$1 tmux i failed0=$failed
  echo "guest test: umdev vm $uuid in tmux"
  tmux=(tmux -L "umdev-vm-$$" -f /dev/null)   # a private tmux server, started with this environment
  pane() { "${tmux[@]}" capture-pane -p -t vm -S -200 2>/dev/null | sed 's/ *$//'; }
  until_pane() {  # until_pane SECONDS GREP-ARGS...: wait until the pane shows it
    local t=$1; shift
    for _ in $(seq $((t * 4))); do pane | grep -q "$@" && return 0; sleep 0.25; done; return 1
  }
  check "vm: tmux is installed" command -v tmux
  check "vm: create mtty-2 $uuid" write_attr "$parent/mdev_supported_types/mtty-2/create" "$uuid"
  check "vm: vfio-user socket appears" wait_for "$sockets/$uuid.sock"
  "${tmux[@]}" new-session -d -s vm -x 150 -y 50 \
    "$(printf '%q ' env QEMU="$QEMU" GUEST_DIR="$GUEST_DIR" "${umdev[@]}" vm "$uuid" --sockets "$sockets"); echo umdev-vm-exit=\$?; sleep 600"
  check "vm: the guest's shell prompt on the terminal" until_pane "${GUEST_TIMEOUT:-300}" -x 'guest:/#'
  "${tmux[@]}" send-keys -t vm 'setserial -g /dev/ttyS*' Enter
  for i in 1 2; do
    check "vm: setserial -g shows the card's ttyS$i as a 16550A" \
      until_pane 30 -E "^/dev/ttyS$i, UART: 16550A, Port: 0x[0-9a-f]+, IRQ: [0-9]+\$"
  done
  "${tmux[@]}" send-keys -t vm 'microcom -s 115200 /dev/ttyS1' Enter
  sleep 2
  # Key by key, as typed. The terminal does not echo (microcom puts it in raw mode): the text can only come
  # back through ttyS1, and alone on its line (on the shell's line it would follow the prompt).
  for ((i = 0; i < ${#vm_text}; i++)); do "${tmux[@]}" send-keys -t vm -l "${vm_text:i:1}"; sleep 0.05; done
  check "vm: '$vm_text' typed in microcom on ttyS1 came back through the card" until_pane 30 -x "$vm_text"
  "${tmux[@]}" send-keys -t vm C-x
  sleep 1
  "${tmux[@]}" send-keys -t vm 'poweroff' Enter
  check "vm: poweroff ends umdev vm with exit status 0" until_pane 60 -x 'umdev-vm-exit=0'
  if [ "$failed" -gt "$failed0" ]; then echo "--- the terminal ---"; pane | tail -40; fi
  "${tmux[@]}" kill-server 2>/dev/null || true
  check "vm: remove through $parent/$uuid/remove" write_attr "$parent/$uuid/remove" 1
}
vm_text=typed-through-the-card

boot mtty-2 83b8f4f2-509f-382f-3c1e-e6bfe0fa1001 2
boot mtty-1 83b8f4f2-509f-382f-3c1e-e6bfe0fa1002 1
vm 83b8f4f2-509f-382f-3c1e-e6bfe0fa1003
# Each further device's checks live in a file of their own, run here in the same daemon with the helpers above.
for part in "$here"/guest-test.d/*.sh; do
  [ -e "$part" ] || continue
  . "$part"
done
finish
