#!/bin/bash
# SPDX-License-Identifier: MIT
# rsync.sh - rsync -aX (and cp -a) of a tree from one mount to another
# (two roots, two mountpoints): data, dtype, shape, order and attributes
# all arrive. Usage: rsync.sh single|multi
. "$(dirname "$0")/lib.sh" "$@"
require_cmd rsync getfattr setfattr
require_numpy

ROOT1=$(new_dir root1)
ROOT2=$(new_dir root2)
MNT1=$(new_dir mnt1)
MNT2=$(new_dir mnt2)
make_sample_root "$ROOT1"
mount_hmf "$ROOT1" "$MNT1"
mount_hmf "$ROOT2" "$MNT2" -o create
M1=$MNT1
M2=$MNT2

echo "== build a source tree on the first mount"
mk_array() { # PATH DTYPE SHAPE [ORDER]: an array of random bytes
	local p=$1 dtype=$2 shape=$3 order=${4:-C}
	touch "$p" &&
		setfattr -n user.hmf.dtype -v "$dtype" "$p" &&
		setfattr -n user.hmf.shape -v "$shape" "$p" &&
		setfattr -n user.hmf.order -v "$order" "$p" &&
		"$PY" -c 'import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
n = os.fstat(fd).st_size
os.pwrite(fd, os.urandom(n), 0)
os.close(fd)' "$p"
}
check "root attribute" setfattr -n user.top -v 1 "$M1"
check "[100,3] <f8" mk_array "$M1/groupA/m2" '<f8' '[100,3]'
check "attributes on it" setfattr -n user.units -v m/s "$M1/groupA/m2"
check "a binary attribute" setfattr -n user.bin -v 0xff00fe01 "$M1/groupA/m2"
check "[0,3] <f8" mk_array "$M1/groupA/empty2d" '<f8' '[0,3]'
check "0-d <c16" mk_array "$M1/groupA/scalar" '<c16' '[]'
check "[4,5] <i2 order F" mk_array "$M1/group1/fortran" '<i2' '[4,5]' F
check "[3] |S7" mk_array "$M1/group1/strings" '|S7' '[3]'
check "[786432] >f4 (3 MiB)" mk_array "$M1/group1/groupA/big" '>f4' '[786432]'
check "plain bytes" sh -c "head -c 100003 /dev/urandom >'$M1/groupA/bytes'"
check "deep group attribute" setfattr -n user.deep -v yes "$M1/group1/groupA/groupZ"
head -c 65536 /dev/urandom >"$TMPBASE/big.attr"
expect "a 64 KiB attribute" OK setxattr "$M1/group1/groupA/groupZ" user.big "@$TMPBASE/big.attr"
check "an empty group" mkdir "$M1/emptygroup"
check "modes survive too" chmod 0640 "$M1/groupA/bytes"
check "and times" touch -d '2010-01-01 00:00:00 UTC' "$M1/groupA/m2"
check_eq "the source scalar is 0-d" '{"dtype":"<c16","shape":[],"order":"C"}' \
	"$(xattr_of "$M1/groupA/scalar" user.hmf.meta)"

# dump DIR: every node's relative path, type, size, mode, mtime, and all
# of its xattrs (names sorted, values in hex), one block per node.
dump() {
	(cd "$1" && find . -mindepth 1 | sort | while read -r p; do
		if [ -d "$p" ]; then
			echo "$p dir mode=$(stat -c %a "$p") mtime=$(stat -c %Y "$p")"
		else
			echo "$p file size=$(stat -c %s "$p") mode=$(stat -c %a "$p") mtime=$(stat -c %Y "$p") md5=$(md5sum <"$p" | cut -c1-32)"
		fi
		getfattr -d -m - -e hex "$p" 2>/dev/null | grep -v '^#' | grep . | sort
	done
	echo ". root: $(getfattr -d -m - -e hex . 2>/dev/null | grep -v '^#' | grep . | sort | tr '\n' ' ')")
}

# metas ROOT: the parsed .hmf of every node (key order ignored).
metas() {
	"$PY" - "$1" <<'EOF'
import json, os, sys
root = sys.argv[1]
for d, subdirs, files in sorted(os.walk(root)):
    subdirs[:] = sorted(s for s in subdirs if not s.startswith(".hmf"))
    if ".hmf" in files:
        m = json.load(open(os.path.join(d, ".hmf")))
        print(os.path.relpath(d, root), json.dumps(m, sort_keys=True))
EOF
}

