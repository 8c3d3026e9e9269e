#!/bin/bash
# bench-virtio-blk.sh - a real guest's disk throughput: umdev's virtio-blk over vfio-user vs QEMU's own
# in-process virtio-blk-pci, the same guest on the same backing file (`umdev bench virtio-blk` runs it).
#
# Each round boots the guest twice: (a) on a virtio-blk disk served by `umdev serve --parent virtio`
# (vfio-user-pci), (b) on QEMU's `-device virtio-blk-pci` with the file as a raw drive. In the guest
# (virtio-blk-bench-guest.sh): MIB MiB written with dd bs=1M oflag=direct, read back with bs=1M
# iflag=direct, then READS_4K reads of 4 KiB iflag=direct. Prints MB/s and 4 KiB reads/s for each with the
# ratio umdev/QEMU; for umdev also vfio-user messages QEMU sent per request (its trace, over the whole
# boot, divided by the requests the guest's /sys/block/vda/stat counts) and the daemon's CPU time per MiB
# moved (utime+stime of umdev serve over the whole boot). Exit 1 if a run failed.
#
# Env: QEMU, GUEST_DIR (as run-guest.sh), UMDEV_DLL=PATH (a built umdev.dll; else ./umdev),
#      BENCH_MIB=64, BENCH_READS_4K=4096, BENCH_ROUNDS=1, BENCH_KEEP=1 (keep the work directory)
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
repo=$(cd "$here/../.." && pwd)
export GUEST_DIR=${GUEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/umdev-guest}
die() { echo "bench: $*" >&2; exit 1; }
if [ -z "${QEMU:-}" ]; then QEMU=$("$repo/tools/qemu/find-qemu.sh") || die "no QEMU >= 10.1 (tools/qemu/build-qemu.sh builds one)"; fi
export QEMU
if [ -n "${UMDEV_DLL:-}" ]; then umdev=(dotnet "$UMDEV_DLL"); else umdev=("$repo/umdev"); fi
mib=${BENCH_MIB:-64} reads=${BENCH_READS_4K:-4096} rounds=${BENCH_ROUNDS:-1}
tmp=$(mktemp -d /tmp/umdev-bench-vblk.XXXXXX) pid=""
. "$here/serve-lib.sh"
cleanup() {
  serve_stop
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "bench: work directory kept: $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
"$here/build-guest.sh" --if-needed >&2
img=$tmp/disk.img
# Allocated up front, so that neither run pays for the file system allocating blocks.
head -c $(((mib + 16) << 20)) /dev/zero > "$img"
{ echo '#!/bin/sh'; echo "MIB=$mib READS_4K=$reads"; tail -n +2 "$here/virtio-blk-bench-guest.sh"; } > "$tmp/guest.sh"

serve_start --parent "virtio:disk-dirs=$tmp" || die "umdev serve did not get ready"
uuid=83b8f4f2-509f-382f-3c1e-e6bfe0fa4001
echo "$uuid" > "$tmp/sys/devices/virtual/virtio/virtio/mdev_supported_types/virtio-blk/create"
echo "$img" > "$tmp/sys/bus/mdev/devices/$uuid/backing"
for _ in $(seq 100); do [ -S "$tmp/sock/$uuid.sock" ] && break; sleep 0.1; done

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }   # utime + stime of umdev serve, in clock ticks
boot() {  # boot NAME SOCKET [qemu args...]: one guest run, its console in $tmp/NAME.console
  local name=$1 sock=$2; shift 2
  GUEST_TEST=$tmp/guest.sh TIMEOUT=${GUEST_TIMEOUT:-600} LOG=$tmp/$name.log APPEND=edd=off "$here/run-guest.sh" "$sock" "$@" >/dev/null 2>&1 ||
    { tail -20 "$tmp/$name.log" >&2; die "the $name guest run failed (log $tmp/$name.log)"; }
  tr -d '\r' < "$tmp/$name.log" | grep '^BENCH ' >> "$tmp/$name.bench"
}
ticks=0
run_umdev() {
  local before
  before=$(cpu_ticks)
  boot umdev "$tmp/sock/$uuid.sock" -trace vfio_user_send_write -D "$tmp/umdev-$r.trace"
  ticks=$((ticks + $(cpu_ticks) - before))
  grep -c vfio_user_send_write "$tmp/umdev-$r.trace" >> "$tmp/umdev.msgs" || true
}
run_qemu() { boot qemu none -drive "file=$img,format=raw,if=none,id=d0" -device virtio-blk-pci,drive=d0; }
for ((r = 1; r <= rounds; r++)); do   # alternating which goes first, so neither always finds a warmer host
  if ((r % 2)); then run_umdev; run_qemu; else run_qemu; run_umdev; fi
done

# Totals per test over the rounds: bytes and seconds.
summary() {
  awk '$2 ~ /^(seq|read)/ { b[$2] += $3; s[$2] += $5 - $4 }
       $2 == "stat-after" { req += $3 + $7 + $18 }   # read, write and flush requests since boot
       END { for (t in b) print t, b[t], s[t]; print "requests", req, 0 }' "$tmp/$1.bench"
}
summary umdev > "$tmp/umdev.sum"
summary qemu > "$tmp/qemu.sum"
msgs=$(awk '{ m += $1 } END { print m + 0 }' "$tmp/umdev.msgs")
hz=$(getconf CLK_TCK)
echo "virtio-blk in the guest: umdev (vfio-user) vs QEMU's virtio-blk-pci, same guest, same file, $rounds round(s), TCG"
awk -v q="$tmp/qemu.sum" -v msgs="$msgs" -v ticks="$ticks" -v hz="$hz" '
  BEGIN { while ((getline line < q) > 0) { split(line, f, " "); qb[f[1]] = f[2]; qs[f[1]] = f[3] } }
  { ub[$1] = $2; us[$1] = $3 }
  END {
    printf "%-14s %14s %14s %7s\n", "test", "umdev", "qemu", "ratio"
    split("seq-write-1M seq-read-1M", t, " ")
    for (i = 1; i <= 2; i++) { k = t[i]; u = ub[k] / us[k] / 1e6; v = qb[k] / qs[k] / 1e6
      printf "%-14s %9.1f MB/s %9.1f MB/s %7.2f\n", k, u, v, u / v; moved += ub[k] }
    k = "read-4k"; u = ub[k] / 4096 / us[k]; v = qb[k] / 4096 / qs[k]; moved += ub[k]
    printf "%-14s %8.0f IOPS %8.0f IOPS %7.2f\n", k, u, v, u / v
    printf "vfio-user messages per request (whole boot): %.2f (%d messages, %d requests)\n", msgs / ub["requests"], msgs, ub["requests"]
    printf "daemon CPU per MiB moved (whole boot): %.2f ms (%.2f s for %d MiB)\n", ticks / hz * 1000 / (moved / 1048576), ticks / hz, moved / 1048576
  }' "$tmp/umdev.sum"
