#!/bin/bash
# SPDX-License-Identifier: MIT
# many.sh - more nodes than the daemon may hold fds for: the daemon runs
# with RLIMIT_NOFILE 600 (so it must make the kernel forget inodes), and
# 1500 arrays with long names in three groups are created, listed (many
# readdir pages), stat'ed, read, given attributes and removed, with some
# files held open throughout. Usage: many.sh single|multi
. "$(dirname "$0")/lib.sh" "$@"
require_cmd prlimit getfattr

ROOT=$(new_dir root)
MNT=$(new_dir mnt)
make_sample_root "$ROOT"
DAEMON_PREFIX=(prlimit --nofile=600:600 --)
mount_hmf "$ROOT" "$MNT"
DAEMON_PREFIX=()
M=$MNT
PID=${PID_OF[$MNT]}
N=500 # per group
LONG=$(printf 'x%.0s' $(seq 180))

echo "== create $((3 * N)) arrays with long names"
check "mkdir g0 g1 g2" mkdir "$M/g0" "$M/g1" "$M/g2"
check "create and write them" "$PY" -c '
import os, sys
m, n, long = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for g in range(3):
    for i in range(n):
        with open(os.path.join(m, "g%d" % g, "%s.%05d" % (long, i)), "wb") as f:
            f.write(b"%d:%d" % (g, i))' "$M" $N "$LONG"
# hold some open the whole time
"$PY" -c '
import os, sys, time
m, n, long = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fds = [os.open(os.path.join(m, "g0", "%s.%05d" % (long, i)), os.O_RDONLY) for i in range(0, n, 10)]
open(sys.argv[4], "w").close()
while os.path.exists(sys.argv[4]):
    time.sleep(0.1)
for i, fd in zip(range(0, n, 10), fds):
    assert os.pread(fd, 64, 0) == b"0:%d" % i, i
    os.close(fd)' "$M" $N "$LONG" "$TMPBASE/holding" >"$TMPBASE/holder.out" 2>&1 &
holder=$!
for ((i = 0; i < 100; i++)); do [ -e "$TMPBASE/holding" ] && break; sleep 0.1; done

echo "== list, stat, read"
for g in 0 1 2; do
	check_eq "ls g$g counts $N" $N "$(ls "$M/g$g" | wc -l)"
	check_eq "ls -la g$g counts $N files" $N "$(ls -la "$M/g$g" | grep -c '^-')"
done
check_eq "find counts them all" $((3 * N)) "$(find "$M" -type f -name 'x*' | wc -l)"
check "read every array twice, in two orders" "$PY" -c '
import os, sys
m, n, long = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for order in (range(n), reversed(range(n))):
    for g in range(3):
        for i in order:
            p = os.path.join(m, "g%d" % g, "%s.%05d" % (long, i))
            with open(p, "rb") as f:
                assert f.read() == b"%d:%d" % (g, i), p
            assert os.stat(p).st_size == len(b"%d:%d" % (g, i)), p' "$M" $N "$LONG"
check "an attribute on every array of g1" "$PY" -c '
import os, sys
m, n, long = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for i in range(n):
    os.setxattr(os.path.join(m, "g1", "%s.%05d" % (long, i)), "user.i", b"%d" % i)
for i in range(n):
    v = os.getxattr(os.path.join(m, "g1", "%s.%05d" % (long, i)), "user.i")
    assert v == b"%d" % i, (i, v)' "$M" $N "$LONG"
check_eq "getfattr -R sees them" $N "$(getfattr -R -n user.i "$M/g1" 2>/dev/null | grep -c '^user.i=')"
fds=$(ls "/proc/$PID/fd" | wc -l)
if [ "$fds" -lt 600 ]; then
	pass "the daemon holds $fds fds (< 600)"
else
	fail "the daemon holds $fds fds"
fi
check_eq "no EMFILE or other error in the daemon log" "" \
	"$(grep -v -e 'Ignoring invalid max threads' "${LOG_OF[$MNT]}" | head -n 5)"

echo "== rename and remove them all"
check "mv g2 into g1" mv "$M/g2" "$M/g1/g2"
check_eq "moved group lists $N" $N "$(ls "$M/g1/g2" | wc -l)"
rm -f "$TMPBASE/holding"
if wait $holder; then
	pass "handles held across the eviction still read"
else
	fail "held handles: $(cat "$TMPBASE/holder.out")"
fi
check "rm -r g0 g1" rm -r "$M/g0" "$M/g1"
check_eq "backing root holds only the seed's nodes" "group1 groupA" \
	"$(cd "$ROOT" && ls | tr '\n' ' ' | sed 's/ $//')"
unmount_hmf "$MNT"
finish
