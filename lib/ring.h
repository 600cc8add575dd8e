/* SPDX-License-Identifier: MIT */
/* Helpers shared by the two ring layouts and request.c: how to touch
 * memory the guest may change at any moment, and how a chain gathered in
 * a scratch slot moves into the slot its buffer id names. */
#ifndef VHD_RING_H
#define VHD_RING_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "queue.h"

/* Guest-shared scalars are read and written with single atomic accesses,
 * so the compiler can neither tear nor repeat them: a value we checked is
 * the value we use. */
#define vhd_guest_load(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define vhd_guest_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define vhd_guest_store(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define vhd_guest_store_release(p, v)                                        \
	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define vhd_full_fence() __atomic_thread_fence(__ATOMIC_SEQ_CST)

/* Snapshot of a guest structure (a descriptor). The compiler barrier stops
 * it from reading the guest copy again later instead of our local one;
 * memcpy also copes with an indirect table the guest did not align. */
static inline void vhd_guest_copy(void *dst, const void *src, size_t n)
{
	memcpy(dst, src, n);
	__asm__ __volatile__("" ::: "memory");
}

/* Ids are guest-chosen and index q->slots: slots[q->size] is a scratch
 * slot where a packed chain is gathered before its id (in the last
 * descriptor) is known. */
static inline struct vhostdev_req *vhd_queue_scratch(struct vhostdev_queue *q)
{
	return &q->slots[q->size];
}

/* Gives dst the iovecs src gathered. Heap arrays are swapped, never
 * freed, so the steady state allocates nothing. */
void vhd_req_take_iov(struct vhostdev_req *dst, struct vhostdev_req *src);

/* A table the device reads through one pointer (an indirect table):
 * guest physical, or behind a vIOMMU an I/O virtual address. NULL when
 * not mapped; q->missed then says whether the IOMMU may still map it. */
void *vhd_ring_table(struct vhostdev_queue *q, uint64_t addr, uint32_t len);

/* Maps a vhd_req_add_buffer() error to the queue's fate: -ENOMEM is ours
 * and leaves the ring untouched for a retry; anything else is the guest's
 * fault and breaks the queue. Returns the errno for pop. */
int vhd_req_fail(struct vhostdev_queue *q, int err);

/* Breaks the queue for a bad ring and returns what pop returns. */
static inline int vhd_ring_broken(struct vhostdev_queue *q, const char *why)
{
	vhd_queue_broken(q, why);
	return -EIO;
}

#endif
