/* SPDX-License-Identifier: MIT */
/* The guest memory table: maps the regions the front end shares with us
 * and translates guest physical (and front-end virtual) addresses into
 * pointers of this process. Every range check is written so that a hostile
 * address or length cannot wrap around 2^64. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memory.h"

void vhd_memory_init(struct vhd_memory *m)
{
	m->count = 0;
}

void vhd_memory_clear(struct vhd_memory *m)
{
	for (unsigned int i = 0; i < m->count; i++)
		munmap(m->regions[i].map, m->regions[i].map_size);
	m->count = 0;
}

static void retire(struct vhd_retired *r, const struct vhd_region *region)
{
	r->maps[r->count].map = region->map;
	r->maps[r->count].size = region->map_size;
	r->count++;
}

void vhd_memory_retire_all(struct vhd_memory *m, struct vhd_retired *r)
{
	for (unsigned int i = 0; i < m->count; i++)
		retire(r, &m->regions[i]);
	m->count = 0;
}

int vhd_retired_reserve(struct vhd_retired *r, unsigned int more)
{
	struct vhd_retired_map *maps;
	unsigned int cap;

	if (r->cap - r->count >= more)
		return 0;
	cap = r->count + more;
	maps = realloc(r->maps, cap * sizeof(*maps));
	if (!maps)
		return -ENOMEM;
	r->maps = maps;
	r->cap = cap;
	return 0;
}

void vhd_retired_unmap(struct vhd_retired *r)
{
	for (unsigned int i = 0; i < r->count; i++)
		munmap(r->maps[i].map, r->maps[i].size);
	r->count = 0;
}

void vhd_retired_free(struct vhd_retired *r)
{
	vhd_retired_unmap(r);
	free(r->maps);
	r->maps = NULL;
	r->cap = 0;
}

/* [a, a + alen) and [b, b + blen), both non-empty and known not to wrap
 * (their last bytes are a + alen - 1 and b + blen - 1). */
static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b,
			   uint64_t blen)
{
	return a <= b + (blen - 1) && b <= a + (alen - 1);
}

/* True when a region of size bytes starting at start would run past the
 * last byte of the 64-bit space. size must not be 0. */
static bool range_wraps(uint64_t start, uint64_t size)
{
	return start + (size - 1) < start;
}

int vhd_memory_add(struct vhd_memory *m, uint64_t gpa, uint64_t size,
		   uint64_t uva, uint64_t mmap_offset, int fd)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t map_offset, slack, map_size;
	unsigned int pos;
	void *map;

	if (size == 0 || range_wraps(gpa, size) || range_wraps(uva, size))
		return -EINVAL;
	/* The file offset is an off_t: the whole mapping must fit below
	 * 2^63 or mmap would see a negative offset. */
	if (mmap_offset > (uint64_t)INT64_MAX ||
	    size > (uint64_t)INT64_MAX - mmap_offset)
		return -EINVAL;
	for (unsigned int i = 0; i < m->count; i++) {
		const struct vhd_region *r = &m->regions[i];

		if (ranges_overlap(gpa, size, r->gpa, r->size) ||
		    ranges_overlap(uva, size, r->uva, r->size))
			return -EINVAL;
	}
	if (m->count >= VHD_MAX_MEM_SLOTS)
		return -ENOSPC;
	/* A mapping past the end of the file faults with SIGBUS on first
	 * touch: refuse it up front. */
	{
		struct stat st;

		if (fstat(fd, &st) < 0)
			return -errno;
		if (S_ISREG(st.st_mode) &&
		    mmap_offset + size > (uint64_t)st.st_size)
			return -EINVAL;
	}

	/* mmap wants a page-aligned file offset: start the mapping at the
	 * page holding mmap_offset and skip the slack in front. */
	map_offset = mmap_offset & ~(page - 1);
	slack = mmap_offset - map_offset;
	map_size = slack + size;
	if (map_size < size || map_size > SIZE_MAX)
		return -EINVAL;
	map = mmap(NULL, (size_t)map_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   fd, (off_t)map_offset);
	if (map == MAP_FAILED)
		return -errno;

	/* Keep the table sorted by gpa so translation can bisect. */
	for (pos = 0; pos < m->count && m->regions[pos].gpa < gpa; pos++)
		;
	memmove(&m->regions[pos + 1], &m->regions[pos],
		(m->count - pos) * sizeof(m->regions[0]));
	m->regions[pos] = (struct vhd_region){
		.gpa = gpa,
		.size = size,
		.uva = uva,
		.mmap_offset = mmap_offset,
		.map = map,
		.map_size = (size_t)map_size,
		.host = (uint8_t *)map + slack,
	};
	m->count++;
	return 0;
}

