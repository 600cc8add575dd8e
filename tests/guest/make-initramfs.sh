#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the base initramfs shared by every guest test: a static busybox,
# its applet links, guest-init.sh as /init and guest-lib.sh. Each test then
# appends its own script as a second, uncompressed cpio archive (see
# host-lib.sh), so this archive is built once per build tree.
#
# Usage: make-initramfs.sh OUTPUT.cpio.gz
# BUSYBOX may name the static busybox to use (default: busybox on PATH).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: make-initramfs.sh OUTPUT.cpio.gz}
busybox=${BUSYBOX:-$(command -v busybox || true)}

if [ -z "$busybox" ] || [ ! -x "$busybox" ]; then
	echo "make-initramfs: busybox not found (apt-get install busybox-static)" >&2
	exit 2
fi
# A dynamically linked busybox would find no C library in the guest.
if ! ldd "$busybox" 2>&1 | grep -q 'not a dynamic executable'; then
	echo "make-initramfs: $busybox is dynamically linked; install busybox-static" >&2
	exit 2
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/vhostdev-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage/bin" "$stage/dev" "$stage/proc" "$stage/sys" \
	"$stage/tmp" "$stage/tests" "$stage/lib/vhostdev"
cp "$busybox" "$stage/bin/busybox"
for applet in $("$busybox" --list); do
	[ "$applet" = busybox ] || ln -s busybox "$stage/bin/$applet"
done
cp "$here/guest-init.sh" "$stage/init"
chmod 755 "$stage/init"
cp "$here/guest-lib.sh" "$stage/lib/vhostdev/guest-lib.sh"
# The virtio-fs tests' helper for what busybox lacks (xattrs, fsync,
# fallocate, SEEK_DATA, copy_file_range, renameat2 flags): a static binary.
if ! ${CC:-cc} -static -O2 -o "$stage/bin/fs-guest-tool" \
	"$here/fs-guest-tool.c" 2>"$stage/cc.err"; then
	cat "$stage/cc.err" >&2
	echo "make-initramfs: could not build fs-guest-tool (static libc?)" >&2
	exit 2
fi
rm -f "$stage/cc.err"

# Disk tools busybox lacks or does only in part (ext4 with a journal, fsck,
# write-zeroes): the host's own binaries, with the shared libraries and
# loader they name, under the same paths. Tests that need one check that
# it is there; a host without them gets an initramfs without them.
copy_with_libs()
{
	mkdir -p "$stage$(dirname "$1")"
	cp -L "$1" "$stage$1"
	for lib in $(ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }
		$1 ~ /^\// { print $1 }'); do
		[ -e "$stage$lib" ] && continue
		mkdir -p "$stage$(dirname "$lib")"
		cp -L "$lib" "$stage$lib"
	done
}
for tool in /usr/sbin/mke2fs /usr/sbin/e2fsck /usr/sbin/blkdiscard \
	/usr/bin/fallocate; do
	[ -x "$tool" ] && copy_with_libs "$tool"
done

# Written next to the output and renamed, so that a reader never sees half
# an archive.
# busybox cpio reports its block count on stderr, so keep stderr aside
# and show it only when something failed.
if ! (cd "$stage" && find . | sort |
	"$busybox" cpio -o -H newc -R 0:0 >"$out.tmp.cpio" 2>"$out.tmp.err"); then
	cat "$out.tmp.err" >&2
	rm -f "$out.tmp.cpio" "$out.tmp.err"
	exit 1
fi
gzip -9n <"$out.tmp.cpio" >"$out.tmp"
rm -f "$out.tmp.cpio" "$out.tmp.err"
mv "$out.tmp" "$out"
