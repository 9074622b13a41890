#!/bin/bash
# SPDX-License-Identifier: MIT
# crash_rounds.sh - SIGKILL at random moments, many times over.
#
# Workload rounds: a fresh root is mounted, crash_check.py runs random
# operations through it (groups, arrays, writes, truncates, xattrs, dtypes,
# renames, unlinks, rmdirs), logging each one that returned to a fsync'd
# journal, and the daemon is killed with SIGKILL after a random delay.
# Then: the dead mount is unmounted, `hmf fsck` reports nothing but
# temporary leftovers, a remount shows every operation that returned with
# its bytes and nothing else (the one in flight: either state), and the
# leftovers go away, by a remount that finds them old (odd rounds) or by
# `hmf fsck --repair` (even rounds), after which fsck finds the root clean.
#
# Ingest rounds: a CSV of a few hundred thousand rows is ingested (through
# /.hmf/ingest, or by `hmf ingest` without a mount, in turn) and the daemon
# or the tool is killed with SIGKILL during the job: after a remount the
# destination is whole (equal to an uninterrupted ingest, hmf.group_names
# and hmf.group_sizes included) or absent, with the same fsck and cleaning
# checks.
#
# Usage: crash_rounds.sh single|multi [ROUNDS [INGEST_ROUNDS]]
# Environment: HMF_CRASH_ROUNDS (20), HMF_CRASH_INGEST_ROUNDS (10),
# HMF_CRASH_SEED (random; printed, to repeat a run), HMF_CLI (the hmf tool).
. "$(dirname "$0")/lib.sh" "$@"
require_numpy
ROUNDS=${2:-${HMF_CRASH_ROUNDS:-20}}
INGEST_ROUNDS=${3:-${HMF_CRASH_INGEST_ROUNDS:-10}}
SEED=${HMF_CRASH_SEED:-$(((RANDOM << 15) | RANDOM))}
[ -x "${HMF_CLI:-}" ] || fatal "set HMF_CLI to the hmf tool (meson test does)"
CHK="$HERE/crash_check.py"
RANDOM=$SEED
echo "seed $SEED (HMF_CRASH_SEED=$SEED repeats this run)," \
	"$ROUNDS workload rounds, $INGEST_ROUNDS ingest rounds ($MODE)"

# pause MS: sleep MS milliseconds
pause() {
	sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"
}

# kill_daemon MNT: SIGKILL its daemon and reap it. The dead mount stays
# (answering ENOTCONN) until unmount_dead: unmounting it while a client
# still runs would let the client go on in the bare directory below.
kill_daemon() {
	local pid=${PID_OF[$1]} log=${LOG_OF[$1]}
	if ! kill -KILL "$pid" 2>/dev/null; then
		fail "the daemon of $1 died before the kill"
		sed -n '1,40p' "$log"
	fi
	wait "$pid" 2>/dev/null
	no_sanitizer_report "$log"
}

# no_sanitizer_report FILE: the output of a killed process
no_sanitizer_report() {
	if grep -qE 'runtime error|Sanitizer' "$1"; then
		fail "sanitizer report in $1:"
		sed -n '1,60p' "$1"
	fi
}

unmount_dead() {
	fusermount3 -u "$1" 2>/dev/null || fusermount3 -uz "$1" 2>/dev/null ||
		umount -l "$1" 2>/dev/null
	if is_mounted "$1"; then
		fail "cannot unmount the dead mount $1"
	fi
}

# leftovers ROOT: the temporary entries in the tree and in staging
leftovers() {
	{
		find "$1" -path "$1/.hmf.d" -prune -o -name '.hmf.tmp.*' -print -prune
		find "$1/.hmf.d/staging" -mindepth 1 -maxdepth 1 2>/dev/null
	} | sort
}

# fsck_after_crash WHAT ROOT [PATH]: hmf fsck may report leftovers, and
# a stored shape behind the data of PATH (the write in flight), nothing else
fsck_after_crash() {
	local out rc bad n
	out=$("$HMF_CLI" fsck "$2" 2>&1)
	rc=$?
	bad=$(printf '%s\n' "$out" | sed '$d' | grep -v '^leftover ')
	if [ -n "${3:-}" ]; then
		bad=$(printf '%s\n' "$bad" | grep -vF "bad-shape $3: ")
	fi
	n=$(printf '%s\n' "$out" | sed '$d' | grep -c '^leftover ')
	if [ -z "$bad" ] && { [ $rc -eq 0 ] || [ $rc -eq 1 ]; } &&
		[[ $(printf '%s\n' "$out" | tail -n 1) == "$2: "* ]]; then
		pass "$1: fsck finds $n leftovers and nothing else (exit $rc)"
	else
		fail "$1: fsck after the crash (exit $rc): $(short "$out")"
	fi
}

