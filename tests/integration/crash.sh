#!/bin/bash
# SPDX-License-Identifier: MIT
# crash.sh - SIGKILL the daemon after writes, unmount the dead mount,
# remount the same root: every written byte, group, layout and attribute
# is there. Usage: crash.sh single|multi
. "$(dirname "$0")/lib.sh" "$@"
require_numpy
require_cmd setfattr

ROOT=$(new_dir root)
MNT=$(new_dir mnt)
W=$(new_dir work)
make_sample_root "$ROOT"
mount_hmf "$ROOT" "$MNT"
M=$MNT

head -c $((5 << 20)) /dev/urandom >"$W/big"
head -c 5000 /dev/urandom >"$W/patch"
cp "$ROOT/groupA/array1/data" "$W/array1"

echo "== writes, then kill -9"
check "mkdir -p" mkdir -p "$M/new/deep/er"
check "cp a 5 MiB file" cp "$W/big" "$M/new/big"
check "dd into it at an odd offset" dd if="$W/patch" of="$M/new/big" bs=1000 seek=777 conv=notrunc status=none
dd if="$W/patch" of="$W/big" bs=1000 seek=777 conv=notrunc status=none
check "overwrite part of array1" sh -c "printf 'ABCDEFGH' | dd of='$M/groupA/array1' bs=8 seek=2 conv=notrunc status=none"
printf 'ABCDEFGH' | dd of="$W/array1" bs=8 seek=2 conv=notrunc status=none
check "an attribute" setfattr -n user.note -v 'written before the crash' "$M/new/deep"
check "a layout" sh -c "touch '$M/new/m' && setfattr -n user.hmf.dtype -v '<f4' '$M/new/m' && setfattr -n user.hmf.shape -v '[10,10]' '$M/new/m'"
check "np.memmap store (no flush, no close before the kill)" "$PY" -c '
import numpy as np, os, sys, signal
m = np.memmap(sys.argv[1], dtype="<f4", mode="r+", shape=(10, 10))
m[:] = np.arange(100, dtype="<f4").reshape(10, 10)
m.flush()
print("stored")' "$M/new/m"
check "mv" mv "$M/group1" "$M/new/group1"
check "cp the changed array1" cp "$M/groupA/array1" "$M/groupA/array1again"
check "rm" rm -f "$M/groupA/array1"
# one writer still holds an open handle while the daemon dies
exec 9>>"$M/new/held"
printf 'held open' >&9

pid=${PID_OF[$MNT]}
check "kill -9 the daemon" kill -9 "$pid"
wait "$pid" 2>/dev/null
exec 9>&-
expect "the dead mount answers ENOTCONN" ENOTCONN stat "$M/new"
if fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT"; then
	pass "unmounted the dead mount"
else
	fail "cannot unmount the dead mount"
fi
check "not mounted any more" sh -c "! awk '\$2 == \"$MNT\"' /proc/self/mounts | grep -q ."

echo "== the backing root has everything"
same_bytes "big (backing)" "$W/big" "$ROOT/new/big/data"
same_bytes "array1again (backing)" "$W/array1" "$ROOT/groupA/array1again/data"
check "the memmap store reached the backing data" "$PY" -c '
import numpy as np, sys
assert (np.fromfile(sys.argv[1], dtype="<f4") == np.arange(100)).all()' "$ROOT/new/m/data"

echo "== remount the same root"
mount_hmf "$ROOT" "$MNT"
same_bytes "big" "$W/big" "$M/new/big"
same_bytes "array1again" "$W/array1" "$M/groupA/array1again"
check "deep groups" test -d "$M/new/deep/er"
check "moved group" test -d "$M/new/group1/groupA/groupZ"
check "removed array stays removed" test ! -e "$M/groupA/array1"
check_eq "attribute" "written before the crash" "$(xattr_of "$M/new/deep" user.note)"
check_eq "layout" '{"dtype":"<f4","shape":[10,10],"order":"C"}' "$(xattr_of "$M/new/m" user.hmf.meta)"
check "memmap data" "$PY" -c '
import numpy as np, sys
m = np.memmap(sys.argv[1], dtype="<f4", mode="r", shape=(10, 10))
assert (m == np.arange(100).reshape(10, 10)).all()' "$M/new/m"
check_eq "the handle held at the kill wrote its bytes" "held open" "$(cat "$M/new/held")"
check_eq "big's shape follows its size" "[$((5 << 20))]" "$(xattr_of "$M/new/big" user.hmf.shape)"
check "the remounted root still takes writes" sh -c "printf after >'$M/new/after'"
unmount_hmf "$MNT"
finish
