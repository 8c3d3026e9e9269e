# virtio-blk: the guest's own virtio_pci and virtio_blk drivers on two umdev virtio-blk disks.
# Sourced by guest-test.sh (check, wait_for, write_attr, section, $tmp, "${umdev[@]}", $here, $QEMU).
# In guest-test.sh's daemon (it hosts the virtio parent, disk-dirs=$tmp/vblk): a 64 MiB disk
# gets 32 MiB of pseudo-random bytes written by the guest with dd, synced and read back; after poweroff the
# host file must hold exactly those bytes and nothing else changed; a second disk gets a vfat file system,
# a copy and a remount (the default guest image has the vfat, nls_cp437 and nls_ascii modules).
vblk_run() {
  local dir=$tmp/vblk failed0=$failed log rc data fs data_uuid=83b8f4f2-509f-382f-3c1e-e6bfe0fa2001
  local fs_uuid=83b8f4f2-509f-382f-3c1e-e6bfe0fa2002 types tail_sha written size
  echo "guest test: virtio-blk (two disks)"
  mkdir -p "$dir"
  types=$sysfs/devices/virtual/virtio/virtio/mdev_supported_types/virtio-blk
  data=$dir/data.img fs=$dir/fs.img
  head -c $((64 << 20)) /dev/zero | tr '\0' '\125' > "$data"     # 0x55 everywhere: what is not written stays so
  truncate -s 48M "$fs"
  tail_sha=$(tail -c $((32 << 20)) "$data" | sha256sum | cut -d' ' -f1)
  check "virtio-blk: create the data disk" write_attr "$types/create" "$data_uuid"
  check "virtio-blk: create the file-system disk" write_attr "$types/create" "$fs_uuid"
  check "virtio-blk: backing attribute takes the data file" write_attr "$sysfs/bus/mdev/devices/$data_uuid/backing" "$data"
  check "virtio-blk: backing attribute takes the fs file" write_attr "$sysfs/bus/mdev/devices/$fs_uuid/backing" "$fs"
  check "virtio-blk: backing reads back" [ "$(cat "$sysfs/bus/mdev/devices/$data_uuid/backing")" = "$data" ]
  check "virtio-blk: both sockets appear" wait_for "$sockets/$fs_uuid.sock"

  { echo '#!/bin/sh'
    echo "DATA_SERIAL=$(echo "$data_uuid" | tr -d - | cut -c13-32) FS_SERIAL=$(echo "$fs_uuid" | tr -d - | cut -c13-32) DATA_MIB=32"
    tail -n +2 "$here/virtio-blk-guest.sh"; } > "$dir/guest.sh"
  mkdir -p "$GUEST_DIR/logs"
  log=$GUEST_DIR/logs/guest-test-virtio-blk-$(date +%Y%m%d-%H%M%S).log
  set +e
  GUEST_TEST=$dir/guest.sh TIMEOUT=${GUEST_TIMEOUT:-300} LOG=$log APPEND=edd=off "$here/run-guest.sh" "$sockets/$data_uuid.sock" \
    -device "{\"driver\":\"vfio-user-pci\",\"socket\":{\"type\":\"unix\",\"path\":\"$sockets/$fs_uuid.sock\"}}" >/dev/null 2>&1
  rc=$?
  set -e
  tr -d '\r' < "$log" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g' > "$dir/console"
  check "virtio-blk: guest booted, ran its test and powered off (run-guest.sh exit $rc)" [ "$rc" -eq 0 ]
  check "virtio-blk: lspci shows two [1af4:1042] devices" [ "$(grep -cE '\[1af4:1042\] \(rev 01\)' "$dir/console")" -eq 2 ]
  check "virtio-blk: both bound to virtio-pci" [ "$(grep -cx $'\tKernel driver in use: virtio-pci' "$dir/console")" -eq 2 ]
  check "virtio-blk: the guest enabled MSI-X on both" [ "$(grep -cE $'^\tCapabilities: \\[[0-9a-f]+\\] MSI-X: Enable\\+ Count=2' "$dir/console")" -eq 2 ]
  check "virtio-blk: the kernel sees a 64 MiB disk (131072 512-byte blocks)" \
    grep -qE '\[vd[a-z]\] 131072 512-byte logical blocks' "$dir/console"
  size=$(sed -n 's/^VBLK data-size //p' "$dir/console")
  check "virtio-blk: blockdev --getsize64 is 67108864 (got ${size:-none})" [ "${size:-0}" = 67108864 ]
  check "virtio-blk: the data disk is writable (blockdev --getro 0)" grep -qx 'VBLK data-ro 0' "$dir/console"
  check "virtio-blk: PASS read back the 32 MiB written" grep -qE '^PASS /dev/vd[a-z] read back the 32 MiB written$' "$dir/console"
  written=$(sed -n 's/^VBLK written-sha256 //p' "$dir/console")
  check "virtio-blk: after poweroff the host file's first 32 MiB are the guest's bytes (sha256 ${written:0:16}…)" \
    [ "$(head -c $((32 << 20)) "$data" | sha256sum | cut -d' ' -f1)" = "${written:-none}" ]
  check "virtio-blk: after poweroff the rest of the host file is unchanged" \
    [ "$(tail -c $((32 << 20)) "$data" | sha256sum | cut -d' ' -f1)" = "$tail_sha" ]
  check "virtio-blk: host file size unchanged" [ "$(stat -c %s "$data")" -eq $((64 << 20)) ]
  check "virtio-blk: mkdosfs, mount, copy, remount on the second disk" grep -q '^PASS mkdosfs' "$dir/console"
  check "virtio-blk: no FAIL line from the guest" eval '! grep -q "^FAIL" "$dir/console"'
  check "virtio-blk: remove the disks" write_attr "$sysfs/bus/mdev/devices/$data_uuid/remove" 1
  write_attr "$sysfs/bus/mdev/devices/$fs_uuid/remove" 1 || true
  if [ "$failed" -gt "$failed0" ]; then
    echo "--- guest output ($log) ---"; sed -n '/^=== TEST/,$p' "$dir/console" | head -80
    echo "--- umdev serve stderr (last 20 lines) ---"; tail -20 "$tmp/serve.err"
  fi
  return 0
}
vblk_run
