# SPDX-License-Identifier: MIT
# Guest side of blk-fs.test. Disks are found by their serial (GET_ID):
#   blkfs-main            discard and write-zeroes (with and without unmap)
#                         read back as zeroes; the write cache switched to
#                         write-through; ext4 made, filled, checked
#                         clean by e2fsck and read back; then online
#                         resize: the host grows the image and the guest
#                         must see the new size without a reboot.
#   blkfs-ro-serial-20ch  read-only: the kernel marks it so, writes fail,
#                         and the guest prints the hash of what it reads.
#   blkfs-null            a null disk served with --poll: I/O completes.
# The disk tools come from the host (make-initramfs.sh).
. /lib/vhostdev/guest-lib.sh

MIB=1048576
# The host's tools by full path: busybox's shell runs its own applets
# (a smaller blkdiscard, no fallocate -p) whatever PATH says.
ln -s /proc/mounts /etc/mtab 2>/dev/null || {
	mkdir -p /etc && ln -s /proc/mounts /etc/mtab
}
for tool in /usr/sbin/mke2fs /usr/sbin/e2fsck /usr/sbin/blkdiscard \
	/usr/bin/fallocate; do
	[ -x "$tool" ] || guest_fail "$tool is not in the initramfs"
done
guest_open_host_channel

disk_by_serial()
{
	for sys in /sys/block/vd*; do
		[ "$(cat "$sys/serial" 2>/dev/null)" = "$1" ] &&
			echo "${sys##*/}" && return 0
	done
	guest_fail "no disk with serial '$1'"
}

main=$(disk_by_serial blkfs-main)
ro=$(disk_by_serial blkfs-ro-serial-20ch)
null=$(disk_by_serial blkfs-null)
guest_note "main=$main ro=$ro null=$null"
dev=/dev/$main

zero4=$(dd if=/dev/zero bs=$MIB count=4 2>/dev/null | md5sum)

# expect_zeroes WHAT: the 4 MiB at 8 MiB must read as zeroes (O_DIRECT,
# so the page cache cannot answer).
expect_zeroes()
{
	got=$(dd if=$dev bs=$MIB skip=8 count=4 iflag=direct 2>/dev/null |
		md5sum)
	[ "$got" = "$zero4" ] || guest_fail "$1: the range does not read as zeroes"
	guest_note "$1: the range reads as zeroes"
}

scribble()
{
	dd if=/dev/urandom of=$dev bs=$MIB seek=8 count=4 oflag=direct \
		2>/dev/null || guest_fail "writing to $dev failed"
	got=$(dd if=$dev bs=$MIB skip=8 count=4 iflag=direct 2>/dev/null |
		md5sum)
	[ "$got" != "$zero4" ] || guest_fail "the random data reads as zeroes"
}

# ---- discard and write-zeroes -----------------------------------------------
[ "$(cat /sys/block/$main/queue/discard_max_bytes)" -gt 0 ] ||
	guest_fail "$main offers no discard"
[ "$(cat /sys/block/$main/queue/write_zeroes_max_bytes)" -gt 0 ] ||
	guest_fail "$main offers no write-zeroes"
scribble
/usr/sbin/blkdiscard -o $((8 * MIB)) -l $((4 * MIB)) $dev || guest_fail "blkdiscard"
expect_zeroes "discard"
scribble
/usr/sbin/blkdiscard -z -o $((8 * MIB)) -l $((4 * MIB)) $dev ||
	guest_fail "blkdiscard -z"
expect_zeroes "write-zeroes"
scribble
# Punching a hole in a block device asks for write-zeroes with unmap.
/usr/bin/fallocate -p -o $((8 * MIB)) -l $((4 * MIB)) $dev ||
	guest_fail "fallocate --punch-hole"
expect_zeroes "write-zeroes with unmap"

# ---- the write cache ---------------------------------------------------------
# CONFIG_WCE: the guest may switch the device to write-through (a config
# write the daemon logs); the file system below then runs without a cache.
[ "$(cat /sys/block/$main/cache_type)" = "write back" ] ||
	guest_fail "$main cache_type: $(cat /sys/block/$main/cache_type)"
echo "write through" >/sys/block/$main/cache_type ||
	guest_fail "cannot switch $main to write through"
[ "$(cat /sys/block/$main/cache_type)" = "write through" ] ||
	guest_fail "$main did not switch to write through"
guest_note "cache: write through"

# ---- a file system ------------------------------------------------------------
/usr/sbin/mke2fs -q -F -t ext4 $dev || guest_fail "mke2fs failed"
mkdir -p /mnt
mount -t ext4 $dev /mnt || guest_fail "mount failed"
dd if=/dev/urandom of=/mnt/random bs=$MIB count=6 2>/dev/null ||
	guest_fail "writing a file failed"
mkdir /mnt/dir
i=0
while [ $i -lt 50 ]; do
	echo "small file $i" >/mnt/dir/f$i
	i=$((i + 1))
done
cp /bin/busybox /mnt/dir/busybox
sums=$(cd /mnt && md5sum random dir/*)
umount /mnt || guest_fail "umount failed"
/usr/sbin/e2fsck -f -n $dev >/tmp/fsck.out 2>&1 ||
	guest_fail "e2fsck found problems: $(cat /tmp/fsck.out)"
guest_note "e2fsck: clean"
echo 3 >/proc/sys/vm/drop_caches
mount -t ext4 -o ro $dev /mnt || guest_fail "mount again failed"
[ "$(cd /mnt && md5sum random dir/*)" = "$sums" ] ||
	guest_fail "files differ after remounting"
umount /mnt
guest_note "ext4: files written, checked clean, read back"

# ---- the read-only disk ---------------------------------------------------------
[ "$(cat /sys/block/$ro/ro)" = 1 ] || guest_fail "$ro is not read-only"
if dd if=/dev/zero of=/dev/$ro bs=4096 count=1 oflag=direct 2>/dev/null
then
	guest_fail "a write to the read-only disk succeeded"
fi
echo "blk-md5 ro $(dd if=/dev/$ro bs=$MIB iflag=direct 2>/dev/null |
	md5sum | cut -d' ' -f1)"

# ---- the null disk, polled --------------------------------------------------------
dd if=/dev/zero of=/dev/$null bs=$MIB count=16 oflag=direct 2>/dev/null ||
	guest_fail "writing to the null disk failed"
dd if=/dev/$null of=/dev/null bs=$MIB count=16 iflag=direct 2>/dev/null ||
	guest_fail "reading the null disk failed"
guest_note "null disk: 16 MiB written and read"

# ---- online resize --------------------------------------------------------------
old=$(cat /sys/block/$main/size)
guest_step resize
guest_wait_host resized 60
left=300
while [ "$(cat /sys/block/$main/size)" = "$old" ]; do
	[ $left -gt 0 ] || guest_fail "the size stayed $old sectors"
	left=$((left - 1))
	sleep 0.1
done
new=$(cat /sys/block/$main/size)
[ "$new" = "${blk_new_sectors:-}" ] ||
	guest_fail "size $new sectors, expected ${blk_new_sectors:-?}"
guest_note "resized online: $old -> $new sectors"
dd if=$dev of=/dev/null bs=$MIB skip=$((new * 512 / MIB - 1)) count=1 \
	iflag=direct 2>/dev/null || guest_fail "reading the new last MiB failed"
