#!/bin/bash
# SPDX-License-Identifier: MIT
# npy_view.sh - arrays named *.npy are NPY files (DESIGN section 4, "NPY
# view"): np.save to the mount and np.load back (with and without
# mmap_mode) for every dtype of DESIGN section 3, 0-d, 1-d, 3-d, Fortran
# order, both byte orders and version 2.0/3.0 headers; cp in and out, rsync
# and shutil.copy byte-identical; the raw data and layout in the backing
# root; sizes, truncate, xattrs, rename; writes into the data and the
# header; refused headers leave no array (or the previous one) behind; a
# strided read of a 2 GiB array reads only what it touches (/.hmf/stats).
# Usage: npy_view.sh single|multi
. "$(dirname "$0")/lib.sh" "$@"
require_cmd rsync cmp getfattr setfattr truncate
require_numpy

ROOT=$(new_dir root)
MNT=$(new_dir mnt)
SRC=$(new_dir src)
OUT=$(new_dir out)
mount_hmf "$ROOT" "$MNT" -o create
M=$MNT

# every dtype of DESIGN section 3, both byte orders, as numpy writes them
DTYPES='|b1 |i1 <i2 <i4 <i8 |u1 <u2 <u4 <u8 <f2 <f4 <f8 <c8 <c16 |S5 <U3
|V4 <M8[ns] <m8[s] >i2 >i4 >i8 >u2 >u4 >u8 >f2 >f4 >f8 >c8 >c16 >U3
>M8[us] >m8[D]'

# sample.py DTYPE SHAPE ORDER: the array the checks below save and load
SAMPLE='
import numpy as np
def sample(dtype, shape, order):
    dt = np.dtype(dtype)
    n = int(np.prod(shape))
    raw = (np.arange(n * dt.itemsize, dtype=np.int64) * 7 + 3) % 251
    if dt.kind == "b":
        raw = raw % 2
    if dt.kind in "Mm":
        raw[...] = 1
    a = np.frombuffer(raw.astype(np.uint8).tobytes(), dtype=dt)
    if dt.kind == "f" or dt.kind == "c":
        a = np.arange(n).astype(dt)
    return np.asarray(a.reshape(shape), order=order)
'

echo "== np.save to the mount, np.load back: every dtype, 0-d, 1-d, 3-d, F order"
check "np.save / np.load / np.load(mmap_mode=r) agree, byte-identical files" "$PY" -c "$SAMPLE"'
import io, os, sys
mnt, dtypes = sys.argv[1], sys.argv[2].split()
bad = []
for i, dtype in enumerate(dtypes):
    for shape, order in [((), "C"), ((7,), "C"), ((3, 4, 5), "C"),
                         ((3, 4, 5), "F"), ((0, 3), "C")]:
        a = sample(dtype, shape, order)
        p = "%s/t%d_%d%s.npy" % (mnt, i, len(shape), order)
        np.save(p, a)
        want = io.BytesIO()
        np.save(want, a)
        with open(p, "rb") as f:
            got = f.read()
        if got != want.getvalue():
            bad.append("%s %s %s: file differs" % (dtype, shape, order))
        if os.stat(p).st_size != len(want.getvalue()):
            bad.append("%s %s %s: st_size" % (dtype, shape, order))
        for mode in (None, "r"):
            b = np.load(p, mmap_mode=mode)
            if b.dtype != a.dtype or b.shape != a.shape or \
               a.tobytes("A") != np.asarray(b).tobytes("A") or \
               np.isfortran(b) != np.isfortran(a):
                bad.append("%s %s %s mmap_mode=%s: %s %s" %
                           (dtype, shape, order, mode, b.dtype, b.shape))
        os.unlink(p)
if bad:
    sys.exit("\n".join(bad))' "$M" "$DTYPES"

