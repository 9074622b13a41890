#!/bin/bash
# SPDX-License-Identifier: MIT
# python_client.sh - scripts/hmf_fs.py, the original package's Python API
# over a mount: the seed's getting-started done with it on a root mounted
# with -o create reads back after a remount and leaves the same backing
# tree as the library's getting_started; then a 2-D float array, an F-order
# array, an atomic replace, a large array, r+ memmaps, attribute values and
# refusals. Also the ingest request that from_pandas + register_array +
# close would send to /.hmf/ingest, checked as a document.
# Usage: python_client.sh single|multi
. "$(dirname "$0")/lib.sh" "$@"
require_numpy
export PYTHONPATH="$SRCROOT/scripts${PYTHONPATH:+:$PYTHONPATH}"

LIBROOT=$(new_dir libroot)
PYROOT=$(new_dir pyroot)
MNT=$(new_dir mnt)
make_sample_root "$LIBROOT"

echo "== the ingest request of from_pandas + register_array + close"
if "$PY" -c 'import pandas' 2>/dev/null; then
	check "build_ingest_request for a sample DataFrame" "$PY" -c '
import json, numpy as np, pandas as pd, hmf_fs
df = pd.DataFrame({
    "station": ["b", "a", "b", "a"],
    "t": [4, 3, 2, 1],
    "a": np.array([1, 2, 3, 4], dtype="<i4"),
    "b": [0.5, 1.5, 2.5, 3.5],
    "c": np.array([1, 2, 3, 4], dtype="<f4"),
    "id": [10, 11, 12, 13],
    "name": ["w", "x", "y", "z"],
})
arrays = {"arrayA": ["b", "c"], "arrayB": ["a"], "ids": "id", "names": "name"}
req = hmf_fs.build_ingest_request(df, "/data/table.csv", arrays,
                                  groupby="station", orderby="t")
want = {"source": "/data/table.csv", "format": "csv",
        "csv": {"delimiter": ",", "header": True},
        "dest": "/", "arrays": {"arrayA": ["b", "c"], "arrayB": ["a"],
                                "ids": "id", "names": "name"},
        "dtypes": {"a": "<i4", "b": "<f8", "c": "<f4", "id": "<i8"},
        "groupby": "station", "orderby": "t", "ascending": True,
        "threads": 0, "overwrite": False}
assert req == want, req
assert json.loads(json.dumps(req)) == want
# no groupby/orderby: the keys are left out; dtypes override; dest kept
req = hmf_fs.build_ingest_request(df, "/x.csv", {"v": "a"}, dest="/g",
                                  dtypes={"a": "int64"}, ascending=False,
                                  threads=3, overwrite=True)
assert req == {"source": "/x.csv", "format": "csv",
               "csv": {"delimiter": ",", "header": True}, "dest": "/g",
               "arrays": {"v": "a"}, "dtypes": {"a": "<i8"},
               "ascending": False, "threads": 3, "overwrite": True}, req
for bad in (lambda: hmf_fs.build_ingest_request(df, "rel.csv", arrays),
            lambda: hmf_fs.build_ingest_request(df, "/x.csv", {"v": "nope"}),
            lambda: hmf_fs.build_ingest_request(df, "/x.csv", arrays, groupby="nope"),
            lambda: hmf_fs.build_ingest_request(df, "/x.csv", {".hmfx": "a"}),
            lambda: hmf_fs.build_ingest_request(df, "/x.csv", {})):
    try:
        bad()
    except (ValueError, KeyError):
        pass
    else:
        raise AssertionError("accepted a bad request")'
else
	echo "skip: no pandas for $PY (build_ingest_request not checked)"
fi

