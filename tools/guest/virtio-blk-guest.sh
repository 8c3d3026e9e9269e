#!/bin/sh
# virtio-blk-guest.sh - runs inside the guest (run-guest.sh GUEST_TEST=...) for guest-test.d/virtio-blk.sh.
# Env baked in by the host as the first lines: DATA_SERIAL, FS_SERIAL (GET_ID of each disk), DATA_MIB.
# Prints "VBLK key value" lines the host asserts on, and PASS/FAIL lines.
disk_with_serial() {  # the /dev node of the virtio disk whose serial is $1
  for b in /sys/block/vd*; do
    [ -e "$b/serial" ] && [ "$(cat "$b/serial")" = "$1" ] && { echo "/dev/${b##*/}"; return 0; }
  done
  return 1
}
for _ in $(seq 50); do disk_with_serial "$DATA_SERIAL" >/dev/null && break; sleep 0.2; done
echo "=== dmesg (virtio)"; dmesg | grep -E 'virtio|vd[a-z]'
data=$(disk_with_serial "$DATA_SERIAL") || { echo "FAIL no virtio disk with serial $DATA_SERIAL"; exit 0; }
echo "VBLK data-disk $data"
echo "VBLK data-size $(blockdev --getsize64 "$data")"
echo "VBLK data-ro $(blockdev --getro "$data")"

# 32 MiB of pseudo-random bytes, written, synced, dropped from the page cache, read back.
dd if=/dev/urandom of=/tmp/data bs=1M count="$DATA_MIB" 2>/dev/null
want=$(sha256sum < /tmp/data | cut -d' ' -f1)
echo "VBLK written-sha256 $want"
dd if=/tmp/data of="$data" bs=1M conv=fsync 2>/dev/null || echo "FAIL dd to $data"
sync
echo 3 > /proc/sys/vm/drop_caches
got=$(dd if="$data" bs=1M count="$DATA_MIB" 2>/dev/null | sha256sum | cut -d' ' -f1)
echo "VBLK read-sha256 $got"
if [ "$want" = "$got" ]; then echo "PASS $data read back the $DATA_MIB MiB written"; else echo "FAIL $data read back differs"; fi
if dd if="$data" of=/dev/null bs=4k count=16 iflag=direct 2>/dev/null; then echo "VBLK direct-read ok"; fi

# A file system on the second disk, when the kernel has one to mount (vfat is a module).
fs=$(disk_with_serial "$FS_SERIAL") || { echo "FAIL no virtio disk with serial $FS_SERIAL"; exit 0; }
[ "$fs" != "$data" ] || { echo "FAIL both serials name $data"; exit 0; }
if modprobe vfat 2>/dev/null && modprobe nls_cp437 2>/dev/null && modprobe nls_ascii 2>/dev/null; then
  mkdosfs "$fs" >/dev/null 2>&1 || echo "FAIL mkdosfs $fs"
  mkdir -p /mnt && mount -t vfat "$fs" /mnt || echo "FAIL mount $fs"
  cp /tmp/data /mnt/data.bin || echo "FAIL cp to $fs"
  sync; umount /mnt
  echo 3 > /proc/sys/vm/drop_caches
  mount -t vfat -o ro "$fs" /mnt && copy=$(sha256sum < /mnt/data.bin | cut -d' ' -f1) && umount /mnt
  if [ "$copy" = "$want" ]; then echo "PASS mkdosfs, mount, copy, remount: the copy on $fs matches"; else echo "FAIL the copy on $fs differs"; fi
  echo "VBLK fs copied"
else
  echo "VBLK fs skipped (no vfat, nls_cp437 or nls_ascii module in this guest image; GUEST_MODULES adds them)"
fi
rm -f /tmp/data
