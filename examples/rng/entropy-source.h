/* SPDX-License-Identifier: MIT */
/* Where vhostdev-rng's bytes come from: the kernel's getrandom(), or a
 * file or device named with --source, read without blocking the loop. */
#ifndef VHOSTDEV_RNG_ENTROPY_SOURCE_H
#define VHOSTDEV_RNG_ENTROPY_SOURCE_H

#include <stddef.h>
#include <sys/types.h>

struct entropy_source {
	const char *path; /* NULL: getrandom() */
	int fd;           /* -1 for getrandom() */
};

/* 0, or -errno of open() (the caller names the path in its message). */
int entropy_source_open(struct entropy_source *src, const char *path);
void entropy_source_close(struct entropy_source *src);

/* Fills buf with up to size bytes: the count (> 0), -EAGAIN when a
 * non-blocking source has nothing now (poll its fd for POLLIN), -ENODATA
 * at the end of a file, or another -errno. */
ssize_t entropy_source_read(struct entropy_source *src, void *buf,
			    size_t size);

/* The fd to poll after -EAGAIN, or -1 when the source never says it. */
int entropy_source_fd(const struct entropy_source *src);

#endif
