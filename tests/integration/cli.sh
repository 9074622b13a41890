#!/bin/bash
# SPDX-License-Identifier: MIT
# cli.sh - the hmf tool end to end, on backing roots (no mount needed):
# init; ls -l/-R and tree on the seed's sample root; info and info --json
# (parsed by Python's json); attr set/get/rm/list with exact outputs; fsck
# on a clean root (exit 0) and a damaged one (exit 1, then --repair);
# export read back by np.load; np.save'd arrays of many dtypes and shapes
# imported and exported back byte-identical; the exit status of errors (1)
# and of wrong usage (2).
# Usage: cli.sh [single|multi] (the mode does not matter: nothing mounts)
#
# Environment: HMF_CLI (the hmf tool), HMF_GETTING_STARTED; meson passes
# both. The helpers follow lib.sh's (which needs FUSE, so it is not used).

set -u
set -o pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3 # the python3 first on PATH may lack numpy
: "${HMF_CLI:=$SRCROOT/build/src/cli/hmf}"
: "${HMF_GETTING_STARTED:=$SRCROOT/build/src/examples/getting_started}"
HMF=$HMF_CLI

FAILS=0
CHECKS=0
TMPBASE=

skip_or_fail() {
	if [ -n "${CI:-}" ]; then
		echo "FAIL: $* (CI is set: these machines must have it)" >&2
		exit 1
	fi
	echo "SKIP: $*"
	exit 77
}

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

# check_eq DESC EXPECTED ACTUAL
check_eq() {
	if [ "$2" == "$3" ]; then
		pass "$1"
	else
		fail "$1: expected '$2', got '$3'"
	fi
}

# check_exit DESC STATUS MESSAGE CMD...: CMD must exit with STATUS and
# print MESSAGE (on stdout or stderr; "" matches anything).
check_exit() {
	local desc=$1 want=$2 msg=$3 out rc
	shift 3
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -eq "$want" ] && [[ $out == *"$msg"* ]]; then
		pass "$desc"
	else
		fail "$desc: '$*' exited $rc (expected $want with '$msg'): $out"
	fi
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