echo "== getting started with hmf_fs on a root mounted with -o create"
mount_hmf "$PYROOT" "$MNT" -o create
check "open_file, set_group, set_array, get_array, set/get_node_attr" "$PY" -c '
import sys, numpy as np, hmf_fs
f = hmf_fs.open_file(sys.argv[1])
f.set_group("/groupA")
f.set_group("/group1/groupA/groupZ")
f.set_array("/groupA/array1", np.arange(9))
a = f.get_array("/groupA/array1")
assert isinstance(a, np.memmap), type(a)
assert a.dtype == np.dtype("<i8") and a.shape == (9,), (a.dtype, a.shape)
assert np.array_equal(a, np.arange(9)), a
del a
f.set_node_attr("/groupA", "someAttribute", "attributeValue")
v = f.get_node_attr("/groupA", "someAttribute")
assert v == "attributeValue", v
f.set_group("/groupA")  # exists: fine, like mkdir -p
f.close()' "$MNT"
unmount_hmf "$MNT"

echo "== remount and read it all back"
mount_hmf "$PYROOT" "$MNT"
check "read back after a remount" "$PY" -c '
import os, sys, numpy as np, hmf_fs
m = sys.argv[1]
f = hmf_fs.open_file(m, "r")
a = f.get_array("/groupA/array1")
assert isinstance(a, np.memmap) and a.dtype == np.dtype("<i8"), type(a)
assert np.array_equal(a, np.arange(9)), a
assert f.get_layout("/groupA/array1") == (np.dtype("<i8"), (9,), "C")
assert f.get_node_attr("/groupA", "someAttribute") == "attributeValue"
for g in ("groupA", "group1", "group1/groupA", "group1/groupA/groupZ"):
    assert os.path.isdir(os.path.join(m, g)), g
assert sorted(os.listdir(m)) == ["group1", "groupA"], os.listdir(m)
assert os.listdir(os.path.join(m, "groupA")) == ["array1"]
try:
    f.set_group("/groupB")
except PermissionError:
    pass
else:
    raise AssertionError("mode r allowed set_group")
assert not os.path.exists(os.path.join(m, "groupB"))
f.close()' "$MNT"
unmount_hmf "$MNT"

echo "== the backing root is the one the C example writes"
listing() { (cd "$1" && find . -not -name '.hmf*' | sort); }
check_eq "node directories and data files" "$(listing "$LIBROOT")" "$(listing "$PYROOT")"
same_bytes "groupA/array1/data" "$LIBROOT/groupA/array1/data" "$PYROOT/groupA/array1/data"
canon() { "$PY" -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1])), sort_keys=True))' "$1"; }
for node in . groupA groupA/array1 group1 group1/groupA group1/groupA/groupZ; do
	check_eq "metadata of $node" "$(canon "$LIBROOT/$node/.hmf")" "$(canon "$PYROOT/$node/.hmf")"
done
check_eq "the same set of .hmf files" \
	"$(cd "$LIBROOT" && find . -name .hmf | sort)" "$(cd "$PYROOT" && find . -name .hmf | sort)"
check_eq "no temporary leftovers" "" "$(find "$PYROOT" -name '.hmf.tmp*' -o -name '.tmp-hmf_fs-*')"

echo "== more arrays: 2-D float, F order, replace, large, r+"
mount_hmf "$PYROOT" "$MNT"
check "a 2-D float array round trips" "$PY" -c '
import os, sys, numpy as np, hmf_fs
f = hmf_fs.open_file(sys.argv[1])
x = np.arange(12.0).reshape(3, 4) / 3
f.set_array("/floats/m2", x)
g = f.get_array("/floats/m2")
assert isinstance(g, np.memmap) and g.dtype == np.dtype("<f8"), g.dtype
assert g.shape == (3, 4) and g.flags.c_contiguous, (g.shape, g.flags)
assert np.array_equal(g, x)
p = os.path.join(sys.argv[1], "floats", "m2")
assert os.getxattr(p, "user.hmf.shape") == b"[3,4]"
assert os.getxattr(p, "user.hmf.order") == b"C"
assert os.stat(p).st_size == 96' "$MNT"
check "an F-order array round trips in F order" "$PY" -c '
import os, sys, numpy as np, hmf_fs
f = hmf_fs.open_file(sys.argv[1])
a = np.asfortranarray(np.arange(12, dtype="<i4").reshape(4, 3))
f.set_array("/floats/f", a)
p = os.path.join(sys.argv[1], "floats", "f")
assert os.getxattr(p, "user.hmf.order") == b"F"
assert os.getxattr(p, "user.hmf.shape") == b"[4,3]"
g = f.get_array("/floats/f")
assert g.flags.f_contiguous and not g.flags.c_contiguous, g.flags
assert np.array_equal(g, a), g
with open(p, "rb") as fh:
    assert fh.read() == a.tobytes(order="F")' "$MNT"
