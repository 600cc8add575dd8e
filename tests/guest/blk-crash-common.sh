# SPDX-License-Identifier: MIT
# Host side of blk-crash-split.test and blk-crash-packed.test, sourced
# after vg_init with crash_ring set to split or packed: vhostdev-blk is
# killed with SIGKILL (and, mixed in, stopped with SIGTERM) at random
# moments and started again while the guest writes and verifies the whole
# disk (blk-verify-guest.sh). QEMU reconnects and hands the new process the
# in-flight region, from which it must resubmit what the dead one held.
# Passes when the guest saw no error and every block verified, the image
# holds the guest's last pattern, and the daemon logs show resubmitted
# requests (else the kills never hit a request and proved nothing). That
# last check needs the frozen kills described below; without them the
# count is only logged.
#
# VHOSTDEV_CRASH_KILLS and VHOSTDEV_CRASH_TERMS change how many restarts
# of each kind are made (default 20 and 6); VHOSTDEV_CRASH_SEED repeats a
# run's random moments (each run logs its seed).
. "$vg_here/blk-common.sh"
vg_guest_script "$vg_here/blk-verify-guest.sh"

crash_kills=${VHOSTDEV_CRASH_KILLS:-20}
crash_terms=${VHOSTDEV_CRASH_TERMS:-6}
crash_seed=${VHOSTDEV_CRASH_SEED:-$$}
RANDOM=$crash_seed
vg_log "$crash_ring ring, $crash_kills SIGKILL and $crash_terms SIGTERM restarts, seed $crash_seed"

# Random moments rarely find the back end holding a request: it completes
# one in well under a millisecond, while the guest (under TCG) spends most
# of its time elsewhere. So, where the host allows it (root, a loop device,
# ext4, fsfreeze), the image lives on a small ext4 file system that every
# fourth SIGKILL freezes first: the daemon's writes then block, and the
# kill surely lands while they are in flight. The file system is thawed
# right after the signal, so the dying process can finish its exit.
crash_mnt=
crash_fs_setup()
{
	[ "$(id -u)" = 0 ] || { echo "not root"; return 1; }
	command -v mkfs.ext4 >/dev/null && command -v fsfreeze >/dev/null ||
		{ echo "no mkfs.ext4 or fsfreeze"; return 1; }
	truncate -s 64M "$vg_work/fs.img" &&
		mkfs.ext4 -q -F "$vg_work/fs.img" &&
		mkdir -p "$vg_work/mnt" &&
		mount -o loop "$vg_work/fs.img" "$vg_work/mnt" || return 1
	crash_mnt=$vg_work/mnt
}
crash_fs_cleanup()
{
	[ -n "$crash_mnt" ] || return 0
	fsfreeze -u "$crash_mnt" 2>/dev/null
	vg_cleanup
	umount "$crash_mnt"
}
if crash_fs_setup >"$vg_work/fs-setup.log" 2>&1; then
	trap crash_fs_cleanup EXIT
	img=$crash_mnt/disk.img
	vg_log "image on a loop-mounted ext4: every fourth SIGKILL freezes it first"
else
	img=$vg_work/disk.img
	vg_log "no loop-mounted ext4 here ($(tail -n 1 "$vg_work/fs-setup.log")): kills at random moments only"
fi
sock=$vg_sockdir/disk.sock
truncate -s 16M "$img" || vg_fail "truncate failed"
daemon_args=("$vg_blk" --socket-path="$sock" --verbose --blk-file="$img"
	--serial=blkverify)
# The second --verbose logs every vhost-user message and each queue start,
# which tells when the guest's I/O runs again after a restart.
daemon_args+=(--verbose)
devopts=
[ "$crash_ring" = packed ] && devopts=,packed=on

vg_daemon_start disk "${daemon_args[@]}"
vg_wait_listening "$sock"
vg_qemu_start -chardev "socket,id=disk,path=$sock,$(vg_reconnect_opt)" \
	-device "vhost-user-blk-pci,chardev=disk$devopts"
vg_wait_step loaded

