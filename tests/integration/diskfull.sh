#!/bin/bash
# SPDX-License-Identifier: MIT
# diskfull.sh - a root on a 16 MiB tmpfs, filled up. Through the mount:
# writes past the space fail with ENOSPC (O_WRONLY and O_RDWR handles, dd)
# and the file keeps exactly what was written; an ingest that does not fit
# fails with ENOSPC in its answer and leaves no trace; creating a group or
# an array, setting an xattr or a dtype fail with ENOSPC and change nothing;
# truncate, rename, reads of sparse data and statfs still work; a client
# mapping's writeback fails at msync, not with SIGBUS; everything written
# before (data, attributes, an ingested group) is undamaged, also after a
# remount; after a delete, writes work again. Without a mount, `hmf
# ingest` on the full tmpfs fails with a clear message and leaves nothing.
# Needs root (mount -t tmpfs). Usage: diskfull.sh single|multi
. "$(dirname "$0")/lib.sh" "$@"
require_numpy
require_cmd setfattr sha256sum
[ -x "${HMF_CLI:-}" ] || fatal "set HMF_CLI to the hmf tool (meson test does)"
if [ "$(id -u)" -ne 0 ]; then
	skip_or_fail "diskfull.sh needs root (to mount a tmpfs)"
fi
CHK="$HERE/crash_check.py"

TINY=$(new_dir tiny)
MNT=$(new_dir mnt)
W=$(new_dir work)
mount -t tmpfs -o size=16m,mode=0755 tmpfs "$TINY" ||
	skip_or_fail "cannot mount a tmpfs"
# at exit: the daemon's mounts first, then the tmpfs under them, always
unmount_tiny() {
	local m
	for m in "${MOUNTS[@]}"; do
		if is_mounted "$m"; then
			fusermount3 -u "$m" 2>/dev/null || umount -l "$m"
		fi
	done
	sleep 0.2
	umount "$TINY" 2>/dev/null || umount -l "$TINY" 2>/dev/null
}
trap 'rc=$?; unmount_tiny; (exit $rc); cleanup' EXIT
ROOT=$TINY/root
M=$MNT

# tree_of DIR: every path below DIR with its size (files), sorted
tree_of() {
	(cd "$1" && find . -printf '%p %y %s\n' | sed 's/ d [0-9]*$/ d/' | sort)
}

# avail DIR: free KiB of the filesystem of DIR
avail() {
	df -k --output=avail "$1" | tail -n 1 | tr -d ' '
}

# submit JSON: an ingest request through the mount; prints the answer
submit() {
	"$PY" "$CHK" submit "$M/.hmf/ingest" "$1"
}

# whole DESC PATH SIGFILE: PATH of the mount matches its signature
whole() {
	local out
	out=$("$PY" "$CHK" cmpsig "$M" "$2" "$3" 2>&1)
	if [[ $out == whole* ]]; then
		pass "$1: $out"
	else
		fail "$1: $(short "$out")"
	fi
}

# fill_with PATH FLAGS: write 1 MiB blocks until a write fails. Prints the
# errno name and whether the size is what the writes returned.
fill_with() {
	"$PY" - "$1" "$2" <<'PYEOF'
import errno, os, sys
flags = {"w": os.O_WRONLY, "rw": os.O_RDWR}[sys.argv[2]]
fd = os.open(sys.argv[1], flags | os.O_CREAT | os.O_APPEND, 0o644)
start = total = os.fstat(fd).st_size
block = b"\xa5" * (1 << 20)
try:
    while True:
        n = os.write(fd, block)
        if n <= 0:
            print("write returned %d" % n)
            break
        total += n
except OSError as e:
    size = os.fstat(fd).st_size
    print("%s, size %s" % (errno.errorcode.get(e.errno, e.errno),
                           "ok" if size == total else
                           "%d, but %d bytes were written" % (size, total)))
os.close(fd)
PYEOF
}

echo "== before: data, attributes, an ingest"
"$PY" "$CHK" make-csv "$W/small.csv" 2000 1 || fatal "make-csv failed"
"$PY" "$CHK" make-csv "$W/big.csv" 400000 2 || fatal "make-csv failed"
mount_hmf "$ROOT" "$MNT" -o create
check "mkdir keep" mkdir "$M/keep"
head -c $((3 << 20)) /dev/urandom >"$W/a"
check "a 3 MiB array" cp "$W/a" "$M/keep/a"
check "its dtype" setfattr -n user.hmf.dtype -v '<f8' "$M/keep/a"
check "its shape" setfattr -n user.hmf.shape -v '[3072,128]' "$M/keep/a"
check "a group attribute" setfattr -n user.note -v 'written before' "$M/keep"
check "an array attribute" setfattr -n user.unit -v 'm/s' "$M/keep/a"
check "np.save an NPY file" "$PY" -c '
import numpy as np, sys
np.save(sys.argv[1], np.arange(50000, dtype="<i4").reshape(500, 100))' "$M/keep/b.npy"
check "a small ingest" submit \
	"{\"source\":\"$W/small.csv\",\"dest\":\"/small\",\"arrays\":{\"v\":[\"t\",\"x\"],\"s\":\"s\"},\"groupby\":\"g\"}"
