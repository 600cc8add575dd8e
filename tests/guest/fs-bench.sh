#!/bin/bash
# SPDX-License-Identifier: MIT
# Compares vhostdev-fs with virtiofsd on the same guest setup (the small
# test kernel under QEMU, one request queue, cache=auto, the default
# namespace sandbox for both): sequential write and read of a large file,
# and create, stat and unlink of many small files. Runs alternate A/B
# (ours, theirs, ours, ...) and the table shows medians and the ratio
# ours/virtiofsd. Around each timed phase the guest waits while the host
# reads the idle daemon's CPU time (schedstat of every thread of the
# daemon and its children) and, for ours, its request counts (SIGUSR1
# logs them): the daemon's CPU time per operation and our requests per
# operation depend far less on the TCG guest than the wall clock does.
# A second table splits each daemon's time per operation between the
# guest's vCPU, QEMU's other threads and the daemon, with the ratio a
# daemon taking no time at all would reach against virtiofsd (the
# ceiling); a third times the same metadata commands on the guest's tmpfs.
# A benchmark, not a test: it prints figures and only fails when
# something does not run.
#
# Usage (from the top build directory, after make):
#   tests/guest/fs-bench.sh [ROUNDS]   (default 5; or make bench-fs)
# VIRTIOFSD names the peer. Without it: Debian's virtiofsd package
# (/usr/libexec/virtiofsd), or QEMU's C virtiofsd (/usr/lib/qemu/virtiofsd);
# failing both, that one is unpacked from bookworm's qemu-system-common
# 7.2 with apt-get download into the build tree.
# BENCH_MIB (default 64) and BENCH_FILES (default 2000) size the work;
# BENCH_FS_ARGS adds options to ours (e.g. --thread-pool-size=2); BENCH_DIR
# is where the shared directory goes (default /dev/shm).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/host-lib.sh"

rounds=${1:-5}
vg_init fs-bench $((rounds * 2 * 300 + 120))
vg_fs=$vg_top_builddir/examples/fs/vhostdev-fs
vg_need_file "$vg_fs" "run make first"
vg_guest_script "$here/fs-bench-guest.sh"

find_virtiofsd()
{
	local deb dir=$vg_builddir/virtiofsd-7.2
	for v in "${VIRTIOFSD:-}" /usr/libexec/virtiofsd /usr/lib/qemu/virtiofsd \
		"$dir/usr/lib/qemu/virtiofsd"; do
		[ -n "$v" ] && [ -x "$v" ] && { echo "$v"; return 0; }
	done
	mkdir -p "$dir" || return 1
	(cd "$dir" && apt-get download -q \
		"qemu-system-common=$(apt-cache madison qemu-system-common |
			awk -F'|' '$2 ~ /7\.2/ { gsub(/ /, "", $2); print $2; exit }')" \
		>/dev/null 2>&1) || return 1
	deb=$(ls "$dir"/qemu-system-common_*.deb 2>/dev/null | head -n 1)
	[ -n "$deb" ] && dpkg -x "$deb" "$dir" || return 1
	[ -x "$dir/usr/lib/qemu/virtiofsd" ] &&
		echo "$dir/usr/lib/qemu/virtiofsd"
}
virtiofsd=$(find_virtiofsd) || vg_skip "no virtiofsd (set VIRTIOFSD)"
vg_log "peer: $virtiofsd"

# The share lives on tmpfs (/dev/shm) unless BENCH_DIR names another
# parent: on a disk file system the figures measure its allocator as much
# as the daemons (on ext4, after the boots before deleted thousands of
# files, most of a create's time goes to scanning for a free inode).
parent=${BENCH_DIR:-/dev/shm}
[ -d "$parent" ] || parent=$vg_work
share=$(mktemp -d "$parent/vhostdev-fs-bench.XXXXXX") ||
	vg_fail "cannot create a directory in $parent"
trap 'rm -rf "$share"; vg_cleanup' EXIT
share_fs=$(stat -f -c %T "$share")
vg_log "share: $share ($share_fs)"
sock=$vg_sockdir/fs.sock
vg_append="fs_tag=bench bench_mib=${BENCH_MIB:-64} bench_files=${BENCH_FILES:-2000}"

# descendants PID: every process below PID (virtiofsd serves from a child
# in its own PID namespace).
descendants()
{
	local c
	for c in $(pgrep -P "$1"); do
		echo "$c"
		descendants "$c"
	done
}

