# SPDX-License-Identifier: MIT
# Shared helpers for the packaging tests in tests/build/: where the trees
# are, and the skip-or-fail rule (a missing tool skips on a developer
# machine, but fails when CI=true, so CI can never go green by skipping).

: "${abs_top_builddir:?run through make check}"
: "${abs_top_srcdir:?run through make check}"

test_name=$(basename "$0" .test)

fail() {
	echo "FAIL: $test_name: $*" >&2
	exit 1
}

skip_or_fail() {
	if [ "${CI:-}" = true ]; then
		echo "FAIL: $test_name: $* (and CI=true, so this is not a skip)" >&2
		exit 1
	fi
	echo "SKIP: $test_name: $*" >&2
	exit 77
}

# The shared object libtool built (before install).
built_so=$abs_top_builddir/lib/.libs/libvhostdev.so
require_built_so() {
	[ -f "$built_so" ] || fail "$built_so not built"
}

# A scratch directory inside the build tree, removed on exit.
make_scratch() {
	scratch=$abs_top_builddir/tests/build/$test_name.tmp
	rm -rf "$scratch"
	mkdir -p "$scratch"
	trap 'rm -rf "$scratch"' EXIT
}
