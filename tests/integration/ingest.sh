#!/bin/bash
# SPDX-License-Identifier: MIT
# ingest.sh - bulk ingest through the control file /.hmf/ingest: results
# equal to pandas (CSV with quoting, CRLF, empty fields; structured NPY),
# jobs from several clients at once, refused requests with their errno and
# a readable message, failures (unknown column, unreadable source,
# malformed row, full disk) that leave no trace, a user who cannot read a
# source cannot ingest it, readers listing the destination meanwhile, and
# a client interrupted while it waits for the answer.
# Usage: ingest.sh single|multi
. "$(dirname "$0")/lib.sh" "$@"
require_numpy
"$PY" -c 'import pandas' 2>/dev/null || skip_or_fail "no pandas for $PY"

CHECK="$HERE/ingest_check.py"
ROOT=$(new_dir root)
MNT=$(new_dir mnt)
SRC=$(new_dir src)
mount_hmf "$ROOT" "$MNT" -o create,allow_other

# submit JSON [MOUNT]: one request on one handle; prints the answer, fails
# on a refused write (the errno's text goes to stderr)
submit() {
	"$PY" - "${2:-$MNT}/.hmf/ingest" "$1" <<'PYEOF'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    os.write(fd, sys.argv[2].encode())
except OSError as e:
    print("refused: %s; %s" % (e.strerror, os.read(fd, 65536).decode()), file=sys.stderr)
    sys.exit(1)
answer = os.read(fd, 65536).decode()
print(answer)
sys.exit(0 if '"state":"done"' in answer else 1)
PYEOF
}

# tree_of DIR: every path below DIR, for "no trace" comparisons
tree_of() {
	(cd "$1" && find . | sort)
}

echo "== equivalence with pandas"
"$PY" "$CHECK" make-csv "$SRC/t.csv" 1 3000
"$PY" "$CHECK" make-npy "$SRC/t.npy" 2 3000
ARRAYS='{"fr":["f","r"],"s":"s","mix":["id","small","t"],"ids":"id"}'
check "CSV, groupby g, orderby t descending" submit \
	"{\"source\":\"$SRC/t.csv\",\"dest\":\"/csv\",\"arrays\":$ARRAYS,\"groupby\":\"g\",\"orderby\":\"t\",\"ascending\":false}"
check "... equal to pandas" "$PY" "$CHECK" check "$MNT" /csv "$SRC/t.csv" g t false "$ARRAYS"
check "CSV, no groupby, orderby r" submit \
	"{\"source\":\"$SRC/t.csv\",\"dest\":\"/flat\",\"arrays\":$ARRAYS,\"orderby\":\"r\"}"
check "... equal to pandas" "$PY" "$CHECK" check "$MNT" /flat "$SRC/t.csv" "" r true "$ARRAYS"
NARR='{"fr":["f","r","small"],"ids":"id","g":"g"}'
check "NPY (structured), groupby g, orderby f" submit \
	"{\"source\":\"$SRC/t.npy\",\"dest\":\"/npy\",\"arrays\":$NARR,\"groupby\":\"g\",\"orderby\":\"f\"}"
check "... equal to numpy + pandas" "$PY" "$CHECK" check "$MNT" /npy "$SRC/t.npy" g f true "$NARR"
check_eq "hmf.group_sizes on dest" "$("$PY" -c '
import pandas as pd, sys, json
print(json.dumps(pd.read_csv(sys.argv[1]).groupby("g").size().tolist(), separators=(",", ":")))' "$SRC/t.csv")" \
	"$(xattr_of "$MNT/csv" user.hmf.group_sizes)"
check "jobs/1 is done" grep -q '"state":"done"' "$MNT/.hmf/jobs/1"

echo "== several clients at once"
JOBS=()
for i in 1 2 3 4; do
	submit "{\"source\":\"$SRC/t.csv\",\"dest\":\"/par$i\",\"arrays\":{\"x\":[\"f\",\"r\"]},\"groupby\":\"g\",\"orderby\":\"t\"}" \
		>"$TMPBASE/par$i.out" 2>&1 &
	JOBS+=($!)
done
wait "${JOBS[@]}" # not a bare wait: the daemon is our child too
for i in 1 2 3 4; do
	check "parallel job $i done" grep -q '"state":"done"' "$TMPBASE/par$i.out"
	check "parallel job $i equal to pandas" "$PY" "$CHECK" check "$MNT" "/par$i" "$SRC/t.csv" g t true '{"x":["f","r"]}'
done

echo "== refused requests: errno and message"
check_fails "echo 'not json' > ingest: EINVAL" "Invalid argument" \
	bash -c "echo 'not json' > '$MNT/.hmf/ingest'"
