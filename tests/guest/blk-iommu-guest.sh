# SPDX-License-Identifier: MIT
# Guest side of blk-iommu.test: the IOMMU must be on and the disk must
# have negotiated ACCESS_PLATFORM (feature bit 33); then a pattern is
# written over the whole disk with O_DIRECT, read back and compared, and
# its hash printed for the host ("blk-md5 SERIAL HASH").
. /lib/vhostdev/guest-lib.sh

dmesg | grep -q 'DMAR: IOMMU enabled' || guest_fail "the IOMMU is not on"
dev=
for b in /sys/block/vd*; do
	[ "$(cat "$b/serial" 2>/dev/null)" = blkiommu ] && dev=${b##*/}
done
[ -n "$dev" ] || guest_fail "no disk with serial blkiommu"
features=$(cat "/sys/block/$dev/device/features")
[ "$(echo "$features" | cut -c34)" = 1 ] ||
	guest_fail "ACCESS_PLATFORM not negotiated: $features"
[ -d "/sys/block/$dev/device/iommu_group" ] ||
	[ -e "/sys/block/$dev/device/../iommu_group" ] ||
	guest_note "no iommu_group link for $dev (sysfs layout)"

mib=$(($(cat /sys/block/$dev/size) / 2048))
dd if=/dev/urandom of=/tmp/p bs=1048576 count="$mib" 2>/dev/null ||
	guest_fail "urandom"
dd if=/tmp/p of="/dev/$dev" bs=65536 oflag=direct 2>/tmp/dd ||
	guest_fail "write failed: $(cat /tmp/dd)"
dd if="/dev/$dev" of=/tmp/r bs=65536 iflag=direct 2>/tmp/dd ||
	guest_fail "read failed: $(cat /tmp/dd)"
cmp /tmp/p /tmp/r || guest_fail "read back differs"
echo "blk-md5 blkiommu $(md5sum </tmp/p | cut -d' ' -f1)"
guest_note "$mib MiB written and read back through the IOMMU"
