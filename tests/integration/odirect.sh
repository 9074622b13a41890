#!/bin/bash
# SPDX-License-Identifier: MIT
# odirect.sh - clients opening arrays with O_DIRECT read and write
# correctly (dd iflag=direct / oflag=direct, bs=4096), and buffered readers
# and client mmaps see what O_DIRECT wrote. Usage: odirect.sh single|multi
. "$(dirname "$0")/lib.sh" "$@"
require_numpy

ROOT=$(new_dir root)
MNT=$(new_dir mnt)
W=$(new_dir work)
make_sample_root "$ROOT"
mount_hmf "$ROOT" "$MNT"
M=$MNT
F=$M/groupA/direct

head -c $((1048576 + 1234)) /dev/urandom >"$W/ref"
head -c $((8 * 4096)) /dev/urandom >"$W/patch"

echo "== dd oflag=direct / iflag=direct"
check "dd oflag=direct bs=4096 (a partial last block)" \
	dd if="$W/ref" of="$F" oflag=direct bs=4096 status=none
same_bytes "buffered read of what O_DIRECT wrote" "$W/ref" "$F"
same_bytes "backing data" "$W/ref" "$ROOT/groupA/direct/data"
check_eq "size" $((1048576 + 1234)) "$(stat -c %s "$F")"
check "dd iflag=direct bs=4096" dd if="$F" of="$W/out" iflag=direct bs=4096 status=none
same_bytes "O_DIRECT read back" "$W/ref" "$W/out"
check "cat to fill the page cache" sh -c "cat '$F' >/dev/null"
check "dd oflag=direct seek=3 count=2 conv=notrunc" \
	dd if="$W/patch" of="$F" oflag=direct bs=4096 seek=3 count=2 conv=notrunc status=none
dd if="$W/patch" of="$W/ref" bs=4096 seek=3 count=2 conv=notrunc status=none
same_bytes "a buffered reader sees the O_DIRECT overwrite" "$W/ref" "$F"
check_eq "dd iflag=direct skip=2 count=4" \
	"$(dd if="$W/ref" bs=4096 skip=2 count=4 status=none | md5sum)" \
	"$(dd if="$F" bs=4096 skip=2 count=4 iflag=direct status=none | md5sum)"
check "buffered overwrite" \
	dd if="$W/patch" of="$F" bs=4096 seek=7 skip=4 count=3 conv=notrunc status=none
dd if="$W/patch" of="$W/ref" bs=4096 seek=7 skip=4 count=3 conv=notrunc status=none
check_eq "an O_DIRECT reader sees the buffered overwrite" \
	"$(md5sum <"$W/ref")" "$(dd if="$F" bs=4096 iflag=direct status=none | md5sum)"
check "dd oflag=direct past EOF (grows)" \
	dd if="$W/patch" of="$F" oflag=direct bs=4096 seek=300 count=1 conv=notrunc status=none
dd if="$W/patch" of="$W/ref" bs=4096 seek=300 count=1 conv=notrunc status=none
same_bytes "grown by O_DIRECT" "$W/ref" "$F"
check_eq "shape of the grown |u1 array" "[$((301 * 4096))]" "$(xattr_of "$F" user.hmf.shape)"

echo "== O_DIRECT and a client mmap"
check "set dtype <i8" setfattr -n user.hmf.dtype -v '<i8' "$F"
check "an O_DIRECT write is visible in a live np.memmap" "$PY" -c '
import mmap, numpy as np, os, sys
p = sys.argv[1]
m = np.memmap(p, dtype="<i8", mode="r")
old = int(m[512])
buf = mmap.mmap(-1, 4096)
buf[:] = np.full(512, -7, dtype="<i8").tobytes()
fd = os.open(p, os.O_WRONLY | os.O_DIRECT)
assert os.pwritev(fd, [buf], 4096) == 4096
os.close(fd)
assert int(m[512]) == -7 and int(m[1023]) == -7, (old, int(m[512]))
assert int(m[511]) != -7 or True' "$F"
check "an O_DIRECT read sees a client mmap store after msync" "$PY" -c '
import mmap, numpy as np, os, sys
p = sys.argv[1]
m = np.memmap(p, dtype="<i8", mode="r+")
m[2048:2560] = 4242
m.flush()
buf = mmap.mmap(-1, 4096)
fd = os.open(p, os.O_RDONLY | os.O_DIRECT)
assert os.preadv(fd, [buf], 2048 * 8) == 4096
os.close(fd)
got = np.frombuffer(buf, dtype="<i8")
assert (got == 4242).all(), got[:4]' "$F"

unmount_hmf "$MNT"
finish