# clean_leftovers WHAT ROOT MNT N [PATH]: remove the leftovers, by a
# remount that finds them old (N odd) or by hmf fsck --repair (N even);
# then fsck must find the root clean. A remount leaves a stored shape
# behind the data of PATH (the write in flight) to fsck --repair.
clean_leftovers() {
	local what=$1 root=$2 mnt=$3 n=$4 path=${5:-} out rc i old
	if [ $((n % 2)) -eq 1 ]; then
		old=$(($(date +%s) - 7200))
		leftovers "$root" | while read -r f; do
			touch -h -d "@$old" "$f"
		done
		mount_hmf "$root" "$mnt"
		for ((i = 0; i < 100; i++)); do
			[ -z "$(leftovers "$root")" ] && break
			sleep 0.1
		done
		check_eq "$what: a remount removed the (backdated) leftovers" "" "$(leftovers "$root")"
		unmount_hmf "$mnt"
		out=$("$HMF_CLI" fsck "$root" 2>&1)
		if [ -n "$path" ] && [[ $out == *"bad-shape $path: "* ]]; then
			check "$what: fsck --repair stores the shape of $path" \
				"$HMF_CLI" fsck --repair "$root"
		fi
	else
		out=$("$HMF_CLI" fsck --repair "$root" 2>&1)
		rc=$?
		if [ $rc -eq 0 ]; then
			pass "$what: fsck --repair"
		else
			fail "$what: fsck --repair exited $rc: $(short "$out")"
		fi
		check_eq "$what: no leftovers after fsck --repair" "" "$(leftovers "$root")"
	fi
	out=$("$HMF_CLI" fsck "$root" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && [[ $out == *": clean" ]]; then
		pass "$what: fsck finds the root clean"
	else
		fail "$what: fsck (exit $rc): $(short "$out")"
	fi
}

echo "== close(), then SIGKILL at once: the shape is stored (5 times)"
# close() waits for FUSE's flush, not for its release (sent in the
# background): the shape must be stored by the time close() returns
for ((r = 1; r <= 5; r++)); do
	root=$(new_dir root)
	mnt=$(new_dir mnt)
	mount_hmf "$root" "$mnt" -o create
	check "write 4 KiB to a new array, close, kill -9 the daemon" "$PY" -c '
import os, signal, sys
p = sys.argv[1] + "/a"
fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"x" * 4096)
os.close(fd)
os.kill(int(sys.argv[2]), signal.SIGKILL)' "$mnt" "${PID_OF[$mnt]}"
	wait "${PID_OF[$mnt]}" 2>/dev/null
	no_sanitizer_report "${LOG_OF[$mnt]}"
	unmount_dead "$mnt"
	check "... fsck finds the shape stored (try $r)" "$HMF_CLI" fsck "$root"
	rm -rf --one-file-system "$root"
done

echo "== workload rounds"
# the journals on a tmpfs when there is one: a fsync there costs little,
# so the kill mostly finds the workload inside an operation, not in fsync
JDIR=$TMPBASE
if [ -d /dev/shm ] && [ -w /dev/shm ] && JDIR=$(mktemp -d /dev/shm/hmf-journal.XXXXXX); then
	trap 'rc=$?; rm -rf "$JDIR"; (exit $rc); cleanup' EXIT
else
	JDIR=$TMPBASE
fi
NOPS=0
INFLIGHT=0
for ((r = 1; r <= ROUNDS; r++)); do
	what="round $r"
	root=$(new_dir root)
	mnt=$(new_dir mnt)
	journal="$JDIR/journal.$r"
	mount_hmf "$root" "$mnt" -o create
	"$PY" "$CHK" run "$mnt" "$journal" $((SEED + r)) >"$TMPBASE/wl.$r.out" 2>&1 &
	wl=$!
	ms=$((100 + RANDOM % 1400))
	pause $ms
	kill_daemon "$mnt"
	wait $wl
	rc=$?
	unmount_dead "$mnt"
	if [ $rc -ne 0 ]; then
		fail "$what: the workload failed before the kill: $(short "$(cat "$TMPBASE/wl.$r.out")")"
		echo "the journal's end:"
		tail -n 16 "$journal" | cut -c1-200
	fi
	inflight=$("$PY" "$CHK" inflight "$journal")
	fsck_after_crash "$what (killed after $ms ms)" "$root" "$inflight"
	mount_hmf "$root" "$mnt"
	out=$("$PY" "$CHK" verify "$mnt" "$journal" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		pass "$what: $out"
	else
		fail "$what: the remount differs from the journal (seed $((SEED + r))): $out"
		echo "the journal's end:"
		tail -n 16 "$journal" | cut -c1-200
	fi
	NOPS=$((NOPS + $(grep -c '"t": "D"' "$journal")))
	[[ $out == *"in flight: "* ]] && INFLIGHT=$((INFLIGHT + 1))
	check "$what: the remount takes writes" sh -c "printf after >'$mnt/after'"
	unmount_hmf "$mnt"
	clean_leftovers "$what" "$root" "$mnt" "$r" "$inflight"
	rm -rf --one-file-system "$root" "$journal"
done
echo "$ROUNDS rounds, $NOPS operations returned before the kills," \
	"$INFLIGHT rounds killed with an operation in flight"

echo "== ingest rounds"
SRC=$(new_dir src)
CSV="$SRC/t.csv"
"$PY" "$CHK" make-csv "$CSV" 300000 "$SEED" || fatal "make-csv failed"
REQ="{\"source\":\"$CSV\",\"dest\":\"/dest\",\"arrays\":{\"v\":[\"t\",\"x\"],\"ids\":\"id\",\"s\":\"s\"},\"groupby\":\"g\",\"orderby\":\"t\",\"threads\":2}"
printf '%s' "$REQ" >"$SRC/req.json"

# the reference: the same ingest, not interrupted
REF=$(new_dir ref)
REFMNT=$(new_dir refmnt)
check "hmf init (reference)" "$HMF_CLI" init "$REF"
t0=$(date +%s%N)
check "hmf ingest (reference)" "$HMF_CLI" ingest -q "$REF" "$SRC/req.json"
T=$((($(date +%s%N) - t0) / 1000000))
echo "an uninterrupted ingest takes $T ms"
mount_hmf "$REF" "$REFMNT"
check_eq "reference: hmf.group_names" "$("$PY" -c 'print("[" + ",".join("\"%d\"" % i for i in range(50)) + "]")')" \
	"$(xattr_of "$REFMNT/dest" user.hmf.group_names)"
