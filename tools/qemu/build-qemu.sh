#!/bin/bash
# build-qemu.sh - build qemu-system-x86_64 (>= 10.1, with the vfio-user-pci client) from Debian's own
# `qemu` source package (suite sid), as docs/guest.md describes. Idempotent: re-running
# skips finished steps. Prints the path of the built qemu-system-x86_64 on stdout (everything else: stderr).
# Builds only that binary and the x86 option ROMs it loads, not QEMU's tests (1613 of 2556 ninja steps).
#
# Usage: build-qemu.sh            build (if needed) and print the binary's path
#        build-qemu.sh --path     print the path of an already built binary, build nothing (exit 1: none)
# Env: QEMU_WORK=DIR          everything goes here (private APT state, debs, venv, source, build);
#                             default ~/.cache/umdev-qemu. QEMU_WORK=/work/qemu reuses a build made there.
#      DEBIAN_MIRROR=http://deb.debian.org/debian
#      JOBS=2                 make -j
#      QEMU_SERIES=10.2       upstream series to take from sid's Sources (the newest 10.2.x listed). The
#                             mirror's sid index also lists 11.1.x whose files are missing from its pool (404).
# Needs: root (for `apt-get install` of build dependencies on the Debian 12 host), network to the mirror.
# The system's APT sources are not touched: the sid/backports downloads use a private APT_CONFIG.
set -euo pipefail
W=$(realpath -m "${QEMU_WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/umdev-qemu}")
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
JOBS=${JOBS:-2}
SERIES=${QEMU_SERIES:-10.2}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
N="nice -n 19"
log() { echo "=== qemu-build: $*" >&2; }
if [ "${1:-}" = --path ]; then   # the newest finished build under $W, if any
  q=$(ls -d "$W"/src/qemu-*/build/qemu-system-x86_64 2>/dev/null | sort -V | tail -1 || true)
  [ -n "$q" ] && [ -x "$q" ] && [ -e "$(dirname "$q")/qemu-bundle/usr/local/share/qemu/bios-256k.bin" ] || exit 1
  echo "$q"; exit 0
fi
exec 3>&1 1>&2   # all progress to stderr; stdout carries only the final binary path (QEMU=$(qemu-build.sh))

