#!/bin/bash
# SPDX-License-Identifier: MIT
# perms.sh - ownership and permissions with -o allow_other: nodes made by
# user 65534 belong to it (on the mount and in the backing root), and what
# the mode bits deny it is denied exactly as on the backing disk's own
# filesystem. The same sequence runs against a plain directory first and
# its transcript is the reference. Usage: perms.sh single|multi
. "$(dirname "$0")/lib.sh" "$@"
require_cmd setpriv

if [ "$(id -u)" -ne 0 ]; then
	skip_or_fail "perms.sh needs root (to mount with allow_other and switch users)"
fi
umask 022
NOBODY=65534

ROOT=$(new_dir root)
MNT=$(new_dir mnt)
PLAIN=$(new_dir plain)
make_sample_root "$ROOT"
mount_hmf "$ROOT" "$MNT" -o allow_other
M=$MNT

# as_nobody OP ARGS...: op.py as uid/gid 65534 without supplementary groups
as_nobody() {
	(cd / && setpriv --reuid $NOBODY --regid $NOBODY --clear-groups -- "$PY" "$OP" "$@")
}

# sequence BASE: root prepares, then user 65534 tries; one line per step.
sequence() {
	local B=$1
	step() { # NAME WHO OP ARGS...
		local name=$1 who=$2 r
		shift 2
		if [ "$who" = root ]; then r=$(op "$@"); else r=$(as_nobody "$@"); fi
		echo "$name: $r"
	}
	step "root mkdir pub" root mkdir "$B/pub"
	step "root chmod pub 1777" root chmod "$B/pub" 1777
	step "root mkdir open" root mkdir "$B/open"
	step "root chmod open 0777" root chmod "$B/open" 0777
	step "root mkdir private 0700" root mkdir "$B/private" 0700
	step "root create private/secret" root create "$B/private/secret"
	step "root create pub/rootfile" root create "$B/pub/rootfile" 0644
	step "root write pub/rootfile" root write "$B/pub/rootfile" 0 "$(hexof 'root data')"
	step "root mkdir pub/rootdir" root mkdir "$B/pub/rootdir"
	step "root create pub/rootdir/inner" root create "$B/pub/rootdir/inner"
	step "root create open/rootfile2" root create "$B/open/rootfile2" 0644
	step "root create pub/grpfile" root create "$B/pub/grpfile" 0660
	step "root chown pub/grpfile 0:65534" root chown "$B/pub/grpfile" 0 $NOBODY
	step "root chmod pub/grpfile 0660" root chmod "$B/pub/grpfile" 0660
	step "nobody mkdir pub/ndir" nobody mkdir "$B/pub/ndir"
	step "nobody create pub/nfile" nobody create "$B/pub/nfile"
	step "nobody write pub/nfile" nobody write "$B/pub/nfile" 0 "$(hexof hello)"
	step "nobody stat pub/ndir" nobody stat "$B/pub/ndir"
	step "nobody stat pub/nfile" nobody stat "$B/pub/nfile"
	step "root stat pub/nfile" root stat "$B/pub/nfile"
	step "nobody read pub/rootfile" nobody read "$B/pub/rootfile"
	step "nobody chmod pub/rootfile" nobody chmod "$B/pub/rootfile" 0666
	step "nobody open_w pub/rootfile" nobody open_w "$B/pub/rootfile"
	step "nobody write pub/rootfile" nobody write "$B/pub/rootfile" 0 "$(hexof evil)"
	step "nobody truncate pub/rootfile" nobody truncate "$B/pub/rootfile" 0
	step "nobody utime pub/rootfile" nobody utime "$B/pub/rootfile"
	step "nobody setxattr pub/rootfile" nobody setxattr "$B/pub/rootfile" user.x "$(hexof 1)"
	step "nobody unlink pub/rootfile (sticky)" nobody unlink "$B/pub/rootfile"
	step "nobody rename pub/rootfile (sticky)" nobody rename "$B/pub/rootfile" "$B/pub/stolen"
	step "nobody rename ndir over rootdir (sticky)" nobody rename "$B/pub/ndir" "$B/pub/rootdir"
	step "nobody rmdir pub/rootdir (sticky)" nobody rmdir "$B/pub/rootdir"
	step "nobody mkdir pub/rootdir/x" nobody mkdir "$B/pub/rootdir/x"
	step "nobody create pub/rootdir/y" nobody create "$B/pub/rootdir/y"
	step "nobody unlink pub/rootdir/inner" nobody unlink "$B/pub/rootdir/inner"
	step "nobody chown pub/nfile to root" nobody chown "$B/pub/nfile" 0 0
	step "nobody chmod pub/nfile 0600" nobody chmod "$B/pub/nfile" 0600
	step "nobody setxattr pub/ndir" nobody setxattr "$B/pub/ndir" user.mine "$(hexof yes)"
	step "nobody setxattr pub/nfile" nobody setxattr "$B/pub/nfile" user.mine "$(hexof yes)"
	step "nobody write pub/grpfile (group)" nobody write "$B/pub/grpfile" 0 "$(hexof grp)"
	step "nobody chmod pub/grpfile (not owner)" nobody chmod "$B/pub/grpfile" 0666
	step "nobody unlink open/rootfile2 (no sticky)" nobody unlink "$B/open/rootfile2"
	step "nobody listdir private" nobody listdir "$B/private"
	step "nobody stat private/secret" nobody stat "$B/private/secret"
	step "nobody create private/mine" nobody create "$B/private/mine"
	step "nobody rename pub/ndir pub/ndir2" nobody rename "$B/pub/ndir" "$B/pub/ndir2"
	step "nobody mkdir pub/ndir2/sub" nobody mkdir "$B/pub/ndir2/sub" 0750
	step "nobody stat pub/ndir2/sub" nobody stat "$B/pub/ndir2/sub"
	step "root chmod pub/nfile 0400" root chmod "$B/pub/nfile" 0400
	step "nobody open_w pub/nfile (0400)" nobody open_w "$B/pub/nfile"
	step "nobody read pub/nfile (0400)" nobody read "$B/pub/nfile"
	step "nobody chmod pub/nfile 0600 (owner)" nobody chmod "$B/pub/nfile" 0600
	step "nobody open_w pub/nfile (0600)" nobody open_w "$B/pub/nfile"
	step "root chmod pub/ndir2 0500" root chmod "$B/pub/ndir2" 0500
	step "nobody mkdir pub/ndir2/no (0500)" nobody mkdir "$B/pub/ndir2/no"
	step "nobody rmdir pub/ndir2/sub (0500)" nobody rmdir "$B/pub/ndir2/sub"
	step "nobody chmod pub/ndir2 0700 (owner)" nobody chmod "$B/pub/ndir2" 0700
	step "nobody rmdir pub/ndir2/sub" nobody rmdir "$B/pub/ndir2/sub"
	step "nobody rmdir pub/ndir2" nobody rmdir "$B/pub/ndir2"
	step "root read pub/rootfile" root read "$B/pub/rootfile"
	step "root unlink pub/rootfile" root unlink "$B/pub/rootfile"
	step "nobody listdir pub" nobody listdir "$B/pub"
}

