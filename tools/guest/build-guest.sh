#!/bin/bash
# build-guest.sh - a tiny Linux guest (vmlinuz + initramfs.cpio.gz) made from Debian packages only: the
# Debian 12 kernel, busybox, pciutils, setserial. docs/guest.md describes it.
#
# Usage: build-guest.sh [--if-needed] [OUTDIR]      (default OUTDIR: $GUEST_DIR or ~/.cache/umdev-guest)
#   --if-needed   build only when OUTDIR holds no guest made by this script with these modules (cheap check)
# Installs the host tools it needs (busybox, cpio, binutils) when missing.
# Env: GUEST_MODULES="m1 m2"  kernel modules to ship and modprobe at boot, their dependencies resolved from
#                            the kernel package's modules.dep (default: bochs virtio_pci virtio_blk vfat
#                            nls_cp437 nls_ascii, i.e. the display and block devices beside mtty and a file
#                            system to put on a disk; the 8250 serial driver is built in)
#      KPKG=linux-image-...  kernel package (default: what linux-image-amd64 depends on)
# Output: OUTDIR/vmlinuz, OUTDIR/initramfs.cpio.gz, OUTDIR/config (the kernel's .config), OUTDIR/stamp (what
# was built); downloaded debs are kept in OUTDIR/debs. Several checkouts may share OUTDIR: builds are serialised
# by a lock and the files replaced atomically.
#
# The guest's /init prints lspci of every non-bridge PCI device, /proc/tty/driver/serial and the serial dmesg
# lines, runs the test (guest.test=PATH; default: a loopback through every PCI serial port; "none": no test),
# then powers off, or first gives a shell on the console with guest.shell=1. Kernel command line knobs:
# guest.shell=1, guest.test=PATH|none, guest.lspci=OPTIONS (default -xxvv, a 64-byte dump).
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
if_needed=0
[ "${1:-}" = --if-needed ] && { if_needed=1; shift; }
OUT=$(realpath -m "${1:-${GUEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/umdev-guest}}")
MODULES=${GUEST_MODULES-bochs virtio_pci virtio_blk vfat nls_cp437 nls_ascii}
# What the guest is made of: this script and the modules asked for. A guest with another stamp is rebuilt.
STAMP="$(sha256sum < "$here/build-guest.sh" | cut -c1-16) modules: $(echo $MODULES)"
fresh() { [ -s "$OUT/vmlinuz" ] && [ -s "$OUT/initramfs.cpio.gz" ] && [ "$(cat "$OUT/stamp" 2>/dev/null)" = "$STAMP" ]; }
mkdir -p "$OUT/debs"
exec 9>"$OUT/.build-lock"
flock 9   # another checkout may be building the same directory
if [ "$if_needed" = 1 ]; then
  fresh && exit 0
  echo "build-guest: building the guest in $OUT (Debian kernel + busybox, about 30 s)" >&2
