#!/bin/bash
# SPDX-License-Identifier: MIT
# Probe, not a test: can vhostdev-rng be restarted while a guest runs, with
# the installed QEMU? Tries the three ways QEMU offers and prints what
# happened in each; exits 0 only when the guest survived a restart in all
# of them. With QEMU 10.0 none works, for reasons in QEMU (its
# vhost-user-rng-pci, like the other vhost-user-base devices, neither waits
# for a reconnecting chardev nor sets the vhost device up again after a
# reconnect), so this is kept out of TESTS; run it by hand after a QEMU
# upgrade. Results are kept in tests/guest/live-restart-*.d.
. "$(dirname "$0")/host-lib.sh"

# The guest reads, announces first-read, waits for "again" and reads once
# more; in between the host replaces the daemon. The reads are larger than
# the 64 bytes the guest driver fetches ahead, so the second one needs the
# new daemon.
restart_mid_run()
{
	local mode=$1
	vg_wait_step first-read
	vg_daemon_stop rng TERM 10 || vg_fail "the daemon ignored SIGTERM"
	vg_log "first daemon stopped (status $vg_daemon_status)"
	vg_daemon_start rng "$vg_rng" $mode --socket-path="$rng_sock" \
		--verbose
	vg_wait_log rng "front end connected"
	vg_send again
	vg_wait_verdict
}

# a) reconnect-ms on the chardev of a device given on the command line.
scenario_startup()
{
	vg_init live-restart-startup 120
	. "$vg_here/rng-common.sh"
	vg_daemon_start rng "$vg_rng" --socket-path="$rng_sock" --verbose
	vg_wait_listening "$rng_sock"
	vg_append="hwrng_handshake=1 hwrng_bytes=256"
	vg_qemu_start -chardev \
		"socket,id=rng,path=$rng_sock,$(vg_reconnect_opt)" \
		-device vhost-user-rng-pci,chardev=rng
	restart_mid_run ""
	vg_pass
}

# b) reconnect-ms, the device plugged in from the monitor once the chardev
# is connected, so that QEMU's start-up does not race the connection.
scenario_hotplug()
{
	vg_init live-restart-hotplug 120
	. "$vg_here/rng-common.sh"
	vg_daemon_start rng "$vg_rng" --socket-path="$rng_sock" --verbose
	vg_wait_listening "$rng_sock"
	vg_append="hwrng_handshake=1 hwrng_bytes=256"
	vg_monitor=yes
	vg_qemu_start -S -chardev \
		"socket,id=rng,path=$rng_sock,$(vg_reconnect_opt)"
	vg_wait_log rng "front end connected"
	vg_hmp "device_add vhost-user-rng-pci,chardev=rng,id=rng0"
	vg_hmp cont
	restart_mid_run ""
	vg_pass
}

# c) QEMU listens, the daemon connects as a client and reconnects.
scenario_client()
{
	vg_init live-restart-client 120
	. "$vg_here/rng-common.sh"
	vg_daemon_start rng "$vg_rng" --client --socket-path="$rng_sock" \
		--verbose
	vg_append="hwrng_handshake=1 hwrng_bytes=256"
	vg_qemu_start -chardev "socket,id=rng,path=$rng_sock,server=on" \
		-device vhost-user-rng-pci,chardev=rng
	restart_mid_run --client
	vg_pass
}

mkdir -p "$vg_builddir" || exit 1
failed=0
for scenario in startup hotplug client; do
	echo "===== live restart, $scenario"
	out=$vg_builddir/live-restart-$scenario.out
	( "scenario_$scenario" ) >"$out" 2>&1
	status=$?
	if [ "$status" = 0 ]; then
		echo "the guest survived the restart"
	else
		failed=1
		grep -E '^(FAIL|SKIP)' "$out"
		echo "QEMU said:"
		sed -n '/----- QEMU stderr/,/----- end of QEMU stderr/p' \
			"$out" | grep -v -- '-----' |
			sed 's/^/    /'
	fi
done
exit $failed
