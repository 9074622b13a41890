#!/bin/bash
# SPDX-License-Identifier: MIT
# twomounts.sh - two mounts of one root (default short timeouts, no
# -o exclusive) agree: what one writes, renames, replaces or removes, the
# other sees once the 1 s kernel cache timeout has passed (attributes
# and xattrs, which the kernel does not cache, at once); and when both
# create one new name at the same moment, exactly one wins (EEXIST).
# Usage: twomounts.sh single|multi
. "$(dirname "$0")/lib.sh" "$@"
require_cmd getfattr setfattr

ROOT=$(new_dir root)
MNT1=$(new_dir mnt1)
MNT2=$(new_dir mnt2)
W=$(new_dir work)
make_sample_root "$ROOT"
mount_hmf "$ROOT" "$MNT1"
mount_hmf "$ROOT" "$MNT2"
A=$MNT1
B=$MNT2
settle() { sleep 1.3; } # past the 1 s entry/attribute timeout

echo "== data"
head -c 300000 /dev/urandom >"$W/v1"
head -c 300000 /dev/urandom >"$W/v2"
cp "$W/v1" "$A/groupA/f"
settle
same_bytes "B reads what A wrote" "$W/v1" "$B/groupA/f"
check "A overwrites it in place (same size)" cp "$W/v2" "$A/groupA/f"
settle
same_bytes "B's cached pages were dropped" "$W/v2" "$B/groupA/f"
check "A patches the middle (notrunc)" dd if="$W/v1" of="$A/groupA/f" bs=4096 seek=10 skip=10 count=3 conv=notrunc status=none
dd if="$W/v1" of="$W/v2" bs=4096 seek=10 skip=10 count=3 conv=notrunc status=none
settle
same_bytes "B sees the patch" "$W/v2" "$B/groupA/f"
check "A appends" sh -c "printf tail >>'$A/groupA/f'"
settle
check_eq "B sees the new size" 300004 "$(stat -c %s "$B/groupA/f")"
check_eq "B reads the tail" tail "$(tail -c 4 "$B/groupA/f")"
check "A truncates" truncate -s 1000 "$A/groupA/f"
settle
check_eq "B sees the truncation" 1000 "$(stat -c %s "$B/groupA/f")"
check_eq "B reads 1000 bytes" 1000 "$(wc -c <"$B/groupA/f")"

echo "== metadata"
check "A sets an attribute" setfattr -n user.k -v fromA "$A/groupA"
check_eq "B sees it at once" fromA "$(xattr_of "$B/groupA" user.k)"
check "B replaces it" setfattr -n user.k -v fromB "$B/groupA"
check_eq "A sees the new value" fromB "$(xattr_of "$A/groupA" user.k)"
check "A sets the dtype" setfattr -n user.hmf.dtype -v '<i8' "$A/groupA/f"
check_eq "B sees the layout at once" '{"dtype":"<i8","shape":[125],"order":"C"}' \
	"$(xattr_of "$B/groupA/f" user.hmf.meta)"
check "A: mkdir" mkdir "$A/newgroup"
settle
check "B sees the group" test -d "$B/newgroup"
check "B: mkdir inside it" mkdir "$B/newgroup/sub"
settle
check_eq "A lists it" sub "$(ls "$A/newgroup")"
check "A: chmod" chmod 0600 "$A/groupA/f"
settle
check_eq "B sees the mode" 600 "$(stat -c %a "$B/groupA/f")"

echo "== renames, replacements, removals"
check "A: mv f g" mv "$A/groupA/f" "$A/groupA/g"
settle
expect "B: the old name is gone" ENOENT stat "$B/groupA/f"
check_eq "B: the new name has the data" 1000 "$(stat -c %s "$B/groupA/g")"
printf 'replacement' >"$W/r"
cp "$W/r" "$A/groupA/r"
check "B reads g (caching it)" sh -c "cat '$B/groupA/g' >/dev/null"
check "A: mv r over g" mv -f "$A/groupA/r" "$A/groupA/g"
settle
same_bytes "B reads the replacement" "$W/r" "$B/groupA/g"
check_eq "B sees the replacement's layout" '{"dtype":"|u1","shape":[11],"order":"C"}' \
	"$(xattr_of "$B/groupA/g" user.hmf.meta)"
check "A: rm g" rm "$A/groupA/g"
settle
expect "B: removed" ENOENT stat "$B/groupA/g"
check "A: rm -r newgroup" rm -r "$A/newgroup"
settle
expect "B: removed group" ENOENT stat "$B/newgroup"
check "B can create the name again" mkdir "$B/newgroup"
settle
check "A sees it" test -d "$A/newgroup"

echo "== concurrent creates of one name through both mounts"
# 200 rounds: a process per mount creates the same new name at once
# (O_CREAT|O_EXCL for arrays, mkdir for groups); exactly one may win, the
# other gets EEXIST, and both mounts then agree on the winner's bytes.
race_out=$(
	"$PY" - "$A" "$B" <<'PYEOF'
import errno, os, sys
a, b = sys.argv[1], sys.argv[2]
os.mkdir(os.path.join(a, 'race'))
bad = []
for i in range(200):
    kind = 'array' if i % 2 == 0 else 'group'
    name = 'n%03d' % i
    r, w = os.pipe()
    pids = []
    for side, mnt in (('A', a), ('B', b)):
        pid = os.fork()
        if pid == 0:
            os.close(w)
            os.read(r, 1)  # start together
            path = os.path.join(mnt, 'race', name)
            try:
                if kind == 'array':
                    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                    os.write(fd, side.encode() * 64)
                    os.close(fd)
                else:
                    os.mkdir(path)
                    os.mkdir(os.path.join(path, side))
                os._exit(0)
            except OSError as e:
                os._exit(100 if e.errno == errno.EEXIST else 101)
        pids.append(pid)
    os.close(r)
    os.write(w, b'xx')
    os.close(w)
    codes = sorted(os.waitstatus_to_exitcode(os.waitpid(p, 0)[1])
                   for p in pids)
    if codes != [0, 100]:
        bad.append('%s %s: exit codes %s' % (kind, name, codes))
print('\n'.join(bad) if bad else 'one winner each')
PYEOF
)
check_eq "200 races: exactly one winner, the loser gets EEXIST" \
	"one winner each" "$race_out"
settle
agree=$(
	"$PY" - "$A" "$B" <<'PYEOF'
import os, sys
a, b = sys.argv[1], sys.argv[2]
bad = []
for name in sorted(os.listdir(os.path.join(a, 'race'))):
    pa, pb = (os.path.join(m, 'race', name) for m in (a, b))
    if os.path.isdir(pa):
        la, lb = sorted(os.listdir(pa)), sorted(os.listdir(pb))
        if la != lb or len(la) != 1:
            bad.append('%s: %s vs %s' % (name, la, lb))
    else:
        da, db = open(pa, 'rb').read(), open(pb, 'rb').read()
        if da != db or len(da) != 64 or len(set(da)) != 1:
            bad.append('%s: %r vs %r' % (name, da[:8], db[:8]))
n = len(os.listdir(os.path.join(b, 'race')))
print('\n'.join(bad) if bad else 'agree on %d' % n)
PYEOF
)
check_eq "both mounts agree on every winner" "agree on 200" "$agree"
check "A: rm -r race" rm -r "$A/race"

unmount_hmf "$MNT1"
unmount_hmf "$MNT2"
finish
