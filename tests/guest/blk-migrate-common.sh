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
# destination; the image must end up holding its last pattern. Under load
# the guest migrates three times (there and back and there again:
# VHOSTDEV_MIGRATE_ROUNDS changes it). The test logs the downtime QEMU
# reports for each migration.
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

# migrate_wait_passes N: waits until the console of the QEMU the guest is
# in now shows N passes verified there.
migrate_wait_passes()
{
	while [ "$(tr -d '\r' <"$vg_console" |
		grep -c '^guest: pass [0-9]* verified')" -lt "$1" ]; do
		vg_console_has "VHOSTDEV-GUEST-RESULT: FAIL" &&
			vg_fail "the guest failed after migrating"
		vg_qemu_reap && vg_fail "QEMU exited"
		vg_check
		sleep 0.2
	done
}

# Under load the guest goes back and forth: each migration is another
# chance for a page the daemon wrote to be missed.
rounds=${VHOSTDEV_MIGRATE_ROUNDS:-1}
[ "$migrate_load" = 1 ] && rounds=${VHOSTDEV_MIGRATE_ROUNDS:-3}
migrate_daemon a
# shellcheck disable=SC2046 # the words are built without spaces
vg_qemu_start $(migrate_disk_args a)
if [ "$migrate_load" = 1 ]; then
	vg_wait_step loaded
else
	vg_wait_step idle
fi
cur=a downtimes=
for round in $(seq "$rounds"); do
	next=b
	[ "$cur" = b ] && next=a
	migrate_daemon "$next"
	uri=unix:$vg_sockdir/migrate-$round.sock
	# shellcheck disable=SC2046
	vg_qemu_start_incoming "$uri" $(migrate_disk_args "$next")
	vg_wait_listening "${uri#unix:}"
	if [ "$migrate_load" = 1 ]; then
		# Into the middle of a pass. A migration at full speed takes
		# about a second here; at 32 MB/s the source daemon writes
		# guest memory for several seconds while QEMU copies it.
		sleep 1
		vg_hmp "migrate_set_parameter max-bandwidth 32M"
	fi
	vg_migrate "$uri" 180
	downtimes="$downtimes ${vg_migrate_downtime:-?}"
	vg_qemu_switch_to_dest
	blk_stop "$cur"
	cur=$next
	if [ "$migrate_load" = 1 ]; then
		migrate_wait_passes 1
	else
		vg_send resume
	fi
done

# Two complete passes on the last destination before the guest may stop.
migrate_wait_passes 2
vg_send stop
vg_wait_verdict
blk_stop "$cur"

want=$(blk_guest_md5 blkverify)
got=$(md5sum <"$img")
[ -n "$want" ] && [ "${got%% *}" = "$want" ] ||
	vg_fail "the image holds ${got%% *}, the guest's last pattern is '$want'"
vg_log "the image holds the guest's last pattern"

# QEMU gave the source daemon a log to mark its writes to guest memory in;
# without it QEMU would have refused to migrate at all.
for id in a b; do
	[ "$id" = b ] && [ "$rounds" -lt 2 ] && break
	grep -q "SET_LOG_BASE" "$vg_work/$id.log" ||
		vg_fail "source daemon $id never got a dirty log (SET_LOG_BASE)"
done
read -r _ _ passes verified < <(tr -d '\r' <"$vg_console" |
	grep '^blk-verified blkverify ')
vg_log "RESULT migrate load=$migrate_load: $rounds migration(s)," \
	"downtime(s)$downtimes ms; guest: $passes passes, $verified MiB" \
	"verified (before and after)"
vg_pass
