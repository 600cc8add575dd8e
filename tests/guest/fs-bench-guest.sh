# SPDX-License-Identifier: MIT
# Guest side of the virtio-fs benchmark (tests/guest/fs-bench.sh): times a
# sequential write and read of a large file and the creation, stat and
# removal of many small files on the mounted file system, and prints one
# "BENCH name value" line per figure (MiB/s, or operations per second).
# Around each timed phase it announces a step (NAME-begin, NAME-end) and
# waits for the host's "go": the daemon is idle then, and the host reads
# its CPU time and request counts.
# Settings: fs_tag=TAG, bench_mib=N (file size), bench_files=N.
. /lib/vhostdev/guest-lib.sh

tag=${fs_tag:?}
mib=${bench_mib:-64}
files=${bench_files:-2000}

# Microseconds on the guest's monotonic clock (busybox's date has no %N).
now_us()
{
	/bin/fs-guest-tool now-us
}

# rate NAME AMOUNT START END: AMOUNT per second, two decimals.
rate()
{
	us=$(($4 - $3))
	[ "$us" -gt 0 ] || us=1
	x=$(($2 * 100000000 / us))
	echo "BENCH $1 $((x / 100)).$(printf %02d $((x % 100)))"
}

# mark STEP: the host samples the idle daemon before we go on.
mark()
{
	guest_step "$1"
	guest_wait_host "go-$1" 120 || guest_fail "no go from the host at $1"
}

fs_mount()
{
	guest_timeout 60 mount -t virtiofs "$tag" /mnt ||
		guest_fail "mount -t virtiofs $tag failed"
}

guest_open_host_channel
mkdir -p /mnt
fs_mount
mark write-begin
t0=$(now_us)
dd if=/dev/zero of=/mnt/big bs=1M count="$mib" conv=fsync 2>/dev/null ||
	guest_fail "writing $mib MiB"
t1=$(now_us)
mark write-end
rate seq-write-MiB/s "$mib" "$t0" "$t1"
# A fresh mount reads from the host, not from the guest's page cache.
umount /mnt || guest_fail "umount"
fs_mount
mark read-begin
t0=$(now_us)
dd if=/mnt/big of=/dev/null bs=1M 2>/dev/null || guest_fail "reading"
t1=$(now_us)
mark read-end
rate seq-read-MiB/s "$mib" "$t0" "$t1"
rm -f /mnt/big

mkdir /mnt/meta || guest_fail "mkdir"
cd /mnt/meta || guest_fail "cd"
seq 1 "$files" >/tmp/names
mark create-begin
t0=$(now_us)
xargs touch </tmp/names || guest_fail "create"
t1=$(now_us)
mark create-end
rate create/s "$files" "$t0" "$t1"
cd / && umount /mnt && fs_mount && cd /mnt/meta || guest_fail "remount"
mark stat-begin
t0=$(now_us)
xargs stat -c %s </tmp/names >/dev/null || guest_fail "stat"
t1=$(now_us)
mark stat-end
rate stat/s "$files" "$t0" "$t1"
mark unlink-begin
t0=$(now_us)
xargs rm -f </tmp/names || guest_fail "unlink"
t1=$(now_us)
mark unlink-end
rate unlink/s "$files" "$t0" "$t1"
cd /
rmdir /mnt/meta
umount /mnt || guest_fail "umount"

# The same three commands on the guest's tmpfs: what they cost with no
# device at all, the ceiling no daemon can lift a figure above.
mkdir /tmp/meta && cd /tmp/meta || guest_fail "mkdir /tmp/meta"
t0=$(now_us)
xargs touch </tmp/names || guest_fail "tmpfs create"
t1=$(now_us)
rate tmpfs-create/s "$files" "$t0" "$t1"
t0=$(now_us)
xargs stat -c %s </tmp/names >/dev/null || guest_fail "tmpfs stat"
t1=$(now_us)
rate tmpfs-stat/s "$files" "$t0" "$t1"
t0=$(now_us)
xargs rm -f </tmp/names || guest_fail "tmpfs unlink"
t1=$(now_us)
rate tmpfs-unlink/s "$files" "$t0" "$t1"
cd / && rmdir /tmp/meta
