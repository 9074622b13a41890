#!/bin/bash
# SPDX-License-Identifier: MIT
# xattrs.sh - node attributes as user.* xattrs on groups and arrays:
# getfattr -d / setfattr, XATTR_CREATE / XATTR_REPLACE, a 64 KiB value,
# non-UTF-8 bytes, the user.hmf.* layout names, and ENOTSUP for the other
# namespaces. Usage: xattrs.sh single|multi
. "$(dirname "$0")/lib.sh" "$@"
require_cmd getfattr setfattr

ROOT=$(new_dir root)
MNT=$(new_dir mnt)
make_sample_root "$ROOT"
mount_hmf "$ROOT" "$MNT"
M=$MNT
G=$M/groupA
A=$M/groupA/array1

echo "== getfattr -d"
check_eq "getfattr -d on a group" \
	"$(printf '# file: groupA\nuser.someAttribute="attributeValue"\n')" \
	"$(cd "$M" && getfattr -d groupA)"
check_eq "getfattr -d on an array lists its layout" \
	"$(printf '# file: groupA/array1\nuser.hmf.dtype="<i8"\nuser.hmf.order="C"\nuser.hmf.shape="[9]"\n')" \
	"$(cd "$M" && getfattr -d groupA/array1)"
check_eq "user.hmf.meta by name" '{"dtype":"<i8","shape":[9],"order":"C"}' \
	"$(xattr_of "$A" user.hmf.meta)"
check_eq "user.hmf.meta is not listed" \
	"user.hmf.dtype,user.hmf.order,user.hmf.shape" "$(op listxattr "$A" | sed 's/^OK //')"
check_eq "a group has no layout" "ENODATA" "$(op getxattr "$G" user.hmf.dtype)"
check_eq "the root group lists nothing" "OK " "$(op listxattr "$M")"

echo "== setfattr on groups and arrays"
for n in "$G" "$A" "$M"; do
	check "setfattr user.color on ${n#$M}" setfattr -n user.color -v blue "$n"
	check_eq "read back on ${n#$M}" blue "$(xattr_of "$n" user.color)"
	check "setfattr replaces" setfattr -n user.color -v green "$n"
	check_eq "replaced on ${n#$M}" green "$(xattr_of "$n" user.color)"
	check "setfattr -x removes" setfattr -x user.color "$n"
	check_eq "removed from ${n#$M}" ENODATA "$(op getxattr "$n" user.color)"
	check_fails "getfattr of a missing attribute" "No such attribute" getfattr -n user.color "$n"
	check_fails "setfattr -x of a missing attribute" "No such attribute" setfattr -x user.color "$n"
done
setfattr -n user.k1 -v v1 "$A"
setfattr -n user.k2 -v v2 "$A"
check_eq "array lists layout and attributes" \
	"user.hmf.dtype,user.hmf.order,user.hmf.shape,user.k1,user.k2" \
	"$(op listxattr "$A" | sed 's/^OK //')"
check_eq "backing .hmf of the array holds the attributes" '{"k1":"v1","k2":"v2"}' \
	"$(meta_of "$ROOT/groupA/array1/.hmf" attributes)"
check_eq "backing .hmf of the group" '{"someAttribute":"attributeValue"}' \
	"$(meta_of "$ROOT/groupA/.hmf" attributes)"
check "setfattr on the root group" setfattr -n user.top -v level "$M"
check_eq "backing root .hmf" '{"top":"level"}' "$(meta_of "$ROOT/.hmf" attributes)"
check "empty value" setfattr -n user.empty -v '""' "$G"
check_eq "empty value reads back empty" "OK " "$(op getxattr "$G" user.empty)"
k246=$(printf 'k%.0s' $(seq 246))
expect "a 246-byte key" OK setxattr "$G" "user.$k246" "$(hexof x)"
check_eq "the 246-byte key reads back" x "$(xattr_of "$G" "user.$k246")"
expect "a UTF-8 key" OK setxattr "$G" "user.température" "$(hexof 'chaud')"
check_eq "the UTF-8 key reads back" chaud "$(xattr_of "$G" "user.température")"

echo "== XATTR_CREATE / XATTR_REPLACE"
expect "CREATE of a new attribute" OK setxattr "$G" user.c "$(hexof one)" create
expect "CREATE of an existing attribute" EEXIST setxattr "$G" user.c "$(hexof two)" create
check_eq "unchanged by the refused CREATE" one "$(xattr_of "$G" user.c)"
expect "REPLACE of an existing attribute" OK setxattr "$G" user.c "$(hexof three)" replace
check_eq "replaced" three "$(xattr_of "$G" user.c)"
expect "REPLACE of a missing attribute" ENODATA setxattr "$G" user.nope "$(hexof x)" replace
expect "the refused REPLACE created nothing" ENODATA getxattr "$G" user.nope
expect "CREATE on an array" OK setxattr "$A" user.c "$(hexof one)" create
expect "CREATE again on an array" EEXIST setxattr "$A" user.c "$(hexof one)" create
expect "REPLACE of a missing one on an array" ENODATA setxattr "$A" user.nope "$(hexof x)" replace
expect "removexattr of a missing attribute" ENODATA removexattr "$G" user.nope