check "set_array replaces an array atomically, leaving no temporary" "$PY" -c '
import os, sys, numpy as np, hmf_fs
f = hmf_fs.open_file(sys.argv[1])
f.set_array("/groupB/r", np.arange(5))
new = np.linspace(0, 1, 7, dtype="<f4")
f.set_array("/groupB/r", new)
g = f.get_array("/groupB/r")
assert g.dtype == np.dtype("<f4") and np.array_equal(g, new), g
assert os.listdir(os.path.join(sys.argv[1], "groupB")) == ["r"], "leftover"' "$MNT"
# DESIGN 4: open handles of a replaced (unlinked) array keep working, so a
# memmap taken before the replace still reads the old values (a SIGBUS, exit
# 135, means the daemon failed the page-in read of the old file)
check "a memmap taken before a replace still reads the old array" "$PY" -c '
import sys, numpy as np, hmf_fs
f = hmf_fs.open_file(sys.argv[1])
f.set_array("/groupB/held", np.arange(5))
old = f.get_array("/groupB/held")
f.set_array("/groupB/held", np.arange(7.0))
assert np.array_equal(old, np.arange(5)), old
assert np.array_equal(f.get_array("/groupB/held"), np.arange(7.0))' "$MNT"
check "a 21 MB array (several writes) round trips" "$PY" -c '
import sys, numpy as np, hmf_fs
f = hmf_fs.open_file(sys.argv[1])
x = np.random.default_rng(7).standard_normal((2_600_000,))
f.set_array("/big", x)
assert np.array_equal(f.get_array("/big"), x)' "$MNT"
check "get_array r+ writes through the mount" "$PY" -c '
import sys, numpy as np, hmf_fs
f = hmf_fs.open_file(sys.argv[1])
m = f.get_array("/floats/m2", "r+")
m[1, 2] = -1.0
m.flush()
del m
want = np.arange(12.0).reshape(3, 4) / 3
want[1, 2] = -1.0
assert np.array_equal(f.get_array("/floats/m2"), want)' "$MNT"
check "0-d, empty and string arrays" "$PY" -c '
import sys, numpy as np, hmf_fs
f = hmf_fs.open_file(sys.argv[1])
for name, x in (("zero_d", np.array(2.5)), ("empty", np.zeros((0, 3), "<i2")),
                ("text", np.array(["ab", "cde"])), ("raw", np.array([b"x", b"yz"])),
                ("flags", np.array([True, False, True]))):
    f.set_array("/kinds/" + name, x)
    g = f.get_array("/kinds/" + name)
    assert g.dtype == x.dtype and g.shape == x.shape, (name, g.dtype, g.shape)
    assert np.array_equal(g, x), name' "$MNT"

echo "== attributes and refusals"
check "attribute values: str, non-UTF-8 bytes, other values, missing" "$PY" -c '
import sys, numpy as np, hmf_fs
f = hmf_fs.open_file(sys.argv[1])
f.set_node_attr("/groupA", "unicode", "température")
assert f.get_node_attr("/groupA", "unicode") == "température"
f.set_node_attr("/groupA", "bin", b"\xff\x00\xfe")
assert f.get_node_attr("/groupA", "bin") == b"\xff\x00\xfe"
f.set_node_attr("/groupA", "utf8bytes", b"abc")
assert f.get_node_attr("/groupA", "utf8bytes") == "abc"
f.set_node_attr("/floats/m2", "n", 42)
assert f.get_node_attr("/floats/m2", "n") == "42"
f.set_node_attr("/", "top", "level")
assert f.get_node_attr("/", "top") == "level"
try:
    f.get_node_attr("/groupA", "missing")
