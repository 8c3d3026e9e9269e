#!/usr/bin/env bash
# Coverage-guided fuzzing of umdev's untrusted-input parsers with afl-fuzz and SharpFuzz (docs/fuzzing.md).
#   tools/fuzz/fuzz.sh [--seconds N] [--target vfio-user|virtqueue|fuse|all] [--out DIR]
#       installs afl++ and the pinned sharpfuzz tool when missing, publishes tools/fuzz/Umdev.Fuzz,
#       instruments the umdev assemblies, fuzzes each target for N seconds (default 60) from
#       tools/fuzz/corpus/<target>, then prints one line per target and `fuzz: N passed, M failed`.
#       A target fails on any crash or hang (their inputs are listed) or when afl-fuzz did not run. Exit 1 then.
#   tools/fuzz/fuzz.sh --replay FILE --target NAME
#       runs one input once, uninstrumented, and prints what it threw.
set -euo pipefail
here=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
targets_all=(vfio-user virtqueue fuse)
seconds=60 target=all out="" replay=""
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --target) target=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --replay) replay=$(readlink -f "$2"); shift 2 ;;
    *) echo "usage: $0 [--seconds N] [--target NAME|all] [--out DIR] | --replay FILE --target NAME" >&2; exit 2 ;;
  esac
done
if [ "$target" = all ]; then targets=("${targets_all[@]}"); else targets=("$target"); fi
for t in "${targets[@]}"; do
  [[ " ${targets_all[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target $t (${targets_all[*]})" >&2; exit 2; }
done
project=$here/Umdev.Fuzz/Umdev.Fuzz.csproj

if [ -n "$replay" ]; then
  [ "$target" != all ] || { echo "fuzz.sh: --replay needs --target NAME" >&2; exit 2; }
  dotnet build "$project" -c Release --nologo -v q -clp:ErrorsOnly >&2
  exec dotnet "$here/Umdev.Fuzz/bin/Release/net10.0/Umdev.Fuzz.dll" "$target" --replay "$replay"
fi

if ! command -v afl-fuzz >/dev/null 2>&1; then
  echo "fuzz.sh: installing afl++" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends afl++ >/dev/null
fi
(cd "$here" && dotnet tool restore >/dev/null)   # sharpfuzz, pinned in tools/fuzz/.config/dotnet-tools.json

out=${out:-$(mktemp -d /tmp/umdev-fuzz.XXXXXX)}
mkdir -p "$out"
bin=$out/bin
rm -rf "$bin"
dotnet publish "$project" -c Release -o "$bin" --nologo -v q -clp:ErrorsOnly >&2
# Instrument what parses client input (SharpFuzz rewrites each assembly in place; the fuzz driver itself stays plain).
for dll in "$bin"/Umdev.*.dll; do
  case "$(basename "$dll")" in Umdev.Fuzz.dll) continue ;; esac
  (cd "$here" && dotnet tool run sharpfuzz "$dll") >/dev/null
done

export AFL_SKIP_BIN_CHECK=1                    # the forkserver is SharpFuzz's, inside dotnet
export AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1    # shared machines: no governor demands, no core pinning
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 # core_pattern may pipe to a handler (containers, systemd)
export AFL_NO_UI=1 AFL_QUIET=1 AFL_FAST_CAL=1
dotnet=$(command -v dotnet)
passed=0 failed=0
for t in "${targets[@]}"; do
  rm -rf "$out/$t"
  # -V ends the run after N seconds of fuzzing; timeout is only a guard against afl-fuzz itself stalling.
  timeout --kill-after=30 $((seconds + 180)) nice -n 10 afl-fuzz -i "$here/corpus/$t" -o "$out/$t" -V "$seconds" -t 10000 -m none \
    -- "$dotnet" "$bin/Umdev.Fuzz.dll" "$t" >"$out/$t.log" 2>&1 || true
  stats=$out/$t/default/fuzzer_stats
  stat() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats" 2>/dev/null; }
  mapfile -t bad < <(find "$out/$t/default/crashes" "$out/$t/default/hangs" -type f -name 'id:*' 2>/dev/null | sort)
  execs=$(stat execs_done) edges=$(stat edges_found) paths=$(stat corpus_count)
  if [ -z "$execs" ] || [ "$execs" = 0 ]; then
    echo "fuzz $t: FAILED: afl-fuzz did not run (see $out/$t.log)"
    tail -5 "$out/$t.log" | sed 's/^/  /'
    failed=$((failed + 1))
  elif [ ${#bad[@]} -gt 0 ]; then
    echo "fuzz $t: FAILED: ${#bad[@]} crashing or hanging inputs in ${seconds}s ($execs execs, $edges edges)"
    for f in "${bad[@]}"; do echo "  $f   (replay: tools/fuzz/fuzz.sh --replay '$f' --target $t)"; done
    failed=$((failed + 1))
  else
    echo "fuzz $t: passed: $execs execs, $edges edges, $paths corpus entries in ${seconds}s, no crash or hang"
    passed=$((passed + 1))
  fi
done
echo "fuzz: results in $out"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
