/* SPDX-License-Identifier: MIT */
/* Fake guest memory for the ring harnesses (see fuzz-guest.h). Unlike
 * tests/unit/guest.c it reports failures by return value, not through
 * check, because the harnesses also run under libFuzzer. */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz-guest.h"
#include "fuzz-input.h"
#include "memory.h"
#include "queue.h"

void fuzz_guest_init(struct fuzz_guest *g, struct vhostdev *dev)
{
	memset(g, 0, sizeof(*g));
	g->mem = dev->mem;
}

/* Moves the library's mapping of gr into the middle of a PROT_NONE
 * arena, so its neighbours are guard pages rather than whatever the
 * kernel put there. */
static int fence(struct fuzz_guest *g, struct fuzz_region *gr)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct vhd_region *r = NULL;
	uint8_t *arena, *moved;

	for (unsigned int i = 0; i < g->mem->count; i++)
		if (g->mem->regions[i].gpa == gr->gpa)
			r = &g->mem->regions[i];
	if (!r || r->map_size % page)
		return -EINVAL;
	arena = mmap(NULL, r->map_size + 2 * page, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (arena == MAP_FAILED)
		return -errno;
	moved = mremap(r->map, r->map_size, r->map_size,
		       MREMAP_MAYMOVE | MREMAP_FIXED, arena + page);
	if (moved == MAP_FAILED) {
		munmap(arena, r->map_size + 2 * page);
		return -errno;
	}
	r->host = moved + (r->host - (uint8_t *)r->map);
	r->map = moved;
	gr->arena = arena;
	gr->arena_size = r->map_size + 2 * page;
	gr->host = r->host;
	return 0;
}

int fuzz_guest_add(struct fuzz_guest *g, uint64_t gpa, uint64_t size)
{
	struct fuzz_region *gr;
	int fd, r;

	if (g->count == FUZZ_GUEST_MAX_REGIONS)
		return -ENOSPC;
	gr = &g->r[g->count];
	fd = memfd_create("vhostdev-fuzz-guest", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		r = -errno;
		goto fail;
	}
	r = vhd_memory_add(g->mem, gpa, size, gpa, 0, fd);
	if (r < 0)
		goto fail;
	gr->view = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (gr->view == MAP_FAILED) {
		/* The library's mapping stays in the table until the
		 * device goes. */
		r = -errno;
		goto fail;
	}
	gr->gpa = gpa;
	gr->size = size;
	gr->fd = fd;
	g->count++;
	return fence(g, gr);

fail:
	close(fd);
	return r;
}

void fuzz_guest_fini(struct fuzz_guest *g)
{
	for (unsigned int i = 0; i < g->count; i++) {
		struct fuzz_region *gr = &g->r[i];

		munmap(gr->view, gr->size);
		if (gr->arena)
			munmap(gr->arena, gr->arena_size);
		close(gr->fd);
	}
	memset(g, 0, sizeof(*g));
}

void *fuzz_guest_va(struct fuzz_guest *g, uint64_t gpa, size_t len)
{
	for (unsigned int i = 0; i < g->count; i++) {
		struct fuzz_region *gr = &g->r[i];

		if (gpa >= gr->gpa && gpa - gr->gpa <= gr->size &&
		    len <= gr->size - (gpa - gr->gpa))
			return gr->view + (gpa - gr->gpa);
	}
	return NULL;
}

bool fuzz_guest_owns(const struct fuzz_guest *g, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (unsigned int i = 0; i < g->count; i++) {
		const struct fuzz_region *gr = &g->r[i];

		if (gr->host && b >= gr->host && len <= gr->size &&
		    (uint64_t)(b - gr->host) <= gr->size - len)
			return true;
	}
	return false;
}

struct vhostdev_queue *fuzz_queue_prepare(struct vhostdev *dev,
					  uint64_t features, unsigned int size,
					  const uint64_t where[3], int *call_fd)
{
	struct vhostdev_queue *q = vhostdev_get_queue(dev, 0);

	*call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (*call_fd < 0)
		return NULL;
	dev->acked_features = features;
	dev->features_set = true;
	q->size = size;
	q->desc_uva = where[0];
	q->avail_uva = where[1];
	q->used_uva = where[2];
	/* The queue closes its own copy. */
	q->call_fd = dup(*call_fd);
	return q->call_fd < 0 ? NULL : q;
}
