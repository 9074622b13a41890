#!/bin/bash
# SPDX-License-Identifier: MIT
# numpy.sh - numpy clients on the mount: give a new empty file a layout
# with os.setxattr, fill it through np.memmap (a shared writable client
# mmap), check the backing data and .hmf; read an array with np.memmap and
# np.fromfile. Usage: numpy.sh single|multi
. "$(dirname "$0")/lib.sh" "$@"
require_numpy

ROOT=$(new_dir root)
MNT=$(new_dir mnt)
make_sample_root "$ROOT"
mount_hmf "$ROOT" "$MNT"
M=$MNT

echo "== client mmap read"
check "np.memmap of groupA/array1 == arange(9)" "$PY" -c '
import numpy as np, sys
a = np.memmap(sys.argv[1], dtype="<i8", mode="r")
assert a.shape == (9,), a.shape
assert (a == np.arange(9)).all(), a' "$M/groupA/array1"
check "np.fromfile of groupA/array1 == arange(9)" "$PY" -c '
import numpy as np, sys
assert (np.fromfile(sys.argv[1], dtype="<i8") == np.arange(9)).all()' "$M/groupA/array1"

echo "== layout by setxattr, then fill through np.memmap"
check "new empty file, layout set with os.setxattr" "$PY" -c '
import os, sys
p = sys.argv[1]
os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
os.setxattr(p, "user.hmf.dtype", b"<f8")
os.setxattr(p, "user.hmf.shape", b"[1000,3]")' "$M/groupA/xyz"
# right away (well within the 1 s attribute timeout)
check_eq "stat -c %s shows 24000 bytes at once" 24000 "$(stat -c %s "$M/groupA/xyz")"
check_eq "ls -l shows 24000 bytes at once" 24000 "$(ls -l "$M/groupA/xyz" | awk '{print $5}')"
check_eq "it became 24000 bytes (backing)" 24000 "$(stat -c %s "$ROOT/groupA/xyz/data")"
check "reads as 24000 zero bytes" cmp <(head -c 24000 /dev/zero) "$M/groupA/xyz"
check_eq "user.hmf.meta" '{"dtype":"<f8","shape":[1000,3],"order":"C"}' \
	"$(xattr_of "$M/groupA/xyz" user.hmf.meta)"
check "fill it through np.memmap r+" "$PY" -c '
import numpy as np, os, sys
p = sys.argv[1]
size_before = os.stat(p).st_size
m = np.memmap(p, dtype="<f8", mode="r+", shape=(1000, 3))
m[:] = np.arange(3000, dtype="<f8").reshape(1000, 3) * 0.5 + 1
m.flush()
del m
assert os.stat(p).st_size == 24000, os.stat(p).st_size
assert size_before == 24000, "np.memmap saw %d bytes, not 24000" % size_before' "$M/groupA/xyz"
check "the backing data holds the same bytes" "$PY" -c '
import numpy as np, sys
want = np.arange(3000, dtype="<f8").reshape(1000, 3) * 0.5 + 1
got = np.fromfile(sys.argv[1], dtype="<f8").reshape(1000, 3)
assert (got == want).all(), "backing data differs"' "$ROOT/groupA/xyz/data"
check_eq "the backing .hmf says <f8" '"<f8"' "$(meta_of "$ROOT/groupA/xyz/.hmf" dtype)"
check_eq "the backing .hmf says [1000,3]" '[1000,3]' "$(meta_of "$ROOT/groupA/xyz/.hmf" shape)"
check_eq "the backing .hmf says C" '"C"' "$(meta_of "$ROOT/groupA/xyz/.hmf" order)"
check "read back through the mount with np.memmap" "$PY" -c '
import numpy as np, sys
want = np.arange(3000, dtype="<f8").reshape(1000, 3) * 0.5 + 1
got = np.memmap(sys.argv[1], dtype="<f8", mode="r", shape=(1000, 3))
assert (got == want).all()' "$M/groupA/xyz"

