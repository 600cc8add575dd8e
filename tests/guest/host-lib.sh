# SPDX-License-Identifier: MIT
# Host side of the end-to-end tests: a bash library sourced by each
# tests/guest/*.test. It starts the daemons under test with their logs in
# the build tree, boots QEMU on the small guest kernel with a busybox
# initramfs carrying the test's guest script, watches both, and turns the
# verdict line the guest prints on its serial console into the test's exit
# status: 0 pass, 1 fail, 77 skip (a missing tool on a developer machine;
# with CI=true a missing tool is a failure, so CI cannot pass by skipping).
#
# Every wait polls with a short sleep and checks the test's hard deadline,
# the watched daemons and QEMU, so no failure mode can hang a test.
#
# Environment:
#   abs_top_builddir, abs_top_srcdir  set by make check (else: the current
#                           directory is the top build directory)
#   VHOSTDEV_GUEST_KERNEL   bzImage to boot (else the cached one from
#                           build-kernel.sh)
#   VHOSTDEV_QEMU           QEMU binary (default qemu-system-x86_64)
#   VHOSTDEV_QEMU_ACCEL     QEMU accelerator (default tcg: a /dev/kvm that
#                           exists is not always one that works)
#   CI                      "true" turns skips into failures

vg_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
vg_top_builddir=${abs_top_builddir:-$PWD}
vg_builddir=$vg_top_builddir/tests/guest
vg_qemu_bin=${VHOSTDEV_QEMU:-qemu-system-x86_64}

# Set by a test before vg_qemu_start: more kernel command-line words (each
# name=value without a dot reaches the guest script as an environment
# variable), whether QEMU gets an HMP monitor for vg_hmp, the machine
# type with its options (default pc) and the number of CPUs (default 1).
vg_append=
vg_monitor=
vg_machine=
vg_smp=

vg_monitor_reader=
vg_sockdir=
vg_name=
vg_work=
vg_deadline=0
vg_kernel=
vg_base=
vg_guest_script=
vg_qemu_pid=
vg_qemu_status=
vg_console=
vg_daemon_ids=()
vg_watched=()
declare -A vg_daemon_pid=()

vg_log()
{
	echo "[$vg_name +${SECONDS}s] $*"
}

# A test that cannot run here: skip (77) on a developer machine, fail under
# CI=true.
vg_skip()
{
	if [ "${CI:-}" = true ]; then
		echo "FAIL: $* (CI=true: a missing tool is a failure)"
		exit 1
	fi
	echo "SKIP: $*"
	exit 77
}

vg_need_tool()
{
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null 2>&1 ||
			vg_skip "$tool is not installed"
	done
}

# vg_need_file PATH HINT: a built file the test needs (a daemon, ...).
vg_need_file()
{
	[ -e "$1" ] || vg_skip "$1 is missing ($2)"
}

vg_print_file()
{
	local title=$1 file=$2
	echo "----- $title ($file) -----"
	if [ -s "$file" ]; then
		tr -d '\r' <"$file"
	else
		echo "(empty or missing)"
	fi
	echo "----- end of $title -----"
}

# Prints everything worth seeing after a failure and exits 1.
vg_fail()
{
	local id
	echo "FAIL: $*"
	if [ -n "$vg_work" ]; then
		[ -n "$vg_console" ] && vg_print_file "guest console" "$vg_console"
		[ -e "$vg_work/qemu.log" ] &&
			vg_print_file "QEMU stderr" "$vg_work/qemu.log"
		[ -e "$vg_work/monitor.log" ] &&
			vg_print_file "QEMU monitor" "$vg_work/monitor.log"
		for id in "${vg_daemon_ids[@]}"; do
			vg_print_file "daemon $id log" "$vg_work/$id.log"
		done
		echo "(all files are kept in $vg_work)"
	fi
	exit 1
}

