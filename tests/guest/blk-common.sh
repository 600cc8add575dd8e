# SPDX-License-Identifier: MIT
# What the vhostdev-blk guest tests share, sourced after host-lib.sh: where
# the daemon is, and how a disk is put on QEMU's command line.

vg_blk=$vg_top_builddir/examples/blk/vhostdev-blk
vg_need_file "$vg_blk" "run make first (vhostdev-blk needs liburing)"
blk_qemu_args=()

# blk_disk ID QEMU-DEVICE-OPTIONS DAEMON-OPTIONS...: starts a vhostdev-blk
# daemon (log ID.log) on its own socket and adds the matching
# vhost-user-blk-pci device to blk_qemu_args. QEMU reconnects to a
# vhost-user-blk back end, so the chardev has a reconnect option.
blk_disk()
{
	local id=$1 devopts=$2 sock=$vg_sockdir/$1.sock
	shift 2
	vg_daemon_start "$id" "$vg_blk" --socket-path="$sock" --verbose "$@"
	vg_wait_listening "$sock"
	blk_qemu_args+=(-chardev "socket,id=$id,path=$sock"
		-device "vhost-user-blk-pci,chardev=$id${devopts:+,$devopts}")
}

# blk_stop ID: SIGTERM must end the daemon with status 0.
blk_stop()
{
	vg_daemon_stop "$1" TERM 10 ||
		vg_fail "vhostdev-blk $1 did not exit within 10 s of SIGTERM"
	[ "$vg_daemon_status" = 0 ] ||
		vg_fail "vhostdev-blk $1 exited with status $vg_daemon_status"
}

# blk_guest_md5 SERIAL: the hash the guest printed for that disk.
blk_guest_md5()
{
	tr -d '\r' <"$vg_console" | awk -v s="$1" \
		'$1 == "blk-md5" && $2 == s { print $3 }'
}
