#!/bin/bash
# SPDX-License-Identifier: MIT
# fileops.sh - everyday shell work on a mount: mkdir -p, cp in and out,
# dd at odd offsets, truncate (the shape follows), mv (files, groups, over
# an existing array), rm, rmdir, ls -la, stat, touch; reserved .hmf names;
# no links, fifos or devices. Usage: fileops.sh single|multi
. "$(dirname "$0")/lib.sh" "$@"

ROOT=$(new_dir root)
MNT=$(new_dir mnt)
T=$(new_dir work)
make_sample_root "$ROOT"
mount_hmf "$ROOT" "$MNT"
M=$MNT

echo "== mkdir -p"
check "mkdir -p a/b/c" mkdir -p "$M/a/b/c"
check "a/b/c is a directory" test -d "$M/a/b/c"
check_eq "backing a/b/c is a group" '"group"' "$(meta_of "$ROOT/a/b/c/.hmf" kind)"
check "mkdir -p again" mkdir -p "$M/a/b/c"
expect "mkdir of an existing group" EEXIST mkdir "$M/a/b"
expect "mkdir inside an array" ENOTDIR mkdir "$M/groupA/array1/x"
check_fails "mkdir inside an array (shell)" "Not a directory" mkdir "$M/groupA/array1/x"

echo "== cp in and out"
head -c 1000003 /dev/urandom >"$T/small.bin"
head -c $((66 << 20)) /dev/urandom >"$T/big.bin" # beyond one 64 MiB mapping
: >"$T/empty.bin"
check "cp small in" cp "$T/small.bin" "$M/a/small"
same_bytes "small read back" "$T/small.bin" "$M/a/small"
same_bytes "small backing data" "$T/small.bin" "$ROOT/a/small/data"
check_eq "small size" 1000003 "$(stat -c %s "$M/a/small")"
check_eq "cp'd file is |u1" "|u1" "$(xattr_of "$M/a/small" user.hmf.dtype)"
check_eq "cp'd file shape" "[1000003]" "$(xattr_of "$M/a/small" user.hmf.shape)"
check_eq "backing shape of the cp'd file" "[1000003]" "$(meta_of "$ROOT/a/small/.hmf" shape)"
check "cp small out" cp "$M/a/small" "$T/small.out"
same_bytes "small copied out" "$T/small.bin" "$T/small.out"
check "cp big in" cp "$T/big.bin" "$M/a/b/big"
same_bytes "big read back" "$T/big.bin" "$M/a/b/big"
same_bytes "big backing data" "$T/big.bin" "$ROOT/a/b/big/data"
check "cp big out" cp "$M/a/b/big" "$T/big.out"
same_bytes "big copied out" "$T/big.bin" "$T/big.out"
check "cp empty in" cp "$T/empty.bin" "$M/a/empty"
check_eq "empty size" 0 "$(stat -c %s "$M/a/empty")"
check "cp small over big (O_TRUNC)" cp "$T/small.bin" "$M/a/b/big"
same_bytes "big replaced by small" "$T/small.bin" "$M/a/b/big"
check_eq "shape after overwrite" "[1000003]" "$(xattr_of "$M/a/b/big" user.hmf.shape)"
check "cp -r out" cp -r "$M/a" "$T/a.out"
same_bytes "cp -r: small" "$T/small.bin" "$T/a.out/small"
check "cp -r: a/b/c" test -d "$T/a.out/b/c"

echo "== dd with odd block sizes and offsets"
head -c 100000 /dev/urandom >"$T/patch.bin"
cp "$T/small.bin" "$T/ref.bin"
cp "$T/small.bin" "$M/a/dd"
dd_both() { # dd arguments with of= left out: applied to the mount and to the reference
	dd if="$T/patch.bin" of="$M/a/dd" "$@" status=none &&
		dd if="$T/patch.bin" of="$T/ref.bin" "$@" status=none
}
check "dd bs=777 seek=13 count=5 notrunc" dd_both bs=777 seek=13 count=5 conv=notrunc
same_bytes "after dd 1" "$T/ref.bin" "$M/a/dd"
check "dd bs=1 seek=999999 count=10 notrunc (across EOF)" dd_both bs=1 seek=999999 count=10 conv=notrunc
same_bytes "after dd 2 (grew by 6)" "$T/ref.bin" "$M/a/dd"
check_eq "size after dd 2" 1000009 "$(stat -c %s "$M/a/dd")"
check "dd bs=4097 seek=300 count=1 notrunc (a hole)" dd_both bs=4097 seek=300 count=1 conv=notrunc
same_bytes "after dd 3" "$T/ref.bin" "$M/a/dd"
check "dd bs=65537 seek=3 skip=1 count=1 notrunc" dd_both bs=65537 seek=3 skip=1 count=1 conv=notrunc
same_bytes "after dd 4" "$T/ref.bin" "$M/a/dd"
same_bytes "dd backing data" "$T/ref.bin" "$ROOT/a/dd/data"
check_eq "dd read bs=333 skip=7 count=50" \
	"$(dd if="$T/ref.bin" bs=333 skip=7 count=50 status=none | md5sum)" \
	"$(dd if="$M/a/dd" bs=333 skip=7 count=50 status=none | md5sum)"