# --- 1. private APT configuration: deb-src sid + deb bookworm-backports, own lists/cache/config parts ---
A=$W/apt
mkdir -p "$A"/{apt.conf.d,sources.list.d,preferences.d,lists/partial,cache/archives/partial} "$W/debs" "$W/src"
cat > "$A/sources.list" <<EOF
deb-src [signed-by=$KEYRING] $MIRROR sid main
deb [signed-by=$KEYRING] $MIRROR bookworm-backports main
EOF
# APT reads APT_CONFIG first, then Dir::Etc::parts and Dir::Etc::main: point both away from /etc/apt so
# none of the system's hooks or sources apply. The dpkg status stays the system's (read only here).
cat > "$A/apt.conf" <<EOF
Dir::Etc::main "$A/apt.conf.main";
Dir::Etc::parts "$A/apt.conf.d";
Dir::Etc::sourcelist "$A/sources.list";
Dir::Etc::sourceparts "$A/sources.list.d";
Dir::Etc::preferences "$A/preferences";
Dir::Etc::preferencesparts "$A/preferences.d";
Dir::State::lists "$A/lists";
Dir::Cache "$A/cache";
Dir::Cache::archives "$A/cache/archives";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
Acquire::Check-Valid-Until "false";
Acquire::Check-Date "false";
EOF
papt() { APT_CONFIG=$A/apt.conf $N "$@"; }
if ! ls "$A"/lists/*sid*Sources* >/dev/null 2>&1 || ! ls "$A"/lists/*bookworm-backports*Packages* >/dev/null 2>&1; then
  log "apt-get update (private config)"
  papt apt-get update
fi

# Source package: the newest $SERIES.x that sid's Sources lists (must be >= 10.1).
VER=$(papt apt-cache showsrc qemu | sed -n 's/^Version: //p' | grep -F ":$SERIES." | sort -V | tail -1)
[ -n "$VER" ] || { echo "sid lists no qemu $SERIES.x source" >&2; exit 1; }
UPVER=${VER#*:}; UPVER=${UPVER%-*}; UPVER=${UPVER%+ds*}; UPVER=${UPVER%+dfsg*}
log "sid qemu source: $VER (upstream $UPVER)"
printf '%s\n' 10.1 "$UPVER" | sort -V -C || { echo "sid has qemu $UPVER < 10.1" >&2; exit 1; }
if ! ls "$W"/debs/qemu_"${VER#*:}".dsc >/dev/null 2>&1; then
  log "apt-get source --download-only qemu"
  (cd "$W/debs" && papt apt-get source --download-only "qemu=$VER")
fi

# --- 2. build dependencies on the host (system APT, bookworm) + meson>=1.5/pycotap from backports in a venv ---
HOSTPKGS="libglib2.0-dev libpixman-1-dev flex bison libfdt-dev gcc-multilib ninja-build pkg-config python3-venv seabios"
missing=$(for p in $HOSTPKGS; do dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"; done)
if [ -n "$missing" ]; then
  log "apt-get install $(echo $missing)"
  # the system's lists may be empty (Docker-style image): update them (sources untouched) if needed
  [ "$(apt-cache policy $missing 2>/dev/null | grep -c 'Candidate: [0-9]')" = "$(echo $missing | wc -w)" ] ||
    $N apt-get -o DPkg::Lock::Timeout=900 update
  DEBIAN_FRONTEND=noninteractive $N apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends $missing
fi

V=$W/venv
for p in meson python3-pycotap; do
  ls "$W"/debs/${p}_*bpo*.deb >/dev/null 2>&1 || (cd "$W/debs" && papt apt-get download "$p/bookworm-backports")
done
if [ ! -x "$V/bin/python3" ]; then
  log "venv $V"
  $N /usr/bin/python3 -m venv --system-site-packages "$V"
fi
if [ ! -e "$V/.debs-installed" ]; then
  # The debs install into usr/lib/python3/dist-packages. Copy that into the venv's own site-packages
  # (not a .pth: configure's nested pyvenv only adds this venv's site-packages, and .pth files found
  # there are not processed), with the packages' metadata so mkvenv sees meson and pycotap as installed.
  rm -rf "$V/.debs-root"
  for p in meson python3-pycotap; do dpkg -x "$(ls -t "$W"/debs/${p}_*bpo*.deb | head -1)" "$V/.debs-root"; done
  site=$("$V/bin/python3" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  cp -a "$V/.debs-root/usr/lib/python3/dist-packages/." "$site/"
  rm -rf "$V/.debs-root"
  touch "$V/.debs-installed"
fi
"$V/bin/python3" -c 'import mesonbuild.coredata as c, pycotap; print("meson", c.version)' >&2

# --- 3. unpack the source and apply Debian's two firmware-blob patches ---
S=$W/src/qemu-$UPVER
if [ ! -e "$S/.umdev-patched" ]; then
  log "unpack $S"
  rm -rf "$S" "$W/src/debian"
  mkdir -p "$S"
  tar -C "$S" --strip-components=1 -xf "$(ls "$W"/debs/qemu_"${UPVER}"*.orig.tar.* | head -1)"
  tar -C "$W/src" -xf "$(ls "$W"/debs/qemu_"${VER#*:}".debian.tar.* | head -1)"
  for p in skip-unpack-edk2-blobs.patch skip-install-dtb.patch; do
    f=$(find "$W/src/debian/patches" -name "$p" | head -1); [ -n "$f" ] || { echo "no $p in debian/patches" >&2; exit 1; }
    log "patch $p"; patch -d "$S" -p1 --forward < "$f"
  done
  touch "$S/.umdev-patched"
fi

# --- 4. configure and build ---
B=$S/build
if [ ! -e "$B/build.ninja" ]; then
  log "configure"
  mkdir -p "$B"
  (cd "$B" && $N ../configure --python="$V/bin/python3" --target-list=x86_64-softmmu \
      --without-default-features --disable-download --enable-tcg --disable-docs --disable-tools \
      --disable-werror --disable-install-blobs)
fi
# Only the emulator (ninja target; trace-events-all is what qemu-bundle links to) and the option ROMs
# (a make subdirectory, not a ninja target); the default `all` also builds ~900 test and bench steps.
log "make -j$JOBS qemu-system-x86_64 + option ROMs"
$N make -C "$B" -j"$JOBS" qemu-system-x86_64 trace/trace-events-all pc-bios/optionrom/all

# --- 5. firmware where the build-tree binary looks for it ---
FW=$B/qemu-bundle/usr/local/share/qemu
mkdir -p "$FW"
ln -sf /usr/share/seabios/bios-256k.bin "$FW/bios-256k.bin"
for f in "$B"/pc-bios/optionrom/*.bin; do ln -sf "$f" "$FW/${f##*/}"; done

Q=$B/qemu-system-x86_64
"$Q" --version | head -1 >&2
"$Q" -device vfio-user-pci,help >/dev/null
echo "$Q" >&3
