#!/bin/bash
# SPDX-License-Identifier: MIT
# mount_helper.sh - hmf-mount as a helper of mount(8): "mount -t
# fuse.hmf-mount ROOT MNT -o create" and the fstab line "ROOT MNT
# fuse.hmf-mount create,nofail 0 0", with the generic options that mount
# and mount.fuse3 hand over (rw, nodev, nosuid, noexec, noatime, ro, user,
# nofail, _netdev, defaults, auto). Usage: mount_helper.sh [single|multi]
#
# mount(8) removes PATH from its helpers' environment; mount.fuse3 then
# runs "hmf-mount" through /bin/sh, which looks only in its default PATH
# (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin). So a
# build directory first on PATH is not enough (checked first), and an
# installed hmf-mount in /usr/local/bin or /usr/bin (or linked into
# /usr/local/sbin with -Dmount_helper_dir) is found. To test that without
# installing anything, the checks run in a private mount namespace
# (unshare -m) where a directory holding only a link to the built
# hmf-mount is bind-mounted over /usr/local/sbin: the host sees nothing.
# Needs root (mount(8) and unshare), /sbin/mount.fuse from fuse3.
. "$(dirname "$0")/lib.sh" "$@"
require_cmd mount umount unshare findmnt
if [ "$(id -u)" -ne 0 ]; then
	skip_or_fail "mount_helper.sh needs root (mount -t and unshare -m)"
fi
[ -x /sbin/mount.fuse ] || skip_or_fail "no /sbin/mount.fuse (fuse3's mount helper)"
: "${HMF_CLI:=$SRCROOT/build/src/cli/hmf}"
[ -x "$HMF_CLI" ] || fatal "HMF_CLI=$HMF_CLI is not executable"

# daemon_of ROOT: the pid of the hmf-mount serving ROOT (a path unique to
# this test), from /proc; empty when there is none.
daemon_of() {
	local p
	for p in /proc/[0-9]*; do
		if tr '\0' '\n' 2>/dev/null <"$p/cmdline" | grep -qxF -- "$1" &&
			[ "$(readlink "$p/exe" 2>/dev/null)" == "$(readlink -f "$HMF_MOUNT")" ]; then
			echo "${p#/proc/}"
			return
		fi
	done
}

# helper_mount DESC MNT ROOT MOUNT-ARGS...: mount(8) must mount ROOT at MNT;
# the daemon is recorded so that the EXIT trap can always end it.
helper_mount() {
	local desc=$1 mnt=$2 root=$3 out rc pid
	shift 3
	MOUNTS+=("$mnt")
	out=$(mount "$@" 2>&1)
	rc=$?
	pid=$(daemon_of "$root")
	[ -n "$pid" ] && PIDS+=("$pid")
	if [ $rc -eq 0 ] && is_mounted "$mnt"; then
		pass "$desc"
		DAEMON_PID=$pid
		return 0
	fi
	fail "$desc: 'mount $*' exited $rc: $out"
	return 1
}