# made before the disk is full: the targets of writes and reads later
check "an empty array (rw target)" touch "$M/keep/rw"
check "an empty array (dd target)" touch "$M/keep/dd"
check "an array to truncate" sh -c "head -c 65536 /dev/urandom >'$M/keep/trunc'"
check "signature of /keep" "$PY" "$CHK" sig "$M" /keep "$W/keep.sig"
check "signature of /small" "$PY" "$CHK" sig "$M" /small "$W/small.sig"
# sparse, and never read before the disk is full: on a tmpfs, reading a
# hole through a shared mapping allocates it
check "a sparse 1 MiB array" sh -c "touch '$M/sparse' && truncate -s 1M '$M/sparse'"
check "an array to map" sh -c "touch '$M/mapped' && truncate -s 256K '$M/mapped'"
sha_a=$(sha256sum <"$W/a")

echo "== an ingest that does not fit: ENOSPC, no trace"
BEFORE=$(tree_of "$ROOT")
FREE=$(avail "$ROOT")
out=$(submit "{\"source\":\"$W/big.csv\",\"dest\":\"/big\",\"arrays\":{\"v\":[\"t\",\"x\"],\"ids\":\"id\",\"s\":\"s\"},\"groupby\":\"g\"}" 2>&1)
if [[ $out == *'"state":"failed"'* ]] && [[ $out == *"No space left on device"* ]]; then
	pass "the job failed with ENOSPC ($FREE KiB were free)"
else
	fail "the job should fail with ENOSPC: $(short "$out")"
fi
check_eq "... and left no trace in the tree" "$BEFORE" "$(tree_of "$ROOT")"
check_eq "... nor in staging" "" "$(ls -A "$ROOT/.hmf.d/staging" 2>/dev/null)"
check_eq "... and gave the space back" "$FREE" "$(avail "$ROOT")"
check "... /big is absent" test ! -e "$M/big"

echo "== fill the disk"
check_eq "O_WRONLY writes until ENOSPC; the size is what was written" "ENOSPC, size ok" \
	"$(fill_with "$M/fill" w)"
check_eq "the disk is full (statfs through the mount)" 0 "$(avail "$M")"
check_eq "O_RDWR writes fail with ENOSPC" "ENOSPC, size ok" "$(fill_with "$M/keep/rw" rw)"
check_fails "dd reports ENOSPC" "No space left on device" \
	dd if=/dev/zero of="$M/keep/dd" bs=64k count=16 conv=notrunc status=none

echo "== on the full disk"
BEFORE=$(tree_of "$ROOT")
check_fails "mkdir: ENOSPC" "No space left on device" mkdir "$M/newgroup"
check_fails "a new array: ENOSPC" "No space left on device" touch "$M/keep/new"
check_fails "a small xattr: ENOSPC" "No space left on device" \
	setfattr -n user.more -v small "$M/keep"
check_fails "a 60 KiB xattr: ENOSPC" "No space left on device" \
	setfattr -n user.big -v "$(head -c 60000 /dev/zero | tr '\0' x)" "$M/keep/a"
check_fails "a new dtype: ENOSPC" "No space left on device" \
	setfattr -n user.hmf.dtype -v '<i4' "$M/keep/a"
out=$(submit "{\"source\":\"$W/small.csv\",\"dest\":\"/small2\",\"arrays\":{\"v\":[\"t\",\"x\"]}}" 2>&1)
if [[ $out == *"No space left on device"* ]]; then
	pass "an ingest fails with ENOSPC"
else
	fail "an ingest on the full disk: $(short "$out")"
fi
check_eq "... none of them left a trace" "$BEFORE" "$(tree_of "$ROOT")"
check_eq "... nor anything in staging" "" "$(ls -A "$ROOT/.hmf.d/staging" 2>/dev/null)"
check_eq "the attributes are as they were" "written before" "$(xattr_of "$M/keep" user.note)"
check_eq "... the refused ones are not there" "ENODATA ENODATA" \
	"$(xattr_of "$M/keep" user.more) $(xattr_of "$M/keep/a" user.big)"
check_eq "... and the layout" '{"dtype":"<f8","shape":[3072,128],"order":"C"}' \
	"$(xattr_of "$M/keep/a" user.hmf.meta)"
check_eq "a sparse array reads as zeros" "$(head -c 1048576 /dev/zero | sha256sum)" \
	"$(sha256sum <"$M/sparse")"
check_eq "a mapping's stores fail at msync (ENOSPC), no SIGBUS" "ENOSPC" "$("$PY" -c '
import errno, numpy as np, sys
m = np.memmap(sys.argv[1], dtype="u1", mode="r+")
m[:] = 7
try:
    m.flush()
    print("flushed")
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))' "$M/mapped" 2>&1)"
if truncate -s 2M "$M/keep/trunc" 2>/dev/null; then
	check_eq "truncate (grow) works: the size is the truth" 2097152 "$(stat -c %s "$M/keep/trunc")"