echo "== np.memmap w+ on a new file, then the shape follows"
check "np.memmap w+ (creates, grows, fills)" "$PY" -c '
import numpy as np, sys
m = np.memmap(sys.argv[1], dtype="<i4", mode="w+", shape=(250, 4))
m[:] = np.arange(1000, dtype="<i4").reshape(250, 4)
m.flush()
del m' "$M/groupA/w"
check_eq "4000 bytes" 4000 "$(stat -c %s "$ROOT/groupA/w/data")"
check "backing bytes" "$PY" -c '
import numpy as np, sys
assert (np.fromfile(sys.argv[1], dtype="<i4") == np.arange(1000)).all()' "$ROOT/groupA/w/data"
check "set dtype <i4" setfattr -n user.hmf.dtype -v '<i4' "$M/groupA/w"
check "set shape [250,4]" setfattr -n user.hmf.shape -v '[250,4]' "$M/groupA/w"
check_eq "layout" '{"dtype":"<i4","shape":[250,4],"order":"C"}' "$(xattr_of "$M/groupA/w" user.hmf.meta)"
check "append rows through np.memmap r+ with a larger shape" "$PY" -c '
import numpy as np, sys
m = np.memmap(sys.argv[1], dtype="<i4", mode="r+", shape=(300, 4))
m[250:] = -1
m.flush()
del m' "$M/groupA/w"
check_eq "the leading dimension follows the size" "[300,4]" "$(xattr_of "$M/groupA/w" user.hmf.shape)"
check_eq "... in the backing .hmf too" "[300,4]" "$(meta_of "$ROOT/groupA/w/.hmf" shape)"

echo "== a writer's mmap and a reader's read() agree"
check "mmap store then read()" "$PY" -c '
import numpy as np, os, sys
p = sys.argv[1]
m = np.memmap(p, dtype="<f8", mode="r+", shape=(1000, 3))
m[10, 1] = 12345.5
m.flush()
with open(p, "rb") as f:
    f.seek((10 * 3 + 1) * 8)
    v = np.frombuffer(f.read(8), dtype="<f8")[0]
assert v == 12345.5, v
del m' "$M/groupA/xyz"
check "pwrite then the mmap sees it" "$PY" -c '
import numpy as np, os, sys
p = sys.argv[1]
m = np.memmap(p, dtype="<f8", mode="r", shape=(1000, 3))
fd = os.open(p, os.O_WRONLY)
os.pwrite(fd, np.array([777.25], dtype="<f8").tobytes(), (20 * 3 + 2) * 8)
os.close(fd)
assert m[20, 2] == 777.25, m[20, 2]' "$M/groupA/xyz"

unmount_hmf "$MNT"

echo "== the same with -o exclusive (attributes cached for an hour)"
mount_hmf "$ROOT" "$MNT" -o exclusive
check "new empty file, layout set with os.setxattr" "$PY" -c '
import os, sys
p = sys.argv[1]
os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
os.setxattr(p, "user.hmf.dtype", b"<i2")
os.setxattr(p, "user.hmf.shape", b"[50,2]")' "$M/groupA/excl"
sleep 1.2
check_eq "stat -c %s shows the 200 bytes" 200 "$(stat -c %s "$M/groupA/excl")"
check_eq "backing size" 200 "$(stat -c %s "$ROOT/groupA/excl/data")"
check "truncate through the mount" truncate -s 20 "$M/groupA/excl"
check_eq "the shape follows" "[5,2]" "$(xattr_of "$M/groupA/excl" user.hmf.shape)"
check_eq "stat follows" 20 "$(stat -c %s "$M/groupA/excl")"
unmount_hmf "$MNT"
check "after unmount the backing data still holds both stores" "$PY" -c '
import numpy as np, sys
a = np.fromfile(sys.argv[1], dtype="<f8").reshape(1000, 3)
assert a[10, 1] == 12345.5 and a[20, 2] == 777.25' "$ROOT/groupA/xyz/data"
finish