# helper_umount MNT: umount(8) must unmount; the daemon must then exit.
helper_umount() {
	local mnt=$1 out i
	if ! out=$(umount "$mnt" 2>&1); then
		fail "umount $mnt: $out"
		return 1
	fi
	for ((i = 0; i < 100; i++)); do
		[ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		fail "hmf-mount $DAEMON_PID still running 10 s after umount $mnt"
		return 1
	fi
	pass "umount $mnt ends the daemon"
}

# opts_of MNT: the mount options the kernel shows for MNT.
opts_of() {
	findmnt -n -o OPTIONS --mountpoint "$1"
}

inner() {
	local dir bin root mnt fstab
	dir=/usr/local/sbin
	[ -d "$dir" ] || dir=/usr/local/bin
	bin=$(new_dir bin)
	ln -s "$HMF_MOUNT" "$bin/hmf-mount"
	# as an installation with -Dmount_helper_dir=/usr/local/sbin leaves it
	mount --bind "$bin" "$dir" || fatal "cannot bind $bin over $dir"
	check_eq "/bin/sh finds hmf-mount without a PATH" "$dir/hmf-mount" \
		"$(env -i /bin/sh -c 'command -v hmf-mount')"

	echo "== mount -t fuse.hmf-mount ROOT MNT -o create"
	root="$TMPBASE/root.new" # missing: create makes it
	mnt=$(new_dir mnt)
	if helper_mount "mount -t fuse.hmf-mount -o create" "$mnt" "$root" \
		-t fuse.hmf-mount "$root" "$mnt" -o create; then
		check_eq "the kernel shows type fuse.hmf and ROOT as source" "$root fuse.hmf" \
			"$(findmnt -n -o SOURCE,FSTYPE --mountpoint "$mnt" | tr -s ' ')"
		check "mkdir through the mount" mkdir "$mnt/groupA"
		check "write an array through the mount" "$PY" -c '
import numpy as np, sys
np.arange(9, dtype="<i8").tofile(sys.argv[1])' "$mnt/groupA/array1"
		check "set its dtype" setfattr -n user.hmf.dtype -v '<i8' "$mnt/groupA/array1"
		helper_umount "$mnt"
		check_eq "the backing root holds it (hmf ls -l)" "array  <i8  [9]  72  0  array1" \
			"$("$HMF_CLI" ls -l "$root:/groupA")"
		check "hmf fsck of it is clean" "$HMF_CLI" fsck "$root"
	fi

	echo "== generic options from mount and mount.fuse3"
	if helper_mount "mount -o rw,nodev,nosuid,noexec,noatime,user,nofail,_netdev,defaults,auto" \
		"$mnt" "$root" -t fuse.hmf-mount "$root" "$mnt" \
		-o rw,nodev,nosuid,noexec,noatime,user,nofail,_netdev,defaults,auto; then
		check_eq "nodev, nosuid, noexec, noatime applied" "rw nosuid nodev noexec noatime" \
			"$(opts_of "$mnt" | tr ',' '\n' | grep -xE 'rw|nosuid|nodev|noexec|noatime' | tr '\n' ' ' | sed 's/ $//')"
		check "the array reads back" cmp -s <("$PY" -c 'import numpy as np, sys; sys.stdout.buffer.write(np.arange(9, dtype="<i8").tobytes())') "$mnt/groupA/array1"
		helper_umount "$mnt"
	fi
	if helper_mount "mount -o ro,dev,suid,exec" "$mnt" "$root" \
		-t fuse.hmf-mount "$root" "$mnt" -o ro,dev,suid,exec; then
		check_eq "ro applied" "ro" "$(opts_of "$mnt" | cut -d, -f1)"
		check_fails "a read-only mount refuses mkdir" "Read-only file system" mkdir "$mnt/new"
		helper_umount "$mnt"
	fi

	echo "== an fstab line: ROOT MNT fuse.hmf-mount create,nofail 0 0"
	fstab="$TMPBASE/fstab"
	root="$TMPBASE/root.fstab"
	printf '%s %s fuse.hmf-mount create,nofail 0 0\n' "$root" "$mnt" >"$fstab"
	if helper_mount "mount --fstab FILE MNT" "$mnt" "$root" --fstab "$fstab" "$mnt"; then
		check "create made ROOT an HMF root" test -f "$root/.hmf"
		check "the mount works" mkdir "$mnt/g"
		helper_umount "$mnt"
		check_eq "hmf ls of the backing root" "g" "$("$HMF_CLI" ls "$root")"
	fi
	if helper_mount "mount -a --fstab FILE" "$mnt" "$root" -a --fstab "$fstab"; then
		helper_umount "$mnt"
	fi

	echo "== failures reach mount's caller"
	root=$(new_dir foreign)
	echo mine >"$root/file"
	check_fails "a directory that is not an HMF root is refused" "not an HMF root" \
		mount -t fuse.hmf-mount "$root" "$mnt"
	check_fails "create refuses a foreign non-empty directory" "not an HMF root and not empty" \
		mount -t fuse.hmf-mount "$root" "$mnt" -o create
	check "... and nothing is mounted" test "$(is_mounted "$mnt" && echo yes)" == ""
	check_eq "... and the directory is untouched" "file" "$(ls -A "$root")"
}

if [ -n "${HMF_HELPER_INNER:-}" ]; then
	inner
	finish
fi

echo "== the build directory first on PATH is not enough"
if found=$(env -i /bin/sh -c 'command -v hmf-mount'); then
	echo "note: an installed $found is on /bin/sh's default PATH; not checking that PATH is ignored"
else
	root=$(new_dir root.path)
	mnt=$(new_dir mnt.path)
	MOUNTS+=("$mnt")
	check_fails "mount(8) drops PATH: hmf-mount is not found" "hmf-mount: not found" \
		env PATH="$(dirname "$HMF_MOUNT"):$PATH" mount -t fuse.hmf-mount "$root" "$mnt" -o create
fi

echo "== in a private mount namespace, with hmf-mount where sh finds it"
out=$(HMF_HELPER_INNER=1 HMF_CLI="$HMF_CLI" unshare -m --propagation private \
	bash "${BASH_SOURCE[0]}" "$MODE" 2>&1)
rc=$?
echo "$out"
CHECKS=$((CHECKS + $(grep -c '^ok: ' <<<"$out")))
if [ $rc -ne 0 ]; then
	fail "the checks in the namespace exited $rc"
fi
finish