# cpu_ns PID: CPU time of PID, its threads and its descendants', in ns.
cpu_ns()
{
	local p f ns total=0
	for p in "$1" $(descendants "$1"); do
		for f in /proc/"$p"/task/*/schedstat; do
			read -r ns _ <"$f" 2>/dev/null && total=$((total + ns))
		done
	done
	echo "$total"
}

# qemu_cpu_ns PID vcpu|other: CPU time of QEMU's vCPU threads (the TCG
# guest itself), or of its other threads (main loop: interrupts, kicks).
qemu_cpu_ns()
{
	local t comm kind ns total=0
	for t in /proc/"$1"/task/*; do
		read -r comm <"$t/comm" 2>/dev/null || continue
		case $comm in
		"CPU "*/TCG) kind=vcpu ;;
		*) kind=other ;;
		esac
		[ "$kind" = "$2" ] || continue
		read -r ns _ <"$t/schedstat" 2>/dev/null && total=$((total + ns))
	done
	echo "$total"
}

# per_op NAME START END OPS: "NAME us-per-op" from two ns counters.
per_op()
{
	awk -v k="$1" -v a="$2" -v b="$3" -v n="$4" \
		'BEGIN { printf "%s %.1f\n", k, (b - a) / 1000 / n }'
}

# requests PID: the requests ours served so far (SIGUSR1 logs the counts).
requests()
{
	local log=$vg_work/ours.log n
	n=$(grep -c 'info: requests:' "$log")
	kill -USR1 "$1"
	for _ in $(seq 100); do
		[ "$(grep -c 'info: requests:' "$log")" -gt "$n" ] && break
		sleep 0.05
	done
	grep 'info: requests:' "$log" | tail -n 1 | tr ' ' '\n' |
		awk -F= 'NF == 2 { s += $2 } END { print s + 0 }'
}

# counters ours|virtiofsd PID: the CPU time (ns) of the daemon, of QEMU's
# vCPU threads and of its other threads, and our requests so far (0 for
# virtiofsd).
counters()
{
	local c v q r=0
	c=$(cpu_ns "$2")
	v=$(qemu_cpu_ns "$vg_qemu_pid" vcpu)
	q=$(qemu_cpu_ns "$vg_qemu_pid" other)
	# Last: SIGUSR1 costs the daemon CPU time.
	[ "$1" = ours ] && r=$(requests "$2")
	echo "$c $v $q $r"
}

# run_one ours|virtiofsd: one guest boot, figures appended to NAME.results:
# "figure value", "cpu:figure us-per-op", "req:figure requests-per-op".
run_one()
{
	local who=$1 pid phase ops c0 c1 v0 v1 q0 q1 r0 r1
	rm -rf "$share" && mkdir -p "$share"
	rm -f "$sock"
	if [ "$who" = ours ]; then
		# shellcheck disable=SC2086
		vg_daemon_start "$who" "$vg_fs" --socket-path="$sock" \
			--shared-dir="$share" --cache=auto --verbose \
			${BENCH_FS_ARGS:-}
	else
		vg_daemon_start "$who" "$virtiofsd" --socket-path="$sock" \
			-o source="$share" -o cache=auto
	fi
	pid=${vg_daemon_pid[$who]}
	vg_wait_listening "$sock"
	vg_qemu_start -name bench,debug-threads=on \
		-chardev "socket,id=fs,path=$sock" \
		-device vhost-user-fs-pci,chardev=fs,tag=bench,num-request-queues=1
	for phase in write read create stat unlink; do
		case $phase in
		write|read) ops=${BENCH_MIB:-64} ;;
		*) ops=${BENCH_FILES:-2000} ;;
		esac
		vg_wait_step "$phase-begin"
		read -r c0 v0 q0 r0 <<<"$(counters "$who" "$pid")"
		vg_send "go-$phase-begin"
		vg_wait_step "$phase-end"
		read -r c1 v1 q1 r1 <<<"$(counters "$who" "$pid")"
		vg_send "go-$phase-end"
		{
			per_op "cpu:$phase" "$c0" "$c1" "$ops"
			per_op "vcpu:$phase" "$v0" "$v1" "$ops"
			per_op "qemu:$phase" "$q0" "$q1" "$ops"
			[ "$who" = ours ] &&
				echo "req:$phase $(awk -v a="$r0" -v b="$r1" \
					-v n="$ops" \
					'BEGIN { printf "%.2f", (b - a) / n }')"
		} >>"$vg_work/$who.results"
	done
	vg_wait_verdict
	tr -d '\r' <"$vg_console" | awk '$1 == "BENCH" { print $2, $3 }' \
		>>"$vg_work/$who.results"
	vg_daemon_stop "$who" TERM 10 || vg_daemon_kill "$who"
}

