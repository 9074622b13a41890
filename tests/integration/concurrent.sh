#!/bin/bash
# SPDX-License-Identifier: MIT
# concurrent.sh - several processes on one array at once: two writers of
# disjoint halves (os.pwrite at odd chunk sizes) with a reader running,
# then two appenders' worth of growth while a third process reads, then
# readers of an array that others truncate (short reads, never EIO).
# Usage: concurrent.sh single|multi
. "$(dirname "$0")/lib.sh" "$@"
require_numpy

ROOT=$(new_dir root)
MNT=$(new_dir mnt)
W=$(new_dir work)
make_sample_root "$ROOT"
mount_hmf "$ROOT" "$MNT"
M=$MNT
N=$((4 << 20)) # 4 MiB: two halves of 2 MiB

cat >"$W/half.py" <<'EOF'
# half.py PATH N WHICH SEED: write half WHICH (0 or 1) of the N-byte file
# with a pattern from SEED, in chunks of odd sizes, 3 passes; then check
# the half reads back.
import os, random, sys
p, n, which, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
half = n // 2
start = which * half
rnd = random.Random(seed)
want = bytes(rnd.getrandbits(8) for _ in range(256)) * (half // 256)
fd = os.open(p, os.O_RDWR)
for rep in range(3):
    off = 0
    while off < half:
        k = min(rnd.choice([1, 7, 509, 4093, 4097, 65537, 300001]), half - off)
        assert os.pwrite(fd, want[off:off + k], start + off) == k
        off += k
got = os.pread(fd, half, start)
os.close(fd)
if got != want:
    first = next(i for i in range(half) if got[i] != want[i])
    print("half %d differs at %d" % (which, start + first))
    sys.exit(1)
EOF

echo "== two writers of disjoint halves, one reader"
check "create the array" truncate -s $N "$M/groupA/shared"
"$PY" "$W/half.py" "$M/groupA/shared" $N 0 11 >"$W/w0.out" 2>&1 &
w0=$!
"$PY" "$W/half.py" "$M/groupA/shared" $N 1 22 >"$W/w1.out" 2>&1 &
w1=$!
"$PY" -c '
import os, sys, time
p, n = sys.argv[1], int(sys.argv[2])
end = time.time() + 2
while time.time() < end:
    with open(p, "rb") as f:
        b = f.read()
    assert len(b) == n, "reader saw %d bytes" % len(b)' "$M/groupA/shared" $N >"$W/r.out" 2>&1 &
r=$!
wait $w0 && pass "writer 0" || fail "writer 0: $(cat "$W/w0.out")"
wait $w1 && pass "writer 1" || fail "writer 1: $(cat "$W/w1.out")"
wait $r && pass "concurrent reader saw whole-size reads" || fail "reader: $(cat "$W/r.out")"
expected() {
	"$PY" -c '
import random, sys
n = int(sys.argv[1])
out = b""
for seed in (11, 22):
    rnd = random.Random(seed)
    out += bytes(rnd.getrandbits(8) for _ in range(256)) * (n // 2 // 256)
sys.stdout.buffer.write(out)' $N
}
expected >"$W/expected"
same_bytes "the whole array through the mount" "$W/expected" "$M/groupA/shared"
same_bytes "the backing data" "$W/expected" "$ROOT/groupA/shared/data"
check_eq "size unchanged" $N "$(stat -c %s "$M/groupA/shared")"

echo "== one process grows the array while another maps and reads it"
check "create grow" touch "$M/groupA/grow"
check "set dtype <i8" setfattr -n user.hmf.dtype -v '<i8' "$M/groupA/grow"
"$PY" -c '
import numpy as np, os, sys
p = sys.argv[1]
fd = os.open(p, os.O_WRONLY | os.O_APPEND)
for i in range(200):
    os.write(fd, np.arange(i * 1000, (i + 1) * 1000, dtype="<i8").tobytes())
os.close(fd)' "$M/groupA/grow" >"$W/g.out" 2>&1 &
g=$!
"$PY" -c '
import numpy as np, os, sys, time
p = sys.argv[1]
end = time.time() + 20
while time.time() < end:
    n = os.stat(p).st_size // 8
    if n:
        a = np.memmap(p, dtype="<i8", mode="r", shape=(n,))
        assert (a == np.arange(n)).all(), "mapped prefix of %d items wrong" % n
        del a
    if n >= 200000:
        break' "$M/groupA/grow" >"$W/m.out" 2>&1 &
m=$!
wait $g && pass "appender" || fail "appender: $(cat "$W/g.out")"
wait $m && pass "mapping reader saw correct prefixes" || fail "mapping reader: $(cat "$W/m.out")"
check_eq "final shape" "[200000]" "$(xattr_of "$M/groupA/grow" user.hmf.shape)"
check "final content" "$PY" -c '
import numpy as np, sys
assert (np.fromfile(sys.argv[1], dtype="<i8") == np.arange(200000)).all()' "$ROOT/groupA/grow/data"

echo "== many processes create, write and remove in one group"
for i in 1 2 3 4; do
	(
		set -e
		for j in $(seq 1 25); do
			mkdir "$M/groupA/g$i.$j"
			printf 'p%d-%d' "$i" "$j" >"$M/groupA/g$i.$j/a"
			setfattr -n user.i -v "$i.$j" "$M/groupA/g$i.$j"
			[ "$(cat "$M/groupA/g$i.$j/a")" = "p$i-$j" ]
			if [ $((j % 2)) -eq 0 ]; then rm -r "$M/groupA/g$i.$j"; fi
		done
	) >"$W/p$i.out" 2>&1 &
	eval "p$i=\$!"
done
for i in 1 2 3 4; do
	eval "pid=\$p$i"
	wait "$pid" && pass "process $i" || fail "process $i: $(cat "$W/p$i.out")"
done
check_eq "52 groups remain (13 per process)" 52 "$(find "$M/groupA" -mindepth 1 -maxdepth 1 -type d | wc -l)"
check_eq "backing agrees" 52 "$(find "$ROOT/groupA" -mindepth 1 -maxdepth 1 -type d -name 'g[0-9]*' | wc -l)"

echo "== readers while others truncate the array (shrink and grow)"
# A read answered from the daemon's mapping must not touch pages that a
# concurrent truncate cut off: that failed the reply, and the reader got
# EIO instead of a short read.
check "create shrink" truncate -s 1M "$M/groupA/shrink"
cat >"$W/shrink.py" <<'EOF'
import errno, os, random, sys, time
p, role = sys.argv[1], sys.argv[2]
rnd = random.Random(os.getpid())
end = time.time() + 4
n, errs = 0, {}
while time.time() < end:
    try:
        if role == "truncate":
            os.truncate(p, rnd.choice([0, 4096, 123457, 1 << 20, 3 << 20]))
        else:
            fd = os.open(p, os.O_RDONLY | (os.O_DIRECT if n % 2 else 0))
            try:
                os.pread(fd, 1 << 20, rnd.randrange(0, 2 << 20))
            finally:
                os.close(fd)
        n += 1
    except OSError as e:
        k = errno.errorcode.get(e.errno, str(e.errno))
        errs[k] = errs.get(k, 0) + 1
if errs:
    print("%s: %d calls, errors %s" % (role, n, errs))
    sys.exit(1)
EOF
for i in 1 2 3 4 5; do
	role=read
	[ $i -le 2 ] && role=truncate
	"$PY" "$W/shrink.py" "$M/groupA/shrink" $role >"$W/s$i.out" 2>&1 &
	eval "s$i=\$!"
done
for i in 1 2 3 4 5; do
	eval "pid=\$s$i"
	wait "$pid" && pass "shrink race process $i" || fail "shrink race process $i: $(cat "$W/s$i.out")"
done

unmount_hmf "$MNT"
finish