check_eq "dd read bs=1 skip=1000008 (last byte..EOF)" \
	"$(dd if="$T/ref.bin" bs=1 skip=1000008 status=none | md5sum)" \
	"$(dd if="$M/a/dd" bs=1 skip=1000008 status=none | md5sum)"
check_eq "dd read skip past EOF is empty" 0 \
	"$(dd if="$M/a/dd" bs=4096 skip=100000 status=none | wc -c)"
cp "$T/small.bin" "$T/ref.bin"
cp "$T/small.bin" "$M/a/dd"
check "dd bs=1000 seek=5 count=2 (truncating)" dd_both bs=1000 seek=5 count=2
same_bytes "after truncating dd" "$T/ref.bin" "$M/a/dd"
check_eq "size after truncating dd" 7000 "$(stat -c %s "$M/a/dd")"

echo "== truncate: grow, shrink, the shape follows"
check "touch t8" touch "$M/a/t8"
check "set dtype <i8 on an empty array" setfattr -n user.hmf.dtype -v '<i8' "$M/a/t8"
"$PY" -c 'import sys; open(sys.argv[1], "r+b").write(bytes(range(72)))' "$M/a/t8"
check_eq "72 bytes written" 72 "$(stat -c %s "$M/a/t8")"
check_eq "shape after writing 72 bytes of <i8" "[9]" "$(xattr_of "$M/a/t8" user.hmf.shape)"
check "truncate -s 80" truncate -s 80 "$M/a/t8"
check_eq "size 80" 80 "$(stat -c %s "$M/a/t8")"
check_eq "<i8 truncated to 80 bytes: shape" "[10]" "$(xattr_of "$M/a/t8" user.hmf.shape)"
check_eq "... dtype stays" "<i8" "$(xattr_of "$M/a/t8" user.hmf.dtype)"
check_eq "... backing .hmf shape" "[10]" "$(meta_of "$ROOT/a/t8/.hmf" shape)"
check_eq "... first 72 bytes kept, 8 zero bytes added" \
	"$("$PY" -c 'import sys; sys.stdout.write((bytes(range(72)) + bytes(8)).hex())')" \
	"$(od -An -tx1 -v "$M/a/t8" | tr -d ' \n')"
check "truncate -s 16" truncate -s 16 "$M/a/t8"
check_eq "shrunk to 16: shape" "[2]" "$(xattr_of "$M/a/t8" user.hmf.shape)"
check_eq "shrunk to 16: backing shape" "[2]" "$(meta_of "$ROOT/a/t8/.hmf" shape)"
check_eq "shrunk to 16: backing size" 16 "$(stat -c %s "$ROOT/a/t8/data")"
check "truncate -s 0" truncate -s 0 "$M/a/t8"
check_eq "emptied: shape" "[0]" "$(xattr_of "$M/a/t8" user.hmf.shape)"
check "truncate -s 24" truncate -s 24 "$M/a/t8"
check_eq "grown from empty: shape" "[3]" "$(xattr_of "$M/a/t8" user.hmf.shape)"
check_eq "grown from empty: zeros" "000000000000000000000000000000000000000000000000" \
	"$(od -An -tx1 -v "$M/a/t8" | tr -d ' \n')"
