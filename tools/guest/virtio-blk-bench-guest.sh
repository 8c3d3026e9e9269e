#!/bin/sh
# virtio-blk-bench-guest.sh - runs inside the guest for bench-virtio-blk.sh: sequential 1 MiB writes and
# reads and 4 KiB reads on /dev/vda, all O_DIRECT (the guest's page cache out of the way), timed with
# /proc/uptime. Env baked in by the host as the second line: MIB, READS_4K.
for _ in $(seq 50); do [ -b /dev/vda ] && break; sleep 0.2; done
[ -b /dev/vda ] || { echo "FAIL no /dev/vda"; exit 0; }
now() { cut -d' ' -f1 /proc/uptime; }
s=$(now); dd if=/dev/zero of=/dev/vda bs=1M count="$MIB" oflag=direct 2>/dev/null || echo "FAIL write"; e=$(now)
echo "BENCH seq-write-1M $((MIB << 20)) $s $e"
s=$(now); dd if=/dev/vda of=/dev/null bs=1M count="$MIB" iflag=direct 2>/dev/null || echo "FAIL read"; e=$(now)
echo "BENCH seq-read-1M $((MIB << 20)) $s $e"
s=$(now); dd if=/dev/vda of=/dev/null bs=4k count="$READS_4K" iflag=direct 2>/dev/null || echo "FAIL 4k read"; e=$(now)
echo "BENCH read-4k $((READS_4K * 4096)) $s $e"
echo "BENCH stat-after $(cat /sys/block/vda/stat)"