finish() {
	if [ "$FAILS" -ne 0 ]; then
		echo "$FAILS of $CHECKS checks FAILED"
		exit 1
	fi
	echo "all $CHECKS checks passed"
	exit 0
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	if [ -n "$TMPBASE" ] && [ -d "$TMPBASE" ]; then
		rm -rf --one-file-system "$TMPBASE"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

[ -x "$HMF" ] || fatal "HMF_CLI=$HMF is not executable"
[ -x "$HMF_GETTING_STARTED" ] || fatal "HMF_GETTING_STARTED=$HMF_GETTING_STARTED is not executable"
"$PY" -c 'import numpy' 2>/dev/null || skip_or_fail "no numpy for $PY"

TMPBASE=$(mktemp -d "${TMPDIR:-/tmp}/hmf-cli.XXXXXX") || fatal "mktemp failed"
cd "$TMPBASE" || fatal "cd $TMPBASE"

# py CODE ARGS...: run Python with numpy; prints what CODE prints.
py() {
	local code=$1
	shift
	"$PY" -c "import json, sys, numpy as np
$code" "$@"
}

echo "== usage, help, version"
check_exit "hmf without a command is wrong usage" 2 "usage: hmf COMMAND" "$HMF"
check_exit "hmf --help lists the commands" 0 "import  [--force] IN.npy ROOT:/path" "$HMF" --help
for c in init ls tree info attr fsck export import; do
	check_exit "hmf $c --help" 0 "usage: hmf $c" "$HMF" $c --help
	check_exit "hmf help $c" 0 "usage: hmf $c" "$HMF" help $c
done
check_eq "hmf --version" "hmf 0.1.0 (HMF format 1)" "$("$HMF" --version)"
check_exit "an unknown command" 2 "hmf: unknown command 'frob'" "$HMF" frob
check_exit "an unknown option" 2 "hmf: ls: unknown option '-x'" "$HMF" ls -x .
check_exit "an unknown long option" 2 "hmf: info: unknown option '--jsn'" "$HMF" info --jsn .
check_exit "ls without ROOT" 2 "hmf: ls: expects one ROOT[:/path]" "$HMF" ls
check_exit "ls with two ROOTs" 2 "Try 'hmf ls --help'." "$HMF" ls a b
check_exit "attr without an action" 2 "expects get, set, rm or list" "$HMF" attr
check_exit "attr with a bad action" 2 "unknown action 'put'" "$HMF" attr put x k v
check_exit "attr get without KEY" 2 "attr get: wrong number of arguments" "$HMF" attr get x
check_exit "attr set without VALUE" 2 "attr set: wrong number of arguments" "$HMF" attr set x k
check_exit "attr --file needs a value" 2 "attr set: option '--file' needs a value" "$HMF" attr set --file
check_exit "export with one argument" 2 "export: expects ROOT:/path and OUT.npy" "$HMF" export x
check_exit "import with one argument" 2 "import: expects IN.npy and ROOT:/path" "$HMF" import x
check_exit "fsck with two ROOTs" 2 "fsck: expects one ROOT" "$HMF" fsck a b

echo "== init"
check_eq "init a missing directory" "new: initialised an empty HMF root" "$("$HMF" init new)"
check "init made .hmf and .hmf.d" test -f new/.hmf -a -d new/.hmf.d
check_eq "init an HMF root again" "new: already an HMF root" "$("$HMF" init new)"
mkdir empty
check_eq "init an empty directory" "empty: initialised an empty HMF root" "$("$HMF" init empty)"
mkdir foreign
echo mine >foreign/file
check_exit "init refuses a non-empty foreign directory" 1 "foreign: not an HMF root and not empty" "$HMF" init foreign
check_eq "... and leaves it alone" "file" "$(ls -A foreign)"
echo x >afile
check_exit "init refuses a file" 1 "afile" "$HMF" init afile

echo "== ls and tree on the seed's sample root"
"$HMF_GETTING_STARTED" S >/dev/null || fatal "$HMF_GETTING_STARTED S failed"
check_eq "ls ROOT" $'group1\ngroupA' "$("$HMF" ls S)"
check_eq "ls ROOT:/" $'group1\ngroupA' "$("$HMF" ls S:/)"
check_eq "ls ROOT:/groupA/ (trailing slash)" "array1" "$("$HMF" ls S:/groupA/)"
check_eq "ls -l ROOT" $'group  -  -  -  0  group1\ngroup  -  -  -  1  groupA' "$("$HMF" ls -l S)"
check_eq "ls -l of an array lists it" "array  <i8  [9]  72  0  array1" "$("$HMF" ls -l S:/groupA/array1)"
check_eq "ls -R ROOT" "$(printf '%s\n' '/:' group1 groupA '' '/group1:' groupA '' '/group1/groupA:' groupZ '' '/group1/groupA/groupZ:' '' '/groupA:' array1)" \
	"$("$HMF" ls -R S)"
LSLR=$(printf '%s\n' '/:' \
	'group  -  -  -  0  group1' \
	'group  -  -  -  1  groupA' '' \
	'/group1:' \
	'group  -  -  -  0  groupA' '' \
	'/group1/groupA:' \
	'group  -  -  -  0  groupZ' '' \
	'/group1/groupA/groupZ:' '' \
	'/groupA:' \
	'array  <i8  [9]  72  0  array1')
check_eq "ls -lR ROOT" "$LSLR" "$("$HMF" ls -lR S)"
check_eq "ls -l -R is ls -lR" "$LSLR" "$("$HMF" ls -l --recursive S)"
check_eq "ls -R ROOT:/group1" "$(printf '%s\n' '/group1:' groupA '' '/group1/groupA:' groupZ '' '/group1/groupA/groupZ:')" \
	"$("$HMF" ls -R S:/group1)"
TREE=$(printf '%s\n' '/' \
	'|-- group1/' \
	'|   `-- groupA/' \
	'|       `-- groupZ/' \
	'`-- groupA/' \
	'    `-- array1  <i8 [9]' '' \
	'4 groups, 1 array')
check_eq "tree ROOT" "$TREE" "$("$HMF" tree S)"
check_eq "tree of an array" "/groupA/array1  <i8 [9]" "$("$HMF" tree S:/groupA/array1)"
check_eq "ls of an empty group" "" "$("$HMF" ls S:/group1/groupA/groupZ)"

echo "== info"
INFO=$(printf '%s\n' 'path:       /groupA/array1' 'kind:       array' 'dtype:      <i8' \
	'shape:      [9]' 'order:      C' 'bytes:      72' 'attributes: 0')
check_eq "info of an array" "$INFO" "$("$HMF" info S:/groupA/array1)"
INFO=$(printf '%s\n' 'path:       /groupA' 'kind:       group' 'children:   1' 'attributes: 1' \
	'  someAttribute = "attributeValue"')
check_eq "info of a group" "$INFO" "$("$HMF" info S:/groupA)"
check_eq "info --json of an array, parsed" "/groupA/array1 array <i8 [9] C 72 {}" \
	"$("$HMF" info --json S:/groupA/array1 | py 'j = json.load(sys.stdin)
print(j["path"], j["kind"], j["dtype"], j["shape"], j["order"], j["bytes"], j["attributes"])')"
check_eq "info --json of a group, parsed" "/groupA group 1 {'someAttribute': 'attributeValue'}" \
	"$("$HMF" info -j S:/groupA | py 'j = json.load(sys.stdin)
print(j["path"], j["kind"], j["children"], j["attributes"])')"
check_eq "info --json of ROOT is one line" "1" "$("$HMF" info --json S | wc -l)"

echo "== attr"
check_eq "attr set prints nothing" "" "$("$HMF" attr set S:/groupA/array1 units metres 2>&1)"
check_eq "attr get" "metres" "$("$HMF" attr get S:/groupA/array1 units)"
check_eq "attr get --raw has no newline" "6d6574726573" \
	"$("$HMF" attr get --raw S:/groupA/array1 units | od -An -tx1 | tr -d ' \n')"
check_eq "attr set replaces" "feet" "$("$HMF" attr set S:/groupA/array1 units feet && "$HMF" attr get S:/groupA/array1 units)"
check "attr set a second key" "$HMF" attr set S:/groupA/array1 scale 2
check_eq "attr list, in stored order" $'units\nscale' "$("$HMF" attr list S:/groupA/array1)"
check_eq "a value may start with '-'" "-5" "$("$HMF" attr set S:/groupA neg -5 && "$HMF" attr get S:/groupA neg)"
check_eq "a UTF-8 key and value" "é√" "$("$HMF" attr set S: 'clé' 'é√' && "$HMF" attr get S:/ 'clé')"
printf 'a\377b\n\001' >bin.val
check "attr set -f (bytes that are not UTF-8)" "$HMF" attr set -f bin.val S:/groupA bin
check_eq "attr get --raw gives the bytes back" "61ff620a01" \
	"$("$HMF" attr get -r S:/groupA bin | od -An -tx1 | tr -d ' \n')"
check_eq "attr set -f - reads stdin" "from stdin" \
	"$(echo -n 'from stdin' | "$HMF" attr set -f - S:/groupA stdin && "$HMF" attr get S:/groupA stdin)"
check_eq "info escapes the value" '  bin = "a\xffb\n\x01"' "$("$HMF" info S:/groupA | grep '^  bin = ')"
check_eq "info --json gives it as base64" "61ff620a01" \
	"$("$HMF" info --json S:/groupA | py 'import base64
j = json.load(sys.stdin)
print(base64.b64decode(j["attributes"]["bin"]["base64"]).hex())')"
check_eq "attr rm prints nothing" "" "$("$HMF" attr rm S:/groupA/array1 units 2>&1)"
check_eq "attr rm removed it" "scale" "$("$HMF" attr list S:/groupA/array1)"
check_exit "attr rm of a missing key" 1 "hmf: S/groupA/array1: no attribute 'units'" "$HMF" attr rm S:/groupA/array1 units
check_exit "attr get of a missing key" 1 "no attribute 'nope'" "$HMF" attr get S:/groupA nope
check_exit "attr set of an empty key" 1 "hmf: " "$HMF" attr set S:/groupA '' v
check_exit "attr set of a key over 246 bytes" 1 "hmf: " "$HMF" attr set S:/groupA "$(printf 'k%.0s' {1..247})" v
head -c 70000 /dev/zero | tr '\0' x >big.val
check_exit "attr set of a value over 64 KiB" 1 "more than 65536 bytes" "$HMF" attr set -f big.val S:/groupA big
for k in neg bin stdin; do "$HMF" attr rm S:/groupA $k; done
"$HMF" attr rm S:/groupA/array1 scale
"$HMF" attr rm S: 'clé'

echo "== fsck"
check_exit "fsck of the sample is clean (exit 0)" 0 "S: 5 groups, 1 array, 72 bytes of data: clean" "$HMF" fsck S
cp -a S D
truncate -s 80 D/groupA/array1/data
mkdir D/.hmf.tmp.0123456789abcdef
echo garbage >D/group1/.hmf.tmp.fedcba9876543210
echo mine >D/notes.txt
mkdir D/group1/broken
echo '{"hmf":1,' >D/group1/broken/.hmf
rmdir D/.hmf.d
OUT=$("$HMF" fsck D)
check_eq "fsck of a damaged root exits 1" 1 "$?"
check_eq "fsck reports each problem, in name order" "$(printf '%s\n' \
	'no-private-dir /.hmf.d: the private directory is missing [repairable with --repair]' \
	'leftover /.hmf.tmp.0123456789abcdef: temporary entry of an interrupted change [repairable with --repair]' \
	'leftover /group1/.hmf.tmp.fedcba9876543210: temporary entry of an interrupted change [repairable with --repair]' \
	'bad-meta /group1/broken: D/group1/broken: corrupt metadata: not valid JSON (Input/output error); not checked below' \
	'bad-shape /groupA/array1: data is 80 bytes, the stored shape <i8 [9] needs 72; derived: <i8 [10] [repairable with --repair]' \
	'stray /notes.txt: a regular file, not a node (left alone)' \
	'D: 5 groups, 1 array, 80 bytes of data: 6 problems, 0 repaired, 6 remain (4 repairable with --repair)')" "$OUT"
check "fsck without --repair changed nothing" test -d D/.hmf.tmp.0123456789abcdef -a ! -e D/.hmf.d
OUT=$("$HMF" fsck --repair D)
check_eq "fsck --repair exits 1 while problems remain" 1 "$?"
check_eq "fsck --repair says what it did" "$(printf '%s\n' \
	'no-private-dir /.hmf.d: the private directory is missing [repaired: created]' \
	'leftover /.hmf.tmp.0123456789abcdef: temporary entry of an interrupted change [repaired: removed]' \
	'leftover /group1/.hmf.tmp.fedcba9876543210: temporary entry of an interrupted change [repaired: removed]' \
	'bad-meta /group1/broken: D/group1/broken: corrupt metadata: not valid JSON (Input/output error); not checked below' \
	'bad-shape /groupA/array1: data is 80 bytes, the stored shape <i8 [9] needs 72; derived: <i8 [10] [repaired: stored shape now <i8 [10]]' \
	'stray /notes.txt: a regular file, not a node (left alone)' \
	'D: 5 groups, 1 array, 80 bytes of data: 6 problems, 4 repaired, 2 remain')" "$OUT"
check_eq "the derived shape is stored" "[10]" "$(py 'print(json.load(open(sys.argv[1]))["shape"])' D/groupA/array1/.hmf)"
check_eq "user data is left alone" "mine" "$(cat D/notes.txt)"
check_eq "no leftovers remain" "" "$(find D -name '.hmf.tmp*')"
check_exit "what remains is still reported" 1 "2 problems, 0 repaired, 2 remain" "$HMF" fsck D
rm -r D/notes.txt D/group1/broken
check_exit "fsck exits 0 once the rest is fixed by hand" 0 "D: 5 groups, 1 array, 80 bytes of data: clean" "$HMF" fsck D
cp -a S R
mkdir R/groupA/.hmf.tmp.1111111111111111
check_exit "fsck --repair exits 0 when it repaired everything" 0 "1 problem, 1 repaired, 0 remain" "$HMF" fsck --repair R
check_exit "fsck of a directory that is not a root" 1 "not an HMF root" "$HMF" fsck foreign
check_exit "fsck of a missing root" 1 "hmf: nowhere: No such file or directory" "$HMF" fsck nowhere

echo "== export"
check "export an array" "$HMF" export S:/groupA/array1 a1.npy
check_eq "np.load gives what was set" "int64 (9,) True" \
	"$(py 'a = np.load(sys.argv[1]); print(a.dtype, a.shape, bool((a == np.arange(9)).all()))' a1.npy)"
check_eq "export to - (standard output)" "[0 1 2 3 4 5 6 7 8]" \
	"$("$HMF" export S:/groupA/array1 - | py 'import io; print(np.load(io.BytesIO(sys.stdin.buffer.read())))')"
check_eq "export the derived shape of a grown array" "(10,)" \
	"$("$HMF" export D:/groupA/array1 - | py 'import io; print(np.load(io.BytesIO(sys.stdin.buffer.read())).shape)')"
check_exit "export of a group" 1 "is a group" "$HMF" export S:/groupA g.npy
check "... leaves no file" test ! -e g.npy
check_exit "export to an unwritable place" 1 "/nonexistent/x.npy: No such file or directory" "$HMF" export S:/groupA/array1 /nonexistent/x.npy

echo "== import np.save'd arrays and export them back"
py '
arrs = {
    "f8": np.linspace(0, 1, 7),
    "i4_2d": np.arange(12, dtype="<i4").reshape(3, 4),
    "u1": np.arange(5, dtype="u1"),
    "b1": np.array([True, False, True]),
    "c16": np.array([1 + 2j, 3 - 4j]),
    "f2": np.arange(3, dtype="<f2"),
    "be_i4": np.arange(4, dtype=">i4"),
    "S3": np.array([b"ab", b"cde"]),
    "U3": np.array(["ab", "cd\u00e9"]),
    "M8": np.array(["2020-01-01", "2021-02-03"], dtype="datetime64[D]"),
    "m8": np.array([1, 2], dtype="timedelta64[ns]"),
    "zero_d": np.array(3.5),
    "three_d": np.arange(24, dtype="<i2").reshape(2, 3, 4),
    "fortran": np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3)),
    "empty": np.zeros((0, 3), dtype="<i8"),
    "big": np.arange(3 << 20, dtype="<u8"),
}
for k, a in arrs.items():
    np.save(k + ".npy", a)