# Runs at exit whatever happened: nothing the test started may outlive it.
vg_cleanup()
{
	local id
	exec 7>&- 8>&-
	vg_qemu_kill
	[ -n "${vg_monitor_reader:-}" ] && kill "$vg_monitor_reader" 2>/dev/null
	for id in "${vg_daemon_ids[@]}"; do
		vg_daemon_kill "$id"
	done
	[ -n "$vg_sockdir" ] && rm -rf "$vg_sockdir"
}

# vg_init NAME TIMEOUT_SECONDS: starts a test; NAME also names the work
# directory tests/guest/NAME.d in the build tree.
vg_init()
{
	vg_name=$1
	vg_deadline=$((SECONDS + $2))
	vg_work=$vg_builddir/$vg_name.d
	rm -rf "$vg_work"
	mkdir -p "$vg_work" || vg_fail "cannot create $vg_work"
	trap vg_cleanup EXIT
	trap 'vg_fail "interrupted by a signal"' INT TERM HUP
	vg_need_tool "$vg_qemu_bin" busybox gzip flock
	# UNIX socket paths are limited to 107 bytes, which a deep build
	# tree can exceed: sockets live in a short temporary directory.
	vg_sockdir=$(mktemp -d "${TMPDIR:-/tmp}/vhostdev-$vg_name.XXXXXX") ||
		vg_fail "mktemp failed"
}

# ---- processes ------------------------------------------------------------

# 0 when PID runs. A dead child that was not reaped yet still answers
# kill -0, so the state letter in /proc/PID/stat decides.
vg_pid_alive()
{
	local stat state
	[ -n "$1" ] || return 1
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
	state=${stat##*) }
	state=${state%% *}
	case "$state" in
	Z|X|x) return 1 ;;
	esac
	return 0
}

vg_check_deadline()
{
	[ "$SECONDS" -lt "$vg_deadline" ] ||
		vg_fail "hard timeout: the test ran out of time"
}

# Fails the test as soon as a watched daemon died or time is up.
vg_check()
{
	local id
	vg_check_deadline
	for id in "${vg_watched[@]}"; do
		vg_pid_alive "${vg_daemon_pid[$id]}" ||
			vg_fail "daemon $id (pid ${vg_daemon_pid[$id]}) died"
	done
}

vg_watch()
{
	vg_watched+=("$@")
}

vg_unwatch()
{
	local id keep=()
	for id in "${vg_watched[@]}"; do
		[ "$id" = "$1" ] || keep+=("$id")
	done
	vg_watched=("${keep[@]}")
}

# vg_daemon_start ID CMD [ARGS...]: starts a daemon in the background, its
# stdout and stderr appended to ID.log in the work directory, and watches
# it. A second start with the same ID (a restart) appends to the same log.
vg_daemon_start()
{
	local id=$1
	shift
	echo "=== $(date +%T) starting: $*" >>"$vg_work/$id.log"
	# The host channel and monitor fds are QEMU's business only.
	"$@" </dev/null >>"$vg_work/$id.log" 2>&1 7>&- 8>&- &
	vg_daemon_pid[$id]=$!
	case " ${vg_daemon_ids[*]} " in
	*" $id "*) ;;
	*) vg_daemon_ids+=("$id") ;;
	esac
	vg_unwatch "$id"
	vg_watch "$id"
	vg_log "started daemon $id (pid $!): $*"
}

vg_daemon_alive()
{
	vg_pid_alive "${vg_daemon_pid[$1]:-}"
}

# vg_daemon_stop ID [SIGNAL] [SECONDS]: sends SIGNAL (default TERM), waits
# for the exit and sets vg_daemon_status to the exit status (128+n for a
# signal). Returns 1 when the daemon did not exit in time.
vg_daemon_stop()
{
	local id=$1 sig=${2:-TERM} left=$((${3:-5} * 10))
	local pid=${vg_daemon_pid[$id]:-}
	vg_daemon_status=
	vg_unwatch "$id"
	[ -n "$pid" ] || return 0
	kill -s "$sig" "$pid" 2>/dev/null
	while vg_pid_alive "$pid"; do
		[ "$left" -gt 0 ] || return 1
		left=$((left - 1))
		sleep 0.1
	done
	wait "$pid" 2>/dev/null
	vg_daemon_status=$?
	vg_daemon_pid[$id]=
	vg_log "daemon $id (pid $pid) exited with status $vg_daemon_status"
	return 0
}

