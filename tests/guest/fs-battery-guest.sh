# SPDX-License-Identifier: MIT
# Guest side of fs-battery.test: mounts the virtio file system and runs a
# battery of file operations on it. The host checks every result on its
# side after the guest powers off, so this script only fails for what the
# guest itself sees wrong. Settings (kernel command line):
#   fs_tag=TAG          the tag to mount (required)
#   fs_files=N          entries in the big directory (default 2000)
#   fs_host_change=1    wait for the host to change a file, then look
#   fs_remount=1        unmount and mount again, then check the files
#   fs_xattr=1          the daemon serves xattrs (else they must fail)
. /lib/vhostdev/guest-lib.sh

tag=${fs_tag:?}
files=${fs_files:-2000}
tool=/bin/fs-guest-tool

check()
{
	# check WHAT EXPECTED ACTUAL
	[ "$2" = "$3" ] || guest_fail "$1: expected '$2', got '$3'"
}

mkdir -p /mnt
guest_timeout 60 mount -t virtiofs "$tag" /mnt ||
	guest_fail "mount -t virtiofs $tag failed"
guest_note "mounted:" $(grep virtiofs /proc/mounts)
cd /mnt || guest_fail "cd /mnt"

check "host file" "written by the host" "$(cat host-file.txt)"

# create, write, read back, append
echo hello >new.txt || guest_fail "create new.txt"
check "read back" hello "$(cat new.txt)"
echo world >>new.txt || guest_fail "append"
check "after append" "hello
world" "$(cat new.txt)"

# truncate
printf abcdefgh >trunc.txt
truncate -s 3 trunc.txt || guest_fail "truncate"
check "truncated" abc "$(cat trunc.txt)"
truncate -s 0 trunc-empty.txt || guest_fail "truncate -s 0 (create)"

# rename over an existing file
echo old >target
echo new >src
mv -f src target || guest_fail "rename over target"
[ ! -e src ] || guest_fail "src still exists after rename"
check "renamed" new "$(cat target)"
echo a >ex-a; echo b >ex-b
$tool rename-exchange ex-a ex-b || guest_fail "RENAME_EXCHANGE"
check "exchanged" b "$(cat ex-a)"
$tool rename-noreplace ex-a ex-b && guest_fail "RENAME_NOREPLACE replaced"

# hard link, symlink
ln target hardlink || guest_fail "ln"
check "link count" 2 "$(stat -c %h target)"
ln -s target symlink || guest_fail "ln -s"
check "readlink" target "$(readlink symlink)"
check "through symlink" new "$(cat symlink)"

# chmod, chown, utimes
chmod 640 new.txt || guest_fail "chmod"
check "mode" 640 "$(stat -c %a new.txt)"
chown 1234:5678 new.txt || guest_fail "chown"
check "owner" 1234:5678 "$(stat -c %u:%g new.txt)"
touch -d '2001-02-03 04:05:06' new.txt || guest_fail "touch -d"
check "mtime" 981173106 "$(stat -c %Y new.txt)"

# mkdir, rmdir, a directory with many entries
mkdir -p dir1/sub || guest_fail "mkdir"
rmdir dir1/sub || guest_fail "rmdir"
[ ! -e dir1/sub ] || guest_fail "dir1/sub still exists"
mkdir many || guest_fail "mkdir many"
(cd many && seq 1 "$files" | xargs touch) || guest_fail "creating $files files"
check "entries in many" "$files" "$(ls many | wc -l)"
check "entries with ls -l" "$files" "$(ls -l many | grep -c '^-')"

# a large sparse file with a little data
truncate -s 300M sparse || guest_fail "truncate sparse"
printf SPARSE-DATA | dd of=sparse bs=1 seek=$((200 * 1024 * 1024)) \
	conv=notrunc 2>/dev/null || guest_fail "write into sparse"
check "sparse size" $((300 * 1024 * 1024)) "$(stat -c %s sparse)"
check "sparse data" SPARSE-DATA "$(dd if=sparse bs=1 skip=$((200 * 1024 * 1024)) \
	count=11 2>/dev/null)"
data_at=$($tool seek sparse data 0) || guest_fail "SEEK_DATA"
[ "$data_at" -gt 0 ] || guest_fail "SEEK_DATA found data at $data_at"

# random data through the page cache and back
dd if=/dev/urandom of=random.bin bs=64k count=16 2>/dev/null ||
	guest_fail "write random.bin"
guest_note "random.bin md5 $(md5sum random.bin | cut -d' ' -f1)"
$tool copy random.bin copy.bin >/dev/null || guest_fail "copy_file_range"
check "copy" "$(md5sum <random.bin)" "$(md5sum <copy.bin)"

# xattrs, fsync, fallocate, statfs
if [ "${fs_xattr:-0}" = 1 ]; then
	$tool setxattr new.txt user.vhostdev battery || guest_fail "setxattr"
	check "getxattr" battery "$($tool getxattr new.txt user.vhostdev)"
	$tool listxattr new.txt | grep -qx user.vhostdev ||
		guest_fail "listxattr"
	$tool setxattr new.txt user.gone x &&
		$tool removexattr new.txt user.gone ||
		guest_fail "removexattr"
	$tool getxattr new.txt user.gone >/dev/null &&
		guest_fail "removed xattr still there"
else
	$tool setxattr new.txt user.vhostdev battery &&
		guest_fail "setxattr worked without --xattr"
fi
$tool fsync new.txt || guest_fail "fsync"
: >falloc
$tool fallocate falloc 0 65536 || guest_fail "fallocate"
check "fallocated size" 65536 "$(stat -c %s falloc)"
df /mnt | tail -n 1 | grep -q . || guest_fail "df"
check "statfs type" 65735546 "$(stat -f -c %t /mnt)"
sync || guest_fail "sync"

# unlink
echo bye >unlink-me
rm unlink-me || guest_fail "rm"
[ ! -e unlink-me ] || guest_fail "unlink-me still exists"

if [ "${fs_host_change:-0}" = 1 ]; then
	guest_open_host_channel
	guest_step host-change
	guest_wait_host changed 120
	# cache=auto keeps attributes for a second.
	sleep 2
	check "host change" "changed by the host" "$(cat host-file.txt)"
fi

cd /
guest_timeout 60 umount /mnt || guest_fail "umount"
if [ "${fs_remount:-0}" = 1 ]; then
	guest_timeout 60 mount -t virtiofs "$tag" /mnt ||
		guest_fail "mount again"
	check "after remount" "hello
world" "$(cat /mnt/new.txt)"
	check "entries after remount" "$files" "$(ls /mnt/many | wc -l)"
	guest_timeout 60 umount /mnt || guest_fail "umount again"
fi
guest_note "battery done"
