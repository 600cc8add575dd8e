# SPDX-License-Identifier: MIT
# Guest side of fs-escape.test: tries to reach files beside the shared
# directory (canary.txt one level up, which the host made sure exists,
# and a tripwire name there). Symlinks made by the host that point out of
# the share (relative, absolute, to "..", into /proc), symlinks the guest
# makes, ".." walks, and lookups racing with renames of the directories
# they walk must all stay inside. The host then checks that the canary
# was neither read nor changed and that the tripwire does not exist.
. /lib/vhostdev/guest-lib.sh

tag=${fs_tag:?}
secret="host secret"

mkdir -p /mnt
guest_timeout 60 mount -t virtiofs "$tag" /mnt ||
	guest_fail "mount -t virtiofs $tag failed"
cd /mnt || guest_fail "cd /mnt"

# must_not_read PATH: PATH may exist (in the guest) but never hold the
# host's secret.
must_not_read()
{
	got=$(cat "$1" 2>/dev/null)
	[ "$got" != "$secret" ] || guest_fail "read the host canary through $1"
	guest_note "$1: not reached"
}

must_not_read ../canary.txt
must_not_read /mnt/../canary.txt
for link in host-rel host-abs host-up/canary.txt host-proc/canary.txt \
	host-deep; do
	must_not_read "$link"
done
guest_note "host-abs points at '$(readlink host-abs)'"

# Symlinks made from the guest.
ln -s / rootlink || guest_fail "ln -s /"
ln -s ../canary.txt uplink || guest_fail "ln -s ../canary.txt"
ln -s ../../../../../../../../canary.txt deeplink
must_not_read uplink
must_not_read deeplink
must_not_read rootlink/canary.txt
# Writes through them land in the guest's own root, never beside the share.
echo pwned >rootlink/tripwire 2>/dev/null
ln -s ../tripwire tripwire-link && echo pwned >tripwire-link 2>/dev/null
mkdir -p deep/a/b && ln -s ../../../../tripwire deep/a/b/up &&
	echo pwned >deep/a/b/up 2>/dev/null

# A hard link to a guest file stays a file in the share.
echo mine >own && ln own own-link || guest_fail "ln"

# Renames racing with lookups that walk ".." through the moving tree.
mkdir -p race/b/c && echo inside >race/b/c/f
(
	i=0
	while [ $i -lt 150 ]; do
		mv race/b race/x 2>/dev/null
		mv race/x race/b 2>/dev/null
		i=$((i + 1))
	done
) &
mover=$!
j=0
while [ $j -lt 150 ]; do
	got=$(cat race/b/c/../../../../canary.txt 2>/dev/null)
	[ "$got" != "$secret" ] || guest_fail "the race reached the canary"
	ls race/b/c/../.. >/dev/null 2>&1
	j=$((j + 1))
done
wait $mover
guest_note "rename race done"

cd /
guest_timeout 60 umount /mnt || guest_fail "umount"
guest_note "escape attempts done"