vg_daemon_kill()
{
	local pid=${vg_daemon_pid[$1]:-}
	[ -n "$pid" ] || return 0
	vg_daemon_stop "$1" TERM 2 >/dev/null ||
		vg_daemon_stop "$1" KILL 2 >/dev/null
}

# vg_wait_listening PATH: waits until a UNIX socket listens on PATH
# (/proc/net/unix flag __SO_ACCEPTCON), not merely until the file exists:
# a QEMU without a reconnect option gives up at the first refused connect.
vg_wait_listening()
{
	local path=$1
	while ! awk -v p="$path" '$4 == "00010000" && $NF == p { found = 1 }
		END { exit !found }' /proc/net/unix; do
		vg_check
		sleep 0.1
	done
}

# ---- the guest --------------------------------------------------------------

# Finds the guest kernel: VHOSTDEV_GUEST_KERNEL, else the one build-kernel.sh
# cached. Building it takes 12-20 minutes, so a test never starts a build.
vg_find_kernel()
{
	if [ -n "${VHOSTDEV_GUEST_KERNEL:-}" ]; then
		vg_kernel=$VHOSTDEV_GUEST_KERNEL
		[ -r "$vg_kernel" ] ||
			vg_skip "VHOSTDEV_GUEST_KERNEL=$vg_kernel is not readable"
		return 0
	fi
	vg_kernel=$("$vg_here/build-kernel.sh" --cached 2>"$vg_work/kernel.err") ||
		vg_skip "no guest kernel: $(tr '\n' ' ' <"$vg_work/kernel.err")"
}

# The base initramfs is built once per build tree and shared by every test;
# the lock keeps parallel tests (make -j check) from building it together.
vg_base_initramfs()
{
	local base=$vg_builddir/initramfs-base.cpio.gz input stale=
	(
		flock 9 || exit 1
		if [ -e "$base" ]; then
			for input in "$vg_here/make-initramfs.sh" \
				"$vg_here/guest-init.sh" "$vg_here/guest-lib.sh" \
				"$vg_here/fs-guest-tool.c" \
				"$(command -v busybox)"; do
				[ "$input" -nt "$base" ] && stale=1
			done
		else
			stale=1
		fi
		[ -z "$stale" ] || "$vg_here/make-initramfs.sh" "$base"
	) 9>"$vg_builddir/initramfs.lock" ||
		vg_fail "could not build the base initramfs"
	vg_base=$base
}

# vg_guest_script FILE: the script the guest runs (with guest-lib.sh at
# /lib/vhostdev/guest-lib.sh). Its name on the kernel command line is the
# test name, which must not contain a dot (the kernel would take a dotted
# word for a module parameter).
vg_guest_script()
{
	case "$vg_name" in
	*.*) vg_fail "test name '$vg_name' contains a dot" ;;
	esac
	vg_guest_script=$1
	[ -r "$vg_guest_script" ] || vg_fail "no guest script $vg_guest_script"
}

# The per-test archive is gzipped too: the kernel only accepts an
# uncompressed archive at a 4-byte aligned offset, and the gzip stream
# before it ends anywhere.
vg_make_initrd()
{
	local stage=$vg_work/initrd-stage
	vg_find_kernel
	vg_base_initramfs
	rm -rf "$stage"
	mkdir -p "$stage/tests"
	cp "$vg_guest_script" "$stage/tests/$vg_name"
	(cd "$stage" && find . | busybox cpio -o -H newc -R 0:0 2>/dev/null) |
		gzip -n >"$vg_work/test.cpio.gz" ||
		vg_fail "could not pack the guest script"
	cat "$vg_base" "$vg_work/test.cpio.gz" >"$vg_work/initrd"
}