for round in $(seq 1 "$rounds"); do
	run_one ours
	run_one virtiofsd
done

median()
{
	awk -v k="$2" '$1 == k { print $2 }' "$1" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
			else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio()
{
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b }'
}

echo
echo "vhostdev-fs ${BENCH_FS_ARGS:+$BENCH_FS_ARGS }vs $virtiofsd, share on" \
	"$share_fs, $rounds rounds each," \
	"medians (throughput: higher is better; daemon CPU per operation," \
	"per MiB for write and read: lower is better):"
printf '%-16s %9s %9s %6s | %9s %9s %6s | %7s\n' figure ours virtiofsd \
	ratio cpu-us cpu-us ratio req/op
for k in write:seq-write-MiB/s read:seq-read-MiB/s create:create/s \
	stat:stat/s unlink:unlink/s; do
	phase=${k%%:*}
	k=${k#*:}
	a=$(median "$vg_work/ours.results" "$k")
	b=$(median "$vg_work/virtiofsd.results" "$k")
	ca=$(median "$vg_work/ours.results" "cpu:$phase")
	cb=$(median "$vg_work/virtiofsd.results" "cpu:$phase")
	printf '%-16s %9s %9s %6s | %9s %9s %6s | %7s\n' "$k" "$a" "$b" \
		"$(ratio "$a" "$b")" "$ca" "$cb" "$(ratio "$cb" "$ca")" \
		"$(median "$vg_work/ours.results" "req:$phase")"
done
echo "(cpu ratio: virtiofsd's CPU time / ours; above 1 means ours uses less)"
# Where the wall-clock time of one operation goes: the TCG guest (vCPU
# threads), QEMU's other threads (kicks, interrupts) and the daemon. A
# daemon taking no time at all, answering the same requests the same way,
# would make virtiofsd's operation shorter by virtiofsd's time at most:
# the ceiling. (Fewer requests, or replies fast enough that the guest
# never halts, can beat it: both shorten the guest's part.)
echo "one operation's time (per MiB for write and read), us: wall clock," \
	"CPU of the guest's vCPU, of QEMU's other threads and of the daemon;" \
	"the ceiling is the ratio over virtiofsd a daemon taking no time," \
	"answering the same requests the same way, would reach:"
printf '%-16s %-9s %9s %9s %9s %9s %8s\n' figure daemon wall-us vcpu-us \
	qemu-us daemon-us ceiling
for k in write:seq-write-MiB/s read:seq-read-MiB/s create:create/s \
	stat:stat/s unlink:unlink/s; do
	phase=${k%%:*}
	k=${k#*:}
	for who in virtiofsd ours; do
		f=$vg_work/$who.results
		b=$(median "$f" "$k")
		cb=$(median "$f" "cpu:$phase")
		ceiling=
		[ "$who" = virtiofsd ] &&
			ceiling=$(awk -v r="$b" -v c="$cb" 'BEGIN { if (r > 0) {
				w = 1e6 / r; if (w > c)
					printf "%.2fx", w / (w - c) } }')
		printf '%-16s %-9s %9s %9s %9s %9s %8s\n' "$k" "$who" \
			"$(awk -v r="$b" 'BEGIN { if (r > 0) printf "%.1f", 1e6 / r }')" \
			"$(median "$f" "vcpu:$phase")" \
			"$(median "$f" "qemu:$phase")" "$cb" "$ceiling"
	done
done
# The same commands on the guest's tmpfs: the guest's cost of the command
# itself, without FUSE and virtio (the rest of the vCPU time above is the
# guest's FUSE and virtio-fs driver path under TCG).
echo "the same commands on the guest's tmpfs (no device), every boot:"
cat "$vg_work/ours.results" "$vg_work/virtiofsd.results" >"$vg_work/all.results"
printf '%-16s %9s %9s\n' figure tmpfs wall-us
for k in create stat unlink; do
	t=$(median "$vg_work/all.results" "tmpfs-$k/s")
	printf '%-16s %9s %9s\n' "tmpfs-$k/s" "$t" \
		"$(awk -v r="$t" 'BEGIN { if (r > 0) printf "%.1f", 1e6 / r }')"
done
vg_pass
