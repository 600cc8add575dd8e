# SPDX-License-Identifier: MIT
# What the vhostdev-fs guest tests share, sourced after host-lib.sh: the
# daemon, a shared directory in the work directory with files beside it
# that the guest must never reach, and one guest run.

vg_fs=$vg_top_builddir/examples/fs/vhostdev-fs
vg_need_file "$vg_fs" "run make first"
fs_tool=$vg_top_builddir/tests/guest/fs-guest-tool
vg_need_file "$fs_tool" "run make check first"
fs_sock=$vg_sockdir/fs.sock
fs_tag=vhdtest
fs_share=$vg_work/share
fs_canary=$vg_work/canary.txt
fs_tripwire=$vg_work/tripwire

# A fresh shared directory, and beside it a canary whose content and
# access time must not change and a tripwire name that must never exist.
fs_prepare()
{
	rm -rf "$fs_share" "$fs_tripwire"
	mkdir -p "$fs_share" || vg_fail "mkdir $fs_share"
	echo "written by the host" >"$fs_share/host-file.txt"
	echo "host secret" >"$fs_canary"
	# An access time in the past, so any read (even under relatime)
	# moves it.
	touch -a -d '2000-01-01 00:00:00' "$fs_canary"
	fs_canary_atime=$(stat -c %X "$fs_canary")
}

# Reads the canary itself, so it runs once per fs_prepare.
fs_check_outside()
{
	[ "$(stat -c %X "$fs_canary")" = "$fs_canary_atime" ] ||
		vg_fail "the canary beside the shared directory was read"
	[ "$(cat "$fs_canary")" = "host secret" ] ||
		vg_fail "the canary beside the shared directory changed"
	[ ! -e "$fs_tripwire" ] ||
		vg_fail "something was created outside the shared directory"
}

# fs_daemon_start [OPTIONS...]
fs_daemon_start()
{
	vg_daemon_start fs "$vg_fs" --socket-path="$fs_sock" \
		--shared-dir="$fs_share" --verbose "$@"
	vg_wait_listening "$fs_sock"
}

# fs_boot QUEUES [QEMU ARGS...]: one guest run with vhost-user-fs-pci (no
# reconnect option: QEMU 10.0's vhost-user-fs refuses to start with one).
fs_boot()
{
	local queues=${1:-1}
	shift
	vg_qemu_start -chardev "socket,id=fs,path=$fs_sock" \
		-device "vhost-user-fs-pci,chardev=fs,tag=$fs_tag,num-request-queues=$queues" \
		"$@"
}

fs_stop()
{
	vg_daemon_stop fs TERM 10 ||
		vg_fail "vhostdev-fs did not exit within 10 s of SIGTERM"
	[ "$vg_daemon_status" = 0 ] ||
		vg_fail "vhostdev-fs exited with status $vg_daemon_status after SIGTERM"
}

# fs_expect WHAT EXPECTED ACTUAL
fs_expect()
{
	[ "$2" = "$3" ] || vg_fail "host check: $1: expected '$2', got '$3'"
}
