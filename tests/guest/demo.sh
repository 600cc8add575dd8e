#!/bin/bash
# SPDX-License-Identifier: MIT
# The README's demo: starts vhostdev-rng, boots a small Linux guest in QEMU
# with a vhost-user-rng-pci device served by it, and shows what the guest
# saw: the hw_random device it picked and bytes read from /dev/hwrng.
# Exits 0 when the guest read random bytes through the daemon.
#
# Run from a build tree (or set abs_top_builddir); the guest kernel comes
# from tests/guest/build-kernel.sh (or VHOSTDEV_GUEST_KERNEL).
. "$(dirname "$0")/host-lib.sh"

vg_init demo 300
. "$vg_here/rng-common.sh"

echo "demo: starting $vg_rng"
vg_daemon_start rng "$vg_rng" --socket-path="$rng_sock" --verbose
vg_wait_listening "$rng_sock"
echo "demo: booting a Linux guest (QEMU, TCG) with vhost-user-rng-pci on $rng_sock"
vg_append="hwrng_bytes=64"
rng_boot
echo "demo: what the guest printed:"
tr -d '\r' <"$vg_console" | grep '^guest: ' | sed 's/^/    /'
rng_stop
echo "demo: what the daemon logged:"
sed 's/^/    /' "$vg_work/rng.log"
echo "demo: success: the guest read entropy from vhostdev-rng"