BEFORE=$(tree_of "$ROOT")
check_fails "unknown column: EINVAL" "no column 'nope'" submit \
	"{\"source\":\"$SRC/t.csv\",\"dest\":\"/u\",\"arrays\":{\"a\":\"nope\"}}"
check_fails "missing source: ENOENT" "No such file or directory" submit \
	"{\"source\":\"$SRC/missing.csv\",\"dest\":\"/u\",\"arrays\":{\"a\":\"f\"}}"
check_fails "existing array without overwrite: EEXIST" "File exists" submit \
	"{\"source\":\"$SRC/t.csv\",\"dest\":\"/flat\",\"arrays\":{\"ids\":\"id\"}}"
printf 'a,b\n1,2\n3\n4,5\n' >"$SRC/bad.csv"
check_fails "malformed row: the job fails and names line 3" "line 3" submit \
	"{\"source\":\"$SRC/bad.csv\",\"dest\":\"/bad\",\"arrays\":{\"a\":\"a\"}}"
check_fails "strings and numbers in one array: EINVAL" "do not mix" submit \
	"{\"source\":\"$SRC/t.csv\",\"dest\":\"/mix\",\"arrays\":{\"a\":[\"s\",\"f\"]}}"
check_eq "failed requests left no trace" "$BEFORE" "$(tree_of "$ROOT")"
check_eq "no staging leftovers" "" "$(ls "$ROOT/.hmf.d/staging" 2>/dev/null)"

echo "== a user who cannot read a source cannot ingest it"
cp "$SRC/t.csv" "$SRC/private.csv"
chmod 600 "$SRC/private.csv"
chmod 755 "$SRC"
chmod 1777 "$MNT"
check_fails "nobody: unreadable source refused with EACCES" "Permission denied" \
	setpriv --reuid 65534 --regid 65534 --clear-groups -- "$PY" -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
os.write(fd, sys.argv[2].encode())' "$MNT/.hmf/ingest" \
	"{\"source\":\"$SRC/private.csv\",\"dest\":\"/nobody\",\"arrays\":{\"a\":\"f\"}}"
chmod 644 "$SRC/private.csv"
check "nobody: a readable source is ingested" setpriv --reuid 65534 --regid 65534 --clear-groups -- "$PY" -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
os.write(fd, sys.argv[2].encode())
assert b"\"done\"" in os.read(fd, 65536)' "$MNT/.hmf/ingest" \
	"{\"source\":\"$SRC/private.csv\",\"dest\":\"/nobody\",\"arrays\":{\"a\":\"f\"}}"
check_eq "... and the arrays belong to nobody" "65534" "$(stat -c %u "$ROOT/nobody/a/data")"

echo "== readers list the destination while a job runs"
"$PY" "$CHECK" make-csv "$SRC/big.csv" 3 200000
submit "{\"source\":\"$SRC/big.csv\",\"dest\":\"/big\",\"arrays\":{\"x\":[\"f\",\"r\"],\"s\":\"s\"},\"groupby\":\"g\",\"orderby\":\"t\",\"threads\":2}" \
	>"$TMPBASE/big.out" 2>&1 &
JOB=$!
for i in $(seq 50); do
	ls -R "$MNT/big" >/dev/null 2>&1
	cat "$MNT/.hmf/stats" >/dev/null
done
wait $JOB
check "the job finished" grep -q '"state":"done"' "$TMPBASE/big.out"
check "... equal to pandas" "$PY" "$CHECK" check "$MNT" /big "$SRC/big.csv" g t true '{"x":["f","r"],"s":"s"}'

echo "== Ctrl-C while waiting for the answer: EINTR at once, the job goes on"
# A thread signals the waiting reader as soon as /.hmf/jobs/<id> says
# "running"; without an interrupt callback the read would only return when
# the job ends, with its answer. A job that finishes before the signal
# (a fast machine) is retried on a table twice the size.
"$PY" -c '
import sys, numpy as np
n = 1000000
a = np.arange(n, dtype=np.int64)
np.savetxt(sys.argv[1], np.stack([a, a % 97, a * 7 % 1000003], 1),
           fmt="%d", delimiter=",", header="i,g,v", comments="")' "$SRC/ctrlc.csv"
