#!/usr/bin/env bash
# The measurement behind the .deb's Native AOT choice (docs/packaging.md): builds the .deb as aot, r2r
# (self-contained ReadyToRun) and jit (self-contained), then, in alternating rounds, times `umdev serve`
# (mtty and mbochs) from exec to its `ready` line and reads its RSS after 3 s idle. Prints a median and the
# spread (min-max) per flavour, and each as a ratio to aot.
#   tools/package/compare-flavours.sh [--rounds N] [--out DIR]      (default 7 rounds, .build/flavours)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
rounds=7 out=$repo/.build/flavours
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "compare-flavours.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
flavours=(aot r2r jit)
for f in "${flavours[@]}"; do
  [ -f "$out/$f/umdev.deb" ] || {
    deb=$("$repo/tools/package/build-deb.sh" --flavour "$f" --out "$out/$f")
    mv "$deb" "$out/$f/umdev.deb"; rm -rf "$out/$f/x"; dpkg-deb -x "$out/$f/umdev.deb" "$out/$f/x"
  }
done

one() { # flavour -> "ms kB"
  local bin=$out/$1/x/usr/lib/umdev/umdev d; d=$(mktemp -d); mkdir "$d/sys"
  local start end pid
  start=$(date +%s%N)
  "$bin" serve --sysfs "$d/sys" --sockets "$d/sock" --parent mtty --parent mbochs >"$d/out" 2>"$d/err" & pid=$!
  until grep -q '^ready' "$d/out" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { cat "$d/err" >&2; exit 1; }; sleep 0.002
  done
  end=$(date +%s%N)
  sleep 3
  echo "$(( (end - start) / 1000000 )) $(awk '/VmRSS/ { print $2 }' "/proc/$pid/status")"
  kill -TERM "$pid"; wait "$pid" || true; rm -rf "$d"
}
declare -A ms rss
for r in $(seq "$rounds"); do
  for f in "${flavours[@]}"; do read -r t k < <(one "$f"); ms[$f]+="$t "; rss[$f]+="$k "; done
done
stats() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { printf "%s %s %s\n", v[int((NR + 1) / 2)], v[1], v[NR] }'; }
read -r aot_ms _ _ < <(stats <<<"${ms[aot]}"); read -r aot_kb _ _ < <(stats <<<"${rss[aot]}")
aot_deb=$(stat -c %s "$out/aot/umdev.deb")
printf '%-5s %10s %8s %22s %8s %22s %8s\n' flavour ".deb KiB" ratio "ready ms (min-max)" ratio "idle RSS KiB (min-max)" ratio
for f in "${flavours[@]}"; do
  read -r m lo hi < <(stats <<<"${ms[$f]}"); read -r k klo khi < <(stats <<<"${rss[$f]}")
  size=$(stat -c %s "$out/$f/umdev.deb")
  printf '%-5s %10d %8.2f %10d (%4d-%4d) %8.2f %10d (%5d-%5d) %8.2f\n' "$f" $((size / 1024)) \
    "$(bc -l <<<"$size / $aot_deb")" "$m" "$lo" "$hi" "$(bc -l <<<"$m / $aot_ms")" "$k" "$klo" "$khi" "$(bc -l <<<"$k / $aot_kb")"
done
echo "($rounds alternating rounds; median and spread; each ratio is to aot)"
