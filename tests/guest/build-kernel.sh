#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds the small guest kernel used by the end-to-end tests from Debian's
# linux-source-6.12 and kernel.config, and caches it outside the clone,
# keyed by the fragment's hash and the source version, so that a machine
# builds it once. Prints the path of the bzImage on stdout.
#
# Usage: build-kernel.sh [--cached]
#   --cached  only print the path of an already built kernel; exit 1 (and
#             build nothing) when there is none. The tests use this: a
#             build takes 12-20 minutes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fragment=$here/kernel.config
cached_only=
case "${1:-}" in
--cached) cached_only=1 ;;
"") ;;
*) echo "usage: build-kernel.sh [--cached]" >&2; exit 2 ;;
esac
src_tar=$(ls /usr/src/linux-source-6.12.tar.xz 2>/dev/null || true)
if [ -z "$src_tar" ]; then
    echo "build-kernel: /usr/src/linux-source-6.12.tar.xz missing (apt-get install -t bookworm-backports linux-source-6.12)" >&2
    exit 1
fi
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
key=$( (cat "$fragment"; echo "$srcver") | sha256sum | cut -c1-16)
cache=${VHOSTDEV_KERNEL_CACHE:-/var/cache/libvhostdev/guest-kernel}/$key
if [ -f "$cache/bzImage" ]; then
    echo "$cache/bzImage"
    exit 0
fi
if [ -n "$cached_only" ]; then
    echo "build-kernel: no kernel built yet for $key (run tests/guest/build-kernel.sh)" >&2
    exit 1
fi
mkdir -p "$cache"
# Two builds of the same kernel at once (two build trees, or a demo and a
# test run) would only double the wait: the second waits for the first and
# then finds its result.
exec 8>"$cache/lock"
flock 8
if [ -f "$cache/bzImage" ]; then
    echo "$cache/bzImage"
    exit 0
fi
work=$(mktemp -d "${cache}/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "build-kernel: building guest kernel $key from linux-source $srcver (takes 12-20 minutes on 2 cores)" >&2
tar -xJf "$src_tar" -C "$work"
cd "$work"/linux-source-6.12
make -s tinyconfig >&2
scripts/kconfig/merge_config.sh -m .config "$fragment" >&2
make -s olddefconfig >&2
# Every =y in the fragment must survive olddefconfig: a dropped driver would
# make a guest test fail much later with a confusing message.
missing=0
while IFS= read -r line; do
    case "$line" in CONFIG_*=y) grep -qx "$line" .config || { echo "build-kernel: $line did not stick" >&2; missing=1; } ;; esac
done < "$fragment"
[ "$missing" = 0 ] || exit 1
make -s -j"$(nproc)" bzImage >&2
cp arch/x86/boot/bzImage "$cache/bzImage.tmp"
cp .config "$cache/config"
mv "$cache/bzImage.tmp" "$cache/bzImage"
echo "$cache/bzImage"