np.save("struct.npy", np.zeros(3, dtype=[("a", "<i4"), ("b", "<f8")]))
print(" ".join(arrs))' >names.txt || fatal "np.save failed"
"$HMF" init I >/dev/null
for k in $(cat names.txt); do
	check "import $k.npy" "$HMF" import $k.npy I:/imported/$k
	check "export $k back" "$HMF" export I:/imported/$k out_$k.npy
	same_bytes "$k exported back byte-identical" $k.npy out_$k.npy
done
check_eq "np.load of the exports equals the originals" "ok" "$(py '
for k in open("names.txt").read().split():
    a, b = np.load(k + ".npy"), np.load("out_" + k + ".npy")
    assert a.dtype == b.dtype and a.shape == b.shape, k
    assert a.flags.f_contiguous == b.flags.f_contiguous, k
    assert a.tobytes(order="A") == b.tobytes(order="A"), k
print("ok")')"
check_eq "the 0-d array" "<f8 []" "$("$HMF" info -j I:/imported/zero_d | py 'j = json.load(sys.stdin); print(j["dtype"], j["shape"])')"
check_eq "the 3-d array" "array  <i2  [2,3,4]  48  0  three_d" "$("$HMF" ls -l I:/imported/three_d)"
check_eq "the Fortran-order array is stored in order F" "order:      F" "$("$HMF" info I:/imported/fortran | grep '^order:')"
check_eq "its data file holds the F-order bytes, no header" "True" \
	"$(py 'a = np.load("fortran.npy"); print(np.fromfile(sys.argv[1], "<f4").tobytes() == a.tobytes(order="F"))' I/imported/fortran/data)"
