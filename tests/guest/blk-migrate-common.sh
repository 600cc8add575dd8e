# SPDX-License-Identifier: MIT
# Host side of blk-migrate-idle.test and blk-migrate-load.test, sourced
# after vg_init with migrate_load set to 0 or 1: a guest on a vhostdev-blk
# disk is live-migrated between two QEMU processes on this machine, each
# with its own vhostdev-blk daemon serving the same image file. The guest
# (blk-verify-guest.sh) writes and verifies the whole disk; with load it
# keeps doing so during the migration, so that the source daemon writes
# guest memory (reads) while QEMU copies it, and only dirty-page logging
# (LOG_SHMFD, VHOST_F_LOG_ALL) keeps those pages from being lost; without
# load it waits, and checks after the migration that the disk still holds
# what it wrote. After the migration the guest goes on verifying on the
# destination; the image must end up holding its last pattern. The test
# logs the downtime QEMU reports.
. "$vg_here/blk-common.sh"
vg_guest_script "$vg_here/blk-verify-guest.sh"
trap 'vg_qemu_dest_kill; vg_cleanup' EXIT

vg_monitor=yes
[ "$migrate_load" = 1 ] || vg_append=verify_idle=1
img=$vg_work/disk.img
truncate -s 16M "$img" || vg_fail "truncate failed"

# Two --verbose: the logs show every vhost-user message, so the use of the
# dirty log can be checked.
migrate_daemon()
{
	vg_daemon_start "$1" "$vg_blk" --socket-path="$vg_sockdir/$1.sock" \
		--verbose --verbose --blk-file="$img" --serial=blkverify
	vg_wait_listening "$vg_sockdir/$1.sock"
}
migrate_disk_args()
{
	echo -chardev "socket,id=disk,path=$vg_sockdir/$1.sock" \
		-device vhost-user-blk-pci,chardev=disk
}

migrate_daemon src
migrate_daemon dst
# shellcheck disable=SC2046 # the words are built without spaces
vg_qemu_start $(migrate_disk_args src)
# shellcheck disable=SC2046
vg_qemu_start_incoming "unix:$vg_sockdir/migrate.sock" \
	$(migrate_disk_args dst)

if [ "$migrate_load" = 1 ]; then
	vg_wait_step loaded
	# Into the middle of a pass. A migration at full speed takes about a
	# second here; at 32 MB/s the source daemon has several seconds of
	# writing guest memory while QEMU copies it.
	sleep 1
	vg_hmp "migrate_set_parameter max-bandwidth 32M"
else
	vg_wait_step idle
fi
vg_migrate "unix:$vg_sockdir/migrate.sock" 180
vg_qemu_switch_to_dest
blk_stop src
[ "$migrate_load" = 1 ] || vg_send resume

# Two complete passes on the destination before the guest may stop.
while [ "$(tr -d '\r' <"$vg_console" | grep -c '^guest: pass [0-9]* verified')" -lt 2 ]; do
	vg_console_has "VHOSTDEV-GUEST-RESULT: FAIL" &&
		vg_fail "the guest failed on the destination"
	vg_qemu_reap && vg_fail "the destination QEMU exited"
	vg_check
	sleep 0.2
done
vg_send stop
vg_wait_verdict
blk_stop dst

want=$(blk_guest_md5 blkverify)
got=$(md5sum <"$img")
[ -n "$want" ] && [ "${got%% *}" = "$want" ] ||
	vg_fail "the image holds ${got%% *}, the guest's last pattern is '$want'"
vg_log "the image holds the guest's last pattern"

# QEMU gave the source daemon a log to mark its writes to guest memory in;
# without it QEMU would have refused to migrate at all.
grep -q "SET_LOG_BASE" "$vg_work/src.log" ||
	vg_fail "the source daemon never got a dirty log (SET_LOG_BASE)"
read -r _ _ passes verified < <(tr -d '\r' <"$vg_console" |
	grep '^blk-verified blkverify ')
vg_log "RESULT migrate load=$migrate_load: downtime ${vg_migrate_downtime:-?} ms; guest: $passes passes, $verified MiB verified (before and after)"
vg_pass
