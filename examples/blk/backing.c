/* SPDX-License-Identifier: MIT */
/* Opening vhostdev-blk's backing store and asking its size: see backing.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "backing.h"
#include "daemon.h"
#include "virtio-blk.h"

#define NULL_PREFIX "null:"

int backing_parse_null(const char *spec, uint64_t *size)
{
	char number[32];
	const char *text;
	unsigned int shift = 0;
	size_t len;
	uint64_t n;
	int r;

	if (strncmp(spec, NULL_PREFIX, strlen(NULL_PREFIX)) != 0)
		return 0;
	text = spec + strlen(NULL_PREFIX);
	len = strlen(text);
	if (len == 0 || len >= sizeof(number))
		return -EINVAL;
	memcpy(number, text, len + 1);
	switch (number[len - 1]) {
	case 'K': case 'k': shift = 10; break;
	case 'M': case 'm': shift = 20; break;
	case 'G': case 'g': shift = 30; break;
	case 'T': case 't': shift = 40; break;
	default: break;
	}
	if (shift)
		number[len - 1] = 0;
	/* Capacity is counted in 512-byte sectors in a 64-bit field, and
	 * offsets must fit in off_t: keep sizes below 2^62 bytes. */
	r = daemon_parse_u64(number, 1, (UINT64_C(1) << 62) >> shift, &n);
	if (r < 0)
		return r;
	n <<= shift;
	if (n < VIRTIO_BLK_SECTOR_SIZE)
		return -ERANGE;
	*size = n & ~(uint64_t)(VIRTIO_BLK_SECTOR_SIZE - 1);
	return 1;
}

int backing_query_size(struct backing *b, uint64_t *size)
{
	struct stat st;
	uint64_t bytes;

	if (b->kind == BACKING_NULL) {
		*size = b->size;
		return 0;
	}
	if (b->kind == BACKING_BLOCK_DEVICE) {
		if (ioctl(b->fd, BLKGETSIZE64, &bytes) < 0)
			return -errno;
	} else {
		if (fstat(b->fd, &st) < 0)
			return -errno;
		bytes = (uint64_t)st.st_size;
	}
	*size = bytes & ~(uint64_t)(VIRTIO_BLK_SECTOR_SIZE - 1);
	return 0;
}

static int query_block_sizes(struct backing *b)
{
	int logical = 0;
	unsigned int physical = 0;

	if (ioctl(b->fd, BLKSSZGET, &logical) < 0)
		return -errno;
	if (ioctl(b->fd, BLKPBSZGET, &physical) < 0)
		return -errno;
	if (logical >= (int)VIRTIO_BLK_SECTOR_SIZE)
		b->logical_block = (unsigned int)logical;
	if (physical >= b->logical_block)
		b->physical_block = physical;
	return 0;
}

/* Only file systems known to keep their data in memory qualify: another
 * one without non-blocking reads (NFS, FUSE) may well block on a network,
 * and there io_uring's worker threads are what keeps requests concurrent. */
static bool in_memory_fs(int fd)
{
	struct statfs sfs;

	if (fstatfs(fd, &sfs) < 0)
		return false;
	return sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC;
}

int backing_open(struct backing *b, const char *spec, bool read_only,
		 bool direct)
{
	uint64_t null_size;
	struct stat st;
	int flags, r;

	*b = (struct backing){
		.fd = -1, .fd_buffered = -1, .read_only = read_only,
		.direct = direct,
		.logical_block = VIRTIO_BLK_SECTOR_SIZE,
		.physical_block = VIRTIO_BLK_SECTOR_SIZE,
	};
	r = backing_parse_null(spec, &null_size);
	if (r < 0)
		return r;
	if (r > 0) {
		b->kind = BACKING_NULL;
		b->size = null_size;
		b->direct = false;
		return 0;
	}
	flags = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	if (direct)
		flags |= O_DIRECT;
	b->fd = open(spec, flags);
	if (b->fd < 0)
		return -errno;
	b->fd_buffered = b->fd;
	if (direct) {
		b->fd_buffered = open(spec, flags & ~O_DIRECT);
		if (b->fd_buffered < 0) {
			r = -errno;
			goto fail;
		}
	}
	if (fstat(b->fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	if (S_ISBLK(st.st_mode)) {
		b->kind = BACKING_BLOCK_DEVICE;
		r = query_block_sizes(b);
		if (r < 0)
			goto fail;
	} else if (S_ISREG(st.st_mode)) {
		b->kind = BACKING_FILE;
		b->in_memory = in_memory_fs(b->fd);
	} else {
		r = -EINVAL;
		goto fail;
	}
	r = backing_query_size(b, &b->size);
	if (r < 0)
		goto fail;
	return 0;
fail:
	backing_close(b);
	return r;
}

void backing_close(struct backing *b)
{
	if (b->fd_buffered >= 0 && b->fd_buffered != b->fd)
		close(b->fd_buffered);
	if (b->fd >= 0)
		close(b->fd);
	b->fd = b->fd_buffered = -1;
}