check_eq "the big-endian array" "dtype:      >i4" "$("$HMF" info I:/imported/be_i4 | grep '^dtype:')"
check_exit "import over an existing array" 1 "exists (use --force to replace an array)" "$HMF" import f8.npy I:/imported/u1
check "import --force replaces it" "$HMF" import --force f8.npy I:/imported/u1
check_eq "... with the new dtype and shape" "array  <f8  [7]  56  0  u1" "$("$HMF" ls -l I:/imported/u1)"
check_exit "import --force over a group" 1 "is a group" "$HMF" import --force f8.npy I:/imported
check_exit "import over the root group" 1 "cannot import over the root group" "$HMF" import f8.npy I:/
check_exit "import of a structured dtype" 1 "struct.npy: structured dtype (2 fields): import takes plain dtypes only" "$HMF" import struct.npy I:/st
head -c -8 f8.npy >short.npy
check_exit "import of a truncated file" 1 "short.npy: 48 bytes of data after the header, but dtype <f8 and shape [7] need 56" "$HMF" import short.npy I:/short
cat f8.npy <(echo extra) >long.npy
check_exit "import of a file with bytes past the data" 1 "long.npy: 62 bytes of data after the header" "$HMF" import long.npy I:/long
check_exit "import of a file that is not NPY" 1 "names.txt: not an NPY file" "$HMF" import names.txt I:/txt
printf '\223NUMPY\001\000' >tiny.npy
check_exit "import of a file cut in the header" 1 "tiny.npy: too short for an NPY file" "$HMF" import tiny.npy I:/tiny
check_exit "import of a missing file" 1 "missing.npy: No such file or directory" "$HMF" import missing.npy I:/m
check_exit "import of a directory" 1 "foreign: not a regular file" "$HMF" import foreign I:/d
check_eq "failed imports left nothing behind" "imported" "$("$HMF" ls I)"
check_eq "... and no temporaries" "" "$(find I -name '.hmf.tmp*')"
check_exit "the imported root is clean" 0 "clean" "$HMF" fsck I

