# SPDX-License-Identifier: MIT
# Guest side of blk-data.test: every vhostdev-blk disk (found by its serial,
# blkdata-*) is written over its whole size with O_DIRECT, read back and
# compared, then written again through the page cache, synced, read back
# after dropping the caches and compared. Disks with more than one queue
# are written by one dd per CPU at once, so every queue carries requests.
# The guest prints "blk-md5 SERIAL HASH" of what the disk must finally hold,
# for the host to compare with the image file.
. /lib/vhostdev/guest-lib.sh

MIB=1048576

# make_pattern FILE MIB TAG: MIB MiB of random bytes, each MiB starting
# with its own number and TAG so that a misplaced block cannot compare
# equal.
make_pattern()
{
	dd if=/dev/urandom of=/tmp/chunk bs=$MIB count=1 2>/dev/null ||
		guest_fail "urandom"
	: >"$1"
	i=0
	while [ $i -lt "$2" ]; do
		printf '%08d-%-7s' "$i" "$3" >>"$1"
		tail -c +17 /tmp/chunk >>"$1"
		i=$((i + 1))
	done
	[ "$(stat -c %s "$1")" = $(($2 * MIB)) ] || guest_fail "pattern size"
}

# parallel_dd DEV FILE MIB FLAGS: writes FILE over DEV, one dd per CPU,
# each on its own CPU and its own share of the disk.
parallel_dd()
{
	cpus=$(nproc)
	share=$(($3 / cpus))
	pids=
	c=0
	while [ $c -lt "$cpus" ]; do
		count=$share
		[ $c = $((cpus - 1)) ] && count=$(($3 - share * c))
		taskset -c $c dd if="$2" of="$1" bs=$MIB skip=$((c * share)) \
			seek=$((c * share)) count=$count $4 2>/tmp/dd.$c &
		pids="$pids $!"
		c=$((c + 1))
	done
	for p in $pids; do
		wait "$p" || guest_fail "dd to $1 failed: $(cat /tmp/dd.*)"
	done
}

check_disk()
{
	dev=/dev/$1
	serial=$2
	mib=$(($(cat /sys/block/$1/size) * 512 / MIB))
	guest_note "$serial is $1: $mib MiB, $(ls /sys/block/$1/mq | wc -l) queue(s)"
	[ "$mib" -ge 4 ] || guest_fail "$1 is too small"

	make_pattern /tmp/p1 "$mib" direct
	want=$(md5sum </tmp/p1)
	parallel_dd "$dev" /tmp/p1 "$mib" "oflag=direct"
	got=$(dd if="$dev" bs=$MIB iflag=direct 2>/dev/null | md5sum)
	[ "$got" = "$want" ] || guest_fail "$1: O_DIRECT read-back differs"
	guest_note "$1: O_DIRECT write and read-back match"
	rm /tmp/p1

	make_pattern /tmp/p2 "$mib" cached
	want=$(md5sum </tmp/p2)
	parallel_dd "$dev" /tmp/p2 "$mib" "conv=fsync"
	sync
	echo 3 >/proc/sys/vm/drop_caches
	got=$(dd if="$dev" bs=$MIB 2>/dev/null | md5sum)
	[ "$got" = "$want" ] || guest_fail "$1: buffered read-back differs"
	guest_note "$1: buffered write and read-back match"
	rm /tmp/p2
	echo "blk-md5 $serial ${want%% *}"
}

found=0
for sys in /sys/block/vd*; do
	[ -e "$sys" ] || continue
	name=${sys##*/}
	serial=$(cat "$sys/serial" 2>/dev/null)
	case "$serial" in
	blkdata-*) check_disk "$name" "$serial"; found=$((found + 1)) ;;
	esac
done
[ "$found" = "${blk_disks:-0}" ] ||
	guest_fail "found $found blkdata disks, expected ${blk_disks:-?}"