# crash_sleep: 0.2 to 2.5 s after the queue started, so that the signal
# lands anywhere in a pass (writes, reads, the guest's own work).
crash_sleep()
{
	local ms=$((200 + RANDOM % 2300))
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
}

# crash_wait_blocked PID: waits (up to 5 s) until a thread of PID sleeps
# uninterruptibly, as io_uring's workers do on a write to a frozen file
# system; the guest may be reading when the freeze starts.
crash_wait_blocked()
{
	local left=50 stat
	while [ "$left" -gt 0 ]; do
		for stat in /proc/"$1"/task/*/stat; do
			read -r stat 2>/dev/null <"$stat" || continue
			stat=${stat##*) }
			[ "${stat%% *}" = D ] && return 0
		done
		left=$((left - 1))
		sleep 0.1
	done
	return 1
}

kills=0 terms=0 frozen=0
while [ $((kills + terms)) -lt $((crash_kills + crash_terms)) ]; do
	crash_sleep
	vg_qemu_reap && vg_fail "QEMU exited during the restarts"
	vg_console_has "VHOSTDEV-GUEST-RESULT: FAIL" &&
		vg_fail "the guest failed after $kills kills and $terms SIGTERM restarts"
	left_kills=$((crash_kills - kills))
	left_terms=$((crash_terms - terms))
	if [ $((RANDOM % (left_kills + left_terms))) -lt "$left_kills" ]; then
		if [ -n "$crash_mnt" ] && [ $((kills % 4)) = 3 ]; then
			fsfreeze -f "$crash_mnt" ||
				vg_fail "could not freeze $crash_mnt"
			crash_wait_blocked "${vg_daemon_pid[disk]}" ||
				vg_log "no write of the daemon blocked within 5 s"
			sleep 0.3
			kill -KILL "${vg_daemon_pid[disk]}"
			sleep 0.2
			fsfreeze -u "$crash_mnt" ||
				vg_fail "could not thaw $crash_mnt"
			frozen=$((frozen + 1))
		fi
		vg_daemon_stop disk KILL 10 ||
			vg_fail "SIGKILL did not end the daemon"
		kills=$((kills + 1))
	else
		blk_stop disk
		terms=$((terms + 1))
	fi
	vg_daemon_start disk "${daemon_args[@]}"
	# A kill before QEMU started the queue again would find nothing in
	# flight.
	vg_wait_log disk "queue 0 started"
done
vg_log "$kills kills and $terms SIGTERM restarts done"
vg_send stop
vg_wait_verdict
blk_stop disk

want=$(blk_guest_md5 blkverify)
got=$(md5sum <"$img")
[ -n "$want" ] && [ "${got%% *}" = "$want" ] ||
	vg_fail "the image holds ${got%% *}, the guest's last pattern is '$want'"
vg_log "the image holds the guest's last pattern"

# A region the library found inconsistent means it was not written as the
# protocol says; resubmission then rests on luck.
if grep -E "in-flight region (claims|.*no longer tracked)" "$vg_work/disk.log"; then
	vg_fail "the daemon found an in-flight region inconsistent"
fi
resubmits=$(grep -c "resubmitting" "$vg_work/disk.log")
requests=$(sed -n 's/.*resubmitting \([0-9]*\) request.*/\1/p' \
	"$vg_work/disk.log" | awk '{ n += $1 } END { print n + 0 }')
if [ "$frozen" -gt 0 ]; then
	[ "$resubmits" -ge 1 ] ||
		vg_fail "no restart found a request in flight: the tracking was not exercised"
elif [ "$resubmits" = 0 ]; then
	vg_log "note: no restart found a request in flight (no frozen kills)"
fi
read -r _ _ passes verified < <(tr -d '\r' <"$vg_console" |
	grep '^blk-verified blkverify ')
vg_log "RESULT $crash_ring: $kills SIGKILL ($frozen on a frozen file" \
	"system) + $terms SIGTERM restarts survived; $resubmits restarts" \
	"resubmitted $requests request(s); guest: $passes passes," \
	"$verified MiB verified"
vg_pass
