/* SPDX-License-Identifier: MIT */
/*
 * vhostdev-rng's entropy sources. getrandom() never blocks once the host's
 * pool is initialised, which it is long before a guest runs. A --source
 * path is opened non-blocking, so that a FIFO or a slow hardware RNG makes
 * the daemon wait in its poll() loop instead of stalling the vhost-user
 * connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "entropy-source.h"

int entropy_source_open(struct entropy_source *src, const char *path)
{
	const int flags = O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
	struct stat st;
	int fd;

	src->path = path;
	src->fd = -1;
	if (!path)
		return 0;
	fd = open(path, O_RDONLY | flags);
	if (fd < 0)
		return -errno;
	/* A FIFO without a writer reads as end of file, and poll() reports
	 * it hung up for good once a writer left. Holding its write side
	 * too makes it a stream that writers may join and leave: empty
	 * means "wait", never "ended". */
	if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
		close(fd);
		fd = open(path, O_RDWR | flags);
		if (fd < 0)
			return -errno;
	}
	src->fd = fd;
	return 0;
}

void entropy_source_close(struct entropy_source *src)
{
	if (src->fd >= 0)
		close(src->fd);
	src->fd = -1;
}

ssize_t entropy_source_read(struct entropy_source *src, void *buf,
			    size_t size)
{
	ssize_t n;

	do {
		if (src->fd < 0)
			n = getrandom(buf, size, 0);
		else
			n = read(src->fd, buf, size);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (n == 0)
		return size ? -ENODATA : 0;
	return n;
}

int entropy_source_fd(const struct entropy_source *src)
{
	return src->fd;
}
