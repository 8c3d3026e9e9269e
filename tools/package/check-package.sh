#!/usr/bin/env bash
# The proof that the package and the image work on a clean system (run by test.sh):
#  - the .deb is lintian-clean (no errors); its Native AOT binary passes the repository's tests of serve, the
#    service, mdevctl and the device plug-in;
#  - it `apt install`s into a fresh Debian 12 root made by mmdebstrap (with systemd, as a host has); there,
#    with /dev/fuse bind-mounted: `umdev --version`, the unit's own ExecStart reaching `ready`, `umdev demo`,
#    bash completion and `systemd-analyze verify` of the unit; then `apt purge` leaves nothing behind;
#  - the OCI image loads into podman, is at most 120 MB, and
#    `podman run --rm --device /dev/fuse --cap-add SYS_ADMIN <image> umdev demo` passes.
# Prints one line per check and `package: N passed, M failed`; exits non-zero if any failed.
#
#   tools/package/check-package.sh [--deb PATH] [--image PATH]    (default: build both into .build/package)
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=$repo/.build/package
deb= image=
while [ $# -gt 0 ]; do
  case $1 in
    --deb) deb=$2; shift 2 ;;
    --image) image=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "check-package.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "check-package.sh: needs root (chroot, mounts, podman)" >&2; exit 1; }
. "$repo/tools/package/lib.sh"
need check-package.sh lintian:lintian mmdebstrap:mmdebstrap umoci:umoci podman:podman runc:runc systemd-analyze:systemd || exit 1

passed=0 failed=0
ok() { echo "  [ok] $*"; passed=$((passed + 1)); }
bad() { echo "  [FAIL] $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@" >"$log" 2>&1; then ok "$what"; else bad "$what"; sed 's/^/       /' "$log" | tail -20; fi; }
finish() { echo "package: $passed passed, $failed failed"; [ "$failed" = 0 ]; exit; }

