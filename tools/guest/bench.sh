#!/bin/bash
# bench.sh - a real guest's serial throughput: umdev's mtty-1 over vfio-user vs QEMU's in-process pci-serial.
#
# Each round boots the same guest twice: (a) against an mtty-1 served by `umdev serve` (vfio-user-pci), and
# (b) against QEMU's own `pci-serial` whose chardev is a local echo (socat ... EXEC:cat). In the guest,
# serial-bench (serial-bench.c beside this script, built static on the host and carried in the test
# script) writes to the PCI port and reads the loopback: one 4 KiB write (3 times), 64-byte and 16-byte
# round trips. Prints bytes/s and round-trip µs for each, interrupts per byte (the guest's
# /proc/interrupts), for umdev also vfio-user messages per byte (QEMU's trace between markers the guest
# writes to the scratch register), and the ratios umdev/QEMU. Exit 1 if a run failed.
#
# Env: QEMU=...           qemu-system-x86_64 >= 10.1 with vfio-user-pci (else tools/qemu/build-qemu.sh --path)
#      UMDEV_DLL=PATH     a built umdev.dll (else ./umdev builds one)
#      GUEST_DIR=DIR      guest kernel + initramfs (default ~/.cache/umdev-guest; built if missing)
#      RUN_GUEST=PATH     the guest runner (default tools/guest/run-guest.sh)
#      UMDEV_ARGS="..."   extra `umdev serve` arguments (e.g. "--parent mtty:intx=level" to compare)
#      BENCH_TRACE=0      no QEMU trace in the umdev runs (no msgs/B; the trace costs a little time)
#      BENCH_ROUNDS=N     boot each N times, alternating (default 1); figures are totals over the rounds
#      BENCH_ONLY=umdev   only the umdev run, its raw BENCH lines (while working on umdev)
#      BENCH_CPUS=LIST    run umdev serve and both QEMUs under `taskset -c LIST` (e.g. 0: one CPU for all)
#      BENCH_KEEP=1       keep the work directory (console logs, QEMU trace) and print its path
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
repo=$(cd "$here/../.." && pwd)

RUN_GUEST=${RUN_GUEST:-$here/run-guest.sh}
export GUEST_DIR=${GUEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/umdev-guest}

