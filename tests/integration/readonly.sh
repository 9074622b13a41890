#!/bin/bash
# SPDX-License-Identifier: MIT
# readonly.sh - a mount with -o ro reads everything and refuses every
# change with EROFS; the backing root stays byte-identical.
# Usage: readonly.sh single|multi
. "$(dirname "$0")/lib.sh" "$@"
require_cmd getfattr setfattr

ROOT=$(new_dir root)
MNT=$(new_dir mnt)
make_sample_root "$ROOT"

# snapshot ROOT: every backing entry with its content checksum and times
snapshot() {
	(cd "$1" && find . | sort | while read -r p; do
		if [ -f "$p" ]; then
			echo "$p $(stat -c '%s %a %Y' "$p") $(md5sum <"$p" | cut -c1-32)"
		else
			echo "$p $(stat -c '%F %a %Y' "$p")"
		fi
	done)
}
before=$(snapshot "$ROOT")

mount_hmf "$ROOT" "$MNT" -o ro
M=$MNT
A=$M/groupA/array1
G=$M/groupA
RO="Read-only file system"

echo "== reads work"
check_eq "ls" "group1 groupA" "$(ls "$M" | tr '\n' ' ' | sed 's/ $//')"
check_eq "read the array" "$(od -An -tx1 -v "$ROOT/groupA/array1/data")" "$(od -An -tx1 -v "$A")"
check_eq "an attribute" attributeValue "$(xattr_of "$G" user.someAttribute)"
check_eq "the layout" '{"dtype":"<i8","shape":[9],"order":"C"}' "$(xattr_of "$A" user.hmf.meta)"

echo "== writes fail with EROFS"
check_fails "touch a new file" "$RO" touch "$G/new"
check_fails "touch an existing array" "$RO" touch "$A"
check_fails "mkdir" "$RO" mkdir "$G/newgroup"
check_fails "mkdir -p" "$RO" mkdir -p "$M/x/y"
check_fails "setfattr on a group" "$RO" setfattr -n user.k -v v "$G"
check_fails "setfattr on an array" "$RO" setfattr -n user.k -v v "$A"
check_fails "setfattr of the dtype" "$RO" setfattr -n user.hmf.dtype -v '<f8' "$A"
check_fails "setfattr -x" "$RO" setfattr -x user.someAttribute "$G"
check_fails "write into an array" "$RO" sh -c "printf x >>'$A'"
check_fails "truncate" "$RO" truncate -s 0 "$A"
check_fails "rm" "$RO" rm -f "$A"
check_fails "rmdir" "$RO" rmdir "$M/group1/groupA/groupZ"
check_fails "mv" "$RO" mv "$A" "$G/moved"
check_fails "chmod" "$RO" chmod 0600 "$A"
expect "open for writing" EROFS open_w "$A"
expect "create" EROFS create "$G/c"
expect "setxattr" EROFS setxattr "$G" user.k 00
expect "removexattr" EROFS removexattr "$G" user.someAttribute
expect "rename" EROFS rename "$M/group1" "$M/group2"
expect "utime" EROFS utime "$G"
check_eq "nothing changed on the mount" "group1 groupA" "$(ls "$M" | tr '\n' ' ' | sed 's/ $//')"

unmount_hmf "$MNT"
check_eq "the backing root is untouched" "$before" "$(snapshot "$ROOT")"
finish