echo "== the backing root keeps raw data and the layout"
check "np.save a Fortran-order big-endian 3-d array" "$PY" -c "$SAMPLE"'
import sys
np.save(sys.argv[1], sample(">f8", (3, 4, 5), "F"))' "$M/f3.npy"
check_eq "the backing data is the raw bytes (60 * 8)" 480 "$(stat -c %s "$ROOT/f3.npy/data")"
check_eq "st_size = header + data" $((128 + 480)) "$(stat -c %s "$M/f3.npy")"
check "the data file is memmap-able raw F-order data" "$PY" -c "$SAMPLE"'
import sys
a = np.memmap(sys.argv[1], dtype=">f8", mode="r", shape=(3, 4, 5), order="F")
assert (a == sample(">f8", (3, 4, 5), "F")).all()' "$ROOT/f3.npy/data"
check_eq "backing dtype" '">f8"' "$(meta_of "$ROOT/f3.npy/.hmf" dtype)"
check_eq "backing shape" '[3,4,5]' "$(meta_of "$ROOT/f3.npy/.hmf" shape)"
check_eq "backing order" '"F"' "$(meta_of "$ROOT/f3.npy/.hmf" order)"
check_eq "user.hmf.meta agrees" '{"dtype":">f8","shape":[3,4,5],"order":"F"}' \
	"$(xattr_of "$M/f3.npy" user.hmf.meta)"
check "the header is kept in .hmf" "$PY" -c '
import base64, json, sys
m = json.load(open(sys.argv[1]))
h = base64.b64decode(m["npy_header"]["base64"])
assert h == open(sys.argv[2], "rb").read(128), h' "$ROOT/f3.npy/.hmf" "$M/f3.npy"

echo "== cp, rsync and shutil.copy: in and out byte-identical"
check "make source files (incl. version 2.0 and 3.0 headers)" "$PY" -c "$SAMPLE"'
import sys, warnings
warnings.simplefilter("ignore")
d = sys.argv[1]
np.save(d + "/plain.npy", np.random.default_rng(1).random((1000, 7)))
np.save(d + "/fortran.npy", sample("<i4", (30, 20), "F"))
np.save(d + "/scalar.npy", np.float32(2.5))
np.save(d + "/big_endian.npy", sample(">u8", (100,), "C"))
np.save(d + "/large.npy", np.arange(3 << 20, dtype="<f8"))
with open(d + "/v2.npy", "wb") as f:
    np.lib.format.write_array(f, sample("<i2", (5, 6), "C"), version=(2, 0))
with open(d + "/v3.npy", "wb") as f:
    np.lib.format.write_array(f, sample("<U3", (4,), "C"), version=(3, 0))
# a dtype whose header needs more than 64 KiB: numpy picks version 2.0
fields = [("f%03d_" % i + "x" * 240, "<i2") for i in range(256)]
np.save(d + "/wide.npy", np.zeros(3, dtype=fields))
assert open(d + "/wide.npy", "rb").read(8)[6] == 2' "$SRC"
for f in plain fortran scalar big_endian large v2 v3 wide; do
	check "cp $f.npy in" cp "$SRC/$f.npy" "$M/$f.npy"
	same_bytes "$f.npy reads back byte-identical" "$SRC/$f.npy" "$M/$f.npy"
	check "cp $f.npy out" cp "$M/$f.npy" "$OUT/$f.npy"
	same_bytes "$f.npy copied out is byte-identical" "$SRC/$f.npy" "$OUT/$f.npy"
done
check_eq "st_size of the version 2.0 header file" "$(stat -c %s "$SRC/wide.npy")" \
	"$(stat -c %s "$M/wide.npy")"
check "np.load of what cp wrote" "$PY" -c '
import numpy as np, sys
a = np.load(sys.argv[1] + "/fortran.npy")
b = np.load(sys.argv[2] + "/fortran.npy", mmap_mode="r")
assert np.isfortran(b) and (a == b).all()
w = np.load(sys.argv[2] + "/wide.npy", max_header_size=100000)
assert len(w.dtype.names) == 256 and w.shape == (3,)' "$SRC" "$M"
check "rsync a directory in" rsync -r "$SRC/" "$M/rsynced/"
for f in plain fortran v2 wide; do
	same_bytes "rsync'd $f.npy is byte-identical" "$SRC/$f.npy" "$M/rsynced/$f.npy"