check_eq "reference: hmf.group_sizes" "$("$PY" -c '
import numpy as np, sys
g = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1, usecols=1, dtype=np.int64)
print("[" + ",".join(str(n) for n in np.bincount(g, minlength=50)) + "]")' "$CSV")" \
	"$(xattr_of "$REFMNT/dest" user.hmf.group_sizes)"
check_eq "reference: rows of group 7" "$(xattr_of "$REFMNT/dest" user.hmf.group_sizes | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[7])')" \
	"$(xattr_of "$REFMNT/dest/7/ids" user.hmf.shape | tr -d '[]')"
check "reference: signature" "$PY" "$CHK" sig "$REFMNT" /dest "$SRC/ref.json"
unmount_hmf "$REFMNT"

WHOLE=0
ABSENT=0
for ((r = 1; r <= INGEST_ROUNDS; r++)); do
	root=$(new_dir root)
	mnt=$(new_dir mnt)
	ms=$((RANDOM % (T * 3 / 2 + 1)))
	if [ $((r % 2)) -eq 1 ]; then
		ms=$((ms + 50)) # python's start
		what="ingest round $r (through the mount, killed after $ms ms)"
		mount_hmf "$root" "$mnt" -o create
		"$PY" "$CHK" submit "$mnt/.hmf/ingest" "$REQ" >"$TMPBASE/sub.$r.out" 2>&1 &
		sub=$!
		pause $ms
		kill_daemon "$mnt"
		wait $sub 2>/dev/null
		rc=$?
		unmount_dead "$mnt"
		# 0: it was done before the kill; 3: the connection was lost
		if [ $rc -ne 0 ] && [ $rc -ne 3 ]; then
			fail "$what: the request failed: $(short "$(cat "$TMPBASE/sub.$r.out")")"
		fi
	else
		what="ingest round $r (hmf ingest, killed after $ms ms)"
		"$HMF_CLI" init "$root" >/dev/null || fatal "hmf init $root failed"
		"$HMF_CLI" ingest -q "$root" "$SRC/req.json" >"$TMPBASE/sub.$r.out" 2>&1 &
		sub=$!
		pause $ms
		kill -KILL $sub 2>/dev/null
		wait $sub 2>/dev/null
		rc=$?
		if [ $rc -ne 0 ] && [ $rc -ne 137 ]; then
			fail "$what: hmf ingest exited $rc: $(short "$(cat "$TMPBASE/sub.$r.out")")"
		fi
		no_sanitizer_report "$TMPBASE/sub.$r.out"
	fi
	fsck_after_crash "$what" "$root"
	mount_hmf "$root" "$mnt"
	out=$("$PY" "$CHK" cmpsig "$mnt" /dest "$SRC/ref.json" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		pass "$what: the destination is $out"
		case $out in
		whole*) WHOLE=$((WHOLE + 1)) ;;
		absent) ABSENT=$((ABSENT + 1)) ;;
		esac
	else
		fail "$what: $out"
	fi
	check_eq "$what: nothing else in the tree" "" "$(find "$mnt" -mindepth 1 -maxdepth 1 ! -name dest)"
	unmount_hmf "$mnt"
	clean_leftovers "$what" "$root" "$mnt" $((r / 2))
	rm -rf --one-file-system "$root"
done
echo "$INGEST_ROUNDS ingest rounds: $WHOLE whole, $ABSENT absent"
finish
