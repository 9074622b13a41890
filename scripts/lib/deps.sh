# shellcheck shell=bash
# scripts/lib/deps.sh - the Debian 12 packages that build, test and demo
# hmf-fuse, and deps_ensure to install the missing ones. Sourced by
# scripts/test, scripts/demo and scripts/bench; defines functions only.

HMF_DEB_PACKAGES=(
	libfuse3-dev fuse3 libcjson-dev libcmocka-dev meson ninja-build
	pkg-config attr python3-numpy python3-pandas rsync clang clang-format
	libclang-rt-14-dev gcc util-linux
)

# Is Debian package $1 installed? (dpkg's own answer, not a command probe)
deps_is_installed() {
	local status

	status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
	[ "$status" = "install ok installed" ]
}

# Print the packages of HMF_DEB_PACKAGES that are not installed, one a line.
deps_missing() {
	local p

	for p in "${HMF_DEB_PACKAGES[@]}"; do
		deps_is_installed "$p" || echo "$p"
	done
}

# Install whatever is missing: one apt-get update, then one apt-get install
# of exactly the missing packages. Does nothing (and no apt at all) when
# everything is there. Needs root, or sudo.
deps_ensure() {
	local -a missing sudo=()

	if ! command -v dpkg-query >/dev/null; then
		echo "deps: not a Debian system; install by hand: ${HMF_DEB_PACKAGES[*]}" >&2
		return 0
	fi
	mapfile -t missing < <(deps_missing)
	if [ "${#missing[@]}" -eq 0 ]; then
		echo "deps: all ${#HMF_DEB_PACKAGES[@]} packages installed"
		return 0
	fi
	echo "deps: installing ${missing[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		if ! command -v sudo >/dev/null; then
			echo "deps: not root and no sudo; install by hand: ${missing[*]}" >&2
			return 1
		fi
		sudo=(sudo)
	fi
	"${sudo[@]}" apt-get update
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y "${missing[@]}"
}