mkdir -p "$out"; work=$(mktemp -d "$out/check.XXXXXX"); log=$work/log
root=$work/root
cleanup() { umount -R "$root/proc" "$root/dev/fuse" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

if [ -z "$deb" ]; then deb=$("$repo/tools/package/build-deb.sh" --out "$out") || { bad "build-deb.sh"; finish; }; fi
deb=$(readlink -f "$deb"); version=$(dpkg-deb -f "$deb" Version)
echo "check-package.sh: $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"

check "lintian reports no errors" bash -c "lintian --fail-on error '$deb' 2>/dev/null"
# The repository's own tests of serve, the service, mdevctl and the device plug-in, run against the .deb's
# Native AOT binary instead of the JIT build (Daemon.Umdev): what AOT could break (reflection, gRPC, Kestrel).
dpkg-deb -x "$deb" "$work/x"
aot_tests() {
  export UMDEV_TEST_BINARY=$work/x/usr/lib/umdev/umdev
  dotnet test "$repo/tests/Umdev.DevicePlugin.Tests" -c Release --nologo -v q &&
  dotnet test "$repo/tests/Umdev.Cli.Tests" -c Release --nologo -v q \
    --filter 'FullyQualifiedName~ServeTests|FullyQualifiedName~ServiceTests|FullyQualifiedName~VersionTests|FullyQualifiedName~MdevctlTests|FullyQualifiedName~CreateRemoveRace'
}
check "the .deb's umdev passes the serve, service, mdevctl and device-plugin tests" aot_tests

echo "check-package.sh: a fresh Debian 12 root (mmdebstrap) to install it into..."
if ! mmdebstrap --variant=apt --include=systemd --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
     --skip=cleanup/apt/lists bookworm "$root" >"$work/mmdebstrap.log" 2>&1; then
  bad "mmdebstrap bookworm"; tail -20 "$work/mmdebstrap.log"; finish
fi
cp "$deb" "$root/tmp/"
check "apt install ./$(basename "$deb") in the fresh root" \
  chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y "/tmp/$(basename "$deb")"
# What runs inside: its own /proc, the host's /dev/fuse (and the few nodes the root's /dev lacks), in a private
# mount namespace so that nothing is left mounted on the host.
in_root() {
  unshare --mount --pid --fork --propagation private bash -c '
    root=$1; shift
    for n in fuse null zero random urandom tty; do
      [ -e "$root/dev/$n" ] || touch "$root/dev/$n"; mount --bind "/dev/$n" "$root/dev/$n"
    done
    mount -t proc proc "$root/proc"; mount -t tmpfs tmpfs "$root/run"; mount -t tmpfs tmpfs "$root/tmp"
    exec chroot "$root" "$@"' _ "$root" "$@"
}
check "umdev --version prints $version" bash -c "[ \"\$(chroot '$root' umdev --version)\" = '$version' ]"
check "/etc/umdev/serve.conf is a conffile" bash -c "chroot '$root' dpkg-query -W -f='\${Conffiles}' umdev | grep -q '^ /etc/umdev/serve.conf '"
check "the man page renders without warnings" bash -c \
  "MANWIDTH=100 man --warnings=w -l '$root/usr/share/man/man1/umdev.1.gz' 2>&1 >/dev/null | tee /dev/stderr | (! grep -q .)"
check "bash completion offers serve and its --parent" in_root bash -c '
  . /usr/share/bash-completion/completions/umdev
  complete() { :; }
  COMP_LINE="umdev se"; COMP_POINT=${#COMP_LINE}; COMP_WORDS=(umdev se); COMP_CWORD=1; _umdev
  printf "%s\n" "${COMPREPLY[@]}" | grep -qx serve || { echo "got: ${COMPREPLY[*]}"; exit 1; }
  COMP_LINE="umdev serve --par"; COMP_POINT=${#COMP_LINE}; COMP_WORDS=(umdev serve --par); COMP_CWORD=2; _umdev
  printf "%s\n" "${COMPREPLY[@]}" | grep -qx -- --parent || { echo "got: ${COMPREPLY[*]}"; exit 1; }'
check "systemd-analyze verify umdev.service" \
  bash -c "systemd-analyze verify --root='$root' /lib/systemd/system/umdev.service 2>&1 | tee /dev/stderr | (! grep -q .)"
# The unit's own command line, as systemd would run it: the tree appears with the conffile's parents.
exec_start=$(sed -n 's/^ExecStart=//p' "$root/lib/systemd/system/umdev.service")
check "the unit's ExecStart ($exec_start) serves the tree" in_root bash -c "
  $exec_start >/tmp/serve.out 2>/tmp/serve.err & pid=\$!
  for i in \$(seq 300); do grep -q '^ready /run/umdev/sys' /tmp/serve.out && break; kill -0 \$pid || break; sleep 0.1; done
  cat /tmp/serve.out /tmp/serve.err
  n=\$(cat /run/umdev/sys/devices/virtual/mtty/mtty/mdev_supported_types/mtty-2/available_instances) || exit 1
  kill -TERM \$pid; wait \$pid; rc=\$?
  echo \"available_instances \$n, exit \$rc\"; [ \"\$n\" = 12 ] && [ \$rc = 0 ]"
check "umdev demo in the fresh root" in_root umdev demo
check "apt purge umdev leaves no file of it" bash -c "
  chroot '$root' env DEBIAN_FRONTEND=noninteractive apt-get purge -y umdev >/dev/null &&
  ! chroot '$root' dpkg -s umdev 2>/dev/null | grep -q '^Status: install' &&
  [ ! -e '$root/usr/bin/umdev' ] && [ ! -e '$root/usr/lib/umdev' ] && [ ! -e '$root/etc/umdev' ] &&
  [ ! -e '$root/lib/systemd/system/umdev.service' ]"

if [ -z "$image" ]; then image=$("$repo/tools/package/build-image.sh" --deb "$deb" --out "$out") || { bad "build-image.sh"; finish; }; fi
# This machine's sandbox refuses podman's default rlimits and crun on its hybrid cgroups: a containers.conf of
# our own (not the machine's) gives runc and the limits the sandbox has. The run command itself is the user's.
cat >"$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=4096:4096"]
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF=$work/containers.conf
check "podman load $(basename "$image")" podman load -i "$image"
size=$(podman image inspect --format '{{.Size}}' "umdev:$version" 2>/dev/null || echo 0)
check "the image is at most 120 MB ($((size / 1000000)) MB)" test "$size" -gt 0 -a "$size" -le 120000000
check "podman run --rm --device /dev/fuse --cap-add SYS_ADMIN umdev:$version umdev demo" \
  podman run --rm --device /dev/fuse --cap-add SYS_ADMIN "umdev:$version" umdev demo
finish