check "truncate -s 20 (not a multiple of 8)" truncate -s 20 "$M/a/t8"
check_eq "20 bytes: dtype falls back to |u1" "|u1" "$(xattr_of "$M/a/t8" user.hmf.dtype)"
check_eq "20 bytes: shape" "[20]" "$(xattr_of "$M/a/t8" user.hmf.shape)"
check_eq "20 bytes: backing dtype" '"|u1"' "$(meta_of "$ROOT/a/t8/.hmf" dtype)"
check "touch m2" touch "$M/a/m2"
check "set dtype <f8" setfattr -n user.hmf.dtype -v '<f8' "$M/a/m2"
check "set shape [4,3] (allocates)" setfattr -n user.hmf.shape -v '[4,3]' "$M/a/m2"
check_eq "[4,3] <f8 is 96 bytes" 96 "$(stat -c %s "$M/a/m2")"
check "truncate 2-D to 240" truncate -s 240 "$M/a/m2"
check_eq "2-D grown: shape" "[10,3]" "$(xattr_of "$M/a/m2" user.hmf.shape)"
check_eq "2-D grown: backing shape" "[10,3]" "$(meta_of "$ROOT/a/m2/.hmf" shape)"
check "truncate 2-D to 56" truncate -s 56 "$M/a/m2"
check_eq "2-D to 56 bytes: 1-D of the dtype" "[7]" "$(xattr_of "$M/a/m2" user.hmf.shape)"
check_eq "2-D to 56 bytes: dtype kept" "<f8" "$(xattr_of "$M/a/m2" user.hmf.dtype)"
check_fails "truncate a group" "Is a directory" truncate -s 0 "$M/a"

echo "== mv"
printf 'version A' >"$T/A"
printf 'version B, longer' >"$T/B"
cp "$T/A" "$M/a/src"
check "mv within a group" mv "$M/a/src" "$M/a/src2"
same_bytes "moved file content" "$T/A" "$M/a/src2"
check "old name gone" test ! -e "$M/a/src"
check "old backing node gone" test ! -e "$ROOT/a/src"
check "mv across groups" mv "$M/a/src2" "$M/groupA/src3"
same_bytes "moved across groups" "$T/A" "$M/groupA/src3"
same_bytes "moved across groups (backing)" "$T/A" "$ROOT/groupA/src3/data"
check "setfattr on a group to move" setfattr -n user.tag -v moved "$M/a/b"
check "mv a group" mv "$M/a/b" "$M/group1/b"
check_eq "moved group keeps its attribute" moved "$(xattr_of "$M/group1/b" user.tag)"
check "moved group keeps its children" test -d "$M/group1/b/c"
same_bytes "moved group keeps its arrays" "$T/small.bin" "$M/group1/b/big"
check "old group name gone" test ! -e "$M/a/b"
# over an existing array
cp "$T/A" "$M/a/new"
cp "$T/B" "$M/a/old"
setfattr -n user.hmf.dtype -v '|S9' "$M/a/new"
setfattr -n user.who -v new "$M/a/new"
setfattr -n user.who -v old "$M/a/old"
check "mv over an existing array" mv -f "$M/a/new" "$M/a/old"
same_bytes "replaced array has the new bytes" "$T/A" "$M/a/old"
check_eq "replaced array has the new dtype" "|S9" "$(xattr_of "$M/a/old" user.hmf.dtype)"
check_eq "replaced array has the new attributes" new "$(xattr_of "$M/a/old" user.who)"
check "source name gone" test ! -e "$M/a/new"
check_eq "backing: the replaced node is gone, no leftovers" "old" \
	"$(cd "$ROOT/a" && ls -A | grep -E '^(new|old|\.hmf\.tmp)' | tr '\n' ' ' | sed 's/ $//')"
# atomic for readers: a reader never sees ENOENT or a mixed file
cat >"$T/atomic.py" <<'EOF'
import os, sys, time
mode, d = sys.argv[1], sys.argv[2]
dst = os.path.join(d, "target")
if mode == "writer":
    for i in range(600):
        tmp = os.path.join(d, "tmp%d" % i)
        with open(tmp, "wb") as f:
            f.write(bytes([i % 256]) * 8192)
        os.rename(tmp, dst)
    open(os.path.join(d, "done"), "w").close()
    sys.exit(0)
bad = reads = 0
while not os.path.exists(os.path.join(d, "done")) or reads < 10:
    try:
        with open(dst, "rb") as f:
            b = f.read()
        reads += 1
        if len(b) != 8192 or b.count(b[:1]) != 8192:
            bad += 1
            print("mixed or short read: len %d" % len(b))
    except OSError as e:
        bad += 1
        print("reader: %s" % e)