echo "== rsync -aX mount to mount"
check "rsync -aX" rsync -aX "$M1/" "$M2/"
dump "$M1" >"$TMPBASE/dump1"
dump "$M2" >"$TMPBASE/dump2"
[ -n "${HMF_TEST_DEBUG:-}" ] && cat "$TMPBASE/dump2"
if out=$(diff "$TMPBASE/dump1" "$TMPBASE/dump2"); then
	pass "every node, its data, mode, mtime and xattrs arrived ($(grep -c . "$TMPBASE/dump1") lines)"
else
	fail "the copies differ (< source, > destination):"$'\n'"$(short "$out")"
fi
check "diff -r of the data" diff -r "$M1" "$M2"
for f in groupA/array1 groupA/m2 groupA/scalar group1/fortran group1/strings group1/groupA/big groupA/bytes groupA/empty2d; do
	same_bytes "backing data of $f" "$ROOT1/$f/data" "$ROOT2/$f/data"
done
check_eq "the .hmf of every node matches" "$(metas "$ROOT1")" "$(metas "$ROOT2")"
check_eq "dtype/shape/order of m2" '{"dtype":"<f8","shape":[100,3],"order":"C"}' \
	"$(xattr_of "$M2/groupA/m2" user.hmf.meta)"
check_eq "dtype/shape/order of fortran" '{"dtype":"<i2","shape":[4,5],"order":"F"}' \
	"$(xattr_of "$M2/group1/fortran" user.hmf.meta)"
check_eq "dtype/shape of the empty 2-D array" '{"dtype":"<f8","shape":[0,3],"order":"C"}' \
	"$(xattr_of "$M2/groupA/empty2d" user.hmf.meta)"
check_eq "the 0-d array stays 0-d" '{"dtype":"<c16","shape":[],"order":"C"}' \
	"$(xattr_of "$M2/groupA/scalar" user.hmf.meta)"
check_eq "the binary attribute" "OK ff00fe01" "$(op getxattr "$M2/groupA/m2" user.bin)"
check_eq "the 64 KiB attribute" "OK $(sha256sum <"$TMPBASE/big.attr" | cut -d' ' -f1)" \
	"$(op getxattr "$M2/group1/groupA/groupZ" user.big sha256)"
check_eq "the root attribute" 1 "$(xattr_of "$M2" user.top)"
check_eq "a second rsync finds nothing to do" "" \
	"$(rsync -aXi "$M1/" "$M2/" 2>&1 | grep -v '^\.d\.\.t\.\.\.\.\.\. \./$')"
check_eq "no temporary leftovers in the destination" "" \
	"$(find "$ROOT2" -name '.hmf.tmp*' -o -name '.*.??????' | grep -v '^$')"

echo "== an update: rsync replaces a changed array in place of the old one"
check "change the source" sh -c "printf 'changed!' | dd of='$M1/groupA/m2' bs=1 seek=16 conv=notrunc status=none"
check "setfattr on the source" setfattr -n user.units -v km/h "$M1/groupA/m2"
check "rsync -aX again" rsync -aX "$M1/" "$M2/"
same_bytes "updated data" "$M1/groupA/m2" "$M2/groupA/m2"
check_eq "updated attribute" km/h "$(xattr_of "$M2/groupA/m2" user.units)"
check_eq "layout kept" '{"dtype":"<f8","shape":[100,3],"order":"C"}' \
	"$(xattr_of "$M2/groupA/m2" user.hmf.meta)"

echo "== cp -a mount to mount"
check "cp -a" cp -a "$M1/group1" "$M2/cpa"
check_eq "fortran keeps its layout" '{"dtype":"<i2","shape":[4,5],"order":"F"}' \
	"$(xattr_of "$M2/cpa/fortran" user.hmf.meta)"
check_eq "big keeps its dtype" '{"dtype":">f4","shape":[786432],"order":"C"}' \
	"$(xattr_of "$M2/cpa/groupA/big" user.hmf.meta)"
same_bytes "big's data" "$M1/group1/groupA/big" "$M2/cpa/groupA/big"
check_eq "groupZ keeps its attribute" yes "$(xattr_of "$M2/cpa/groupA/groupZ" user.deep)"

unmount_hmf "$MNT1"
unmount_hmf "$MNT2"
finish
