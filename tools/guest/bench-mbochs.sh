#!/bin/bash
# bench-mbochs.sh - a real guest's full-screen redraw rate: umdev's mbochs-small over vfio-user vs QEMU's own
# `-device bochs-display` (4 MB, no EDID: the same 800x600 mode from the same bochs-drm).
#
# Each round boots the same guest twice. In the guest, fb-bench (fb-bench.c beside this script, built static
# on the host and carried in the test script) writes N full frames into /dev/fb0 and fsyncs (bochs-drm's
# fbdev emulation copies its shadow into the video memory). Prints frames/s of both, the ratio umdev/QEMU,
# and for umdev the vfio-user region messages QEMU sent per frame (its trace between two config-space reads
# fb-bench makes as markers; the mapped BAR0 needs none). Run by `umdev bench mbochs`. Exit 1 if a run failed.
#
# Env: QEMU=... (else tools/qemu/find-qemu.sh), UMDEV_DLL=PATH (else ./umdev), GUEST_DIR, BENCH_FRAMES=200,
#      BENCH_ROUNDS=1, BENCH_KEEP=1 (keep the work directory).
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
repo=$(cd "$here/../.." && pwd)
export GUEST_DIR=${GUEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/umdev-guest}
die() { echo "bench-mbochs: $*" >&2; exit 1; }
if [ -z "${QEMU:-}" ]; then QEMU=$("$repo/tools/qemu/find-qemu.sh") || die "no QEMU >= 10.1 (tools/qemu/build-qemu.sh builds one)"; fi
export QEMU
command -v gcc >/dev/null || die "gcc is needed to build fb-bench"
"$here/build-guest.sh" --if-needed >&2 || die "building the guest failed"
if [ -n "${UMDEV_DLL:-}" ]; then umdev=(dotnet "$UMDEV_DLL"); else umdev=("$repo/umdev"); fi
frames=${BENCH_FRAMES:-200} rounds=${BENCH_ROUNDS:-1}

tmp=$(mktemp -d /tmp/umdev-bench-mbochs.XXXXXX)
pid=""
. "$here/serve-lib.sh"
cleanup() {
  serve_stop
  if [ "${BENCH_KEEP:-}" = 1 ]; then echo "bench-mbochs: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

gcc -static -O2 -o "$tmp/fb-bench" "$here/fb-bench.c" || die "compiling fb-bench.c failed"
{
  cat <<TEST
#!/bin/sh
dmesg -n 1
echo 0 > /sys/class/graphics/fbcon/cursor_blink 2>/dev/null
sed '1,/^__FB_BENCH__\$/d' "\$0" | base64 -d > /tmp/fb-bench && chmod +x /tmp/fb-bench
dev=\$(basename "\$(readlink -f /sys/class/graphics/fb0/device)")
/tmp/fb-bench $frames /sys/bus/pci/devices/\$dev/config || echo "FAIL fb-bench exit \$?"
exit 0
__FB_BENCH__
TEST
  base64 "$tmp/fb-bench"
} > "$tmp/test.sh"

boot() {  # boot NAME SOCKET [qemu args]: one guest run; its BENCH line appended to $tmp/NAME.bench
  local name=$1 log=$tmp/$1-$round.log; shift
  echo "bench-mbochs: round $round: booting the guest with $name" >&2
  GUEST_TEST=$tmp/test.sh TIMEOUT=${GUEST_TIMEOUT:-600} LOG=$log "$here/run-guest.sh" "$@" >/dev/null 2>&1 ||
    { tr -d '\r' < "$log" | grep -E '^(FAIL|BENCH)' >&2 || true; die "the $name guest failed (log: $log; BENCH_KEEP=1 keeps it)"; }
  tr -d '\r' < "$log" | grep '^BENCH fb ' >> "$tmp/$name.bench" || die "no BENCH line from the $name guest"
}

mkdir -p "$tmp/sys" "$tmp/sock"
serve_start --parent mbochs || die "umdev serve did not print ready"
uuid=83b8f4f2-509f-382f-3c1e-e6bfe0fa2009
echo "$uuid" > "$tmp/sys/devices/virtual/mbochs/mbochs/mdev_supported_types/mbochs-small/create"
wait_for "$tmp/sock/$uuid.sock" || die "the device's socket did not appear"

: > "$tmp/umdev.trace"
for round in $(seq "$rounds"); do
  boot umdev "$tmp/sock/$uuid.sock" -trace vfio_region_read -trace vfio_region_write -trace vfio_pci_read_config \
    -trace vfio_pci_write_config -D "$tmp/umdev-$round.trace"
  cat "$tmp/umdev-$round.trace" >> "$tmp/umdev.trace"
  boot qemu none -device bochs-display,vgamem=4M,edid=off,romfile=   # no option ROM: the guest needs none
done

# Region and config accesses QEMU made between fb-bench's two markers (each is one vfio-user message).
msgs=$(awk '/vfio_pci_read_config .*@0x2c, len=0x1\)/ { on = 1; n = 0; marks++; next } /vfio_pci_read_config .*@0x2d, len=0x1\)/ { on = 0; next }
  on && /vfio_(region_read|region_write|pci_read_config|pci_write_config)/ { n++ } END { print (marks ? n + 0 : -1) }' "$tmp/umdev.trace")
[ "$msgs" -ge 0 ] || die "no marker in QEMU's trace: cannot count messages per frame"
awk -v msgs="$msgs" -v rounds="$rounds" '
  # median N values of V[f, 1..N] (insertion sort: mawk has no asort)
  function median(f, n,   i, j, t, a) {
    for (i = 1; i <= n; i++) { a[i] = V[f, i]; for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t } }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  FNR == 1 { file++ }
  { f = 0; ns = 0
    for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "frames") f = kv[2]; if (kv[1] == "ns") ns = kv[2] }
    F[file] += f; NS[file] += ns; V[file, ++R[file]] = f / (ns / 1e9); mode[file] = $NF }
  END {
    u = F[1] / (NS[1] / 1e9); q = F[2] / (NS[2] / 1e9); um = median(1, R[1]); qm = median(2, R[2])
    printf "full-screen redraws into /dev/fb0 in a TCG guest (bochs-drm, %s XRGB8888, %d frames x %d round(s)):\n", mode[1], F[1] / rounds, rounds
    printf "                                               all frames   median round\n"
    printf "  umdev mbochs-small (vfio-user, BAR0 mapped) %8.1f/s     %8.1f/s\n", u, um
    printf "  QEMU -device bochs-display                   %8.1f/s     %8.1f/s\n", q, qm
    printf "  ratio umdev/QEMU                             %8.3f       %8.3f\n", u / q, um / qm
    printf "  vfio-user region messages per frame (umdev)  %8.3f  (%d in all)\n", msgs / F[1], msgs
    if (mode[1] != mode[2]) printf "  WARNING: the guests chose different modes (%s vs %s)\n", mode[1], mode[2]
  }' "$tmp/umdev.bench" "$tmp/qemu.bench"