else
	check_eq "a failed truncate leaves the size as it was" 65536 "$(stat -c %s "$M/keep/trunc")"
fi
check "rename works" mv "$M/keep/dd" "$M/keep/dd2"
check "... the new name is there" test -f "$M/keep/dd2"
check "... the old one is not" test ! -e "$M/keep/dd"
check "the daemon is alive" kill -0 "${PID_OF[$MNT]}"
check_eq "/keep/a is undamaged" "$sha_a" "$(sha256sum <"$M/keep/a")"
whole "/small is undamaged" /small "$W/small.sig"

echo "== after a delete, writes work again"
check "rm the filler" rm "$M/fill"
head -c 1000000 /dev/urandom >"$W/after"
check "a new array" cp "$W/after" "$M/keep/after"
same_bytes "... reads back" "$W/after" "$M/keep/after"
check "mkdir" mkdir "$M/newgroup"
check "an xattr" setfattr -n user.more -v small "$M/keep"
check_eq "... reads back" small "$(xattr_of "$M/keep" user.more)"
check "an ingest" submit \
	"{\"source\":\"$W/small.csv\",\"dest\":\"/small2\",\"arrays\":{\"v\":[\"t\",\"x\"]}}"
check "the stores into the mapping now reach the disk" "$PY" -c '
import numpy as np, sys
m = np.memmap(sys.argv[1], dtype="u1", mode="r+")
m[:] = 7
m.flush()
del m
assert (np.fromfile(sys.argv[1], dtype="u1") == 7).all()' "$M/mapped"
check "undo the later changes to /keep" sh -c "rm '$M/keep/after' &&
	setfattr -x user.more '$M/keep' && mv '$M/keep/dd2' '$M/keep/dd' &&
	truncate -s 65536 '$M/keep/trunc' && truncate -s 0 '$M/keep/rw'"
unmount_hmf "$MNT"

echo "== hmf ingest without a mount, on the full disk"
BEFORE=$(tree_of "$ROOT")
printf '%s' "{\"source\":\"$W/big.csv\",\"dest\":\"/big\",\"arrays\":{\"v\":[\"t\",\"x\"],\"ids\":\"id\",\"s\":\"s\"},\"groupby\":\"g\"}" >"$W/big.json"
printf '%s' "{\"source\":\"$W/small.csv\",\"dest\":\"/tiny\",\"arrays\":{\"x\":\"x\"}}" >"$W/small.json"
# leave 2 MiB: the job starts, then runs out of space
head -c $((($(avail "$TINY") - 2048) * 1024)) /dev/zero >"$TINY/pad" 2>/dev/null
out=$("$HMF_CLI" ingest -q "$ROOT" "$W/big.json" 2>&1)
rc=$?
if [ $rc -eq 1 ] && [[ $out == *"No space left on device"* ]]; then
	pass "2 MiB free: hmf ingest fails (exit 1) with: $out"
else
	fail "2 MiB free: hmf ingest exited $rc: $(short "$out")"
fi
check_eq "... nothing left in the tree" "$BEFORE" "$(tree_of "$ROOT")"
head -c $((16 << 20)) /dev/zero >>"$TINY/pad" 2>/dev/null
check_eq "the disk is full" 0 "$(avail "$TINY")"
out=$("$HMF_CLI" ingest -q "$ROOT" "$W/small.json" 2>&1)
rc=$?
if [ $rc -eq 1 ] && [[ $out == *"No space left on device"* ]]; then
	pass "full: hmf ingest fails (exit 1) with: $out"
else
	fail "full: hmf ingest exited $rc: $(short "$out")"
fi
check_eq "... nothing left in the tree" "$BEFORE" "$(tree_of "$ROOT")"
rm -f "$TINY/pad"

echo "== fsck, remount: everything as it was"
out=$("$HMF_CLI" fsck "$ROOT" 2>&1)
rc=$?
# the shapes that could not be stored on the full disk are derived from
# the data: fsck shows them (bad-shape), --repair stores them
if ! printf '%s\n' "$out" | sed '$d' | grep -v '^bad-shape ' >/dev/null; then
	pass "fsck: nothing but stored shapes behind the data (exit $rc)"
else
	fail "fsck (exit $rc): $(short "$out")"
fi
check "fsck --repair" "$HMF_CLI" fsck --repair "$ROOT"
check "fsck: clean" sh -c "'$HMF_CLI' fsck '$ROOT' | grep -q ': clean\$'"
mount_hmf "$ROOT" "$MNT"
whole "/keep is as it was" /keep "$W/keep.sig"
whole "/small is as it was" /small "$W/small.sig"
check_eq "/keep/a" "$sha_a" "$(sha256sum <"$M/keep/a")"
unmount_hmf "$MNT"
finish