int vhd_memory_remove(struct vhd_memory *m, uint64_t gpa, uint64_t size,
		      struct vhd_retired *retired)
{
	for (unsigned int i = 0; i < m->count; i++) {
		struct vhd_region *r = &m->regions[i];

		if (r->gpa != gpa || r->size != size)
			continue;
		retire(retired, r);
		memmove(r, r + 1, (m->count - i - 1) * sizeof(*r));
		m->count--;
		return 0;
	}
	return -ENOENT;
}

/* The region holding gpa, or NULL. Called for every descriptor, so it
 * bisects the sorted table instead of scanning it. */
static const struct vhd_region *find_gpa(const struct vhd_memory *m,
					 uint64_t gpa)
{
	unsigned int lo = 0, hi = m->count;

	/* Find the last region starting at or below gpa. */
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (m->regions[mid].gpa <= gpa)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct vhd_region *r = &m->regions[lo - 1];

	return gpa - r->gpa < r->size ? r : NULL;
}

void *vhd_memory_gpa(const struct vhd_memory *m, uint64_t gpa, uint64_t len)
{
	const struct vhd_region *r = find_gpa(m, gpa);
	uint64_t off;

	if (!r)
		return NULL;
	off = gpa - r->gpa;
	/* off < size holds, so size - off cannot underflow. */
	if (len > r->size - off)
		return NULL;
	return r->host + off;
}

void *vhd_memory_uva(const struct vhd_memory *m, uint64_t uva, uint64_t len)
{
	/* Only ring addresses come in this way, once per ring start: a scan
	 * is enough. */
	for (unsigned int i = 0; i < m->count; i++) {
		const struct vhd_region *r = &m->regions[i];
		uint64_t off = uva - r->uva;

		if (uva >= r->uva && off < r->size && len <= r->size - off)
			return r->host + off;
	}
	return NULL;
}

/* Both scan: they serve migration logging and ring set-up, not the
 * per-descriptor path. */
int vhd_memory_host_to_gpa(const struct vhd_memory *m, const void *p,
			   uint64_t *gpa)
{
	for (unsigned int i = 0; i < m->count; i++) {
		const struct vhd_region *r = &m->regions[i];
		uintptr_t off = (uintptr_t)p - (uintptr_t)r->host;

		if ((uintptr_t)p >= (uintptr_t)r->host && off < r->size) {
			*gpa = r->gpa + off;
			return 0;
		}
	}
	return -EFAULT;
}

int vhd_memory_uva_to_gpa(const struct vhd_memory *m, uint64_t uva,
			  uint64_t *gpa)
{
	for (unsigned int i = 0; i < m->count; i++) {
		const struct vhd_region *r = &m->regions[i];

		if (uva >= r->uva && uva - r->uva < r->size) {
			*gpa = r->gpa + (uva - r->uva);
			return 0;
		}
	}
	return -EFAULT;
}

/* The region holding a front-end virtual address, or NULL. */
static const struct vhd_region *find_uva(const struct vhd_memory *m,
					 uint64_t uva)
{
	for (unsigned int i = 0; i < m->count; i++)
		if (uva >= m->regions[i].uva &&
		    uva - m->regions[i].uva < m->regions[i].size)
			return &m->regions[i];
	return NULL;
}

/* Iovecs for [addr, addr + len), in guest physical (by_uva false) or
 * front-end virtual address space, split at region borders. */
static int range_iov(const struct vhd_memory *m, uint64_t addr, uint64_t len,
		     bool by_uva, struct iovec *iov, unsigned int max)
{
	unsigned int n = 0;

	if (len && range_wraps(addr, len))
		return -EFAULT;
	while (len > 0) {
		const struct vhd_region *r = by_uva ? find_uva(m, addr) :
						      find_gpa(m, addr);
		uint64_t off, chunk;

		if (!r)
			return -EFAULT;
		if (n == max)
			return -ENOBUFS;
		off = addr - (by_uva ? r->uva : r->gpa);
		chunk = r->size - off;
		if (chunk > len)
			chunk = len;
		iov[n].iov_base = r->host + off;
		iov[n].iov_len = (size_t)chunk;
		n++;
		addr += chunk;
		len -= chunk;
	}
	return (int)n;
}

int vhd_memory_uva_iov(const struct vhd_memory *m, uint64_t uva,
		       uint64_t len, struct iovec *iov, unsigned int max)
{
	return range_iov(m, uva, len, true, iov, max);
}

int vhd_memory_gpa_iov(const struct vhd_memory *m, uint64_t gpa,
		       uint64_t len, struct iovec *iov, unsigned int max)
{
	return range_iov(m, gpa, len, false, iov, max);
}