# vg_reconnect_opt: the chardev option that makes QEMU retry a back end
# once a second (QEMU 9.2 renamed reconnect=S to reconnect-ms=MS).
vg_reconnect_opt()
{
	if "$vg_qemu_bin" -version | awk '/ version / {
		split($4, v, "."); ok = v[1] > 9 || (v[1] == 9 && v[2] >= 2) }
		END { exit !ok }'
	then
		echo reconnect-ms=1000
	else
		echo reconnect=1
	fi
}

# vg_qemu_start [QEMU ARGS...]: boots the guest with the given devices.
# Guest memory is a shared memfd, as vhost-user needs. The console (ttyS0)
# goes to console.log (console-2.log for a second run in the same test,
# and so on); ttyS1 is the host-to-guest channel (vg_send).
vg_qemu_start()
{
	local accel=${VHOSTDEV_QEMU_ACCEL:-tcg} n=1
	vg_make_initrd
	vg_console=$vg_work/console.log
	while [ -e "$vg_console" ]; do
		n=$((n + 1))
		vg_console=$vg_work/console-$n.log
	done
	: >"$vg_console"
	rm -f "$vg_work/ctl.in" "$vg_work/ctl.out"
	mkfifo "$vg_work/ctl.in" "$vg_work/ctl.out" ||
		vg_fail "mkfifo failed"
	local monitor=()
	if [ -n "$vg_monitor" ]; then
		rm -f "$vg_work/mon.in" "$vg_work/mon.out"
		mkfifo "$vg_work/mon.in" "$vg_work/mon.out" ||
			vg_fail "mkfifo failed"
		monitor=(-monitor "pipe:$vg_work/mon")
	fi
	echo "=== $(date +%T) run $n: $*" >>"$vg_work/qemu.log"
	"$vg_qemu_bin" \
		-M "${vg_machine:-pc}",memory-backend=vg-mem,accel=$accel \
		-object memory-backend-memfd,id=vg-mem,size=256M,share=on \
		-m 256M -smp "${vg_smp:-1}" \
		-nodefaults -display none -vga none -nic none -no-reboot \
		-kernel "$vg_kernel" -initrd "$vg_work/initrd" \
		-append "console=ttyS0 panic=-1 vhostdev_test=$vg_name $vg_append" \
		-serial "file:$vg_console" -serial "pipe:$vg_work/ctl" \
		"${monitor[@]}" "$@" </dev/null >>"$vg_work/qemu.log" 2>&1 &
	vg_qemu_pid=$!
	vg_qemu_status=
	# Read-write opens of a FIFO never block, and keep the pipe usable
	# whichever side comes first.
	exec 7<>"$vg_work/ctl.in"
	if [ -n "$vg_monitor" ]; then
		exec 8<>"$vg_work/mon.in"
		# The monitor's output must be drained or QEMU stalls on it.
		cat "$vg_work/mon.out" >>"$vg_work/monitor.log" &
		vg_monitor_reader=$!
	fi
	vg_log "started QEMU (pid $vg_qemu_pid), console in $vg_console"
}

# Collects QEMU's exit status once it is gone; 0 while it runs.
vg_qemu_reap()
{
	[ -n "$vg_qemu_pid" ] || return 1
	vg_pid_alive "$vg_qemu_pid" && return 1
	wait "$vg_qemu_pid" 2>/dev/null
	vg_qemu_status=$?
	vg_log "QEMU (pid $vg_qemu_pid) exited with status $vg_qemu_status"
	vg_qemu_pid=
	exec 7>&- 8>&-
	if [ -n "${vg_monitor_reader:-}" ]; then
		kill "$vg_monitor_reader" 2>/dev/null
		wait "$vg_monitor_reader" 2>/dev/null
		vg_monitor_reader=
	fi
	return 0
}

