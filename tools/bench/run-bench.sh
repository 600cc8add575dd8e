#!/bin/sh
# SPDX-License-Identifier: MIT
# `make bench`: vhostdev-blk against qemu-storage-daemon's vhost-user-blk
# export, both driven by vhostdev-bench with random 4 KiB reads, on the same
# backings (a raw file on /dev/shm, and null disks), at queue depths 1, 32
# and 128, in interrupt and poll modes. Each daemon is pinned to one core
# and the bench tool to another; the two daemons alternate for several
# rounds and the medians are printed with the ratio ours/theirs. Prints
# figures only, asserts nothing. QUICK=1: one short round.
#
# Knobs (environment): ROUNDS, RUNTIME (seconds per run), DEPTHS, MODES,
# BACKINGS (shm null), SIZE_MB, DAEMON_CPU, BENCH_CPU, RW; OURS_ARGS (more
# vhostdev-blk options, e.g. --poll-us=0), QSD_POLL_NS (poll mode) and
# QSD_INTERRUPT_POLL_NS (interrupt mode) for QEMU's iothread.
set -u

builddir=${abs_top_builddir:-$(pwd)}
bench=$builddir/tools/bench/vhostdev-bench
blk=$builddir/examples/blk/vhostdev-blk
qsd=$(command -v qemu-storage-daemon || true)

if [ -n "${QUICK:-}" ]; then
	ROUNDS=${ROUNDS:-1}
	RUNTIME=${RUNTIME:-1}
else
	ROUNDS=${ROUNDS:-3}
	RUNTIME=${RUNTIME:-2}
fi
DEPTHS=${DEPTHS:-1 32 128}
MODES=${MODES:-interrupt poll}
BACKINGS=${BACKINGS:-shm null}
SIZE_MB=${SIZE_MB:-256}
RW=${RW:-randread}

die() {
	echo "run-bench: $*" >&2
	exit 1
}
[ -x "$bench" ] || die "$bench not built"
[ -x "$blk" ] || die "$blk not built (needs liburing)"
[ -n "$qsd" ] || die "qemu-storage-daemon not installed"
command -v taskset >/dev/null || die "taskset not found (util-linux)"

# Two different cores when there are two; without, no pinning at all.
if [ "$(nproc)" -ge 2 ]; then
	DAEMON_CPU=${DAEMON_CPU:-0}
	BENCH_CPU=${BENCH_CPU:-1}
	pin_daemon="taskset -c $DAEMON_CPU"
	pin_bench="--cpu=$BENCH_CPU"
	bench_taskset="taskset -c $BENCH_CPU"
else
	pin_daemon=
	pin_bench=
	bench_taskset=
fi

tmp=$(mktemp -d /dev/shm/vhostdev-bench.XXXXXX) || die "no /dev/shm"
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

size=$((SIZE_MB * 1024 * 1024))
case " $BACKINGS " in
*" shm "*)
	# Written out, not sparse, so reads find real pages.
	dd if=/dev/zero of="$tmp/disk.raw" bs=1M count="$SIZE_MB" \
		status=none || die "cannot create $tmp/disk.raw"
	;;
esac

# start_daemon WHO BACKING MODE: starts one daemon on $tmp/sock, sets $pid.
start_daemon() {
	sock=$tmp/sock
	rm -f "$sock"
	case $1 in
	ours)
		case $2 in
		shm) spec=$tmp/disk.raw ;;
		null) spec=null:$size ;;
		esac
		poll=
		[ "$3" = poll ] && poll=--poll
		# vhostdev-blk polls for up to --poll-us (50) after each
		# wake-up in interrupt mode too, unless OURS_ARGS says.
		# shellcheck disable=SC2086
		$pin_daemon "$blk" --socket-path="$sock" --blk-file="$spec" \
			--cache=writeback $poll ${OURS_ARGS:-} \
			>"$tmp/daemon.log" 2>&1 &
		;;
	qsd)
		case $2 in
		shm) dev="driver=file,filename=$tmp/disk.raw,aio=io_uring" ;;
		null) dev="driver=null-co,size=$size,read-zeroes=${ZEROES:-off}" ;;
		esac
		# QEMU's polling lives in the iothread: adaptive up to
		# poll-max-ns in poll mode, off in interrupt mode unless
		# QSD_INTERRUPT_POLL_NS says.
		pollns=${QSD_INTERRUPT_POLL_NS:-0}
		[ "$3" = poll ] && pollns=${QSD_POLL_NS:-32768}
		# shellcheck disable=SC2086
		$pin_daemon "$qsd" \
			--object iothread,id=io0,poll-max-ns=$pollns \
			--blockdev "$dev,node-name=f" \
			--export type=vhost-user-blk,id=e,node-name=f,iothread=io0,addr.type=unix,addr.path="$sock",writable=on \
			>"$tmp/daemon.log" 2>&1 &
		;;
	esac
	pid=$!
}

stop_daemon() {
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
}

# field NAME FILE: a number from vhostdev-bench's JSON output.
field() {
	sed -n "s/^  \"$1\": \\([0-9.]*\\),\\{0,1\\}\$/\\1/p" "$2"
}

