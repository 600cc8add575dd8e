#!/bin/sh
# SPDX-License-Identifier: MIT
# /init of the guest test initramfs. It mounts the pseudo file systems, runs
# the test script named by vhostdev_test= on the kernel command line (the
# script arrives in a second cpio archive appended by the host), prints the
# verdict line the host looks for on the serial console, and powers off.
# The archive carries no /dev/console node (making one needs root), so the
# console is opened only once devtmpfs is mounted.
PATH=/bin
export PATH

mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /tmp

verdict=FAIL
test_name=
for word in $(cat /proc/cmdline); do
	case "$word" in
	vhostdev_test=*) test_name=${word#vhostdev_test=} ;;
	esac
done

if [ -z "$test_name" ]; then
	echo "guest-init: no vhostdev_test= on the kernel command line"
elif [ ! -f "/tests/$test_name" ]; then
	echo "guest-init: no test script /tests/$test_name in the initramfs"
else
	echo "guest-init: running $test_name"
	if sh "/tests/$test_name"; then
		verdict=PASS
	else
		echo "guest-init: $test_name exited with status $?"
	fi
fi

# The host matches this exact line; everything before it is only logged.
echo "VHOSTDEV-GUEST-RESULT: $verdict"
poweroff -f
# Should poweroff fail, init exiting makes the kernel panic, and with
# panic=-1 plus QEMU's -no-reboot that also ends the run.
exit 1
