#!/usr/bin/env bash
# scripts/format.sh - format every *.c / *.h under src/, include/ and tests/
# with the repository's .clang-format (STYLE.md section 8).
#   scripts/format.sh          rewrite the files in place
#   scripts/format.sh --check  change nothing; exit non-zero on any diff
# CLANG_FORMAT overrides the binary (default: clang-format).
set -euo pipefail

cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."

CLANG_FORMAT=${CLANG_FORMAT:-clang-format}

usage() {
	echo "usage: $0 [--check]" >&2
	exit 2
}

# NUL-separated, sorted list of the sources to format.
list_sources() {
	find src include tests -type f \( -name '*.c' -o -name '*.h' \) \
		-print0 2>/dev/null | sort -z
}

main() {
	local check=false
	local -a files

	case "${1:-}" in
	--check) check=true ;;
	"") ;;
	*) usage ;;
	esac
	mapfile -d '' files < <(list_sources)
	if [ "${#files[@]}" -eq 0 ]; then
		echo "format: no sources found"
		return 0
	fi
	if $check; then
		"$CLANG_FORMAT" --dry-run -Werror "${files[@]}"
		echo "format: ${#files[@]} files clean"
	else
		"$CLANG_FORMAT" -i "${files[@]}"
		echo "format: ${#files[@]} files formatted"
	fi
}

main "$@"