vg_qemu_kill()
{
	local left=20
	[ -n "$vg_qemu_pid" ] || return 0
	kill "$vg_qemu_pid" 2>/dev/null
	while ! vg_qemu_reap; do
		if [ "$left" -le 0 ]; then
			kill -KILL "$vg_qemu_pid" 2>/dev/null
			left=20
		fi
		left=$((left - 1))
		sleep 0.1
	done
}

# 0 when the console holds the exact line $1 (the serial console ends lines
# with \r\n).
vg_console_has()
{
	tr -d '\r' <"$vg_console" | grep -q -x -F -- "$1"
}

# vg_wait_step STEP: waits for the guest's "VHOSTDEV-GUEST-STEP: STEP".
vg_wait_step()
{
	while ! vg_console_has "VHOSTDEV-GUEST-STEP: $1"; do
		vg_console_has "VHOSTDEV-GUEST-RESULT: FAIL" &&
			vg_fail "the guest failed before step '$1'"
		vg_qemu_reap &&
			vg_fail "QEMU exited before step '$1'"
		vg_check
		sleep 0.1
	done
	vg_log "guest reached step '$1'"
}

# vg_send WORD: one line to the guest's ttyS1 (see guest_wait_host).
vg_send()
{
	[ -n "$vg_qemu_pid" ] || vg_fail "vg_send '$1' without a running QEMU"
	echo "$1" >&7 || vg_fail "could not send '$1' to the guest"
	vg_log "sent '$1' to the guest"
}

# vg_hmp COMMAND: one human monitor command (needs vg_monitor=yes).
vg_hmp()
{
	echo "$1" >&8 || vg_fail "could not send '$1' to the QEMU monitor"
	vg_log "monitor: $1"
}

# vg_wait_log ID TEXT: waits until the log of the latest start of daemon
# ID holds TEXT (a restarted daemon appends to the same file, after a
# "=== ... starting:" line).
vg_wait_log()
{
	while ! tac "$vg_work/$1.log" | sed '/^=== .* starting: /q' |
		grep -q -F -- "$2"; do
		vg_check
		sleep 0.1
	done
}

# vg_qemu_wait_exit: waits for QEMU to end, its status in vg_qemu_status.
vg_qemu_wait_exit()
{
	while ! vg_qemu_reap; do
		vg_check
		sleep 0.1
	done
}

# vg_wait_verdict: waits for the guest run to end and fails the test unless
# the guest printed the PASS verdict. QEMU's exit status says nothing about
# the guest: a power-off and a kernel panic both end it with 0.
vg_wait_verdict()
{
	vg_qemu_wait_exit
	vg_console_has "VHOSTDEV-GUEST-RESULT: PASS" ||
		vg_fail "the guest did not report PASS"
	vg_log "guest reported PASS"
}

vg_pass()
{
	vg_log "PASS"
	exit 0
}

# ---- live migration ---------------------------------------------------------

vg_dest_pid=
vg_dest_console=
vg_dest_reader=
vg_dest_count=0
vg_migrate_downtime=

