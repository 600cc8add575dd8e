/* SPDX-License-Identifier: MIT */
/*
 * A tiny static tool for the virtio-fs guest tests: the file operations
 * busybox has no applet for (extended attributes, fsync, fallocate,
 * SEEK_DATA/SEEK_HOLE, copy_file_range, renameat2 flags), and a clock
 * finer than /proc/uptime for the benchmark. Built into the
 * base initramfs by make-initramfs.sh. Each command prints its result on
 * stdout and exits 0, or prints the error and exits 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *what, const char *path)
{
	printf("%s %s: %s\n", what, path, strerror(errno));
	return 1;
}

static int open_or_fail(const char *path, int flags, int *fd)
{
	*fd = open(path, flags | O_CLOEXEC, 0644);
	return *fd < 0 ? fail("open", path) : 0;
}

int main(int argc, char *argv[])
{
	const char *cmd = argc > 1 ? argv[1] : "";
	char buf[4096];
	ssize_t n;
	int fd, fd2;

	if (!strcmp(cmd, "setxattr") && argc == 5) {
		if (setxattr(argv[2], argv[3], argv[4], strlen(argv[4]), 0))
			return fail("setxattr", argv[2]);
	} else if (!strcmp(cmd, "getxattr") && argc == 4) {
		n = getxattr(argv[2], argv[3], buf, sizeof(buf) - 1);
		if (n < 0)
			return fail("getxattr", argv[2]);
		buf[n] = '\0';
		printf("%s\n", buf);
	} else if (!strcmp(cmd, "listxattr") && argc == 3) {
		n = listxattr(argv[2], buf, sizeof(buf));
		if (n < 0)
			return fail("listxattr", argv[2]);
		for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1)
			printf("%s\n", buf + i);
	} else if (!strcmp(cmd, "removexattr") && argc == 4) {
		if (removexattr(argv[2], argv[3]))
			return fail("removexattr", argv[2]);
	} else if (!strcmp(cmd, "fsync") && argc == 3) {
		if (open_or_fail(argv[2], O_RDWR, &fd))
			return 1;
		if (fsync(fd) || fdatasync(fd))
			return fail("fsync", argv[2]);
		close(fd);
	} else if (!strcmp(cmd, "fallocate") && argc == 5) {
		if (open_or_fail(argv[2], O_RDWR, &fd))
			return 1;
		if (fallocate(fd, 0, atoll(argv[3]), atoll(argv[4])))
			return fail("fallocate", argv[2]);
		close(fd);
	} else if (!strcmp(cmd, "seek") && argc == 5) {
		/* seek PATH data|hole OFFSET: prints the offset found */
		off_t r;

		if (open_or_fail(argv[2], O_RDONLY, &fd))
			return 1;
		r = lseek(fd, atoll(argv[4]),
			  !strcmp(argv[3], "data") ? SEEK_DATA : SEEK_HOLE);
		if (r < 0)
			return fail("lseek", argv[2]);
		printf("%lld\n", (long long)r);
		close(fd);
	} else if (!strcmp(cmd, "copy") && argc == 4) {
		loff_t in = 0, out = 0;

		if (open_or_fail(argv[2], O_RDONLY, &fd) ||
		    open_or_fail(argv[3], O_WRONLY | O_CREAT | O_TRUNC, &fd2))
			return 1;
		for (;;) {
			n = copy_file_range(fd, &in, fd2, &out, 1 << 20, 0);
			if (n < 0)
				return fail("copy_file_range", argv[2]);
			if (n == 0)
				break;
		}
		printf("%lld\n", (long long)out);
	} else if (!strcmp(cmd, "rename-noreplace") && argc == 4) {
		if (renameat2(AT_FDCWD, argv[2], AT_FDCWD, argv[3],
			      RENAME_NOREPLACE))
			return fail("renameat2", argv[2]);
	} else if (!strcmp(cmd, "rename-exchange") && argc == 4) {
		if (renameat2(AT_FDCWD, argv[2], AT_FDCWD, argv[3],
			      RENAME_EXCHANGE))
			return fail("renameat2", argv[2]);
	} else if (!strcmp(cmd, "now-us") && argc == 2) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		printf("%lld\n", (long long)ts.tv_sec * 1000000 +
				  ts.tv_nsec / 1000);
	} else {
		fprintf(stderr, "usage: fs-guest-tool setxattr|getxattr|"
			"listxattr|removexattr|fsync|fallocate|seek|copy|"
			"rename-noreplace|rename-exchange ARGS...|now-us\n");
		return 2;
	}
	return 0;
}
