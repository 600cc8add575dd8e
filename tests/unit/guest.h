/* SPDX-License-Identifier: MIT */
/* A fake guest for the unit tests: a real device object, memfd-backed
 * guest memory mapped by the library (through vhd_memory_add) and fenced
 * with PROT_NONE pages so a stray access kills the test, a second mapping
 * of the same memory that plays the guest's side, and a capture of what
 * the library logs. */
#ifndef TEST_GUEST_H
#define TEST_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.h"

#define GUEST_MAX_REGIONS 8
/* Front-end virtual addresses are the gpa plus this. */
#define GUEST_UVA_BIAS 0x7f0000000000ull

/* The usual layout: A, a hole, then B and C back to back (a buffer can
 * straddle B and C). Rings live at the start of A. */
#define GUEST_A 0x100000ull
#define GUEST_B 0x300000ull
#define GUEST_C 0x400000ull
#define GUEST_REGION_SIZE 0x100000ull
/* First address of the hole between A and B. */
#define GUEST_HOLE 0x200000ull

struct guest_region {
	uint64_t gpa, size;
	uint64_t offset;       /* of the region's first byte in the fd */
	int fd;
	uint8_t *view;         /* the guest's own mapping of the whole fd */
	size_t view_size;
	uint8_t *arena;        /* guard pages around the library's mapping */
	size_t arena_size;
};

struct guest {
	struct vhostdev *dev;
	struct vhd_memory *mem;
	unsigned int nregions;
	struct guest_region r[GUEST_MAX_REGIONS];
	uint8_t *snapshot;
	size_t snapshot_size;
	char log[8192];
	size_t log_len;
	unsigned int nlogs;
};

void guest_init(struct guest *g);
void guest_fini(struct guest *g);
/* Adds a region backed by a fresh memfd whose first mmap_offset bytes
 * are not guest memory; returns what vhd_memory_add() returned. */
int guest_add_region(struct guest *g, uint64_t gpa, uint64_t size,
		     uint64_t mmap_offset);
/* Regions A, B and C. */
void guest_std_layout(struct guest *g);
/* The guest's pointer to gpa (fails the test when unmapped). */
void *guest_va(struct guest *g, uint64_t gpa);
/* Copies all guest memory aside; guest_unchanged() compares with it. */
void guest_snapshot(struct guest *g);
bool guest_unchanged(const struct guest *g);
/* True when the library logged a line containing text. */
bool guest_logged(const struct guest *g, const char *text);

#endif
