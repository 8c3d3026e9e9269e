#!/usr/bin/env bash
# Writes umdev(1) in roff to stdout, made from the commands' own --help (so it cannot drift from them):
# the top level, then one subsection per command and per bench command.
#   make-man.sh UMDEV_BINARY VERSION
set -euo pipefail
umdev=$1 version=$2
date=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%d)

# roff-safe text: backslashes, minus signs, and a leading dot or quote.
esc() { sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\([.']\)/\\\\\&\1/"; }

# One help text (System.CommandLine's layout: 'Description:', 'Usage:', 'Arguments:', 'Options:', 'Commands:'
# headings, items indented two spaces with their text after a run of spaces) as roff, with $1 as the heading.
section() {
  local title=$1; shift
  echo ".SS \"$(esc <<<"$title")\""
  # awk tags each line: M a macro, B a bold item, T text; only B and T lines are escaped.
  "$umdev" "$@" --help | awk '
    /^[A-Z][a-z]+:$/ { part = $0; next }
    /^$/ { next }
    part == "Description:" { sub(/^ +/, ""); print "M.PP"; print "T" $0; next }
    part == "Usage:" { sub(/^ +/, ""); print "M.PP"; print "B" $0; next }
    {
      sub(/^  /, "")
      if (match($0, /  +/)) { item = substr($0, 1, RSTART - 1); text = substr($0, RSTART + RLENGTH) }
      else { item = $0; text = "" }
      if (part == "Options:" && item ~ /--help$/) next
      print "M.TP"; print "B" item; if (text != "") print "T" text
    }' | sed -e '/^M/{s/^M//;b}' -e 's/\\/\\e/g' -e 's/-/\\-/g' -e '/^B/{s/^B\(.*\)/\\fB\1\\fR/;b}' \
             -e 's/^T//' -e "s/^\([.']\)/\\\\\&\1/"
}

cat <<HEAD
.TH UMDEV 1 "$date" "umdev $version" "User Commands"
.SH NAME
umdev \\- VFIO mediated devices (mdev) in user space, served over vfio\\-user
.SH SYNOPSIS
.B umdev
.I command
.RI [ options ]
.SH DESCRIPTION
umdev is the Linux VFIO mediated device framework rebuilt in user space, with no kernel module.
.B umdev serve
shows the kernel's mdev sysfs tree on a FUSE mount, so that
.BR echo ,
.B cat
and
.BR mdevctl (8)
work unchanged, and serves each device to a VMM over the vfio\\-user protocol on its own UNIX socket
(QEMU 10.1 or later: \\fB\\-device vfio\\-user\\-pci,socket=...\\fR).
.SH COMMANDS
HEAD
section "umdev"
mapfile -t commands < <("$umdev" --help | awk '/^Commands:$/ { on = 1; next } on && /^  [a-z]/ { print $1 }')
for c in "${commands[@]}"; do
  section "umdev $c" "$c"
  if [ "$c" = bench ]; then
    mapfile -t benches < <("$umdev" bench --help | awk '/^Commands:$/ { on = 1; next } on && /^  [a-z]/ { print $1 }')
    for b in "${benches[@]}"; do section "umdev bench $b" bench "$b"; done
  fi
done
cat <<TAIL
.SH FILES
.TP
.I /etc/umdev/serve.conf
the parents the service hosts, one \\fBparent NAME[:key=value,...]\\fR per line
.TP
.I /run/umdev/sys
the sysfs tree (\\fBumdev serve\\fR's default mount point)
.TP
.I /run/umdev/vfio\\-user
the devices' vfio\\-user sockets, one folder per device
.TP
.I /var/lib/umdev/disks
where virtio\\-blk backing files may come from by default
.SH EXIT STATUS
0 on success, 1 on failure, 2 on a usage error.
.SH SEE ALSO
.BR mdevctl (8),
.BR systemctl (1),
.BR qemu\\-system\\-x86_64 (1);
/usr/share/doc/umdev
TAIL
