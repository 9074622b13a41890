# SPDX-License-Identifier: MIT
# lib.sh - shared helpers of the integration tests (sourced, never run).
#
# A test script does:
#	. "$(dirname "$0")/lib.sh" "$@"    # $1: single | multi
#	ROOT=$(new_dir root); MNT=$(new_dir mnt)
#	make_sample_root "$ROOT"
#	mount_hmf "$ROOT" "$MNT" [-o options]
#	check "what" some command ...
#	unmount_hmf "$MNT"
#	finish
#
# Environment: HMF_MOUNT (the daemon), HMF_GETTING_STARTED (the example
# that builds the seed's sample root); meson passes both. CI set: a
# missing FUSE is a failure, not a skip.
#
# Every check reports "ok: ..." or "FAIL: ..." and the script goes on;
# finish exits 1 when any check failed. A fatal helper error exits at once.
# An EXIT trap always unmounts every mount this script made (fusermount3 -u,
# else umount -l), kills its daemons and removes its temporary directories.

set -u
set -o pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3 # the python3 first on PATH may lack numpy
OP="$HERE/op.py"
SRCROOT=$(cd "$HERE/../.." && pwd)
# no default build directory: a stale binary must never be tested by mistake
if [ -z "${HMF_MOUNT:-}" ] || [ -z "${HMF_GETTING_STARTED:-}" ]; then
	echo "FAIL: set HMF_MOUNT and HMF_GETTING_STARTED (meson test does)," \
		"e.g. HMF_MOUNT=$SRCROOT/build/src/fuse/hmf-mount" >&2
	exit 1
fi

MODE=${1:-multi}
case $MODE in
single) THREAD_OPTS=(-s) ;;
multi) THREAD_OPTS=() ;;
*)
	echo "usage: $0 single|multi" >&2
	exit 2
	;;
esac

FAILS=0
CHECKS=0
MOUNTS=()
PIDS=()
NDAEMON=0
TMPBASE=
declare -A PID_OF LOG_OF
DAEMON_PREFIX=() # a command that execs the daemon, e.g. (prlimit --nofile=N:N --)

# ---- skipping -----------------------------------------------------------

skip_or_fail() {
	if [ -n "${CI:-}" ]; then
		echo "FAIL: $* (CI is set: these machines must have it)" >&2
		exit 1
	fi
	echo "SKIP: $*"
	exit 77
}

require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip_or_fail "no $c"
	done
}

require_numpy() {
	"$PY" -c 'import numpy' 2>/dev/null || skip_or_fail "no numpy for $PY"
}

[ -c /dev/fuse ] || skip_or_fail "no /dev/fuse"
require_cmd fusermount3 mountpoint
[ -x "$HMF_MOUNT" ] || {
	echo "FAIL: HMF_MOUNT=$HMF_MOUNT is not executable" >&2
	exit 1
}

# ---- reporting ----------------------------------------------------------

pass() {
	CHECKS=$((CHECKS + 1))
	echo "ok: $*"
}

fail() {
	CHECKS=$((CHECKS + 1))
	FAILS=$((FAILS + 1))
	echo "FAIL: $*"
}

fatal() {
	echo "FATAL: $*" >&2
	FAILS=$((FAILS + 1))
	exit 1
}

# check DESC CMD...: CMD must succeed.
check() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		pass "$desc"
	else
		fail "$desc: '$*' exited $rc: $out"
	fi
}

# check_fails DESC MESSAGE CMD...: CMD must fail and print MESSAGE (the
# strerror text of the expected errno, e.g. "Read-only file system").
check_fails() {
	local desc=$1 msg=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && [[ $out == *"$msg"* ]]; then
		pass "$desc"
	else
		fail "$desc: '$*' exited $rc, expected a failure with '$msg', printed: $out"
	fi
}

