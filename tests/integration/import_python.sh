#!/bin/bash
# SPDX-License-Identifier: MIT
# import_python.sh - scripts/hmf-import-python converts roots written in the
# original Python HMF package's layout (made by make_old_root.py: nested and
# flat node dictionaries, a damaged Map0) into roots that hmf-mount serves:
# every group, array (np.memmap via the user.hmf.* xattrs) and attribute
# read through the mount equals the original. Damaged roots (wrong raw file
# size, missing raw file, no readable map, an unsafe pickle) and an occupied
# NEWROOT are refused with a message and leave nothing behind.
# Usage: import_python.sh single|multi
. "$(dirname "$0")/lib.sh" "$@"
require_numpy

IMPORT=$SRCROOT/scripts/hmf-import-python
MAKE=$HERE/make_old_root.py
# the hmf CLI next to the daemon, when built: its fsck checks the new roots
HMF_CLI=${HMF_CLI:-$(dirname "$HMF_MOUNT")/../cli/hmf}
MNT=$(new_dir mnt)
OUT=$(new_dir out) # NEWROOTs go here: nothing else may appear in it

# leftovers: entries of $OUT other than the given names
leftovers() {
	local keep=" $* " e out=
	for e in "$OUT"/* "$OUT"/.[!.]*; do
		[ -e "$e" ] || continue
		e=${e##*/}
		[[ $keep == *" $e "* ]] || out+="$e "
	done
	echo "$out"
}

# import_and_check NAME [write options...]: write an old root, import it,
# mount the new root and compare through the mount.
import_and_check() {
	local name=$1 old new
	shift
	old=$(new_dir "old-$name")
	new=$OUT/$name
	check "$name: write the old root" "$PY" "$MAKE" write "$old" "$@"
	check "$name: hmf-import-python" "$IMPORT" "$old" "$new"
	check "$name: the new root has a .hmf and a .hmf.d" test -f "$new/.hmf" -a -d "$new/.hmf.d"
	if [ -x "$HMF_CLI" ]; then
		check "$name: hmf fsck finds it clean" "$HMF_CLI" fsck "$new"
	fi
	mount_hmf "$new" "$MNT"
	check "$name: groups, arrays and attributes through the mount" \
		"$PY" "$MAKE" check "$MNT"
	unmount_hmf "$MNT"
}

echo "== a nested node dictionary (as the package writes it)"
import_and_check nested --layout nested
N=$OUT/nested
check_eq "the base64 of a non-UTF-8 attribute" '{"base64":"/wBiaW5hcnk="}' \
	"$("$PY" -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["attributes"]["bytes"], separators=(",", ":")))' "$N/group1/groupA/groupZ/.hmf")"
check_eq "other attribute values are their str()" '"42"' \
	"$("$PY" -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["attributes"]["n"]))' "$N/group1/groupA/groupZ/.hmf")"
LIBROOT=$(new_dir libroot)
make_sample_root "$LIBROOT"
canon() { "$PY" -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1])), sort_keys=True))' "$1"; }
for node in groupA groupA/array1 group1 group1/groupA; do
	check_eq "getting started: $node as the C library writes it" \
		"$(canon "$LIBROOT/$node/.hmf")" "$(canon "$N/$node/.hmf")"
done
same_bytes "getting started: groupA/array1/data" "$LIBROOT/groupA/array1/data" "$N/groupA/array1/data"
check_eq "no temporary entries" "" "$(find "$N" -name '.hmf.tmp*')"
check_eq "mode of the root as the umask says" "$(stat -c %a "$LIBROOT")" "$(stat -c %a "$N")"

echo "== a flat node dictionary (keyed by path, parents implied)"
import_and_check flat --layout flat

echo "== Map0 damaged: Map1 is used"
import_and_check map0 --corrupt map0
OLD=$(new_dir old-map0-out)
"$PY" "$MAKE" write "$OLD" --corrupt map0
err=$("$IMPORT" "$OLD" "$OUT/map0-again" 2>&1 >/dev/null)
check_eq "Map0 damaged: the import succeeds" 0 $?
if [[ $err == *"skipped __specialHMF__memmapMap0"*"used __specialHMF__memmapMap1"* ]]; then
	pass "a warning names the skipped copy"
else
	fail "no warning about the skipped Map0: $err"
fi

echo "== an unsafe pickle needs --trust-pickle"
OLD=$(new_dir old-unsafe)
"$PY" "$MAKE" write "$OLD" --corrupt unsafe
check_fails "refused without --trust-pickle" "refusing to load fractions.Fraction" \
	"$IMPORT" "$OLD" "$OUT/unsafe"
check "accepted with --trust-pickle" "$IMPORT" --trust-pickle "$OLD" "$OUT/unsafe"
mount_hmf "$OUT/unsafe" "$MNT"
check "unsafe: groups, arrays and attributes through the mount" "$PY" "$MAKE" check "$MNT" --unsafe
unmount_hmf "$MNT"

echo "== damaged old roots are refused and leave no NEWROOT"
OLD=$(new_dir old-size)
"$PY" "$MAKE" write "$OLD" --corrupt size
check_fails "a raw file of the wrong size" "groupA__array1 is 73 bytes, but dtype <i8 shape (9,) needs 72" \
	"$IMPORT" "$OLD" "$OUT/size"
check "no NEWROOT after a wrong size" test ! -e "$OUT/size"
OLD=$(new_dir old-missing)
"$PY" "$MAKE" write "$OLD" --corrupt missing
check_fails "a missing raw file" "/g_2/arrayB: raw file not found" \
	"$IMPORT" "$OLD" "$OUT/missing"
check "no NEWROOT after a missing file" test ! -e "$OUT/missing"
OLD=$(new_dir old-maps)
"$PY" "$MAKE" write "$OLD" --corrupt maps
check_fails "no readable map" "no readable node dictionary" "$IMPORT" "$OLD" "$OUT/maps"
check "no NEWROOT without a map" test ! -e "$OUT/maps"
check_fails "a directory that is no old root" "no readable node dictionary" \
	"$IMPORT" "$LIBROOT" "$OUT/notold"
check_eq "nothing else appeared next to the NEWROOTs" "" \
	"$(leftovers nested flat map0 map0-again unsafe)"

echo "== NEWROOT must be absent or empty"
check_fails "an existing non-empty NEWROOT is refused" "exists and is not an empty directory" \
	"$IMPORT" "$(new_dir old-again)" "$OUT/nested"
check_eq "and left as it was" "$(canon "$LIBROOT/groupA/array1/.hmf")" "$(canon "$OUT/nested/groupA/array1/.hmf")"
OLD=$(new_dir old-empty-target)
"$PY" "$MAKE" write "$OLD"
mkdir "$OUT/empty"
check "an empty NEWROOT directory is filled" "$IMPORT" -q "$OLD" "$OUT/empty"
check "it is a root now" test -f "$OUT/empty/.hmf"
check_fails "NEWROOT inside OLDROOT is refused" "outside OLDROOT" "$IMPORT" "$OLD" "$OLD/new"
check_fails "usage" "usage:" "$IMPORT"
check_eq "nothing else appeared next to the NEWROOTs" "" \
	"$(leftovers nested flat map0 map0-again unsafe empty)"
finish
