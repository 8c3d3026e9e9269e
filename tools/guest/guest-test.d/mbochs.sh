# guest-test.d/mbochs.sh - sourced by guest-test.sh: a real guest's bochs-drm drives an mbochs-small device.
#
# Boots the guest on the device with console=tty0 (fbcon's text consoles on the bochs framebuffer, kernel
# messages there too; ttyS0 stays the log). Checks: lspci shows [1234:1111] bound to bochs-drm; /dev/fb0 is
# 32 bpp; text the guest writes to tty1 shows as fbcon glyphs in the top-left character cells of
# `umdev screenshot`, taken on the host while the guest runs; a pattern the guest writes to /dev/fb0 equals
# the next screenshot pixel for pixel. The guest announces each phase on the console and waits for the host.
# Uses python3 (zlib) to read the PNGs back.

mbochs_parent=$sysfs/devices/virtual/mbochs/mbochs
mbochs_uuid=83b8f4f2-509f-382f-3c1e-e6bfe0fa2001
mbochs_w=800 mbochs_h=600
mbochs_text=UMDEV-FBCON-TEXT

# mbochs_py ARGS...: the PNG reader and the checks (python3, standard library only).
mbochs_py() {
  python3 - "$@" <<'PY'
import struct, sys, zlib

def pattern(w, h):  # XRGB8888 rows: B = x, G = y, R = high bits and a diagonal, X = 0
    out = bytearray(w * h * 4)
    i = 0
    for y in range(h):
        for x in range(w):
            out[i] = x & 0xFF; out[i + 1] = y & 0xFF
            out[i + 2] = ((x >> 8) << 4 | (y >> 8) << 6 | ((x + y) & 0xF)) & 0xFF
            i += 4
    return out

def read_png(path):  # 8-bit RGB, non-interlaced: (width, height, rows of R, G, B bytes)
    data = open(path, 'rb').read()
    assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
    pos, idat = 8, b''
    while pos < len(data):
        length, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b'IHDR':
            w, h, depth, color, _, _, interlace = struct.unpack('>IIBBBBB', body)
            assert (depth, color, interlace) == (8, 2, 0), 'expected 8-bit RGB'
        elif kind == b'IDAT':
            idat += body
        pos += 12 + length
    raw, stride, rows, prev = zlib.decompress(idat), w * 3, [], bytearray(w * 3)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - 3] if i >= 3 else 0
            b, c = prev[i], prev[i - 3] if i >= 3 else 0
            if f == 1: line[i] = (line[i] + a) & 0xFF
            elif f == 2: line[i] = (line[i] + b) & 0xFF
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(line); prev = line
    return w, h, rows

cmd = sys.argv[1]
if cmd == 'pattern':  # pattern W H FILE
    open(sys.argv[4], 'wb').write(pattern(int(sys.argv[2]), int(sys.argv[3])))
elif cmd == 'compare':  # compare PNG W H: the screenshot equals the pattern pixel for pixel
    w, h, rows = read_png(sys.argv[2])
    if (w, h) != (int(sys.argv[3]), int(sys.argv[4])): sys.exit(f'screenshot is {w}x{h}')
    p, bad = pattern(w, h), 0
    for y in range(h):
        for x in range(w):
            i = 4 * (y * w + x)
            if rows[y][3 * x:3 * x + 3] != bytes((p[i + 2], p[i + 1], p[i])):
                if bad < 3: print(f'pixel {x},{y}: {rows[y][3 * x:3 * x + 3].hex()} expected {bytes((p[i + 2], p[i + 1], p[i])).hex()}')
                bad += 1
    print(f'{w * h - bad} of {w * h} pixels equal'); sys.exit(1 if bad else 0)