# short TEXT: TEXT cut to 400 characters for a message.
short() {
	if [ ${#1} -gt 400 ]; then
		echo "${1:0:400}...(${#1} characters)"
	else
		echo "$1"
	fi
}

# check_eq DESC EXPECTED ACTUAL
check_eq() {
	if [ "$2" == "$3" ]; then
		pass "$1"
	else
		fail "$1: expected '$(short "$2")', got '$(short "$3")'"
	fi
}

# op OP ARGS...: one syscall through op.py; prints OK [result] or an errno.
op() {
	"$PY" "$OP" "$@"
}

# expect DESC RESULT OP ARGS...: op.py must print RESULT (OK, EPERM, ...;
# "OK <hex>" for queries).
expect() {
	local desc=$1 want=$2 got
	shift 2
	got=$(op "$@" 2>&1)
	check_eq "$desc [$*]" "$want" "$got"
}

# same_bytes DESC FILE1 FILE2: byte-identical (cmp).
same_bytes() {
	local out
	if out=$(cmp "$2" "$3" 2>&1); then
		pass "$1"
	else
		fail "$1: $out"
	fi
}

# hexof STRING: the hex of the bytes of STRING (no newline).
hexof() {
	printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'
}

# xattr_of PATH NAME: the value (raw text) of one xattr, or an errno name.
xattr_of() {
	local r
	r=$(op getxattr "$1" "$2")
	if [[ $r == OK* ]]; then
		r=${r#OK}
		r=${r# }
		"$PY" -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]))' "$r"
	else
		echo "$r"
	fi
}

# meta_of FILE KEY: one key of a backing .hmf, as compact JSON.
meta_of() {
	"$PY" -c 'import json, sys
try:
    m = json.load(open(sys.argv[1]))
    print(json.dumps(m.get(sys.argv[2]), separators=(",", ":")))
except Exception as e:
    print("ERROR %s" % e)' "$1" "$2"
}

finish() {
	if [ "$FAILS" -ne 0 ]; then
		echo "$FAILS of $CHECKS checks FAILED ($MODE)"
		exit 1
	fi
	echo "all $CHECKS checks passed ($MODE)"
	exit 0
}

# ---- temporary directories ------------------------------------------------

TMPBASE=$(mktemp -d "${TMPDIR:-/tmp}/hmf-integ.XXXXXX") ||
	fatal "mktemp failed"
chmod 0755 "$TMPBASE" # other users (allow_other tests) traverse it

# new_dir NAME: a fresh directory under this test's temporary base.
new_dir() {
	local d
	d=$(mktemp -d "$TMPBASE/$1.XXXXXX") || fatal "mktemp failed"
	chmod 0755 "$d"
	echo "$d"
}

# make_sample_root DIR: the seed's getting-started root.
make_sample_root() {
	rmdir "$1" 2>/dev/null
	"$HMF_GETTING_STARTED" "$1" >/dev/null ||
		fatal "$HMF_GETTING_STARTED $1 failed"
}

# ---- mounting ------------------------------------------------------------

is_mounted() {
	awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts
}

# mount_hmf ROOT MNT [daemon options...]: start the daemon (after
# DAEMON_PREFIX, which must exec it) in the foreground in the background,
# with -s in single mode; wait (10 s at most)
# until MNT is live. Sets DAEMON_PID and DAEMON_LOG (its stderr).
mount_hmf() {
	local root=$1 mnt=$2 pid log i rc
	shift 2
	mkdir -p "$mnt"
	NDAEMON=$((NDAEMON + 1))
	log="$TMPBASE/daemon.$NDAEMON.log"
	echo "+ ${DAEMON_PREFIX[*]} hmf-mount $root $mnt -f ${THREAD_OPTS[*]} $*" >&2
	"${DAEMON_PREFIX[@]}" "$HMF_MOUNT" "$root" "$mnt" -f "${THREAD_OPTS[@]}" "$@" 2>"$log" &
	pid=$!
	MOUNTS+=("$mnt")
	PIDS+=("$pid")
	PID_OF[$mnt]=$pid
	LOG_OF[$mnt]=$log
	for ((i = 0; i < 100; i++)); do
		if is_mounted "$mnt" && mountpoint -q "$mnt"; then
			DAEMON_PID=$pid
			DAEMON_LOG=$log
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			rc=$?
			echo "daemon log:" >&2
			cat "$log" >&2
			fatal "hmf-mount $root $mnt $* exited ($rc) before mounting"
		fi
		sleep 0.1
	done
	cat "$log" >&2
	fatal "$mnt not mounted after 10 s"
}

# check_log_clean LOG: no sanitizer report in a daemon's stderr.
check_log_clean() {
	if grep -qE 'runtime error|AddressSanitizer|LeakSanitizer|ThreadSanitizer|ERROR: .*Sanitizer' "$1"; then
		fail "sanitizer report in the daemon log $1:"
		sed -n '1,60p' "$1"
	fi
}

# unmount_hmf MNT: unmount cleanly, wait (60 s at most) for the daemon,
# which must exit 0 with a clean log.
unmount_hmf() {
	local mnt=$1 pid log i rc out
	pid=${PID_OF[$mnt]}
	log=${LOG_OF[$mnt]}
	if ! out=$(fusermount3 -u "$mnt" 2>&1); then
		fail "fusermount3 -u $mnt: $out"
		return 1
	fi
	# it flushes the root before exiting: allow for a slow, busy disk
	for ((i = 0; i < 600; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		fail "daemon $pid still running 60 s after unmounting $mnt"
		return 1
	fi
	wait "$pid"
	rc=$?
	if [ $rc -ne 0 ]; then
		fail "daemon of $mnt exited $rc after unmount"
	fi
	check_log_clean "$log"
	return 0
}

cleanup() {
	local rc=$? i mnt pid
	trap - EXIT INT TERM HUP
	for mnt in "${MOUNTS[@]}"; do
		if is_mounted "$mnt"; then
			fusermount3 -u "$mnt" 2>/dev/null ||
				fusermount3 -uz "$mnt" 2>/dev/null ||
				umount -l "$mnt" 2>/dev/null ||
				echo "cleanup: cannot unmount $mnt" >&2
		fi
	done
	for pid in "${PIDS[@]}"; do
		kill -0 "$pid" 2>/dev/null || continue
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
	done
	wait 2>/dev/null
	for mnt in "${MOUNTS[@]}"; do
		is_mounted "$mnt" && umount -l "$mnt" 2>/dev/null
	done
	if [ $rc -ne 0 ] || [ "$FAILS" -ne 0 ]; then
		for log in "$TMPBASE"/daemon.*.log; do
			[ -s "$log" ] || continue
			echo "---- $log (last 40 lines)"
			tail -n 40 "$log"
		done
	fi
	if [ -n "$TMPBASE" ] && [ -d "$TMPBASE" ]; then
		# never recurse into a mount that is still there
		rm -rf --one-file-system "$TMPBASE"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