# vg_qemu_start_incoming URI [QEMU ARGS...]: starts a second QEMU, the
# destination of a live migration, waiting at URI (-incoming). Its machine
# must be the source's (the options of vg_qemu_start) and its devices
# given in the same order. Its console goes to console-dest-N.log (N counts
# the destinations of the test), its host channel and monitor to FIFOs of
# their own (ctl-dest-N, mon-dest-N) until vg_qemu_switch_to_dest makes it
# the QEMU the harness talks to.
vg_qemu_start_incoming()
{
	local accel=${VHOSTDEV_QEMU_ACCEL:-tcg} uri=$1 d
	shift
	vg_dest_count=$((vg_dest_count + 1))
	d=$vg_work/dest-$vg_dest_count
	vg_dest_console=$vg_work/console-dest-$vg_dest_count.log
	: >"$vg_dest_console"
	rm -f "$d".ctl.* "$d".mon.*
	mkfifo "$d.ctl.in" "$d.ctl.out" "$d.mon.in" "$d.mon.out" ||
		vg_fail "mkfifo failed"
	echo "=== $(date +%T) destination $vg_dest_count: $*" \
		>>"$vg_work/qemu-dest.log"
	"$vg_qemu_bin" \
		-M pc,memory-backend=vg-mem,accel=$accel \
		-object memory-backend-memfd,id=vg-mem,size=256M,share=on \
		-m 256M -smp 1 \
		-nodefaults -display none -vga none -nic none -no-reboot \
		-kernel "$vg_kernel" -initrd "$vg_work/initrd" \
		-append "console=ttyS0 panic=-1 vhostdev_test=$vg_name $vg_append" \
		-serial "file:$vg_dest_console" -serial "pipe:$d.ctl" \
		-monitor "pipe:$d.mon" -incoming "$uri" \
		"$@" </dev/null >>"$vg_work/qemu-dest.log" 2>&1 &
	vg_dest_pid=$!
	exec 5<>"$d.ctl.in" 6<>"$d.mon.in"
	# Once it is the guest's, its answers are read where vg_migrate
	# looks for them.
	cat "$d.mon.out" >>"$vg_work/monitor.log" &
	vg_dest_reader=$!
	vg_log "started destination QEMU (pid $vg_dest_pid), console in $vg_dest_console"
}

# vg_migrate URI SECONDS: migrates the running guest (source QEMU, which
# needs vg_monitor=yes) to URI and waits until the source reports the
# migration completed; fails if it failed or took longer. Sets
# vg_migrate_downtime to the downtime in ms that QEMU reports.
vg_migrate()
{
	local uri=$1 limit=$((SECONDS + $2)) info
	vg_hmp "migrate -d $uri"
	while :; do
		vg_check
		vg_pid_alive "$vg_dest_pid" ||
			vg_fail "the destination QEMU died during the migration"
		sleep 0.5
		: >"$vg_work/monitor.log"
		vg_hmp "info migrate" >/dev/null
		sleep 0.5
		info=$(tr -d '\r' <"$vg_work/monitor.log")
		case "$info" in
		*[Ss]tatus:*completed*) break ;;
		*[Ss]tatus:*failed*|*[Ss]tatus:*cancelled*)
			vg_fail "the migration failed: $info" ;;
		esac
		[ "$SECONDS" -lt "$limit" ] ||
			vg_fail "the migration did not complete within $2 s"
	done
	echo "$info" >"$vg_work/migrate-info.log"
	# QEMU 10 prints "down=N" on its "Time (ms):" line; older versions
	# a line "downtime: N ms".
	vg_migrate_downtime=$(echo "$info" | sed -n \
		-e 's/.*[^a-z]down=\([0-9]*\).*/\1/p' \
		-e 's/^downtime: \([0-9]*\) ms.*/\1/p' | head -n 1)
	vg_log "migration completed, downtime ${vg_migrate_downtime:-?} ms"
}

# vg_qemu_switch_to_dest: after vg_migrate, quits the source QEMU and makes
# the destination the one vg_send, vg_hmp, vg_wait_step and
# vg_wait_verdict talk to and watch.
vg_qemu_switch_to_dest()
{
	vg_hmp quit
	vg_qemu_wait_exit
	exec 7>&5 8>&6 5>&- 6>&-
	vg_qemu_pid=$vg_dest_pid
	vg_console=$vg_dest_console
	vg_monitor_reader=$vg_dest_reader
	vg_dest_pid= vg_dest_reader=
	vg_log "the destination QEMU (pid $vg_qemu_pid) is now the guest's"
}

# vg_qemu_dest_kill: ends a destination QEMU that never took over (for a
# test's exit trap, next to vg_cleanup).
vg_qemu_dest_kill()
{
	[ -n "$vg_dest_pid" ] && kill "$vg_dest_pid" 2>/dev/null
	[ -n "$vg_dest_reader" ] && kill "$vg_dest_reader" 2>/dev/null
	vg_dest_pid= vg_dest_reader=
}
