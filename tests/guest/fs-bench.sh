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
# A benchmark, not a test: it prints figures and only fails when
# something does not run.
#
# Usage (from the top build directory, after make):
#   tests/guest/fs-bench.sh [ROUNDS]   (default 5; or make bench-fs)
# VIRTIOFSD names the peer. Without it: Debian's virtiofsd package
# (/usr/libexec/virtiofsd), or QEMU's C virtiofsd (/usr/lib/qemu/virtiofsd);
# failing both, that one is unpacked from bookworm's qemu-system-common
# 7.2 with apt-get download into the build tree.
# BENCH_MIB (default 64) and BENCH_FILES (default 1000) size the work;
# BENCH_FS_ARGS adds options to ours (e.g. --thread-pool-size=2).
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

share=$vg_work/share
sock=$vg_sockdir/fs.sock
vg_append="fs_tag=bench bench_mib=${BENCH_MIB:-64} bench_files=${BENCH_FILES:-1000}"

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

# run_one ours|virtiofsd: one guest boot, figures appended to NAME.results:
# "figure value", "cpu:figure us-per-op", "req:figure requests-per-op".
run_one()
{
	local who=$1 pid phase ops c0 c1 r0 r1
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
	vg_qemu_start -chardev "socket,id=fs,path=$sock" \
		-device vhost-user-fs-pci,chardev=fs,tag=bench,num-request-queues=1
	for phase in write read create stat unlink; do
		case $phase in
		write|read) ops=${BENCH_MIB:-64} ;;
		*) ops=${BENCH_FILES:-1000} ;;
		esac
		vg_wait_step "$phase-begin"
		c0=$(cpu_ns "$pid")
		[ "$who" = ours ] && r0=$(requests "$pid")
		vg_send "go-$phase-begin"
		vg_wait_step "$phase-end"
		c1=$(cpu_ns "$pid")
		[ "$who" = ours ] && r1=$(requests "$pid")
		vg_send "go-$phase-end"
		echo "cpu:$phase $(awk -v a="$c0" -v b="$c1" -v n="$ops" \
			'BEGIN { printf "%.1f", (b - a) / 1000 / n }')" \
			>>"$vg_work/$who.results"
		[ "$who" = ours ] &&
			echo "req:$phase $(awk -v a="$r0" -v b="$r1" -v n="$ops" \
				'BEGIN { printf "%.2f", (b - a) / n }')" \
				>>"$vg_work/$who.results"
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
echo "vhostdev-fs ${BENCH_FS_ARGS:+$BENCH_FS_ARGS }vs $virtiofsd, $rounds rounds each," \
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
vg_pass