except KeyError:
    pass
else:
    raise AssertionError("no KeyError for a missing attribute")' "$MNT"
check "refusals: reserved names, reserved keys, array over a group, closed" "$PY" -c '
import os, sys, numpy as np, hmf_fs
m = sys.argv[1]
f = hmf_fs.open_file(m)
def refused(fn, *exc):
    try:
        fn()
    except exc:
        return
    raise AssertionError("not refused")
refused(lambda: f.set_group("/.hmfx"), ValueError)
refused(lambda: f.set_array("/a/../b", np.arange(2)), ValueError)
refused(lambda: f.set_array("relative", np.arange(2)), ValueError)
refused(lambda: f.set_node_attr("/groupA", "hmf.dtype", "x"), ValueError)
refused(lambda: f.set_array("/groupA", np.arange(2)), OSError)
refused(lambda: f.set_array("/o", np.array([object()])), TypeError)
refused(lambda: f.set_group("/groupA/array1/sub"), OSError)
assert sorted(os.listdir(os.path.join(m, "groupA"))) == ["array1"], os.listdir(os.path.join(m, "groupA"))
assert not any(n.startswith(".tmp-hmf_fs-") for n in os.listdir(m))
f.close()
refused(lambda: f.set_group("/later"), ValueError)' "$MNT"
if "$PY" -c 'import pandas' 2>/dev/null; then
	# close() submits the job to /.hmf/ingest: the arrays must be right and
	# no temporary CSV may be left behind.
	check "from_pandas + register_array + close through /.hmf/ingest" "$PY" -c '
import glob, os, sys, tempfile, numpy as np, pandas as pd, hmf_fs
m = sys.argv[1]
csvs = lambda: set(glob.glob(os.path.join(tempfile.gettempdir(), "hmf_fs-*.csv")))
before = csvs()
df = pd.DataFrame({"station": ["b", "a", "b", "a"], "t": [4, 3, 2, 1],
                   "id": [10, 11, 12, 13], "v": [0.5, 1.5, 2.5, 3.5]})
f = hmf_fs.open_file(m)
f.from_pandas(df, groupby="station", orderby="t", dest="/ing")
f.register_array("ids", "id")
f.register_array("vals", ["t", "v"])
f.close()
g = hmf_fs.open_file(m, "r")
assert np.array_equal(g.get_array("/ing/a/ids"), [13, 11])
assert np.array_equal(g.get_array("/ing/b/ids"), [12, 10])
assert np.array_equal(g.get_array("/ing/a/vals"), [[1, 3.5], [3, 1.5]])
assert csvs() == before, "temporary CSV left behind"' "$MNT"
fi
unmount_hmf "$MNT"

echo "== the backing files of those"
check_eq "F array: backing .hmf order" '"F"' "$(meta_of "$PYROOT/floats/f/.hmf" order)"
check "F array: backing data in F order" "$PY" -c '
import sys, numpy as np
a = np.arange(12, dtype="<i4").reshape(4, 3)
assert open(sys.argv[1], "rb").read() == a.tobytes(order="F")' "$PYROOT/floats/f/data"
check_eq "2-D array: backing layout" '[3,4]' "$(meta_of "$PYROOT/floats/m2/.hmf" shape)"
check_eq "non-UTF-8 bytes are base64 in the backing .hmf" '{"base64":"/wD+"}' \
	"$("$PY" -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["attributes"]["bin"], separators=(",", ":")))' "$PYROOT/groupA/.hmf")"
check_eq "no temporary leftovers" "" "$(find "$PYROOT" -name '.hmf.tmp*' -o -name '.tmp-hmf_fs-*')"
HMF_CLI=${HMF_CLI:-$(dirname "$HMF_MOUNT")/../cli/hmf}
if [ -x "$HMF_CLI" ]; then
	check "hmf fsck finds the root clean" "$HMF_CLI" fsck "$PYROOT"
fi
finish
