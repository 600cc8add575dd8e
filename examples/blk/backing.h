/* SPDX-License-Identifier: MIT */
/* What a vhostdev-blk disk is stored in: a regular file, a host block
 * device, or nothing at all ("null:SIZE", which completes every request
 * without touching data, to measure the library rather than the disk). */
#ifndef VHOSTDEV_BLK_BACKING_H
#define VHOSTDEV_BLK_BACKING_H

#include <stdbool.h>
#include <stdint.h>

enum backing_kind {
	BACKING_NULL,
	BACKING_FILE,
	BACKING_BLOCK_DEVICE
};

struct backing {
	enum backing_kind kind;
	int fd;                      /* -1 for null */
	/* The same file without O_DIRECT, for what O_DIRECT refuses
	 * (misaligned guest buffers); == fd when not direct. */
	int fd_buffered;
	bool read_only;
	bool direct;                 /* opened with O_DIRECT */
	/* A file whose data lives in memory (tmpfs, ramfs): reading or
	 * writing it never waits for a device, but such file systems cannot
	 * do non-blocking reads, so io_uring would hand every request to a
	 * kernel worker thread that competes with ours for the CPU. Reads
	 * and writes are done with plain preadv2/pwritev2 instead. */
	bool in_memory;
	uint64_t size;               /* bytes, a multiple of 512 */
	unsigned int logical_block;  /* bytes, 512 unless the device says */
	unsigned int physical_block;
};

/* Parses "null:SIZE" (SIZE in bytes or with a K/M/G/T suffix, binary
 * units). Returns 1 and sets *size when spec is a null backing, 0 when it
 * is a path, -EINVAL/-ERANGE when the size is wrong. */
int backing_parse_null(const char *spec, uint64_t *size);

/* Opens spec. direct asks for O_DIRECT (--cache=none). Returns -errno; the
 * caller names the path in its message. */
int backing_open(struct backing *b, const char *spec, bool read_only,
		 bool direct);
void backing_close(struct backing *b);

/* Current size in bytes (rounded down to 512) of a file or block device;
 * a null backing never changes. */
int backing_query_size(struct backing *b, uint64_t *size);

#endif