fi
need=()
command -v busybox >/dev/null 2>&1 || need+=(busybox)
command -v cpio >/dev/null 2>&1 || need+=(cpio)
command -v readelf >/dev/null 2>&1 || need+=(binutils)
if [ ${#need[@]} -gt 0 ]; then
  echo "build-guest: installing ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

KPKG=${KPKG:-$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: \(linux-image-[0-9].*\)/\1/p' | head -1)}
PKGS="$KPKG busybox-static pciutils libpci3 pci.ids libkmod2 libudev1 libcap2 zlib1g liblzma5 libzstd1 libssl3 libc6 setserial"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
X=$T/x R=$T/root

need=$(for p in $PKGS; do ls "$OUT"/debs/${p}_*.deb >/dev/null 2>&1 || echo $p; done)
[ -z "$need" ] || (cd "$OUT/debs" && apt-get download $need 2>&1 | grep -v unsandboxed) >&2
for p in $PKGS; do dpkg -x "$(ls -t "$OUT"/debs/${p}_*.deb | head -1)" "$X"; done
KVER=${KPKG#linux-image-}

mkdir -p $R/{bin,sbin,usr/bin,usr/share/misc,lib64,lib/x86_64-linux-gnu,proc,sys,dev,tmp,etc,root}
cp "$X/bin/busybox" $R/bin/
for a in $($R/bin/busybox --list); do [ -e $R/bin/$a ] || ln -s busybox $R/bin/$a; done

# Dynamic binaries plus the shared libraries they need (found by readelf in the extracted packages).
add_libs() {
  for n in $(readelf -d "$1" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
    [ -e $R/lib/x86_64-linux-gnu/$n ] && continue
    f=$(find "$X/lib" "$X/usr/lib" -name "$n" | head -1); [ -n "$f" ] || { echo "missing library $n" >&2; exit 1; }
    cp -L "$f" $R/lib/x86_64-linux-gnu/$n; add_libs $R/lib/x86_64-linux-gnu/$n
  done
}
cp "$X/usr/bin/lspci" $R/usr/bin/; add_libs $R/usr/bin/lspci
cp "$X/bin/setserial" $R/bin/; add_libs $R/bin/setserial
cp "$X/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" $R/lib64/
cp "$X/usr/share/misc/pci.ids" $R/usr/share/misc/

# Kernel, config and the chosen modules with everything they depend on (busybox depmod writes the
# modules.dep the package's postinst would). A module built into the kernel needs nothing.
M=lib/modules/$KVER
busybox depmod -b "$X" "$KVER"
want="" load=""
for m in $MODULES; do
  re="/${m//[-_]/[-_]}\.ko(\.[a-z]+)?"
  if line=$(grep -E "$re:" "$X/$M/modules.dep"); then
    want="$want ${line%%:*} ${line#*:}" load="$load $m"
  elif grep -qE "$re\$" "$X/$M/modules.builtin"; then
    echo "build-guest: $m is built into $KVER" >&2
  else
    echo "build-guest: no module $m in $KPKG" >&2; exit 1
  fi
done
for k in $want; do mkdir -p "$R/$M/$(dirname $k)"; cp "$X/$M/$k" "$R/$M/$k"; done
for k in $want; do grep "^$k:" "$X/$M/modules.dep"; done | sort -u > "$R/$M/modules.dep"
echo $load > $R/etc/modules

cat > $R/init <<'INIT'
#!/bin/sh
export PATH=/bin:/sbin:/usr/bin LD_LIBRARY_PATH=/lib/x86_64-linux-gnu
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^$1=//p" | tail -1; }
echo "=== GUEST-START $(uname -r) uptime=$(cut -d' ' -f1 /proc/uptime)s"
for m in $(cat /etc/modules); do modprobe "$m" && echo "=== modprobe $m ok"; done
sleep 1
echo "=== PCI DEVICES (non-bridge)"
for d in /sys/bus/pci/devices/*; do
  case $(cat $d/class) in 0x06*) continue;; esac
  lspci -nn $(arg guest.lspci | grep . || echo -xxvv) -s "${d##*/}" 2>&1 | grep -v 'libkmod resources'
done
echo "=== /proc/tty/driver/serial"; cat /proc/tty/driver/serial
echo "=== dmesg (serial|ttyS|0000:)"; dmesg | grep -E 'serial|ttyS|0000:'
t=$(arg guest.test); t=${t:-/test.sh}; [ "$t" = none ] || [ -x "$t" ] || t=/test-default.sh
[ "$t" = none ] || { echo "=== TEST $t"; "$t"; }
echo "=== GUEST-DONE uptime=$(cut -d' ' -f1 /proc/uptime)s"
if [ "$(arg guest.shell)" = 1 ]; then
  echo "=== shell on the console: try  setserial -g /dev/ttyS*  and  microcom -s 115200 /dev/ttyS1  (Ctrl-X leaves"
  echo "    microcom; what you type there comes back through the card). poweroff (or exit) ends the VM."
  # busybox poweroff/halt/reboot signal PID 1 (USR2/USR1/TERM), which is this script: it powers off. The
  # shell runs in the background so that `wait` returns to the trap at once.
  trap 'poweroff -f' USR2 USR1 TERM
  PS1='guest:\w# ' HOME=/root setsid cttyhack sh &
  wait $!
fi
poweroff -f
INIT

cat > $R/test-default.sh <<'TEST'
#!/bin/sh
# Loopback test: for each ttyS that sits on a PCI device, write a string and expect to read it back.
n=0
for t in /sys/class/tty/ttyS*; do
  [ "$(basename "$(readlink -f $t/device/subsystem)")" = pci ] || continue
  tty=${t##*/} pci=$(basename "$(readlink -f $t/device)") n=$((n+1))
  msg="loopback-$tty-$$"
  stty -F /dev/$tty raw -echo 115200 2>/dev/null || echo "note: stty failed on $tty"
  setserial -g /dev/$tty 2>/dev/null
  exec 3<>/dev/$tty
  printf '%s' "$msg" >&3
  got=$(timeout 5 dd bs=1 count=${#msg} <&3 2>/dev/null)
  exec 3<&-
  if [ "$got" = "$msg" ]; then echo "PASS $tty ($pci) read back '$got'"
  else echo "FAIL $tty ($pci) wrote '$msg' read '$got'"; fi
done
[ $n -gt 0 ] || echo "FAIL no PCI serial port found"
TEST
chmod +x $R/init $R/test-default.sh
(cd $R && find . | cpio -o -H newc --quiet | gzip -9) > "$T/initramfs.cpio.gz"
# Replace atomically: a guest booting from another checkout may be reading the previous files.
cp "$X/boot/vmlinuz-$KVER" "$T/vmlinuz"; cp "$X/boot/config-$KVER" "$T/config"
for f in vmlinuz config initramfs.cpio.gz; do mv -f "$T/$f" "$OUT/$f.new"; mv -f "$OUT/$f.new" "$OUT/$f"; done
echo "$STAMP" > "$OUT/stamp"
echo "build-guest: built $OUT/vmlinuz ($KVER) and $OUT/initramfs.cpio.gz ($(du -h "$OUT/initramfs.cpio.gz" | cut -f1)); modules:${load:- none}" >&2
