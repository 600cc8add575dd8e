/* SPDX-License-Identifier: MIT */
/* The fake guest of the unit tests (see guest.h). The library maps each
 * region itself with vhd_memory_add(); the test then moves that mapping
 * into the middle of a PROT_NONE arena, so the bytes right before and
 * after a region fault instead of silently belonging to something else. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest.h"

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

static size_t round_up(size_t n)
{
	return (n + page_size() - 1) & ~(page_size() - 1);
}

static void capture_log(struct vhostdev *dev, int priority, const char *file,
			int line, const char *fn, const char *format,
			va_list args, void *userdata)
{
	struct guest *g = userdata;
	size_t room = sizeof(g->log) - g->log_len;
	int n;

	g->nlogs++;
	if (room < 2)
		return;
	n = vsnprintf(g->log + g->log_len, room - 1, format, args);
	if (n < 0)
		return;
	g->log_len += (size_t)n < room - 1 ? (size_t)n : room - 2;
	g->log[g->log_len++] = '\n';
	g->log[g->log_len] = '\0';
}

void guest_init(struct guest *g)
{
	memset(g, 0, sizeof(*g));
	ck_assert_int_eq(vhostdev_new(2, 1, &g->dev), 0);
	vhostdev_set_log_fn(g->dev, capture_log, g);
	ck_assert_int_eq(vhostdev_set_log_priority(g->dev, VHOSTDEV_LOG_ERR),
			 0);
	g->mem = g->dev->mem;
}

void guest_fini(struct guest *g)
{
	vhostdev_unref(g->dev);
	for (unsigned int i = 0; i < g->nregions; i++) {
		struct guest_region *r = &g->r[i];

		munmap(r->view, r->view_size);
		/* The library unmapped its part; this drops the guards. */
		munmap(r->arena, r->arena_size);
		close(r->fd);
	}
	free(g->snapshot);
	memset(g, 0, sizeof(*g));
}

/* Moves the library's mapping of the region at gpa between two guard
 * pages. */
static void fence_mapping(struct guest *g, struct guest_region *gr)
{
	struct vhd_region *r = NULL;
	size_t len, page = page_size();
	uint8_t *arena, *moved;

	for (unsigned int i = 0; i < g->mem->count; i++)
		if (g->mem->regions[i].gpa == gr->gpa)
			r = &g->mem->regions[i];
	ck_assert_ptr_nonnull(r);
	len = round_up(r->map_size);
	arena = mmap(NULL, len + 2 * page, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ck_assert_ptr_ne(arena, MAP_FAILED);
	moved = mremap(r->map, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
		       arena + page);
	ck_assert_ptr_ne(moved, MAP_FAILED);
	r->host = moved + (r->host - (uint8_t *)r->map);
	r->map = moved;
	gr->arena = arena;
	gr->arena_size = len + 2 * page;
}

int guest_add_region(struct guest *g, uint64_t gpa, uint64_t size,
		     uint64_t mmap_offset)
{
	struct guest_region *gr = &g->r[g->nregions];
	int fd, ret;

	ck_assert_uint_lt(g->nregions, GUEST_MAX_REGIONS);
	fd = memfd_create("vhostdev-unit-guest", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)(mmap_offset + size)), 0);
	ret = vhd_memory_add(g->mem, gpa, size, gpa + GUEST_UVA_BIAS,
			     mmap_offset, fd);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	gr->gpa = gpa;
	gr->size = size;
	gr->offset = mmap_offset;
	gr->fd = fd;
	gr->view_size = (size_t)(mmap_offset + size);
	gr->view = mmap(NULL, gr->view_size, PROT_READ | PROT_WRITE,
			MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(gr->view, MAP_FAILED);
	g->nregions++;
	fence_mapping(g, gr);
	return 0;
}

void guest_std_layout(struct guest *g)
{
	ck_assert_int_eq(guest_add_region(g, GUEST_A, GUEST_REGION_SIZE, 0), 0);
	ck_assert_int_eq(guest_add_region(g, GUEST_B, GUEST_REGION_SIZE, 0), 0);
	ck_assert_int_eq(guest_add_region(g, GUEST_C, GUEST_REGION_SIZE, 0), 0);
}

void *guest_va(struct guest *g, uint64_t gpa)
{
	for (unsigned int i = 0; i < g->nregions; i++) {
		struct guest_region *r = &g->r[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r->view + r->offset + (gpa - r->gpa);
	}
	ck_abort_msg("gpa 0x%llx is not guest memory",
		     (unsigned long long)gpa);
	return NULL;
}

void guest_snapshot(struct guest *g)
{
	size_t total = 0, at = 0;

	for (unsigned int i = 0; i < g->nregions; i++)
		total += g->r[i].size;
	free(g->snapshot);
	g->snapshot = malloc(total);
	ck_assert_ptr_nonnull(g->snapshot);
	for (unsigned int i = 0; i < g->nregions; i++) {
		memcpy(g->snapshot + at, g->r[i].view + g->r[i].offset,
		       g->r[i].size);
		at += g->r[i].size;
	}
	g->snapshot_size = total;
}

bool guest_unchanged(const struct guest *g)
{
	size_t at = 0;

	for (unsigned int i = 0; i < g->nregions; i++) {
		if (memcmp(g->snapshot + at, g->r[i].view + g->r[i].offset,
			   g->r[i].size))
			return false;
		at += g->r[i].size;
	}
	return at == g->snapshot_size;
}

bool guest_logged(const struct guest *g, const char *text)
{
	return strstr(g->log, text) != NULL;
}
