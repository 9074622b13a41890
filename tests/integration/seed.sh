#!/bin/bash
# SPDX-License-Identifier: MIT
# seed.sh - the seed's getting-started example done with shell commands on
# a mount gives the same backing tree as the library's getting_started:
# the same entries, the same data bytes, the same metadata of every node.
# Usage: seed.sh single|multi
. "$(dirname "$0")/lib.sh" "$@"
require_cmd setfattr
require_numpy

LIBROOT=$(new_dir libroot)
SHROOT=$(new_dir shroot)
MNT=$(new_dir mnt)
make_sample_root "$LIBROOT"

echo "== the example, by shell, on a mount of an empty root"
mount_hmf "$SHROOT" "$MNT" -o create
M=$MNT
check "mkdir -p groupA group1/groupA/groupZ" sh -c "cd '$M' && mkdir -p groupA group1/groupA/groupZ"
check "touch groupA/array1" touch "$M/groupA/array1"
check "setfattr user.hmf.dtype <i8" setfattr -n user.hmf.dtype -v '<i8' "$M/groupA/array1"
check "write arange(9) with python" "$PY" -c '
import numpy as np, sys
with open(sys.argv[1], "r+b") as f:
    f.write(np.arange(9, dtype="<i8").tobytes())' "$M/groupA/array1"
check "setfattr user.someAttribute on groupA" setfattr -n user.someAttribute -v attributeValue "$M/groupA"
check_eq "the mount shows the same layout as the seed" '{"dtype":"<i8","shape":[9],"order":"C"}' \
	"$(xattr_of "$M/groupA/array1" user.hmf.meta)"
unmount_hmf "$MNT"

echo "== compare the backing trees"
listing() { (cd "$1" && find . -not -name '.hmf*' | sort); }
check_eq "find ROOT -not -name '.hmf*' | sort" "$(listing "$LIBROOT")" "$(listing "$SHROOT")"
same_bytes "groupA/array1/data" "$LIBROOT/groupA/array1/data" "$SHROOT/groupA/array1/data"
for node in . groupA groupA/array1 group1 group1/groupA group1/groupA/groupZ; do
	check_eq "metadata of $node" \
		"$("$PY" -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1])), sort_keys=True))' "$LIBROOT/$node/.hmf")" \
		"$("$PY" -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1])), sort_keys=True))' "$SHROOT/$node/.hmf")"
done
check_eq "every node has a .hmf (the same set)" \
	"$(cd "$LIBROOT" && find . -name .hmf | sort)" "$(cd "$SHROOT" && find . -name .hmf | sort)"
check_eq "no temporary leftovers" "" "$(find "$SHROOT" -name '.hmf.tmp*')"

echo "== and the library's root mounts to the same view"
mount_hmf "$LIBROOT" "$MNT"
check_eq "getfattr -d of the array" \
	"$(printf '# file: groupA/array1\nuser.hmf.dtype="<i8"\nuser.hmf.order="C"\nuser.hmf.shape="[9]"\n')" \
	"$(cd "$MNT" && getfattr -d groupA/array1)"
check_eq "ls -R" "$(cd "$MNT" && ls -R)" \
	"$(printf '.:\ngroup1\ngroupA\n\n./group1:\ngroupA\n\n./group1/groupA:\ngroupZ\n\n./group1/groupA/groupZ:\n\n./groupA:\narray1')"
unmount_hmf "$MNT"
finish
