/* SPDX-License-Identifier: MIT */
/* A vIOMMU in front of the device (VIRTIO_F_ACCESS_PLATFORM): the
 * addresses in the rings, and the rings' own addresses, are I/O virtual
 * addresses. The front end tells us their translations (IOTLB_MSG
 * updates and invalidations); we ask for the ones we lack (a miss on the
 * back-end channel) and translate each access, permissions included,
 * into a front-end virtual address and from there into our mapping. */
#ifndef VHD_IOTLB_H
#define VHD_IOTLB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct vhostdev;
struct vhostdev_queue;
struct vhd_message;

#define VHD_IOTLB_PERM_RO 1
#define VHD_IOTLB_PERM_WO 2
#define VHD_IOTLB_MAX_ENTRIES 65536

struct vhd_iotlb_entry {
	uint64_t iova;
	uint64_t size;
	uint64_t uaddr;
	uint8_t perm;
};

struct vhd_iotlb {
	unsigned int count, cap;
	struct vhd_iotlb_entry *entries;  /* sorted by iova, disjoint */
	unsigned int generation;          /* bumped by every change */
};

int vhd_handle_iotlb_msg(struct vhostdev *dev, struct vhd_message *msg);
void vhd_iotlb_clear(struct vhostdev *dev);

/* Data path, for a queue with q->iotlb set (the queue's own thread; the
 * table only changes while the queue is quiesced). On a miss they record
 * it in q and return NULL / -EAGAIN; -EACCES when the mapping forbids
 * the access; NULL / -EFAULT when the translation leads outside guest
 * memory. */
void *vhd_iotlb_ptr(struct vhostdev_queue *q, uint64_t iova, uint64_t len,
		    bool write);
int vhd_iotlb_iov(struct vhostdev_queue *q, uint64_t iova, uint64_t len,
		  bool write, struct iovec *iov, unsigned int max);
/* After a pop stopped on a miss: ask the front end for the translation,
 * or give up on an address it keeps not mapping (the chain is bad: the
 * ring breaks). Returns 0 to wait, or the ring-broken error. */
int vhd_iotlb_missed(struct vhostdev_queue *q);

#endif
