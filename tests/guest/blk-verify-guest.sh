# SPDX-License-Identifier: MIT
# Guest side of the blk-crash-*.test and blk-migrate-*.test: the disk
# with serial blkverify is written and verified, all of it, in passes,
# while the host kills and restarts its back end, or migrates the guest.
# The pattern is one random chunk per MiB of disk, made once; pass P puts
# chunk (M + P) mod N on MiB M, so every pass changes every MiB and a lost
# or stale write reads back as the wrong chunk. Several workers write and
# verify with O_DIRECT at once, and flush after each MiB (the back end's
# fsync takes long enough to be caught by a signal), so that requests are
# in flight when the back end dies; a failed request shows as a dd error.
#
# After pass 1 the guest announces step "loaded" and goes on with passes
# until the host sends "stop"; the last pass is complete, and the hash of
# what it left on the disk is printed for the host to check the image
# against. With verify_idle=1 on the kernel command line, the guest
# instead announces step "idle" after pass 1 and does nothing until the
# host sends "resume"; it then checks that the disk still holds pass 1
# before the passes go on.
. /lib/vhostdev/guest-lib.sh

MIB=1048576
WORKERS=${verify_workers:-8}
guest_open_host_channel
dev=
for sys in /sys/block/vd*; do
	[ "$(cat "$sys/serial" 2>/dev/null)" = blkverify ] && dev=/dev/${sys##*/}
done
[ -n "$dev" ] || guest_fail "no disk with serial blkverify"
mib=$(($(cat /sys/block/${dev#/dev/}/size) / 2048))
[ "$mib" -ge "$WORKERS" ] && [ $((mib % WORKERS)) -eq 0 ] ||
	guest_fail "$dev has $mib MiB, not a multiple of $WORKERS workers"
share=$((mib / WORKERS))
guest_note "$dev: $mib MiB, $WORKERS workers of $share MiB"

i=0
while [ $i -lt $mib ]; do
	dd if=/dev/urandom of=/tmp/chunk.$i bs=$MIB count=1 2>/dev/null ||
		guest_fail "urandom"
	i=$((i + 1))
done

# worker W PASS [check]: writes its share, one MiB at a time (unless
# "check" says to only read), then reads it back and compares each MiB with
# the chunk it must hold. A failure leaves a file /tmp/bad.* saying what
# went wrong; each verified MiB adds a line to /tmp/ok.W.
worker()
{
	first=$(($1 * share))
	i=$first
	[ "$3" = check ] && i=$((first + share))
	while [ $i -lt $((first + share)) ]; do
		dd if=/tmp/chunk.$(((i + $2) % mib)) of=$dev bs=128k \
			seek=$((i * 8)) oflag=direct conv=notrunc,fsync \
			2>/tmp/err.$1 ||
			{ cp /tmp/err.$1 "/tmp/bad.write.$2.$i"; return; }
		i=$((i + 1))
	done
	# The whole share in one read(): the kernel issues it as several
	# requests at once, and the buffer fills while they complete, so
	# data the back end put in guest memory stays unread by the guest
	# for a while (a migration that misses such a page is caught).
	dd if=$dev of=/tmp/read.$1 bs=$((share * MIB)) skip=$1 count=1 \
		iflag=direct 2>/tmp/err.$1 ||
		{ cp /tmp/err.$1 "/tmp/bad.read.$2.$first"; return; }
	i=$first
	while [ $i -lt $((first + share)) ]; do
		cmp -s -n $MIB /tmp/read.$1 /tmp/chunk.$(((i + $2) % mib)) \
			$(((i - first) * MIB)) 0 || {
			echo "MiB $i is not chunk $(((i + $2) % mib))" \
				>"/tmp/bad.data.$2.$i"
			return
		}
		echo $i >>/tmp/ok.$1
		i=$((i + 1))
	done
}

# run_pass PASS [check]: complete when every worker verified its share.
run_pass()
{
	w=0 pids=
	while [ $w -lt $WORKERS ]; do
		worker $w "$1" "$2" &
		pids="$pids $!"
		w=$((w + 1))
	done
	# Not a bare wait: the reader of the host's "stop" runs too.
	wait $pids
	for bad in /tmp/bad.*; do
		[ -e "$bad" ] || continue
		guest_fail "pass $1: ${bad#/tmp/bad.}: $(cat "$bad")"
	done
}

rm -f /tmp/ok.* /tmp/bad.* /tmp/stop
pass=1
run_pass $pass
guest_note "pass 1 verified"
if [ "${verify_idle:-}" = 1 ]; then
	guest_step idle
	guest_wait_host resume 300
	run_pass 1 check
	guest_note "pass 1 read back after the host's resume"
fi
# The host's "stop" is read aside, so that the passes never wait for it.
(
	while read -r line <&3; do
		[ "$line" = stop ] && break
	done
	touch /tmp/stop
) &
guest_step loaded
while [ ! -e /tmp/stop ]; do
	pass=$((pass + 1))
	run_pass $pass
	guest_note "pass $pass verified"
done

# The requests a dying back end held came back resubmitted, not failed:
# the kernel logged no I/O error for the disk.
if dmesg | grep -i -E 'I/O error|blk_update_request|critical medium'; then
	guest_fail "the kernel logged I/O errors"
fi
verified=$(cat /tmp/ok.* | wc -l)
guest_note "$pass passes, $verified MiB verified, no I/O error in dmesg"
echo "blk-verified blkverify $pass $verified"
i=0
while [ $i -lt $mib ]; do
	cat /tmp/chunk.$(((i + pass) % mib))
	i=$((i + 1))
done >/tmp/final
echo "blk-md5 blkverify $(md5sum </tmp/final | cut -d' ' -f1)"