done
check_eq "rsync's temporary files are gone" "" \
	"$(find "$M/rsynced" -mindepth 1 -name '.*')"
check "rsync in again over the existing files (delta transfer)" \
	rsync -r --no-whole-file -I "$SRC/" "$M/rsynced/"
same_bytes "... still byte-identical" "$SRC/large.npy" "$M/rsynced/large.npy"
check "shutil.copy in" "$PY" -c '
import shutil, sys
shutil.copy(sys.argv[1], sys.argv[2])' "$SRC/plain.npy" "$M/copied.npy"
same_bytes "shutil.copy'd file is byte-identical" "$SRC/plain.npy" "$M/copied.npy"
check "cp -a within the mount (data, then the user.hmf.* xattrs)" \
	cp -a "$M/v2.npy" "$M/v2copy.npy"
same_bytes "cp -a keeps the version 2.0 header" "$SRC/v2.npy" "$M/v2copy.npy"
check "cp over an existing array replaces it" cp "$SRC/scalar.npy" "$M/plain.npy"
same_bytes "... byte-identical" "$SRC/scalar.npy" "$M/plain.npy"
check_eq "... and the backing data is the new 4 bytes" 4 "$(stat -c %s "$ROOT/plain.npy/data")"

echo "== bad headers are refused, nothing is left behind"
check "make bad files" "$PY" -c '
import numpy as np, io, sys
d = sys.argv[1]
good = io.BytesIO()
np.save(good, np.arange(10))
good = good.getvalue()
open(d + "/truncated.npy", "wb").write(good[:50])
open(d + "/magic.npy", "wb").write(b"\x93NUMPX" + good[6:])
open(d + "/version.npy", "wb").write(good[:6] + b"\x04\x00" + good[8:])
obj = io.BytesIO()
np.save(obj, np.array([1, "a", None], dtype=object), allow_pickle=True)
open(d + "/object.npy", "wb").write(obj.getvalue())
open(d + "/huge.npy", "wb").write(b"\x93NUMPY\x02\x00\xff\xff\xff\x7f" + good[10:])
open(d + "/notnpy.npy", "wb").write(b"just some text\n" * 100)' "$SRC"
for f in truncated magic version object huge notnpy; do
	check_fails "cp $f.npy in fails" "Invalid argument" cp "$SRC/$f.npy" "$M/$f.npy"
	check_eq "no $f.npy is left behind" "ENOENT" "$(op stat "$M/$f.npy" | cut -d' ' -f1)"
	check_eq "... nor in the backing root" "no" "$([ -e "$ROOT/$f.npy" ] && echo yes || echo no)"
	check_fails "cp $f.npy over an existing array fails" "Invalid argument" \
		cp "$SRC/$f.npy" "$M/v2.npy"
	same_bytes "... which keeps its previous content" "$SRC/v2.npy" "$M/v2.npy"
done
check_fails "np.save of an object array fails" "Invalid argument" "$PY" -c '
import numpy as np, sys
np.save(sys.argv[1], np.array([1, None], dtype=object), allow_pickle=True)' "$M/obj.npy"
check_eq "... and leaves nothing" "ENOENT" "$(op stat "$M/obj.npy" | cut -d' ' -f1)"
check "a good copy to a refused name works at once" cp "$SRC/v3.npy" "$M/magic.npy"
same_bytes "... byte-identical" "$SRC/v3.npy" "$M/magic.npy"
check "touch a new early.npy" touch "$M/early.npy"
check_eq "writing its data before its header is EINVAL" "EINVAL" \
	"$(op write "$M/early.npy" 1000 "$(hexof 'data')")"
check_eq "... and it stays empty" 0 "$(stat -c %s "$M/early.npy")"

