# SPDX-License-Identifier: MIT
# Guest side of blk-restart.test: the disk with serial blkrestart keeps
# working across back-end restarts. First the host restarts the daemon
# (SIGTERM) while the guest reads in a loop with O_DIRECT; then it kills it
# (SIGKILL) while the disk is idle. After each, everything written before
# must read back and new writes must work; the guest prints the hash of
# what the disk finally holds.
. /lib/vhostdev/guest-lib.sh

MIB=1048576
guest_open_host_channel
dev=
for sys in /sys/block/vd*; do
	[ "$(cat "$sys/serial" 2>/dev/null)" = blkrestart ] && dev=/dev/${sys##*/}
done
[ -n "$dev" ] || guest_fail "no disk with serial blkrestart"

write_pattern()
{
	dd if=/dev/urandom of=/tmp/p bs=$MIB count=8 2>/dev/null ||
		guest_fail "urandom"
	dd if=/tmp/p of=$dev bs=$MIB oflag=direct 2>/dev/null ||
		guest_fail "writing $dev failed"
	want=$(md5sum </tmp/p)
}

verify()
{
	got=$(dd if=$dev bs=$MIB count=8 iflag=direct 2>/dev/null | md5sum)
	[ "$got" = "$want" ] || guest_fail "$1: the disk does not hold what was written"
	guest_note "$1: read back"
}

write_pattern
verify "before"

# Reads in a loop until /tmp/stop appears; any failed read is recorded.
rm -f /tmp/stop /tmp/read-failed
(
	n=0
	while [ ! -e /tmp/stop ]; do
		dd if=$dev of=/dev/null bs=64k count=128 iflag=direct \
			2>/dev/null || touch /tmp/read-failed
		n=$((n + 1))
	done
	echo $n >/tmp/reads
) &
reader=$!
guest_step restart
guest_wait_host restarted 120
touch /tmp/stop
wait $reader
[ ! -e /tmp/read-failed ] || guest_fail "a read failed across the restart"
guest_note "$(cat /tmp/reads) read passes across the restart"
verify "after SIGTERM restart"
write_pattern
verify "new data after SIGTERM restart"
sync

guest_step kill
guest_wait_host restarted 120
verify "after SIGKILL restart"
write_pattern
verify "new data after SIGKILL restart"
echo "blk-md5 blkrestart ${want%% *}"
