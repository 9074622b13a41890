#!/bin/bash
# SPDX-License-Identifier: MIT
# twomounts.sh - two mounts of one root (default short timeouts, no
# -o exclusive) agree: what one writes, renames, replaces or removes, the
# other sees once the 1 s kernel cache timeout has passed (attributes
# and xattrs, which the kernel does not cache, at once).
# Usage: twomounts.sh single|multi
. "$(dirname "$0")/lib.sh" "$@"
require_cmd getfattr setfattr

ROOT=$(new_dir root)
MNT1=$(new_dir mnt1)
MNT2=$(new_dir mnt2)
W=$(new_dir work)
make_sample_root "$ROOT"
mount_hmf "$ROOT" "$MNT1"
mount_hmf "$ROOT" "$MNT2"
A=$MNT1
B=$MNT2
settle() { sleep 1.3; } # past the 1 s entry/attribute timeout

echo "== data"
head -c 300000 /dev/urandom >"$W/v1"
head -c 300000 /dev/urandom >"$W/v2"
cp "$W/v1" "$A/groupA/f"
settle
same_bytes "B reads what A wrote" "$W/v1" "$B/groupA/f"
check "A overwrites it in place (same size)" cp "$W/v2" "$A/groupA/f"
settle
same_bytes "B's cached pages were dropped" "$W/v2" "$B/groupA/f"
check "A patches the middle (notrunc)" dd if="$W/v1" of="$A/groupA/f" bs=4096 seek=10 skip=10 count=3 conv=notrunc status=none
dd if="$W/v1" of="$W/v2" bs=4096 seek=10 skip=10 count=3 conv=notrunc status=none
settle
same_bytes "B sees the patch" "$W/v2" "$B/groupA/f"
check "A appends" sh -c "printf tail >>'$A/groupA/f'"
settle
check_eq "B sees the new size" 300004 "$(stat -c %s "$B/groupA/f")"
check_eq "B reads the tail" tail "$(tail -c 4 "$B/groupA/f")"
check "A truncates" truncate -s 1000 "$A/groupA/f"
settle
check_eq "B sees the truncation" 1000 "$(stat -c %s "$B/groupA/f")"
check_eq "B reads 1000 bytes" 1000 "$(wc -c <"$B/groupA/f")"

echo "== metadata"
check "A sets an attribute" setfattr -n user.k -v fromA "$A/groupA"
check_eq "B sees it at once" fromA "$(xattr_of "$B/groupA" user.k)"
check "B replaces it" setfattr -n user.k -v fromB "$B/groupA"
check_eq "A sees the new value" fromB "$(xattr_of "$A/groupA" user.k)"
check "A sets the dtype" setfattr -n user.hmf.dtype -v '<i8' "$A/groupA/f"
check_eq "B sees the layout at once" '{"dtype":"<i8","shape":[125],"order":"C"}' \
	"$(xattr_of "$B/groupA/f" user.hmf.meta)"
check "A: mkdir" mkdir "$A/newgroup"
settle
check "B sees the group" test -d "$B/newgroup"
check "B: mkdir inside it" mkdir "$B/newgroup/sub"
settle
check_eq "A lists it" sub "$(ls "$A/newgroup")"
check "A: chmod" chmod 0600 "$A/groupA/f"
settle
check_eq "B sees the mode" 600 "$(stat -c %a "$B/groupA/f")"

echo "== renames, replacements, removals"
check "A: mv f g" mv "$A/groupA/f" "$A/groupA/g"
settle
expect "B: the old name is gone" ENOENT stat "$B/groupA/f"
check_eq "B: the new name has the data" 1000 "$(stat -c %s "$B/groupA/g")"
printf 'replacement' >"$W/r"
cp "$W/r" "$A/groupA/r"
check "B reads g (caching it)" sh -c "cat '$B/groupA/g' >/dev/null"
check "A: mv r over g" mv -f "$A/groupA/r" "$A/groupA/g"
settle
same_bytes "B reads the replacement" "$W/r" "$B/groupA/g"
check_eq "B sees the replacement's layout" '{"dtype":"|u1","shape":[11],"order":"C"}' \
	"$(xattr_of "$B/groupA/g" user.hmf.meta)"
check "A: rm g" rm "$A/groupA/g"
settle
expect "B: removed" ENOENT stat "$B/groupA/g"
check "A: rm -r newgroup" rm -r "$A/newgroup"
settle
expect "B: removed group" ENOENT stat "$B/newgroup"
check "B can create the name again" mkdir "$B/newgroup"
settle
check "A sees it" test -d "$A/newgroup"

unmount_hmf "$MNT1"
unmount_hmf "$MNT2"
finish