echo "== sizes, truncate, xattrs"
check "np.save a [100] <f8" "$PY" -c '
import numpy as np, sys
np.save(sys.argv[1], np.arange(100, dtype="<f8"))' "$M/t.npy"
check_eq "st_size" $((128 + 800)) "$(stat -c %s "$M/t.npy")"
check_eq "ls -l agrees" $((128 + 800)) "$(ls -l "$M/t.npy" | awk '{print $5}')"
check "truncate to header + 10 items" truncate -s $((128 + 80)) "$M/t.npy"
check_eq "the shape follows" "[10]" "$(xattr_of "$M/t.npy" user.hmf.shape)"
check_eq "the data follows" 80 "$(stat -c %s "$ROOT/t.npy/data")"
check "np.load sees 10 items" "$PY" -c '
import numpy as np, sys
assert (np.load(sys.argv[1]) == np.arange(10)).all()' "$M/t.npy"
check_fails "truncate into the header" "Invalid argument" truncate -s 100 "$M/t.npy"
check "grow by truncate: zero-filled" truncate -s $((128 + 160)) "$M/t.npy"
check "np.load sees 20 items, zeros at the end" "$PY" -c '
import numpy as np, sys
a = np.load(sys.argv[1], mmap_mode="r")
assert a.shape == (20,) and (a[:10] == np.arange(10)).all() and not a[10:].any()' "$M/t.npy"
check "set user.hmf.dtype <i8 (reinterpret)" setfattr -n user.hmf.dtype -v '<i8' "$M/t.npy"
check "np.load sees int64 now" "$PY" -c '
import numpy as np, sys
a = np.load(sys.argv[1])
assert a.dtype == np.int64 and a.shape == (20,), (a.dtype, a.shape)' "$M/t.npy"
check "set user.hmf.shape [4,5]" setfattr -n user.hmf.shape -v '[4,5]' "$M/t.npy"
check "set user.hmf.order F" setfattr -n user.hmf.order -v F "$M/t.npy"
check "np.load sees [4,5] in F order" "$PY" -c '
import numpy as np, sys
a = np.load(sys.argv[1], mmap_mode="r")
assert a.shape == (4, 5) and np.isfortran(a), (a.shape, a.flags)' "$M/t.npy"
check_eq "st_size unchanged" $((128 + 160)) "$(stat -c %s "$M/t.npy")"
check "truncate to 0" truncate -s 0 "$M/t.npy"
check_eq "an empty file" 0 "$(stat -c %s "$M/t.npy")"
check "a new empty file (touch) is empty" touch "$M/empty.npy"
check_eq "... size 0" 0 "$(stat -c %s "$M/empty.npy")"
check "then cp into it" cp "$SRC/fortran.npy" "$M/empty.npy"
same_bytes "... byte-identical" "$SRC/fortran.npy" "$M/empty.npy"
check "shell > x.npy empties it" bash -c ': > "$1"' _ "$M/empty.npy"
check_eq "... size 0" 0 "$(stat -c %s "$M/empty.npy")"

echo "== writes into the data and into the header"
check "np.save [1000] <f8" "$PY" -c '
import numpy as np, sys
np.save(sys.argv[1], np.zeros(1000))' "$M/w.npy"
check "pwrite at a random offset in the data" "$PY" -c '
import numpy as np, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.pwrite(fd, np.array([5.5, 6.5]).tobytes(), 128 + 8 * 700)
os.close(fd)
a = np.load(sys.argv[1])
assert a[700] == 5.5 and a[701] == 6.5 and a.sum() == 12' "$M/w.npy"
check "np.load(mmap_mode=r+) and store through the mapping" "$PY" -c '
import numpy as np, sys
a = np.load(sys.argv[1], mmap_mode="r+")
a[3] = 42
a.flush()
del a
b = np.load(sys.argv[1])
assert b[3] == 42 and b[700] == 5.5' "$M/w.npy"
check "rewrite the header with the same bytes" "$PY" -c '
import os, sys
p = sys.argv[1]
h = open(p, "rb").read(128)
fd = os.open(p, os.O_WRONLY)
os.pwrite(fd, h, 0)
os.close(fd)' "$M/w.npy"
check "rewrite the header as a valid one (<f8 -> <i8)" "$PY" -c '
import numpy as np, os, sys
p = sys.argv[1]
h = open(p, "rb").read(128).replace(b"<f8", b"<i8")
fd = os.open(p, os.O_WRONLY)
os.pwrite(fd, h, 0)
os.close(fd)
a = np.load(p)
assert a.dtype == np.int64 and a.shape == (1000,)' "$M/w.npy"
check_eq "user.hmf.dtype follows" "<i8" "$(xattr_of "$M/w.npy" user.hmf.dtype)"
check_eq "a header rewritten to an invalid one is EINVAL" "EINVAL" \
	"$(op write "$M/w.npy" 0 "$(hexof 'PK')")"
