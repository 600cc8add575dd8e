/* SPDX-License-Identifier: MIT */
/* Fake guest memory for the ring harnesses: memfd regions that the
 * library maps itself (vhd_memory_add), each then moved between PROT_NONE
 * guard pages so one byte read or written past a region faults, plus a
 * second mapping through which the harness plays the guest driver. */
#ifndef FUZZ_GUEST_H
#define FUZZ_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.h"

#define FUZZ_GUEST_MAX_REGIONS 4

struct fuzz_region {
	uint64_t gpa, size;
	int fd;
	uint8_t *view;          /* the guest's mapping */
	uint8_t *arena;         /* guard page, library's mapping, guard page */
	size_t arena_size;
	const uint8_t *host;    /* where the library sees the first byte */
};

struct fuzz_guest {
	struct vhd_memory *mem;
	unsigned int count;
	struct fuzz_region r[FUZZ_GUEST_MAX_REGIONS];
};

/* Starts with no region; regions go into dev's memory table. */
void fuzz_guest_init(struct fuzz_guest *g, struct vhostdev *dev);
/* Adds a zeroed region (size a multiple of the page size); 0 or -errno. */
int fuzz_guest_add(struct fuzz_guest *g, uint64_t gpa, uint64_t size);
/* Unmaps the guest's side and the guards; call after the device is
 * gone (it unmaps its own side). */
void fuzz_guest_fini(struct fuzz_guest *g);
/* The guest's pointer to [gpa, gpa + len), or NULL unless it lies in one
 * region. */
void *fuzz_guest_va(struct fuzz_guest *g, uint64_t gpa, size_t len);
/* Whether [p, p + len) is inside one of the library's mappings. */
bool fuzz_guest_owns(const struct fuzz_guest *g, const void *p, size_t len);

/* Sets up queue 0 of dev as a front end would before it starts the ring:
 * acked features, ring size and addresses, and a call eventfd (the caller
 * keeps *call_fd, the queue a copy). The caller sets the base and calls
 * vhd_queue_start(). Returns the queue, or NULL with errno set. */
struct vhostdev_queue *fuzz_queue_prepare(struct vhostdev *dev,
					  uint64_t features, unsigned int size,
					  const uint64_t where[3], int *call_fd);

#endif
