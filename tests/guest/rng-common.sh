# SPDX-License-Identifier: MIT
# What the vhostdev-rng guest tests share, sourced after host-lib.sh: where
# the daemon is, and one guest run against it.

vg_rng=$vg_top_builddir/examples/rng/vhostdev-rng
vg_need_file "$vg_rng" "run make first"
vg_guest_script "$vg_here/hwrng-guest.sh"
rng_sock=$vg_sockdir/rng.sock

# rng_boot [CHARDEV OPTIONS]: one guest run with vhost-user-rng-pci on
# rng_sock; the guest must report PASS. No reconnect option: QEMU 10.0's
# vhost-user-rng-pci fails to start with one ("Failed to set msg fds",
# "vhost_backend_init failed: Protocol error"), so the daemon is listening
# before QEMU starts.
rng_boot()
{
	vg_qemu_start -chardev "socket,id=rng,path=$rng_sock${1:+,$1}" \
		-device vhost-user-rng-pci,chardev=rng
	vg_wait_verdict
}

# rng_stop: SIGTERM must end the daemon quickly, with status 0.
rng_stop()
{
	vg_daemon_stop rng TERM 10 ||
		vg_fail "vhostdev-rng did not exit within 10 s of SIGTERM"
	[ "$vg_daemon_status" = 0 ] ||
		vg_fail "vhostdev-rng exited with status $vg_daemon_status after SIGTERM"
}
