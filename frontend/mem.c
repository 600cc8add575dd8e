/* SPDX-License-Identifier: MIT */
/* Guest memory for the front end: memfd-backed regions at guest addresses
 * the caller chooses (holes allowed), mapped in this process so that our
 * mmap address serves as the front end's "user address", plus a bump
 * allocator for rings and buffers. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

int vhf_mem_new(struct vhf_mem **out)
{
	struct vhf_mem *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	*out = m;
	return 0;
}

static void slot_release(struct vhf_mem_slot *s)
{
	if (!s->present)
		return;
	munmap(s->map, s->map_size);
	close(s->r.fd);
	s->present = false;
}

void vhf_mem_free(struct vhf_mem *m)
{
	if (!m)
		return;
	for (unsigned int i = 0; i < m->count; i++)
		slot_release(&m->slots[i]);
	free(m);
}

int vhf_mem_add(struct vhf_mem *m, uint64_t gpa, uint64_t size,
		uint64_t fd_offset)
{
	long page = sysconf(_SC_PAGESIZE);
	struct vhf_mem_slot *s;
	void *map;
	int fd, r;

	if (!size || gpa + size < gpa || (fd_offset % page) ||
	    fd_offset + size < size)
		return -EINVAL;
	if (m->count == VHF_MEM_MAX_REGIONS)
		return -ENOSPC;
	for (unsigned int i = 0; i < m->count; i++) {
		const struct vhf_region *o = &m->slots[i].r;

		if (m->slots[i].present && gpa < o->gpa + o->size &&
		    o->gpa < gpa + size)
			return -EEXIST;
	}
	fd = memfd_create("vhf-guest-ram", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, fd_offset + size) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	map = mmap(NULL, fd_offset + size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   fd, 0);
	if (map == MAP_FAILED) {
		r = -errno;
		close(fd);
		return r;
	}
	s = &m->slots[m->count];
	memset(s, 0, sizeof(*s));
	s->present = true;
	s->map = map;
	s->map_size = fd_offset + size;
	s->r.gpa = gpa;
	s->r.size = size;
	s->r.fd = fd;
	s->r.mmap_offset = fd_offset;
	s->r.host = (uint8_t *)map + fd_offset;
	s->r.uva = (uint64_t)(uintptr_t)s->r.host;
	return (int)m->count++;
}

int vhf_mem_drop(struct vhf_mem *m, unsigned int idx)
{
	if (idx >= m->count || !m->slots[idx].present)
		return -ENOENT;
	slot_release(&m->slots[idx]);
	return 0;
}

const struct vhf_region *vhf_mem_region(const struct vhf_mem *m,
					unsigned int idx)
{
	if (idx >= m->count || !m->slots[idx].present)
		return NULL;
	return &m->slots[idx].r;
}

unsigned int vhf_mem_count(const struct vhf_mem *m)
{
	return m->count;
}

void *vhf_mem_ptr(const struct vhf_mem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned int i = 0; i < m->count; i++) {
		const struct vhf_region *r = &m->slots[i].r;

		if (!m->slots[i].present || gpa < r->gpa ||
		    gpa - r->gpa >= r->size || len > r->size - (gpa - r->gpa))
			continue;
		return (uint8_t *)r->host + (gpa - r->gpa);
	}
	return NULL;
}

int vhf_mem_gpa(const struct vhf_mem *m, const void *p, uint64_t *gpa)
{
	uintptr_t a = (uintptr_t)p;

	for (unsigned int i = 0; i < m->count; i++) {
		const struct vhf_region *r = &m->slots[i].r;
		uintptr_t h = (uintptr_t)r->host;

		if (m->slots[i].present && a >= h && a - h < r->size) {
			*gpa = r->gpa + (a - h);
			return 0;
		}
	}
	return -EFAULT;
}

uint64_t vhf_mem_uva(const struct vhf_mem *m, uint64_t gpa)
{
	void *p = vhf_mem_ptr(m, gpa, 0);

	return p ? (uint64_t)(uintptr_t)p : 0;
}

int vhf_mem_alloc(struct vhf_mem *m, uint64_t size, uint64_t align,
		  int idx, uint64_t *gpa)
{
	if (!size || !align || (align & (align - 1)))
		return -EINVAL;
	for (unsigned int i = 0; i < m->count; i++) {
		struct vhf_mem_slot *s = &m->slots[i];
		uint64_t start;

		if (!s->present || (idx >= 0 && (unsigned int)idx != i))
			continue;
		/* Align the guest address, which is what rings care about. */
		start = ((s->r.gpa + s->next + align - 1) & ~(align - 1)) -
			s->r.gpa;
		if (start > s->r.size || size > s->r.size - start)
			continue;
		s->next = start + size;
		memset((uint8_t *)s->r.host + start, 0, size);
		*gpa = s->r.gpa + start;
		return 0;
	}
	return -ENOMEM;
}

int vhf_mem_region_desc(const struct vhf_mem *m, unsigned int idx,
			struct vhf_region_desc *d)
{
	const struct vhf_region *r = vhf_mem_region(m, idx);

	if (!r)
		return -ENOENT;
	d->gpa = r->gpa;
	d->size = r->size;
	d->uva = r->uva;
	d->mmap_offset = r->mmap_offset;
	return 0;
}