elif cmd == 'text':  # text PNG TEXT: fbcon's 8x16 glyphs of TEXT in the first cells of row 0, blank after
    w, h, rows = read_png(sys.argv[2]); text = sys.argv[3]
    cell = lambda col, row: b''.join(bytes(rows[row * 16 + y][col * 24:col * 24 + 24]) for y in range(16))
    lit = lambda c: any(c)
    cells = [cell(i, 0) for i in range(len(text))]
    ok = all(lit(c) for c in cells)                                     # every character drew pixels
    ok &= not any(lit(cell(i, 0)) for i in range(len(text), w // 8))    # nothing after the text on its line
    ok &= not any(lit(cell(i, r)) for r in range(2, h // 16) for i in range(w // 8))  # nor below (row 1: the prompt-free cursor line)
    for i in range(len(text)):                                          # same character, same glyph; else different
        for j in range(i):
            ok &= (cells[i] == cells[j]) == (text[i] == text[j])
    print('text cells: ' + ' '.join('#' if lit(c) else '.' for c in cells)); sys.exit(0 if ok else 1)
PY
}

# The guest's part: report fb0, write the text to tty1 and the pattern to fb0, pausing after each for the host.
mbochs_guest_script() {
  cat <<'GUEST'
#!/bin/sh
dmesg -n 1                                          # no kernel messages over the screen from here on
fb=/sys/class/graphics/fb0
echo "MBOCHS fb0 name=$(cat $fb/name) bpp=$(cat $fb/bits_per_pixel) virtual_size=$(cat $fb/virtual_size) stride=$(cat $fb/stride)"
echo 0 > /sys/class/graphics/fbcon/cursor_blink 2>/dev/null
printf '\033[2J\033[H\033[?25l%s\n' "$MBOCHS_TEXT" > /dev/tty1
sleep 1                                             # fbcon's damage worker copies its shadow into BAR0
echo "=== MBOCHS-TEXT-READY"
sleep "$MBOCHS_WAIT"
sed '1,/^__PATTERN__$/d' "$0" | base64 -d | gunzip > /tmp/pattern
dd if=/tmp/pattern of=/dev/fb0 bs=32000 2>/dev/null && echo "MBOCHS pattern written ($(wc -c < /tmp/pattern) bytes)"
sleep 1
echo "=== MBOCHS-PATTERN-READY"
sleep "$MBOCHS_WAIT"
exit 0
GUEST
}

# mbochs_wait_marker LOG MARKER PID: until the console shows MARKER (false if the guest ended first).
mbochs_wait_marker() {
  for _ in $(seq $((${GUEST_TIMEOUT:-300} * 4))); do
    grep -q "^=== $2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.25
  done
  return 1
}

mbochs_boot() {
  local uuid=$mbochs_uuid type=mbochs-small log rc guest shot card lspci failed0=$failed
  local sock display
  echo "guest test: $type, device $uuid"
  check "$type: create through $mbochs_parent/mdev_supported_types/$type/create" \
    write_attr "$mbochs_parent/mdev_supported_types/$type/create" "$uuid"
  # The daemon names both sockets in the device's directory (their paths are its to choose).
  check "$type: the device shows its vfio-user and display sockets" wait_for "$mbochs_parent/$uuid/vfio-user/display"
  sock=$(cat "$mbochs_parent/$uuid/vfio-user/socket") display=$(cat "$mbochs_parent/$uuid/vfio-user/display")
  check "$type: both sockets exist ($sock, $display)" eval '[ -S "$sock" ] && [ -S "$display" ]'
  check "$type: umdev screenshot before the guest: a clear error, exit status 1" \
    eval '! "${umdev[@]}" screenshot "$uuid" -o "$tmp/none.png" --sockets "$sockets" 2>"$tmp/none.err" && grep -q "disabled or its mode is invalid" "$tmp/none.err"'

  mbochs_py pattern $mbochs_w $mbochs_h "$tmp/pattern"
  { mbochs_guest_script | sed "s/\$MBOCHS_TEXT/$mbochs_text/; s/\$MBOCHS_WAIT/20/"
    echo "__PATTERN__"; gzip -9 -c "$tmp/pattern" | base64; } > "$tmp/mbochs-test.sh"
  mkdir -p "$GUEST_DIR/logs"
  log=$GUEST_DIR/logs/guest-test-$type-$(date +%Y%m%d-%H%M%S).log
  GUEST_TEST=$tmp/mbochs-test.sh APPEND="console=tty0 console=ttyS0,115200" TIMEOUT=${GUEST_TIMEOUT:-300} LOG=$log \
    "$here/run-guest.sh" "$sock" >/dev/null 2>&1 &
  guest=$!

  if mbochs_wait_marker "$log" MBOCHS-TEXT-READY $guest; then
    check "$type: umdev screenshot while the guest runs (fbcon text)" \
      "${umdev[@]}" screenshot "$uuid" -o "$tmp/text.png" --sockets "$sockets"
    check "$type: '$mbochs_text' written to tty1 shows as fbcon glyphs in the top-left cells" mbochs_py text "$tmp/text.png" "$mbochs_text"
  else
    check "$type: the guest reached its text phase" false
  fi
  if mbochs_wait_marker "$log" MBOCHS-PATTERN-READY $guest; then
    check "$type: umdev screenshot while the guest runs (pattern)" \
      "${umdev[@]}" screenshot "$uuid" -o "$tmp/pattern.png" --sockets "$sockets"
    check "$type: the pattern the guest wrote to /dev/fb0 equals the screenshot pixel for pixel" \
      mbochs_py compare "$tmp/pattern.png" $mbochs_w $mbochs_h
  else
    check "$type: the guest reached its pattern phase" false
  fi
  set +e; wait $guest; rc=$?; set -e
  tr -d '\r' < "$log" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g' > "$tmp/console"
  check "$type: guest booted, ran its test and powered off (run-guest.sh exit $rc)" [ "$rc" -eq 0 ]

  lspci=$(section "$tmp/console" "=== PCI DEVICES" "=== /proc/tty/driver/serial")
  card=$(awk 'index($0, "[1234:1111]") { on = 1 } on && /^$/ { exit } on' <<<"$lspci")
  check "$type: lspci shows a display controller [1234:1111]" grep -qE '^[0-9a-f:.]+ Display controller \[0380\]: .*\[1234:1111\] \(rev 01\)' <<<"$card"
  check "$type: lspci: Kernel driver in use: bochs-drm" grep -qx $'\tKernel driver in use: bochs-drm' <<<"$card"
  check "$type: /dev/fb0 is bochs-drm's at 32 bpp, ${mbochs_w}x${mbochs_h}" \
    grep -qE "^MBOCHS fb0 name=bochs-?drm(drmfb)? bpp=32 virtual_size=$mbochs_w,[0-9]+ stride=$((mbochs_w * 4))$" "$tmp/console"
  check "$type: remove through $mbochs_parent/$uuid/remove" write_attr "$mbochs_parent/$uuid/remove" 1
  if [ "$failed" -gt "$failed0" ]; then
    echo "--- guest output ($log) ---"
    grep -E '^(MBOCHS|=== |FAIL)|bochs|fb0|drm' "$tmp/console" | head -60
    echo "--- umdev serve stderr (last 20 lines) ---"; tail -20 "$tmp/serve.err"
  fi
}

mbochs_boot
