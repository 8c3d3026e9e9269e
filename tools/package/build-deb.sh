#!/usr/bin/env bash
# Builds umdev_<version>_amd64.deb: a Native AOT umdev (no .NET on the target) under /usr/lib/umdev with
# /usr/bin/umdev, the systemd unit, a default /etc/umdev/serve.conf (a conffile), umdev(1) made from the
# commands' own help, bash completion, and the tools `umdev vm` runs. The version is the packages' one
# (src/Directory.Build.props). The same commit gives the same .deb, byte for byte (SOURCE_DATE_EPOCH is the
# commit's time). docs/packaging.md says why AOT and what the package holds.
#
#   tools/package/build-deb.sh [--out DIR] [--flavour aot|r2r|jit]    (default: .build/package, aot)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=$repo/.build/package
flavour=aot
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --flavour) flavour=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-deb.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
case $flavour in
  # UseSystemZlib: link Debian's zlib1g rather than embed a copy (lintian: embedded-library).
  aot) publish=(-p:PublishAot=true -p:UseSystemZlib=true) ;;
  r2r) publish=(--self-contained -p:PublishReadyToRun=true) ;;
  jit) publish=(--self-contained) ;;
  *) echo "build-deb.sh: --flavour is aot, r2r or jit, not '$flavour'" >&2; exit 2 ;;
esac

. "$repo/tools/package/lib.sh"
need build-deb.sh dpkg-deb:dpkg dpkg-shlibdeps:dpkg-dev strip:binutils
[ "$flavour" != aot ] || need build-deb.sh clang:clang ld.lld:lld /usr/include/zlib.h:zlib1g-dev

version=$(dotnet msbuild "$repo/src/Umdev.Cli/Umdev.Cli.csproj" -getProperty:Version -nologo)
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "build-deb.sh: unexpected version '$version'" >&2; exit 1; }
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}
arch=amd64
work=$out/work; root=$work/root
rm -rf "$work"; mkdir -p "$root" "$out"

echo "build-deb.sh: publishing umdev $version ($flavour)..." >&2
# The native link step is not redone when only properties change: start the RID's build afresh.
rm -rf "$repo/src/Umdev.Cli/obj/Release/net10.0/linux-x64" "$repo/src/Umdev.Cli/bin/Release/net10.0/linux-x64"
# ContinuousIntegrationBuild maps source paths to /_/, so where the checkout lies leaves no trace in the binary.
dotnet publish "$repo/src/Umdev.Cli/Umdev.Cli.csproj" -c Release -r linux-x64 "${publish[@]}" \
  -p:ContinuousIntegrationBuild=true -p:DebugType=none -p:GenerateDocumentationFile=false \
  -o "$work/publish" --nologo -v q >"$work/publish.log" 2>&1 \
  || { grep -E 'error' "$work/publish.log" >&2 || tail -20 "$work/publish.log" >&2; exit 1; }
# LTTng tracing's provider links liblttng-ust, which nothing here needs (the runtime runs without it).
rm -f "$work/publish"/*.dbg "$work/publish"/*.pdb "$work/publish"/*.xml "$work/publish/libcoreclrtraceptprovider.so"

lib=$root/usr/lib/umdev
install -d "$lib" "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/umdev" "$root/usr/share/man/man1" \
  "$root/usr/share/bash-completion/completions" "$root/usr/share/doc/umdev" "$root/var/lib/umdev/disks"
cp -a "$work/publish/." "$lib/"
# Only what `umdev vm` and the guest benches run; umdev finds them beside itself (RepositoryTools).
install -d "$lib/tools"
cp -a "$repo/tools/guest" "$repo/tools/qemu" "$lib/tools/"
ln -s ../lib/umdev/umdev "$root/usr/bin/umdev"
strip --strip-unneeded "$lib/umdev" 2>/dev/null || true

here=$repo/tools/package
install -m 644 "$repo/contrib/umdev.service" "$root/lib/systemd/system/umdev.service"
install -m 644 "$here/serve.conf" "$root/etc/umdev/serve.conf"
install -m 644 "$here/umdev.bash-completion" "$root/usr/share/bash-completion/completions/umdev"
"$here/make-man.sh" "$lib/umdev" "$version" | gzip -9n >"$root/usr/share/man/man1/umdev.1.gz"
install -m 644 "$here/copyright" "$root/usr/share/doc/umdev/copyright"
"$here/make-changelog.sh" "$version" | gzip -9n >"$root/usr/share/doc/umdev/changelog.gz"

# Real dependencies: what the ELF files link (dpkg-shlibdeps), plus fuse3 (the FUSE mount and /dev/fuse's rules).
mkdir -p "$work/debian"; : >"$work/debian/control"
elves=$(find "$lib" -type f \( -name '*.so' -o -perm -u+x \) -exec sh -c 'head -c4 "$1" | grep -q ELF && echo "$1"' _ {} \;)
shlibs=$(cd "$work" && dpkg-shlibdeps -O --ignore-missing-info -e $elves 2>"$work/shlibdeps.log" | sed -n 's/^shlibs:Depends=//p') \
  || { cat "$work/shlibdeps.log" >&2; exit 1; }
installed=$(du -sk --apparent-size "$root" | cut -f1)

install -d "$root/DEBIAN"
cat >"$root/DEBIAN/control" <<CONTROL
Package: umdev
Version: $version
Architecture: $arch
Maintainer: umdev authors <umdev@users.noreply.github.com>
Installed-Size: $installed
Depends: ${shlibs:+$shlibs, }fuse3
Recommends: mdevctl
Section: admin
Priority: optional
Homepage: https://github.com/umdev/umdev
Description: VFIO mediated devices (mdev) in user space, served over vfio-user
 umdev is the Linux VFIO mediated device framework (mdev.ko, vfio_mdev.ko and
 vendor drivers) rebuilt in user space, with no kernel module. It shows the
 kernel's sysfs tree on a FUSE mount, so the shell and mdevctl work unchanged,
 and serves each device to VMMs such as QEMU (10.1 or later) over the
 vfio-user protocol on its own UNIX socket.
 .
 Drivers: mtty (serial card), mbochs (Bochs display) and virtio-blk. The
 package holds the umdev command, a systemd unit and a Kubernetes device
 plug-in (umdev device-plugin).
CONTROL
echo /etc/umdev/serve.conf >"$root/DEBIAN/conffiles"
install -m 755 "$here/postinst" "$root/DEBIAN/postinst"
install -m 755 "$here/prerm" "$root/DEBIAN/prerm"
install -m 755 "$here/postrm" "$root/DEBIAN/postrm"

# Reproducible: fixed times, root ownership, sorted members (dpkg-deb sorts and clamps to SOURCE_DATE_EPOCH).
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
chmod -R u+rwX,go+rX,go-w "$root"
deb=$out/umdev_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