results=$tmp/results
: >"$results"
# one WHO BACKING DEPTH MODE ROUND: one measured run, one result line.
one() {
	start_daemon "$1" "$2" "$4"
	out=$tmp/out.json
	# shellcheck disable=SC2086
	if ! $bench_taskset "$bench" "$tmp/sock" --wait=10000 --rw="$RW" \
		--iodepth="$3" --mode="$4" --runtime="$RUNTIME" \
		--backend-pid="$pid" $pin_bench --json >"$out" \
		2>"$tmp/bench.err"; then
		echo "run-bench: $1 $2 qd=$3 $4: FAILED" >&2
		cat "$tmp/bench.err" "$tmp/daemon.log" >&2
		stop_daemon
		return 1
	fi
	stop_daemon
	iops=$(field iops "$out")
	p50=$(field lat_p50_us "$out")
	p99=$(field lat_p99_us "$out")
	kpr=$(field kicks_per_request "$out")
	cpr=$(field calls_per_request "$out")
	cpu=$(field backend_cpu_us_per_request "$out")
	kc=$(echo "$kpr $cpr" | awk '{ printf "%.4f", $1 + $2 }')
	echo "$2 $3 $4 $1 $5 $iops $p50 $p99 $kc ${cpu:-0}" >>"$results"
	printf '  %-4s %-4s qd=%-3s %-9s round %s: %10.0f IOPS  p50 %7.1f us' \
		"$1" "$2" "$3" "$4" "$5" "$iops" "$p50"
	printf '  p99 %8.1f us  kicks+calls/req %.4f  cpu/req %.2f us\n' \
		"$p99" "$kc" "${cpu:-0}"
}

# median BACKING DEPTH MODE WHO COLUMN
median() {
	awk -v b="$1" -v d="$2" -v m="$3" -v w="$4" -v c="$5" \
		'$1 == b && $2 == d && $3 == m && $4 == w { print $c }' \
		"$results" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR == 0) print "nan";
		      else if (NR % 2) print v[(NR + 1) / 2];
		      else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "vhostdev-bench $RW 4 KiB, ${RUNTIME}s per run, $ROUNDS round(s)," \
	"daemon on CPU ${DAEMON_CPU:-any}, bench on CPU ${BENCH_CPU:-any}"
echo "vhostdev-blk options: ${OURS_ARGS:-(defaults)}; qsd poll-max-ns:" \
	"interrupt ${QSD_INTERRUPT_POLL_NS:-0}, poll ${QSD_POLL_NS:-32768};" \
	"load average: $(cut -d' ' -f1-3 /proc/loadavg)"
failed=0
for backing in $BACKINGS; do
	for depth in $DEPTHS; do
		for mode in $MODES; do
			r=1
			while [ "$r" -le "$ROUNDS" ]; do
				# Alternate who goes first, so neither always
				# runs on a warmer machine.
				if [ $((r % 2)) = 1 ]; then
					order="ours qsd"
				else
					order="qsd ours"
				fi
				for who in $order; do
					one "$who" "$backing" "$depth" "$mode" \
						"$r" || failed=$((failed + 1))
				done
				r=$((r + 1))
			done
		done
	done
done

echo
echo "Medians (ours = vhostdev-blk, qsd = qemu-storage-daemon $("$qsd" --version | sed -n '1s/.*version \([^ ]*\).*/\1/p'))"
printf '%-5s %-4s %-9s | %10s %10s %6s | %13s %13s | %9s %9s | %8s %8s\n' \
	backing qd mode "ours IOPS" "qsd IOPS" ratio "ours p50/p99" \
	"qsd p50/p99" "ours k+c" "qsd k+c" "ours cpu" "qsd cpu"
for backing in $BACKINGS; do
	for depth in $DEPTHS; do
		for mode in $MODES; do
			oi=$(median "$backing" "$depth" "$mode" ours 6)
			qi=$(median "$backing" "$depth" "$mode" qsd 6)
			o50=$(median "$backing" "$depth" "$mode" ours 7)
			o99=$(median "$backing" "$depth" "$mode" ours 8)
			q50=$(median "$backing" "$depth" "$mode" qsd 7)
			q99=$(median "$backing" "$depth" "$mode" qsd 8)
			okc=$(median "$backing" "$depth" "$mode" ours 9)
			qkc=$(median "$backing" "$depth" "$mode" qsd 9)
			ocpu=$(median "$backing" "$depth" "$mode" ours 10)
			qcpu=$(median "$backing" "$depth" "$mode" qsd 10)
			ratio=$(echo "$oi $qi" | awk '{ if ($2 > 0)
				printf "%.2f", $1 / $2; else print "-" }')
			printf '%-5s %-4s %-9s | %10.0f %10.0f %6s | %6.1f/%-6.1f %6.1f/%-6.1f | %9.4f %9.4f | %8.2f %8.2f\n' \
				"$backing" "$depth" "$mode" "$oi" "$qi" \
				"$ratio" "$o50" "$o99" "$q50" "$q99" "$okc" \
				"$qkc" "$ocpu" "$qcpu"
		done
	done
done
echo "(latencies in us; k+c = kicks + calls per request; cpu = daemon" \
	"CPU us per request; load average at the end:" \
	"$(cut -d' ' -f1-3 /proc/loadavg))"
[ "$failed" = 0 ] || die "$failed run(s) failed"