interrupted=$(
	"$PY" - "$MNT" "$SRC/ctrlc.csv" <<'PYEOF'
import json, os, signal, sys, threading, time
import numpy as np
mnt, src = sys.argv[1], sys.argv[2]
jobs = os.path.join(mnt, '.hmf', 'jobs')
armed = False
class Stop(Exception):
    pass
def on_signal(sig, frame):
    if armed:
        raise Stop()
signal.signal(signal.SIGUSR1, on_signal)
def state_of(jobfile):
    return json.load(open(jobfile))['state']
for attempt in range(4):
    before = set(os.listdir(jobs))
    fd = os.open(os.path.join(mnt, '.hmf', 'ingest'), os.O_RDWR)
    os.write(fd, json.dumps({'source': src, 'dest': '/ctrlc%d' % attempt,
                             'arrays': {'v': ['i', 'v']}, 'groupby': 'g',
                             'orderby': 'v', 'threads': 1}).encode())
    jobfile = os.path.join(jobs, (set(os.listdir(jobs)) - before).pop())
    done = threading.Event()
    def watch():
        # signal the reader once the job runs, again until it reacts
        while not done.is_set() and state_of(jobfile) in ('queued', 'running'):
            if state_of(jobfile) == 'running':
                time.sleep(0.05)  # the reader is in read() by then
                signal.pthread_kill(threading.main_thread().ident,
                                    signal.SIGUSR1)
            else:
                time.sleep(0.001)
    armed = True
    t = threading.Thread(target=watch)
    t.start()
    try:
        result = 'answered: ' + os.read(fd, 65536).decode()[:60]
    except Stop:
        result = 'EINTR'
    armed = False
    state = state_of(jobfile)  # still running if the read did not wait
    done.set()
    t.join()
    os.close(fd)
    while state_of(jobfile) == 'running':
        time.sleep(0.05)
    if result == 'EINTR' and state != 'running':
        result = 'EINTR, but only once the job was %s' % state
    if not result.startswith('answered') or state == 'running':
        break
    # the job ended before the signal: a table twice the size
    n = 2000000 << attempt
    i = np.arange(n, dtype=np.int64)
    np.savetxt(src, np.stack([i, i % 97, i * 7 % 1000003], 1), fmt='%d',
               delimiter=',', header='i,g,v', comments='')
print(result, 'and the job is %s' % state_of(jobfile))
print('attempts:', attempt + 1, file=sys.stderr)
PYEOF
)
check_eq "the waiting read is interrupted while the job runs" \
	"EINTR and the job is done" "$interrupted"

echo "== a source truncated while its job reads it: the job fails, the daemon lives"
# (the readers map the source: without the guard the read past the new
# end is a SIGBUS that kills the daemon)
outcomes=
for i in 1 2 3; do
	cp "$SRC/ctrlc.csv" "$SRC/shrink.csv"
	submit "{\"source\":\"$SRC/shrink.csv\",\"dest\":\"/shrink$i\",\"arrays\":{\"v\":[\"i\",\"v\"]},\"groupby\":\"g\",\"threads\":1}" \
		>"$TMPBASE/shrink.out" 2>&1 &
	job=$!
	sleep "0.0$((i * 2))"
	truncate -s 100 "$SRC/shrink.csv"
	wait $job
	if grep -q '"state":"done"' "$TMPBASE/shrink.out"; then
		outcomes+=" done"
	elif grep -q '"state":"failed"' "$TMPBASE/shrink.out"; then
		outcomes+=" failed"
		check "... a failed job left no /shrink$i" test ! -e "$MNT/shrink$i"
	else
		outcomes+=" lost"
		cat "$TMPBASE/shrink.out" >&2
	fi
done
echo "outcomes:$outcomes"
check "the daemon answers after the truncations" test -f "$MNT/.hmf/stats"
check "no job was lost with the daemon" sh -c "! echo '$outcomes' | grep -q lost"
unmount_hmf "$MNT"

echo "== a full disk: ENOSPC, nothing left, nothing damaged"
TINY=$(new_dir tiny)
if mount -t tmpfs -o size=6m tmpfs "$TINY" 2>/dev/null; then
	MOUNTS+=("$TINY")
	MNT2=$(new_dir mnt2)
	mount_hmf "$TINY" "$MNT2" -o create
	check "a small first ingest" submit \
		"{\"source\":\"$SRC/t.csv\",\"dest\":\"/small\",\"arrays\":{\"x\":[\"f\",\"r\"]}}" "$MNT2"
	BEFORE=$(tree_of "$TINY")
	SUM=$(md5sum "$TINY/small/x/data")
	check_fails "a big ingest fails with ENOSPC" "No space left" submit \
		"{\"source\":\"$SRC/big.csv\",\"dest\":\"/big\",\"arrays\":{\"x\":[\"f\",\"r\",\"t\"],\"y\":[\"id\",\"g\"]},\"groupby\":\"g\"}" "$MNT2"
	check_eq "... left no trace" "$BEFORE" "$(tree_of "$TINY")"
	check_eq "... and the first is intact" "$SUM" "$(md5sum "$TINY/small/x/data")"
	unmount_hmf "$MNT2"
	umount "$TINY"
else
	fail "cannot mount a tmpfs for the full-disk check"
fi
finish