echo "== info on a stale stored shape"
truncate -s 88 D/groupA/array1/data
check_eq "info shows the derived shape" "shape:      [11]" "$("$HMF" info D:/groupA/array1 | grep '^shape:')"
check_eq "... and points out the stored one" \
	"stored:     <i8 [10] (does not match the data; 'hmf fsck --repair' stores the shape above)" \
	"$("$HMF" info D:/groupA/array1 | grep '^stored:')"

echo "== errors"
check_exit "a missing node" 1 "hmf: S/nope: no such node" "$HMF" info S:/nope
check_exit "a missing node below an array" 1 "hmf: " "$HMF" ls S:/groupA/array1/x
check_exit "a bad path" 1 "name '..' is not allowed" "$HMF" ls S:/group1/../groupA
check_exit "a reserved name" 1 "hmf: " "$HMF" info S:/.hmf.d
check_exit "a missing root" 1 "hmf: nowhere: No such file or directory" "$HMF" ls nowhere
check_exit "a directory that is not an HMF root" 1 "hmf: foreign: not an HMF root" "$HMF" ls foreign
check_exit "no ROOT before ':'" 1 "no ROOT before the ':'" "$HMF" ls :/x
mkdir S/group1/corrupt
echo '[' >S/group1/corrupt/.hmf
OUT=$("$HMF" ls -lR S 2>err.txt)
check_eq "ls -lR goes on past a corrupt node, exit 1" 1 "$?"
check_eq "... shows it as ?" "?      ?  ?  ?  ?  corrupt" "$(echo "$OUT" | grep corrupt)"
check_eq "... and says why on stderr" "hmf: S/group1/corrupt: corrupt metadata: not valid JSON" "$(cat err.txt)"
check_exit "tree goes on past it too, exit 1" 1 "|   |-- corrupt  ?" "$HMF" tree S
finish
