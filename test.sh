#!/usr/bin/env bash
# Runs every umdev test on a fresh Debian 12 machine: installs the Debian packages the tests drive
# for real (fuse3, mdevctl, tmux), restores NuGet packages, builds, runs the suites and the guest test
# (tools/guest/guest-test.sh: needs QEMU >= 10.1, else skipped) and a short fuzz run (tools/fuzz/fuzz.sh),
# the package check (tools/package/check-package.sh: builds the .deb and the OCI image, installs and runs them
# on a fresh Debian root and in podman), prints one summary line.
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
need=()
command -v fusermount3 >/dev/null 2>&1 || need+=(fuse3)
command -v mdevctl >/dev/null 2>&1 || need+=(mdevctl)
command -v tmux >/dev/null 2>&1 || need+=(tmux)   # the guest test types into `umdev vm` through it
if [ ${#need[@]} -gt 0 ]; then
  echo "test.sh: installing ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
dotnet restore Umdev.slnx --nologo -v q
dotnet build Umdev.slnx -c Release --no-restore --nologo -v q -clp:ErrorsOnly
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
dotnet test Umdev.slnx -c Release --no-build --nologo "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
# A real Linux guest under QEMU against `umdev serve` (docs/guest.md); skips itself when there is no
# QEMU >= 10.1. Its "guest: N passed, M failed" line is added to the totals. It runs the umdev the
# solution build above made instead of building its own copy through ./umdev.
UMDEV_DLL=$PWD/src/Umdev.Cli/bin/Release/net10.0/umdev.dll tools/guest/guest-test.sh 2>&1 | tee -a "$log"
grc=${PIPESTATUS[0]}
# A short coverage-guided fuzz of each untrusted-input parser (docs/fuzzing.md; installs afl++ when missing).
# Its "fuzz: N passed, M failed" line (one per target) is added to the totals.
tools/fuzz/fuzz.sh --seconds 45 2>&1 | tee -a "$log"
frc=${PIPESTATUS[0]}
# The .deb and the image, proven on a clean system (docs/packaging.md). Its "package: N passed, M failed"
# line is added to the totals.
tools/package/check-package.sh 2>&1 | tee -a "$log"
prc=${PIPESTATUS[0]}
set -e
[ "$grc" -eq 0 ] || rc=1
[ "$frc" -eq 0 ] || rc=1
[ "$prc" -eq 0 ] || rc=1
awk '/(Passed|Failed)! +-/ { for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1) } }
     /^(guest|fuzz|package): [0-9]+ passed, [0-9]+ failed$/ { p += $2; f += $4 }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$rc"