echo "== large and binary values"
"$PY" -c 'import sys; sys.stdout.buffer.write(bytes((i * 7 + 3) % 256 for i in range(65537)))' >"$TMPBASE/big65537"
head -c 65536 "$TMPBASE/big65537" >"$TMPBASE/big"
bigsha=$(sha256sum <"$TMPBASE/big" | cut -d' ' -f1)
expect "a 64 KiB value on a group" OK setxattr "$G" user.big "@$TMPBASE/big"
check_eq "the 64 KiB value reads back" "OK $bigsha" "$(op getxattr "$G" user.big sha256)"
expect "a 64 KiB value on an array" OK setxattr "$A" user.big "@$TMPBASE/big"
check_eq "the 64 KiB value reads back from the array" "OK $bigsha" "$(op getxattr "$A" user.big sha256)"
check_eq "getfattr sees 64 KiB" 65536 "$(getfattr --only-values -n user.big "$A" | wc -c)"
expect "64 KiB + 1 is refused" E2BIG setxattr "$G" user.big2 "@$TMPBASE/big65537"
bin=ff00fe01c3287f80000a
expect "a non-UTF-8 value" OK setxattr "$G" user.bin "$bin"
check_eq "the non-UTF-8 value round-trips" "OK $bin" "$(op getxattr "$G" user.bin)"
expect "a non-UTF-8 value on an array" OK setxattr "$A" user.bin "$bin"
check_eq "round-trips on an array" "OK $bin" "$(op getxattr "$A" user.bin)"
check_eq "stored as base64 in the backing .hmf" '{"base64":"/wD+AcMof4AACg=="}' \
	"$(meta_of "$ROOT/groupA/.hmf" attributes | "$PY" -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["bin"], separators=(",", ":")))')"
check_eq "getfattr -e hex shows the bytes" "user.bin=0x$bin" \
	"$(getfattr -e hex -n user.bin "$G" 2>/dev/null | grep '^user.bin')"
check "a value with a NUL in the middle" setfattr -n user.nul -v 0x610062 "$G"
check_eq "... reads back" "OK 610062" "$(op getxattr "$G" user.nul)"

echo "== other namespaces: ENOTSUP"
for ns in security trusted; do
	for n in "$G" "$A"; do
		expect "set $ns.* on ${n#$M}" ENOTSUP setxattr "$n" "$ns.foo" "$(hexof x)"
		expect "get $ns.* on ${n#$M}" ENOTSUP getxattr "$n" "$ns.foo"
		expect "remove $ns.* on ${n#$M}" ENOTSUP removexattr "$n" "$ns.foo"
	done
done
check_fails "setfattr trusted.x" "Operation not supported" setfattr -n trusted.x -v 1 "$A"
check_eq "nothing else is listed" \
	"user.big,user.bin,user.c,user.hmf.dtype,user.hmf.order,user.hmf.shape,user.k1,user.k2" \
	"$(op listxattr "$A" | sed 's/^OK //')"

echo "== the layout names of an array"
expect "CREATE of user.hmf.dtype" EEXIST setxattr "$A" user.hmf.dtype "$(hexof '<i8')" create
expect "removing user.hmf.dtype" EPERM removexattr "$A" user.hmf.dtype
check "reinterpret as <f4" setfattr -n user.hmf.dtype -v '<f4' "$A"
check_eq "72 bytes of <f4" "[18]" "$(xattr_of "$A" user.hmf.shape)"
check "reshape to [3,6]" setfattr -n user.hmf.shape -v '[3,6]' "$A"
check_eq "reshaped" '{"dtype":"<f4","shape":[3,6],"order":"C"}' "$(xattr_of "$A" user.hmf.meta)"
check "order F" setfattr -n user.hmf.order -v F "$A"
check_eq "order F in the backing .hmf" '"F"' "$(meta_of "$ROOT/groupA/array1/.hmf" order)"
check_fails "a shape of the wrong size" "Invalid argument" setfattr -n user.hmf.shape -v '[4,4]' "$A"
check_fails "a dtype that does not divide the size (72 / 16)" "Invalid argument" setfattr -n user.hmf.dtype -v '<c16' "$A"
check_fails "an unknown dtype" "Invalid argument" setfattr -n user.hmf.dtype -v 'float128x' "$A"
check_fails "a malformed shape" "Invalid argument" setfattr -n user.hmf.shape -v '[3,' "$A"
check_fails "a bad order" "Invalid argument" setfattr -n user.hmf.order -v Z "$A"
check_eq "refusals changed nothing" '{"dtype":"<f4","shape":[3,6],"order":"F"}' "$(xattr_of "$A" user.hmf.meta)"
check "numpy names are accepted" setfattr -n user.hmf.dtype -v int64 "$A"
check_eq "... and canonicalised" "<i8" "$(xattr_of "$A" user.hmf.dtype)"
check_eq "... data untouched" 72 "$(stat -c %s "$A")"
check_eq "... bytes untouched" "$(od -An -tx1 -v "$ROOT/groupA/array1/data" | md5sum)" \
	"$(od -An -tx1 -v "$A" | md5sum)"

unmount_hmf "$MNT"
finish