check_eq "... one of another length too" "EINVAL" "$(op write "$M/w.npy" 8 "$(hexof '@')")"
check "... and the array is unchanged" "$PY" -c '
import numpy as np, sys
a = np.load(sys.argv[1])
assert a.dtype == np.int64 and a.shape == (1000,)' "$M/w.npy"
check "np.lib.format.open_memmap w+ on the mount" "$PY" -c '
import numpy as np, sys
a = np.lib.format.open_memmap(sys.argv[1], mode="w+", dtype="<i4", shape=(300, 3))
a[:] = np.arange(900).reshape(300, 3)
a.flush()
del a
b = np.load(sys.argv[1])
assert (b == np.arange(900).reshape(300, 3)).all()' "$M/om.npy"

echo "== rename switches the view with the name"
check "mv f3.npy f3.raw" mv "$M/f3.npy" "$M/f3.raw"
check_eq "raw: size = data" 480 "$(stat -c %s "$M/f3.raw")"
same_bytes "raw: the bytes are the data" "$ROOT/f3.raw/data" "$M/f3.raw"
check "mv back to f3.npy" mv "$M/f3.raw" "$M/f3.npy"
check_eq "npy again: size = header + data" $((128 + 480)) "$(stat -c %s "$M/f3.npy")"
check "np.load after the round trip" "$PY" -c "$SAMPLE"'
import sys
assert (np.load(sys.argv[1]) == sample(">f8", (3, 4, 5), "F")).all()' "$M/f3.npy"
check "a raw array renamed to *.npy gets a header" bash -c \
	'printf abcdefgh > "$1/raw" && mv "$1/raw" "$1/raw.npy"' _ "$M"
check "np.load shows its bytes as |u1" "$PY" -c '
import numpy as np, sys
a = np.load(sys.argv[1])
assert a.dtype == np.uint8 and a.tobytes() == b"abcdefgh"' "$M/raw.npy"

echo "== a strided read of a 2 GiB array reads only what it touches"
check "a 2 GiB [262144,1024] <f8 array (sparse)" "$PY" -c '
import numpy as np, sys
a = np.lib.format.open_memmap(sys.argv[1], mode="w+", dtype="<f8",
                              shape=(262144, 1024))
a[::1000, 0] = 1
a.flush()' "$M/big.npy"
read_bytes() {
	"$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["bytes_read"])' "$MNT/.hmf/stats"
}
before=$(read_bytes)
check "np.load(mmap_mode=r)[::1000].sum()" "$PY" -c '
import numpy as np, sys
assert np.load(sys.argv[1], mmap_mode="r")[::1000].sum() == 263' "$M/big.npy"
after=$(read_bytes)
read_mib=$(((after - before) >> 20))
echo "   bytes_read grew by $read_mib MiB for 263 rows of 8 KiB"
# the kernel reads around each fault: at most one 1 MiB window per row
check "it read at most a 1 MiB readahead window per row touched" \
	test "$read_mib" -le $((263 + 16))
check "rm it" rm "$M/big.npy"

unmount_hmf "$MNT"
finish