print("reads %d bad %d" % (reads, bad))
sys.exit(1 if bad else 0)
EOF
mkdir "$M/atomic"
head -c 8192 /dev/zero >"$M/atomic/target"
"$PY" "$T/atomic.py" reader "$M/atomic" >"$T/reader.out" 2>&1 &
reader=$!
check "writer renames 600 versions over the target" "$PY" "$T/atomic.py" writer "$M/atomic"
if wait $reader; then
	pass "reader saw only whole versions: $(tail -n1 "$T/reader.out")"
else
	fail "replace not atomic for a reader: $(sort "$T/reader.out" | uniq -c | head -n 5)"
fi
# groups
mkdir "$M/d1" "$M/d2"
setfattr -n user.who -v d1 "$M/d1"
check "mv a group over an empty group" mv -T "$M/d1" "$M/d2"
check_eq "the replacing group is there" d1 "$(xattr_of "$M/d2" user.who)"
check "d1 gone" test ! -e "$M/d1"
mkdir -p "$M/d3/child"
expect "rename a group over a non-empty group" ENOTEMPTY rename "$M/d2" "$M/d3"
expect "rename an array over a group" EISDIR rename "$M/a/old" "$M/d2"
expect "rename a group over an array" ENOTDIR rename "$M/d2" "$M/a/old"
expect "rename a group into itself" EINVAL rename "$M/d3" "$M/d3/child/x"
cp "$T/A" "$M/a/x1"
cp "$T/B" "$M/a/x2"
expect "RENAME_NOREPLACE over an array" EEXIST rename "$M/a/x1" "$M/a/x2" noreplace
expect "RENAME_NOREPLACE to a new name" OK rename "$M/a/x1" "$M/a/x3" noreplace
expect "RENAME_EXCHANGE of two arrays" OK rename "$M/a/x3" "$M/a/x2" exchange
same_bytes "exchanged: x2 has A" "$T/A" "$M/a/x2"
same_bytes "exchanged: x3 has B" "$T/B" "$M/a/x3"
same_bytes "exchanged (backing)" "$T/B" "$ROOT/a/x3/data"
expect "RENAME_EXCHANGE of an array and a group" OK rename "$M/a/x3" "$M/d2" exchange
check "exchanged: d2 is now the array" test -f "$M/d2"
check "exchanged: a/x3 is now the group" test -d "$M/a/x3"

echo "== rm, rmdir"
check "rm an array" rm "$M/a/x2"
check "gone" test ! -e "$M/a/x2"
check "gone from the backing root" test ! -e "$ROOT/a/x2"
check_fails "rmdir a non-empty group" "Directory not empty" rmdir "$M/group1"
expect "rmdir a non-empty group" ENOTEMPTY rmdir "$M/group1/groupA"
check "still there" test -d "$M/group1/groupA/groupZ"
check "rmdir an empty group" rmdir "$M/group1/groupA/groupZ"
check "gone from the backing root" test ! -e "$ROOT/group1/groupA/groupZ"
expect "unlink a group" EISDIR unlink "$M/group1/groupA"
expect "rmdir an array" ENOTDIR rmdir "$M/a/small"
check "rm -r a tree" rm -r "$M/group1"
check "tree gone from the backing root" test ! -e "$ROOT/group1"
cp "$T/A" "$M/a/held"
check_eq "an open handle works after unlink: fstat, read, write, read" \
	"exists=False fstat=9 read=version A write=1 read=Version A close=ok" \
	"$("$PY" -c '
import os, sys
p = sys.argv[1]
fd = os.open(p, os.O_RDWR)
os.unlink(p)
out = ["exists=%s" % os.path.exists(p)]
for name, f in [("fstat", lambda: os.fstat(fd).st_size),
                ("read", lambda: os.pread(fd, 100, 0).decode()),
                ("write", lambda: os.pwrite(fd, b"V", 0)),
                ("read", lambda: os.pread(fd, 100, 0).decode()),
                ("close", lambda: os.close(fd) or "ok")]:
    try:
        out.append("%s=%s" % (name, f()))
    except OSError as e:
        out.append("%s=%s" % (name, e.strerror))
print(" ".join(out))' "$M/a/held" 2>&1)"

echo "== ls -la, stat, touch"
out=$(ls -la "$M/groupA")
if [[ $out == *" ."$'\n'* && $out == *" .."$'\n'* ]] &&
	grep -qE '^-rw-r--r-- +1 +root +root +72 .* array1$' <<<"$out"; then
	pass "ls -la groupA"
else
	fail "ls -la groupA: $out"
