#!/usr/bin/env bash
# The package's changelog (a native Debian changelog, one entry for the version built).
#   make-changelog.sh VERSION
set -euo pipefail
cat <<CHANGES
umdev ($1) unstable; urgency=medium

  * umdev $1, built from the repository's sources (docs/packaging.md).

 -- umdev authors <umdev@users.noreply.github.com>  $(LC_ALL=C date -u -R -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}")
CHANGES
