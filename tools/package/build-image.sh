#!/usr/bin/env bash
# Builds the umdev OCI image with no base image from a registry: a minimal Debian 12 root made by mmdebstrap
# from Debian's mirror (the Essential set, fuse3 and the .deb with its dependencies), written as one layer by
# umoci and saved as an OCI archive that `podman load` (and `skopeo copy oci-archive:...`) take.
# Reproducible: the same commit and the same mirror state give the same image digest (docs/packaging.md).
#
#   tools/package/build-image.sh [--deb PATH] [--out DIR]      (default: builds the .deb; .build/package)
# Environment: UMDEV_DEBIAN_MIRROR, UMDEV_DEBIAN_SECURITY (e.g. a snapshot.debian.org URL to pin the state).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=$repo/.build/package
deb=
while [ $# -gt 0 ]; do
  case $1 in
    --deb) deb=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "build-image.sh: needs root (mmdebstrap's root mode and umoci keep file owners)" >&2; exit 1; }
. "$repo/tools/package/lib.sh"
need build-image.sh mmdebstrap:mmdebstrap umoci:umoci
mkdir -p "$out"; out=$(cd "$out" && pwd)
[ -n "$deb" ] || deb=$("$repo/tools/package/build-deb.sh" --out "$out")
deb=$(readlink -f "$deb")
version=$(dpkg-deb -f "$deb" Version)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}
mirror=${UMDEV_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${UMDEV_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
work=$out/image; rm -rf "$work"; mkdir -p "$work"

echo "build-image.sh: Debian 12 root with $(basename "$deb")..." >&2
# merged-usr through the hook, not the usrmerge package (which pulls in perl); no docs beyond copyrights, no
# man pages or translations; nothing that records when or where it was built (logs, caches, machine-id).
# The .deb goes in by dpkg inside the root (apt in root mode cannot reach a file outside it); its
# dependencies, from its own control file, come from the mirror first.
depends=$(dpkg-deb -f "$deb" Depends | sed -e 's/([^)]*)//g' -e 's/[[:space:]]//g')
mmdebstrap --variant=essential --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --include="$depends" \
  --customize-hook="copy-in $deb /tmp" \
  --customize-hook="chroot \"\$1\" dpkg -i /tmp/$(basename "$deb") && rm \"\$1\"/tmp/$(basename "$deb")" \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --customize-hook='rm -rf "$1"/var/log/* "$1"/var/cache/ldconfig/aux-cache "$1"/var/lib/dpkg/*-old "$1"/var/cache/debconf/*-old' \
  --customize-hook='rm -f "$1"/etc/machine-id "$1"/var/lib/dbus/machine-id; : > "$1"/etc/machine-id' \
  --skip=output/dev \
  bookworm "$work/rootfs.tar" \
  "deb $mirror bookworm main" "deb $mirror bookworm-updates main" "deb $security bookworm-security main" \
  >"$work/mmdebstrap.log" 2>&1 || { tail -30 "$work/mmdebstrap.log" >&2; exit 1; }

echo "build-image.sh: OCI image..." >&2
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
layout=$work/oci
umoci init --layout "$layout"
umoci new --image "$layout:$version"
umoci raw add-layer --image "$layout:$version" --history.created "$created" \
  --history.created_by "tools/package/build-image.sh (mmdebstrap bookworm + $(basename "$deb"))" "$work/rootfs.tar"
umoci config --image "$layout:$version" --no-history --created "$created" --author "umdev authors" \
  --architecture amd64 --os linux \
  --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --config.cmd umdev --config.cmd serve \
  --config.label org.opencontainers.image.title=umdev \
  --config.label org.opencontainers.image.version="$version" \
  --config.label org.opencontainers.image.description="VFIO mediated devices in user space, served over vfio-user" \
  --manifest.annotation org.opencontainers.image.created="$created"
# podman names a loaded OCI archive after its ref.name annotation: make it umdev:VERSION, not the bare tag;
# containerd (ctr images import) takes the full name from its own annotation, which k8s resolves umdev:VERSION to.
python3 - "$layout" "$version" <<'PY'
import json, sys
path, version = sys.argv[1] + "/index.json", sys.argv[2]
index = json.load(open(path))
for m in index["manifests"]:
    m.setdefault("annotations", {})["org.opencontainers.image.ref.name"] = f"umdev:{version}"
    m["annotations"]["io.containerd.image.name"] = f"docker.io/library/umdev:{version}"
json.dump(index, open(path, "w"), separators=(",", ":"), sort_keys=True)
PY
umoci gc --layout "$layout"
archive=$out/umdev_${version}_oci.tar
tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner --format=posix \
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -C "$layout" -cf "$archive" .
digest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$layout/index.json")
echo "build-image.sh: $archive umdev:$version $digest ($(du -m "$work/rootfs.tar" | cut -f1) MB unpacked, $(du -m "$archive" | cut -f1) MB archive)" >&2
echo "$archive"
