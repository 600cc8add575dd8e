#!/bin/bash
# SPDX-License-Identifier: MIT
# Compares vhostdev-fs with virtiofsd on the same guest setup (the small
# test kernel under QEMU, one request queue, cache=auto, the default
# namespace sandbox for both): sequential write and read of a large file,
# and create, stat and unlink of many small files. Runs alternate A/B
# (ours, theirs, ours, ...) and the table shows medians and the ratio
# ours/virtiofsd. A benchmark, not a test: it prints figures and only
# fails when something does not run.
#
# Usage (from the top build directory, after make):
#   tests/guest/fs-bench.sh [ROUNDS]   (default 5; or make bench-fs)
# VIRTIOFSD names the peer. Without it: Debian's virtiofsd package
# (/usr/libexec/virtiofsd), or QEMU's C virtiofsd (/usr/lib/qemu/virtiofsd);
# failing both, that one is unpacked from bookworm's qemu-system-common
# 7.2 with apt-get download into the build tree.
# BENCH_MIB (default 64) and BENCH_FILES (default 1000) size the work.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/host-lib.sh"

rounds=${1:-5}
vg_init fs-bench $((rounds * 2 * 300 + 120))
vg_fs=$vg_top_builddir/examples/fs/vhostdev-fs
vg_need_file "$vg_fs" "run make first"
vg_guest_script "$here/fs-bench-guest.sh"

find_virtiofsd()
{
	local deb dir=$vg_builddir/virtiofsd-7.2
	for v in "${VIRTIOFSD:-}" /usr/libexec/virtiofsd /usr/lib/qemu/virtiofsd \
		"$dir/usr/lib/qemu/virtiofsd"; do
		[ -n "$v" ] && [ -x "$v" ] && { echo "$v"; return 0; }
	done
	mkdir -p "$dir" || return 1
	(cd "$dir" && apt-get download -q \
		"qemu-system-common=$(apt-cache madison qemu-system-common |
			awk -F'|' '$2 ~ /7\.2/ { gsub(/ /, "", $2); print $2; exit }')" \
		>/dev/null 2>&1) || return 1
	deb=$(ls "$dir"/qemu-system-common_*.deb 2>/dev/null | head -n 1)
	[ -n "$deb" ] && dpkg -x "$deb" "$dir" || return 1
	[ -x "$dir/usr/lib/qemu/virtiofsd" ] &&
		echo "$dir/usr/lib/qemu/virtiofsd"
}
virtiofsd=$(find_virtiofsd) || vg_skip "no virtiofsd (set VIRTIOFSD)"
vg_log "peer: $virtiofsd"

share=$vg_work/share
sock=$vg_sockdir/fs.sock
vg_append="fs_tag=bench bench_mib=${BENCH_MIB:-64} bench_files=${BENCH_FILES:-1000}"

# run_one ours|virtiofsd: one guest boot, figures appended to NAME.results.
run_one()
{
	local who=$1
	rm -rf "$share" && mkdir -p "$share"
	rm -f "$sock"
	if [ "$who" = ours ]; then
		vg_daemon_start "$who" "$vg_fs" --socket-path="$sock" \
			--shared-dir="$share" --cache=auto
	else
		vg_daemon_start "$who" "$virtiofsd" --socket-path="$sock" \
			-o source="$share" -o cache=auto
	fi
	vg_wait_listening "$sock"
	vg_qemu_start -chardev "socket,id=fs,path=$sock" \
		-device vhost-user-fs-pci,chardev=fs,tag=bench,num-request-queues=1
	vg_wait_verdict
	tr -d '\r' <"$vg_console" | awk '$1 == "BENCH" { print $2, $3 }' \
		>>"$vg_work/$who.results"
	vg_daemon_stop "$who" TERM 10 || vg_daemon_kill "$who"
}

for round in $(seq 1 "$rounds"); do
	run_one ours
	run_one virtiofsd
done

median()
{
	awk -v k="$2" '$1 == k { print $2 }' "$1" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
			else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo
echo "vhostdev-fs vs $virtiofsd, $rounds rounds each, medians:"
printf '%-16s %12s %12s %8s\n' figure vhostdev-fs virtiofsd ratio
for k in seq-write-MiB/s seq-read-MiB/s create/s stat/s unlink/s; do
	a=$(median "$vg_work/ours.results" "$k")
	b=$(median "$vg_work/virtiofsd.results" "$k")
	printf '%-16s %12s %12s %8s\n' "$k" "$a" "$b" \
		"$(awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2fx", a / b }')"
done
vg_pass