fi
check_eq "ls -A shows no .hmf entries" "array1 src3" "$(ls -A "$M/groupA" | tr '\n' ' ' | sed 's/ $//')"
check_eq "stat an array" "regular file 72" "$(stat -c '%F %s' "$M/groupA/array1")"
check_eq "stat a group" "directory" "$(stat -c '%F' "$M/groupA")"
check_eq "array mode/owner follow the backing data" \
	"$(stat -c '%a %u %g %Y' "$ROOT/groupA/array1/data")" \
	"$(stat -c '%a %u %g %Y' "$M/groupA/array1")"
check_eq "group mode/owner follow the backing dir" \
	"$(stat -c '%a %u %g %Y' "$ROOT/groupA")" "$(stat -c '%a %u %g %Y' "$M/groupA")"
check "touch a new file" touch "$M/groupA/touched"
check_eq "new file is empty" "regular empty file 0" "$(stat -c '%F %s' "$M/groupA/touched")"
check_eq "new array is |u1" '"|u1"' "$(meta_of "$ROOT/groupA/touched/.hmf" dtype)"
check_eq "new array is [0]" '[0]' "$(meta_of "$ROOT/groupA/touched/.hmf" shape)"
check "touch -d sets mtime" touch -d '2001-02-03 04:05:06 UTC' "$M/groupA/touched"
check_eq "mtime on the mount" 981173106 "$(stat -c %Y "$M/groupA/touched")"
check_eq "mtime of the backing data" 981173106 "$(stat -c %Y "$ROOT/groupA/touched/data")"
check "touch -d a group" touch -d '2002-02-03 04:05:06 UTC' "$M/groupA"
check_eq "group mtime" 1012709106 "$(stat -c %Y "$M/groupA")"
check "chmod an array" chmod 0640 "$M/groupA/touched"
check_eq "mode on the mount" 640 "$(stat -c %a "$M/groupA/touched")"
check_eq "mode of the backing data" 640 "$(stat -c %a "$ROOT/groupA/touched/data")"
expect "mknod S_IFREG makes an array" OK mknod_reg "$M/groupA/viamknod"
check_eq "mknod'ed array" '"array"' "$(meta_of "$ROOT/groupA/viamknod/.hmf" kind)"

expect "fsync an array" OK fsync "$M/groupA/array1"
expect "fsync a group" OK fsync "$M/groupA"
check "sync -f" sync -f "$M/groupA/array1"
check_eq "statfs is the backing filesystem's" "$(stat -f -c '%b %S' "$ROOT")" "$(stat -f -c '%b %S' "$M")"
check "df" df "$M"

echo "== reserved .hmf names"
expect "mkdir .hmfx" EINVAL mkdir "$M/groupA/.hmfx"
expect "mkdir .hmf" EINVAL mkdir "$M/groupA/.hmf"
expect "create .hmf.tmp.1" EINVAL create "$M/groupA/.hmf.tmp.1"
expect "create .hmfoo at the root" EINVAL create "$M/.hmfoo"
check_fails "touch .hmfdata" "Invalid argument" touch "$M/groupA/.hmfdata"
check_fails "mkdir .hmf.d" "Invalid argument" mkdir "$M/groupA/.hmf.d"
expect "rename to .hmfz" EINVAL rename "$M/groupA/touched" "$M/groupA/.hmfz"
check "touched still there" test -f "$M/groupA/touched"
expect "the backing .hmf is invisible" ENOENT stat "$M/groupA/.hmf"
expect "an array's data is invisible" ENOTDIR stat "$M/groupA/array1/data"

echo "== no links, fifos or devices"
expect "symlink" EPERM symlink array1 "$M/groupA/sl"
check_fails "ln -s" "Operation not permitted" ln -s array1 "$M/groupA/sl"
expect "link" EPERM link "$M/groupA/array1" "$M/groupA/hl"
check_fails "ln" "Operation not permitted" ln "$M/groupA/array1" "$M/groupA/hl"
expect "mkfifo" EPERM mkfifo "$M/groupA/fifo"
check_fails "mkfifo (shell)" "Operation not permitted" mkfifo "$M/groupA/fifo"
expect "mknod c" EPERM mknod_chr "$M/groupA/null"
check "nothing was created" test ! -e "$M/groupA/sl" -a ! -e "$M/groupA/hl" -a ! -e "$M/groupA/fifo" -a ! -e "$M/groupA/null"

unmount_hmf "$MNT"
check_eq "no temporary leftovers in the backing root" "" \
	"$(find "$ROOT" -name '.hmf.tmp*')"
finish