die() { echo "bench: $*" >&2; exit 1; }
if [ -z "${QEMU:-}" ]; then QEMU=$("$repo/tools/qemu/build-qemu.sh" --path) || die "no QEMU >= 10.1 (tools/qemu/build-qemu.sh builds one)"; fi
export QEMU
"$QEMU" -device vfio-user-pci,help >/dev/null 2>&1 || die "$QEMU has no vfio-user-pci"
need=()
command -v socat >/dev/null || need+=(socat)
command -v gcc >/dev/null || need+=(gcc libc6-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "bench: installing ${need[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [ ! -s "$GUEST_DIR/vmlinuz" ] || [ ! -s "$GUEST_DIR/initramfs.cpio.gz" ]; then
  ( flock 9; { [ -s "$GUEST_DIR/vmlinuz" ] && [ -s "$GUEST_DIR/initramfs.cpio.gz" ]; } || "$here/build-guest.sh" "$GUEST_DIR" ) \
    9>"$GUEST_DIR/.build-lock" >&2 || die "building the guest failed"
fi
if [ -n "${UMDEV_DLL:-}" ]; then umdev=(dotnet "$UMDEV_DLL"); else umdev=("$repo/umdev"); fi

"${umdev[@]}" --help >/dev/null || die "building umdev failed"

tmp=$(mktemp -d /tmp/umdev-bench.XXXXXX)
pid="" echo_pid=""
. "$here/serve-lib.sh"
cleanup() {
  [ -n "$echo_pid" ] && kill "$echo_pid" 2>/dev/null
  serve_stop
  if [ "${BENCH_KEEP:-}" = 1 ]; then echo "bench: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
pin=()
if [ -n "${BENCH_CPUS:-}" ]; then   # both sides on the same CPUs
  pin=(taskset -c "$BENCH_CPUS")
  printf '#!/bin/sh\nexec taskset -c %s %s "$@"\n' "$BENCH_CPUS" "$QEMU" > "$tmp/qemu" && chmod +x "$tmp/qemu"
  QEMU=$tmp/qemu
fi

# --- the guest's test: serial-bench on the PCI serial port, carried as base64 in the script ---
gcc -static -O2 -o "$tmp/serial-bench" "$here/serial-bench.c" || die "compiling serial-bench.c failed"
{
  cat <<'TEST'
#!/bin/sh
sed '1,/^__SERIAL_BENCH__$/d' "$0" | base64 -d > /tmp/serial-bench && chmod +x /tmp/serial-bench
for t in /sys/class/tty/ttyS*; do
  [ "$(basename "$(readlink -f $t/device/subsystem)")" = pci ] || continue
  echo "bench: /dev/${t##*/} irq $(cat $t/irq) port $(cat $t/port) on $(basename "$(readlink -f $t/device)")"
  /tmp/serial-bench /dev/${t##*/} "$(cat $t/irq)" "$(cat $t/port)" || echo "FAIL serial-bench exit $?"
  exit 0
done
echo "FAIL no PCI serial port"
exit 0
__SERIAL_BENCH__
TEST
  base64 "$tmp/serial-bench"
} > "$tmp/test.sh"

# boot NAME [qemu args]: boots the guest with the bench, console to $tmp/NAME-ROUND.log; BENCH lines
# collected in $tmp/NAME.bench.
boot() {
  local name=$1 log=$tmp/$1-$round.log; shift
  echo "bench: round $round: booting the guest with $name" >&2
  GUEST_TEST=$tmp/test.sh TIMEOUT=${GUEST_TIMEOUT:-600} LOG=$log "$RUN_GUEST" "$@" >/dev/null 2>&1 ||
    { tr -d '\r' < "$log" | grep -E '^(FAIL|bench:|BENCH)' >&2 || true; die "the $name guest failed (log: $log; BENCH_KEEP=1 keeps it)"; }
  tr -d '\r' < "$log" | grep '^BENCH ' >> "$tmp/$name.bench" || die "no BENCH lines from the $name guest"
}
rounds=${BENCH_ROUNDS:-1}

# --- (a) umdev mtty-1 over vfio-user ---
mkdir -p "$tmp/sys" "$tmp/sock"
# shellcheck disable=SC2086
serve_prefix=(${pin[@]+"${pin[@]}"})
serve_start ${UMDEV_ARGS:-} || die "umdev serve did not print ready"
uuid=83b8f4f2-509f-382f-3c1e-e6bfe0fa1009
echo "$uuid" > "$tmp/sys/devices/virtual/mtty/mtty/mdev_supported_types/mtty-1/create"
wait_for "$tmp/sock/$uuid.sock" || die "the device's socket did not appear"
# --- (b) QEMU's pci-serial with a local echo ---
if [ "${BENCH_ONLY:-}" != umdev ]; then
  socat UNIX-LISTEN:"$tmp/echo.sock",fork EXEC:cat &
  echo_pid=$!
  for _ in $(seq 40); do [ -S "$tmp/echo.sock" ] && break; sleep 0.25; done
fi

: > "$tmp/umdev.trace"
for round in $(seq "$rounds"); do
  trace=(-trace vfio_region_read -trace vfio_region_write -trace vfio_intx_interrupt -trace vfio_user_send_write
    -trace vfio_user_set_irqs -D "$tmp/umdev-$round.trace" -msg timestamp=on)
  [ "${BENCH_TRACE:-1}" = 1 ] || trace=()
  boot umdev "$tmp/sock/$uuid.sock" "${trace[@]}"
  [ -f "$tmp/umdev-$round.trace" ] && cat "$tmp/umdev-$round.trace" >> "$tmp/umdev.trace"
  [ "${BENCH_ONLY:-}" = umdev ] || boot qemu none -chardev socket,id=echo,path="$tmp/echo.sock" -device pci-serial,chardev=echo
done
if [ "${BENCH_ONLY:-}" = umdev ]; then cat "$tmp/umdev.bench"; exit 0; fi

# --- the table ---
# Per test of the umdev run: messages QEMU sent (region accesses, SET_IRQS) between the guest's markers.
awk '
  /vfio_region_write .*region0\+0x7, 0xb[0-9a-f],/ { match($0, /0xb[0-9a-f],/); t = substr($0, RSTART + 3, 1); on = 1; next }
  /vfio_region_write .*region0\+0x7, 0xc[0-9a-f],/ { on = 0; next }
  on && /vfio_user_send_write/ { msgs[t]++ }
  on && /vfio_user_set_irqs/ { unmask[t]++ }
  on && /vfio_region_(read|write)/ { acc[t]++ }
  END { for (t in acc) print t, acc[t] + 0, msgs[t] + 0, unmask[t] + 0 }' "$tmp/umdev.trace" > "$tmp/umdev.msgs"
echo "serial loopback in a TCG guest: umdev mtty-1 over vfio-user vs QEMU pci-serial with a local echo (${UMDEV_ARGS:-default options}; $rounds round(s))"
awk -v msgs="$tmp/umdev.msgs" '
  BEGIN { n["4k"] = 1; n["64"] = 2; n["16"] = 3
          while ((getline line < msgs) > 0) { split(line, f, " "); acc[f[1]] = f[2]; sent[f[1]] = f[3]; irqset[f[1]] = f[4] } }
  function val(s, k,   i, a) { for (i = 1; i <= split(s, a, " "); i++) if (index(a[i], k "=") == 1) return substr(a[i], length(k) + 2); return 0 }
  FNR == 1 { file++ }
  { t = $2; if (t == "warmup") next
    if (!((file, t) in B) && file == 1) order[++count] = t
    B[file, t] += val($0, "bytes"); NS[file, t] += val($0, "ns"); TR[file, t] += val($0, "trips"); IR[file, t] += val($0, "irqs") }
  END {
    for (k in B) { bps[k] = B[k] / (NS[k] / 1e9); rt[k] = NS[k] / TR[k] / 1000; ipb[k] = IR[k] / B[k] }
    for (i = 1; i <= count; i++) bytes[order[i]] = B[1, order[i]]
    printf "%-8s %12s %12s %7s %10s %10s %7s %9s %9s %9s %9s\n", "test", "umdev B/s", "qemu B/s", "ratio", "umdev µs", "qemu µs", "ratio", "umdev i/B", "qemu i/B", "msgs/B", "unmask/B"
    for (i = 1; i <= count; i++) {
      t = order[i]; k = n[t]
      m = k in sent ? sprintf("%9.2f %9.3f", sent[k] / bytes[t], irqset[k] / bytes[t]) : sprintf("%9s %9s", "-", "-")   # no trace
      printf "%-8s %12.0f %12.0f %7.3f %10.0f %10.0f %7.2f %9.3f %9.3f %s\n", t, bps[1, t], bps[2, t], bps[1, t] / bps[2, t],
        rt[1, t], rt[2, t], rt[1, t] / rt[2, t], ipb[1, t], ipb[2, t], m
    } }' "$tmp/umdev.bench" "$tmp/qemu.bench"
echo "(B/s: bytes looped back per second; µs: one write and its read-back (4k: the whole 4 KiB); ratio: umdev/QEMU;"
echo " i/B: guest interrupts per byte; msgs/B: vfio-user messages QEMU sent per byte; unmask/B: of them SET_IRQS)"
