# shellcheck shell=bash
# scripts/lib/build.sh - build-directory helper shared by scripts/test,
# scripts/demo and scripts/bench. Defines functions only.

# build_configure DIR MESON_OPTION...: set up DIR (compiler from $CC, as
# meson reads it), or reconfigure it if it was set up before. A directory
# left half-made by a failed setup, or one that no longer reconfigures, is
# removed and set up afresh: these build directories belong to the scripts.
build_configure() {
	local dir=$1
	shift

	if [ -f "$dir/build.ninja" ] &&
		meson setup --reconfigure "$dir" "$@"; then
		return 0
	fi
	rm -rf "$dir"
	meson setup "$dir" "$@"
}
