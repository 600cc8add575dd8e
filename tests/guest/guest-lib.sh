# SPDX-License-Identifier: MIT
# Helpers for the guest side of an end-to-end test, sourced by each test
# script inside the guest (busybox sh). Output goes to the serial console,
# where the host harness (host-lib.sh) reads it.

# Stops the test with a reason; guest-init then prints the FAIL verdict.
guest_fail()
{
	echo "guest: FAIL: $*"
	exit 1
}

guest_note()
{
	echo "guest: $*"
}

# Tells the host that the guest reached a named point of the test; the host
# waits for it with vg_wait_step.
guest_step()
{
	echo "VHOSTDEV-GUEST-STEP: $1"
}

# The host talks to the guest over the second serial port (ttyS1). The port
# is opened before the guest announces any step, so that no byte the host
# sends in answer can arrive while nobody listens.
guest_open_host_channel()
{
	stty -F /dev/ttyS1 raw -echo || guest_fail "cannot set up /dev/ttyS1"
	exec 3</dev/ttyS1 || guest_fail "cannot open /dev/ttyS1"
}

# guest_wait_host WORD SECONDS: waits for the host to send the line WORD.
guest_wait_host()
{
	_word=$1
	_left=$2
	while [ "$_left" -gt 0 ]; do
		if read -r -t 1 _line <&3; then
			[ "$_line" = "$_word" ] && return 0
			guest_note "ignoring '$_line' from the host"
		fi
		_left=$((_left - 1))
	done
	guest_fail "the host did not send '$_word'"
}

# guest_timeout SECONDS CMD...: runs CMD, killing it when it takes longer.
# A read from a device whose back end is gone blocks; this bounds it.
guest_timeout()
{
	timeout -s KILL "$@"
}
