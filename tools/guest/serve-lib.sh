# serve-lib.sh - sourced by guest-test.sh and the guest benchmarks: one `umdev serve` on $tmp/sys (the
# mount) and $tmp/sock (the sockets), started and stopped the same way everywhere.
# Needs: umdev=(the command), tmp (the work directory); optional serve_prefix=(e.g. taskset -c 0). Sets pid.

wait_for() { for _ in $(seq 120); do [ -e "$1" ] && return 0; sleep 0.25; done; return 1; }   # wait_for PATH: 30 s at most

serve_start() {  # serve_start [serve args...]: start the daemon, wait for its "ready" line; 1 if none came
  mkdir -p "$tmp/sys" "$tmp/sock"
  ${serve_prefix[@]+"${serve_prefix[@]}"} "${umdev[@]}" serve --sysfs "$tmp/sys" --sockets "$tmp/sock" "$@" \
    >"$tmp/serve.out" 2>"$tmp/serve.err" &
  pid=$!
  for _ in $(seq 240); do
    grep -q '^ready ' "$tmp/serve.out" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  tail -20 "$tmp/serve.err" >&2
  return 1
}

serve_stop() {  # SIGTERM (serve unmounts on it), SIGKILL after 30 s; never leaves the tree mounted
  if [ -n "${pid:-}" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
  fi
  if mountpoint -q "$tmp/sys" 2>/dev/null; then fusermount3 -u -z "$tmp/sys" 2>/dev/null || umount -l "$tmp/sys"; fi
}
