#!/bin/bash
# SPDX-License-Identifier: MIT
# corrupt.sh - a node whose .hmf is corrupted by hand in the backing root
# answers EIO through the mount while its siblings keep working; the
# daemon logs the path once, never crashes, and the node works again once
# its .hmf is repaired. Usage: corrupt.sh single|multi
. "$(dirname "$0")/lib.sh" "$@"
require_cmd getfattr setfattr

ROOT=$(new_dir root)
MNT=$(new_dir mnt)
make_sample_root "$ROOT"

echo "== build siblings, then corrupt some nodes while unmounted"
mount_hmf "$ROOT" "$MNT"
M=$MNT
for n in good badjson badtypes hugeshape badversion badattrs notjson2; do
	printf 'contents of %s' "$n" >"$M/groupA/$n"
done
setfattr -n user.ok -v yes "$M/groupA/good"
mkdir -p "$M/badgroup/child" "$M/goodgroup"
unmount_hmf "$MNT"
B=$ROOT/groupA
printf '{"hmf":1,"kind":"array","dtype":' >"$B/badjson/.hmf"
printf '{"hmf":1,"kind":"array","dtype":"<i8","shape":"nine","order":"C","attributes":{}}' >"$B/badtypes/.hmf"
printf '{"hmf":1,"kind":"array","dtype":"<f8","shape":[4611686018427387904,4611686018427387904],"order":"C","attributes":{}}' >"$B/hugeshape/.hmf"
printf '{"hmf":99,"kind":"array","dtype":"|u1","shape":[22],"order":"C","attributes":{}}' >"$B/badversion/.hmf"
printf '{"hmf":1,"kind":"array","dtype":"|u1","shape":[22],"order":"C","attributes":[1,2,3]}' >"$B/badattrs/.hmf"
head -c 300 /dev/urandom >"$B/notjson2/.hmf"
printf 'this is not json' >"$ROOT/badgroup/.hmf"
BAD="badjson badtypes hugeshape badattrs notjson2"

mount_hmf "$ROOT" "$MNT"
LOG=${LOG_OF[$MNT]}

echo "== corrupt nodes answer EIO, again and again"
for n in $BAD; do
	for i in 1 2 3; do
		expect "stat groupA/$n ($i)" EIO stat "$M/groupA/$n"
	done
	check_fails "cat groupA/$n" "Input/output error" cat "$M/groupA/$n"
	check_fails "getfattr groupA/$n" "Input/output error" getfattr -d "$M/groupA/$n"
	check_fails "setfattr groupA/$n" "Input/output error" setfattr -n user.x -v 1 "$M/groupA/$n"
	expect "open groupA/$n for writing" EIO open_w "$M/groupA/$n"
done
# a newer format version is not corruption: the library's documented
# answer is ENOTSUP (include/hmf/meta.h)
for i in 1 2; do
	expect "stat groupA/badversion ($i)" ENOTSUP stat "$M/groupA/badversion"
done
check_fails "cat groupA/badversion" "Operation not supported" cat "$M/groupA/badversion"
expect "stat of a corrupt group" EIO stat "$M/badgroup"
expect "lookup below a corrupt group" EIO stat "$M/badgroup/child"
check_fails "ls of a corrupt group" "Input/output error" ls "$M/badgroup"
ls -la "$M/groupA" >/dev/null 2>&1
ls -la "$M" >/dev/null 2>&1

echo "== siblings keep working"
check_eq "read a sibling" "contents of good" "$(cat "$M/groupA/good")"
check_eq "its attribute" yes "$(xattr_of "$M/groupA/good" user.ok)"
check_eq "the seed array" '{"dtype":"<i8","shape":[9],"order":"C"}' "$(xattr_of "$M/groupA/array1" user.hmf.meta)"
check_eq "the parent group's attribute" attributeValue "$(xattr_of "$M/groupA" user.someAttribute)"
check "write a new sibling" sh -c "printf new >'$M/groupA/new'"
check_eq "read it" new "$(cat "$M/groupA/new")"
check "mkdir beside the corrupt group" mkdir "$M/goodgroup/sub"
check_eq "ls lists every name, the corrupt ones too" \
	"array1 badattrs badjson badtypes badversion good hugeshape new notjson2" \
	"$(ls -1 "$M/groupA" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"
out=$(ls -la "$M/groupA" 2>&1)
check "ls -la names the corrupt nodes with an I/O error" \
	grep -q "cannot access '$M/groupA/badjson': Input/output error" <<<"$out"

echo "== corrupted while mounted, then repaired"
cp "$B/good/.hmf" "$TMPBASE/good.hmf"
printf '{"hmf":1,"kind":"array","attributes":{"ok":' >"$B/good/.hmf"
sleep 1.2 # the kernel's attribute and entry cache (timeout 1 s)
expect "a cached node corrupted on disk answers EIO" EIO getxattr "$M/groupA/good" user.ok
check_fails "... cat" "Input/output error" cat "$M/groupA/good"
check_eq "the sibling still works" '{"dtype":"<i8","shape":[9],"order":"C"}' "$(xattr_of "$M/groupA/array1" user.hmf.meta)"
cp "$TMPBASE/good.hmf" "$B/good/.hmf"
sleep 1.2
check_eq "repaired: it works again" yes "$(xattr_of "$M/groupA/good" user.ok)"
check_eq "repaired: its data" "contents of good" "$(cat "$M/groupA/good")"

echo "== the daemon log names each bad path exactly once"
check "the daemon is alive" kill -0 "${PID_OF[$MNT]}"
for n in $BAD good; do
	check_eq "log lines naming groupA/$n" 1 "$(grep -c -F "groupA/$n" "$LOG")"
done
check_eq "log lines naming badgroup" 1 "$(grep -c -F "/badgroup" "$LOG")"

echo "== a node renamed through the mount, then corrupted, is logged by its new path"
check "mv groupA/good groupA/renamed" mv "$M/groupA/good" "$M/groupA/renamed"
check_eq "read it under the new name" "contents of good" "$(cat "$M/groupA/renamed")"
printf 'garbage' >"$B/renamed/.hmf"
sleep 1.2
expect "corrupted after the rename: EIO" EIO getxattr "$M/groupA/renamed" user.ok
check_eq "log lines naming groupA/renamed" 1 "$(grep -c -F "groupA/renamed" "$LOG")"
check_eq "no new line names the old path groupA/good" 1 "$(grep -c -F "groupA/good" "$LOG")"
cp "$TMPBASE/good.hmf" "$B/renamed/.hmf"

unmount_hmf "$MNT"
if [ "$FAILS" -ne 0 ]; then
	echo "---- daemon log"
	cat "$LOG"
fi
finish
