# SPDX-License-Identifier: MIT
# Guest side of the entropy tests: the kernel's hw_random core must have
# picked the virtio device, and /dev/hwrng must give random-looking bytes.
# Settings arrive as kernel command-line words, which init passes on as
# environment variables:
#   hwrng_bytes=N          bytes to read (default 64)
#   hwrng_min_cs=T         the read must take at least T hundredths of a
#                          second (the rate-limit test)
#   hwrng_expect_byte=HH   every byte must be 0xHH (a --source file of one
#                          repeated byte) instead of looking random
#   hwrng_handshake=1      read, tell the host, wait for its "again", read
#                          again (exercises the host channel)
#   hwrng_announce=1       announce the step "reading" before the last read
. /lib/vhostdev/guest-lib.sh

bytes=${hwrng_bytes:-64}
min_cs=${hwrng_min_cs:-0}

# /proc/uptime in hundredths of a second. The fraction always has two
# digits; prefixing a 1 keeps "08" from being read as bad octal.
uptime_cs()
{
	read -r up _ </proc/uptime
	echo $((${up%.*} * 100 + 1${up#*.} - 100))
}

read_hwrng()
{
	local_start=$(uptime_cs)
	# One read of exactly that size: head or cat would read ahead in
	# 4 KiB blocks and take more from the device than asked.
	guest_timeout 120 dd if=/dev/hwrng of=/tmp/bytes bs="$bytes" count=1 \
		iflag=fullblock 2>/dev/null ||
		guest_fail "reading $bytes bytes from /dev/hwrng failed" \
			"or timed out"
	local_end=$(uptime_cs)
	got=$(wc -c </tmp/bytes)
	[ "$got" -eq "$bytes" ] || guest_fail "read $got bytes, not $bytes"
	elapsed=$((local_end - local_start))
	seconds=$((elapsed / 100)).$((elapsed % 100 / 10))
	guest_note "$bytes bytes from /dev/hwrng in $seconds s, the first 32:"
	od -An -tx1 -v -N 32 /tmp/bytes | sed 's/^/guest: /'

	values=$(od -An -tx1 -v /tmp/bytes | tr -s ' ' '\n' | grep . | sort -u)
	if [ -n "${hwrng_expect_byte:-}" ]; then
		[ "$values" = "$hwrng_expect_byte" ] || guest_fail \
			"expected only 0x$hwrng_expect_byte, got:" $values
	else
		# All zero, or any short repeated pattern, is not a random
		# source: 64 random bytes hold about 56 distinct values.
		distinct=$(echo "$values" | wc -l)
		[ "$distinct" -ge 16 ] ||
			guest_fail "only $distinct distinct byte values in $bytes bytes"
	fi
	[ "$elapsed" -ge "$min_cs" ] ||
		guest_fail "the read took $elapsed/100 s, less than $min_cs/100 s"
}

current=$(cat /sys/class/misc/hw_random/rng_current) ||
	guest_fail "no hw_random device"
guest_note "rng_current: $current"
case "$current" in
virtio_rng*) ;;
*) guest_fail "rng_current is '$current', not virtio_rng" ;;
esac

if [ "${hwrng_handshake:-0}" = 1 ]; then
	guest_open_host_channel
	read_hwrng
	guest_step first-read
	guest_wait_host again 120
fi
[ "${hwrng_announce:-0}" = 1 ] && guest_step reading
read_hwrng
