/* SPDX-License-Identifier: MIT */
/* The guest memory table: regions the front end shared with us, mapped
 * into this process, and the translations the rings and requests need. */
#ifndef VHD_MEMORY_H
#define VHD_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Slots offered through GET_MAX_MEM_SLOTS (at least 509 by the issue). */
#define VHD_MAX_MEM_SLOTS 509

struct vhd_region {
	uint64_t gpa;         /* guest physical address of the first byte */
	uint64_t size;
	uint64_t uva;         /* front end's virtual address of the first byte */
	uint64_t mmap_offset; /* offset of the first byte in the fd */
	void *map;            /* what mmap() returned */
	size_t map_size;
	uint8_t *host;        /* our address of the first byte */
};

struct vhd_memory {
	unsigned int count;                       /* sorted by gpa */
	struct vhd_region regions[VHD_MAX_MEM_SLOTS];
};

/* Mappings taken out of the table while requests may still hold iovecs
 * into them (a worker's I/O can outlive the request that replaced the
 * table): they are unmapped only once nothing is in flight, so a late
 * write never lands in whatever the kernel maps at that address next. */
struct vhd_retired {
	unsigned int count, cap;
	struct vhd_retired_map {
		void *map;
		size_t size;
	} *maps;
};

void vhd_memory_init(struct vhd_memory *m);
/* Unmaps every region. */
void vhd_memory_clear(struct vhd_memory *m);
/* Moves every region's mapping to r, which must have room for them (see
 * vhd_retired_reserve), and empties m. */
void vhd_memory_retire_all(struct vhd_memory *m, struct vhd_retired *r);

/* Makes room for more retired mappings: -ENOMEM. */
int vhd_retired_reserve(struct vhd_retired *r, unsigned int more);
/* Unmaps everything retired. */
void vhd_retired_unmap(struct vhd_retired *r);
void vhd_retired_free(struct vhd_retired *r);
/* Maps [mmap_offset, mmap_offset + size) of fd (the fd is not kept).
 * -EINVAL for zero size, wrap-around or overlap with another region (in gpa
 * or uva space), -ENOSPC when full, -errno of mmap. */
int vhd_memory_add(struct vhd_memory *m, uint64_t gpa, uint64_t size,
		   uint64_t uva, uint64_t mmap_offset, int fd);
/* Removes the region with exactly this gpa and size, retiring its mapping
 * to r (which must have room for one): -ENOENT if none. */
int vhd_memory_remove(struct vhd_memory *m, uint64_t gpa, uint64_t size,
		      struct vhd_retired *r);

/* Host address of [gpa, gpa + len) when it lies within one region, else
 * NULL. len 0 is allowed (address of gpa itself must be mapped). */
void *vhd_memory_gpa(const struct vhd_memory *m, uint64_t gpa, uint64_t len);
/* Same in the front end's address space (ring addresses). */
void *vhd_memory_uva(const struct vhd_memory *m, uint64_t uva, uint64_t len);
/* Guest address of a host pointer into a mapped region, or of a front-end
 * virtual address: 0 and *gpa, or -EFAULT. */
int vhd_memory_host_to_gpa(const struct vhd_memory *m, const void *p,
			   uint64_t *gpa);
int vhd_memory_uva_to_gpa(const struct vhd_memory *m, uint64_t uva,
			  uint64_t *gpa);
/* The same as vhd_memory_gpa_iov() for a range of front-end virtual
 * addresses (where an IOMMU translation leads). */
int vhd_memory_uva_iov(const struct vhd_memory *m, uint64_t uva,
		       uint64_t len, struct iovec *iov, unsigned int max);
/* Appends iovecs for [gpa, gpa + len), splitting at region borders. Returns
 * the number appended, -EFAULT when any byte is unmapped, -ENOBUFS when
 * more than max iovecs would be needed. */
int vhd_memory_gpa_iov(const struct vhd_memory *m, uint64_t gpa,
		       uint64_t len, struct iovec *iov, unsigned int max);

#endif
