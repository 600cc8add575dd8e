# SPDX-License-Identifier: MIT
# Shared helpers of the vhostdev-bench tests: where the programs are, the
# skip-or-fail rule (a missing tool skips on a developer machine but fails
# with CI=true), starting and stopping a back end, and reading a number
# from vhostdev-bench's JSON output.

# test_name, fail and the skip-or-fail rule.
. "$abs_top_srcdir/tests/build/test-lib.sh"

bench=$abs_top_builddir/tools/bench/vhostdev-bench
blk=$abs_top_builddir/examples/blk/vhostdev-blk
fails=0

# check DESCRIPTION COMMAND...: records a failure instead of exiting.
check() {
	what=$1
	shift
	if "$@"; then
		echo "ok: $what"
	else
		# The command and its operands say which figure was wrong.
		echo "FAIL: $what (failed: $*)" >&2
		fails=$((fails + 1))
	fi
}

require_bench() {
	[ -x "$bench" ] || fail "$bench not built"
}

require_blk() {
	[ -x "$blk" ] || skip_or_fail "vhostdev-blk not built (needs liburing)"
}

require_qsd() {
	qsd=$(command -v qemu-storage-daemon || true)
	[ -n "$qsd" ] || skip_or_fail "qemu-storage-daemon not installed"
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/$test_name.XXXXXX") || fail "no tmp dir"
pid=
stop_backend() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	pid=
}
trap 'stop_backend; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# start_blk ARGS...: vhostdev-blk on $tmp/blk.sock, pid in $pid.
start_blk() {
	rm -f "$tmp/blk.sock"
	"$blk" --socket-path="$tmp/blk.sock" "$@" >"$tmp/blk.log" 2>&1 &
	pid=$!
}

# start_qsd BLOCKDEV-OPTIONS [EXPORT-OPTIONS]: qemu-storage-daemon
# exporting one disk on $tmp/qsd.sock, pid in $pid.
start_qsd() {
	rm -f "$tmp/qsd.sock"
	"$qsd" --blockdev "$1,node-name=d" \
		--export "type=vhost-user-blk,id=e,node-name=d,addr.type=unix,addr.path=$tmp/qsd.sock${2:+,$2}" \
		>"$tmp/qsd.log" 2>&1 &
	pid=$!
}

# field NAME FILE: a number from the JSON output ("true"/"false" too).
field() {
	sed -n "s/^  \"$1\": \\([0-9a-z.]*\\),\\{0,1\\}\$/\\1/p" "$2"
}

# compare A OP B, with decimals: awk does the arithmetic.
compare() {
	awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN {
		if (a == "" || b == "") exit 1
		if (op == "<=") exit !(a + 0 <= b + 0)
		if (op == "<") exit !(a + 0 < b + 0)
		if (op == ">=") exit !(a + 0 >= b + 0)
		if (op == ">") exit !(a + 0 > b + 0)
		if (op == "==") exit !(a + 0 == b + 0)
		exit 1 }'
}

finish() {
	[ "$fails" -eq 0 ] || fail "$fails check(s) failed"
	echo "PASS: $test_name"
	exit 0
}