echo "== the reference: a plain directory on the disk"
sequence "$PLAIN" >"$TMPBASE/plain.txt"
[ -n "${HMF_TEST_DEBUG:-}" ] && cat "$TMPBASE/plain.txt"
echo "== the same on the mount"
sequence "$M" >"$TMPBASE/mount.txt"
if out=$(diff "$TMPBASE/plain.txt" "$TMPBASE/mount.txt"); then
	pass "every step has the same outcome as on the plain directory ($(wc -l <"$TMPBASE/plain.txt") steps)"
else
	fail "outcomes differ (< plain directory, > mount):"$'\n'"$out"
fi
check_eq "sanity: the reference denies what it should" \
	"nobody chmod pub/rootfile: EPERM|nobody open_w pub/rootfile: EACCES|nobody unlink pub/rootfile (sticky): EPERM" \
	"$(grep -E '^nobody (chmod|open_w|unlink) pub/rootfile' "$TMPBASE/plain.txt" | tr '\n' '|' | sed 's/|$//')"

echo "== ownership on the mount and in the backing root"
as_nobody mkdir "$M/pub/own" >/dev/null
as_nobody create "$M/pub/own/arr" >/dev/null
as_nobody write "$M/pub/own/arr" 0 "$(hexof data)" >/dev/null
check_eq "group made by 65534: owner on the mount" "$NOBODY:$NOBODY 755" "$(stat -c '%u:%g %a' "$M/pub/own")"
check_eq "array made by 65534: owner on the mount" "$NOBODY:$NOBODY 644" "$(stat -c '%u:%g %a' "$M/pub/own/arr")"
check_eq "backing group dir" "$NOBODY:$NOBODY 755" "$(stat -c '%u:%g %a' "$ROOT/pub/own")"
check_eq "backing array data" "$NOBODY:$NOBODY 644" "$(stat -c '%u:%g %a' "$ROOT/pub/own/arr/data")"
check_eq "backing array dir" "$NOBODY:$NOBODY" "$(stat -c '%u:%g' "$ROOT/pub/own/arr")"
check_eq "65534 sets an attribute on its own array" OK "$(as_nobody setxattr "$M/pub/own/arr" user.a "$(hexof b)")"
check_eq "65534 sets the layout of its own array" OK "$(as_nobody setxattr "$M/pub/own/arr" user.hmf.dtype "$(hexof '<i4')")"
check_eq "root's array: 65534 cannot set its layout" EACCES "$(as_nobody setxattr "$M/groupA/array1" user.hmf.dtype "$(hexof '<f8')")"
check_eq "root's group: 65534 cannot set its attribute" EACCES "$(as_nobody setxattr "$M/groupA" user.x "$(hexof 1)")"
check_eq "root's array unchanged" '"<i8"' "$(meta_of "$ROOT/groupA/array1/.hmf" dtype)"

unmount_hmf "$MNT"
finish
