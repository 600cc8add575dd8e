/* SPDX-License-Identifier: MIT */
/* Queue and request state shared by the control side (queue.c, the
 * message handlers) and the data path (ring-split.c, ring-packed.c,
 * request.c). */
#ifndef VHD_QUEUE_H
#define VHD_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio.h"

struct vhostdev;
struct vhd_memory;
struct vhd_inflight_split;
struct vhd_inflight_packed;
struct vhd_dirty_log;
struct vhd_iotlb;

/* Most iovecs one request may have; a longer chain fails. */
#define VHD_MAX_REQ_IOV 1024
/* Iovecs a request slot starts with; grown (once) when a chain needs more. */
#define VHD_REQ_IOV_INLINE 8

struct vhostdev_req {
	struct vhostdev_queue *q;
	void *userdata;
	uint16_t id;        /* split: head index; packed: buffer id */
	uint16_t ndescs;    /* packed: ring slots the chain took */
	uint16_t track_entry; /* packed, tracked: head entry in the region */
	bool busy;          /* popped and not yet pushed */
	bool done;          /* in-order: pushed, waiting for earlier ones */
	uint32_t written;   /* in-order: length to report */
	unsigned int nout;  /* iov[0..nout) device-readable */
	unsigned int nin;   /* iov[nout..nout+nin) device-writable */
	unsigned int iov_cap;
	struct iovec *iov;
	struct iovec iov_inline[VHD_REQ_IOV_INLINE];
};

struct vhostdev_queue {
	struct vhostdev *dev;
	unsigned int index;
	void *userdata;

	/* Set by the front end; applied when the queue starts. */
	unsigned int size;
	uint64_t desc_uva, avail_uva, used_uva, log_gpa;
	uint32_t addr_flags;
	uint32_t base;        /* SET_VRING_BASE: avail index (+ wrap, packed) */

	/* Derived at start from the acked features. */
	bool packed, event_idx, indirect, in_order;
	const struct vhd_memory *mem;

	/* Host pointers into the rings (valid while started). */
	union {
		struct vring_desc *desc;
		struct vring_packed_desc *pdesc;
	};
	union {
		struct vring_avail *avail;
		struct vring_packed_event *driver_event;
	};
	union {
		struct vring_used *used;
		struct vring_packed_event *device_event;
	};

	/* Ring positions. Split: last_avail is the next avail->ring slot,
	 * used_idx the next used->idx. Packed: last_avail is the next
	 * descriptor to read, used_idx the next one to write; the wrap
	 * counters go with them. */
	uint16_t last_avail;
	bool avail_wrap;
	uint16_t used_idx;
	bool used_wrap;
	/* used_idx when the guest was last signalled (EVENT_IDX). */
	uint16_t signalled_used;
	bool signalled_used_valid;
	bool notification_enabled;

	unsigned int inflight;

	/* In-flight tracking (inflight.c): this ring's part of the shared
	 * region (track: split, ptrack: packed), NULL when the ring is not
	 * tracked; chains a previous process left in flight, to be popped
	 * again first (split: heads, packed: head entries; oldest first). */
	struct vhd_inflight_split *track;
	struct vhd_inflight_packed *ptrack;
	uint64_t track_counter;
	uint16_t *resubmit;
	unsigned int resubmit_count, resubmit_next;

	/* vIOMMU (iotlb.c): the table when ACCESS_PLATFORM was acked, else
	 * NULL; the last translation that missed, and the one asked for. */
	const struct vhd_iotlb *iotlb;
	bool missed;
	uint8_t miss_perm;
	uint64_t miss_iova;
	bool miss_asked;
	uint64_t miss_asked_iova;
	unsigned int miss_asked_gen;
	bool start_pending;   /* kick fd came, ring addresses not mapped yet */
	bool rings_pending;   /* running, ring addresses lost their mapping */

	/* Dirty logging (dirty-log.c): log_ring for the ring writes,
	 * log_buffers for what requests wrote. */
	const struct vhd_dirty_log *log;
	bool log_ring, log_buffers;
	uint64_t log_ring_gpa;

	/* One slot per possible head/buffer id, size entries. */
	struct vhostdev_req *slots;
	/* in-order: ids in pop order, a ring of size entries. */
	uint16_t *order;
	unsigned int order_head, order_count;

	/* Control side. */
	int kick_fd, call_fd, err_fd;
	bool call_can_sigpipe; /* a pipe or socket, not an eventfd */
	int epfd;             /* the queue's stable fd */
	int wake_fd;          /* eventfd in epfd: in-band kicks, start */
	bool started;         /* has rings, kick fd and features */
	bool enabled;         /* SET_VRING_ENABLE */
	bool detached;
	bool stopping;        /* GET_VRING_BASE waits for inflight == 0 */
	bool broken;          /* bad chain seen: no more pops until reset */
	int wake_pending;     /* atomic: wake_fd was written */
	int in_callback;      /* the kick callback runs (worker side) */
};

/* Implemented by the data path (ring-split.c / ring-packed.c). */
int vhd_split_pop(struct vhostdev_queue *q, struct vhostdev_req **out);
void vhd_split_push(struct vhostdev_queue *q, struct vhostdev_req *req,
		    uint32_t written);
bool vhd_split_should_notify(struct vhostdev_queue *q);
void vhd_split_set_notification(struct vhostdev_queue *q, bool enable);
int vhd_packed_pop(struct vhostdev_queue *q, struct vhostdev_req **out);
void vhd_packed_push(struct vhostdev_queue *q, struct vhostdev_req *req,
		     uint32_t written);
bool vhd_packed_should_notify(struct vhostdev_queue *q);
void vhd_packed_set_notification(struct vhostdev_queue *q, bool enable);

/* Walks one descriptor (direct or an indirect table) into req's iovecs;
 * shared by both layouts (request.c). */
int vhd_req_add_buffer(struct vhostdev_req *req, uint64_t gpa, uint32_t len,
		       bool writable);
/* Resets a slot for a new chain. */
void vhd_req_begin(struct vhostdev_req *req, uint16_t id);

/* Allocates slots for q->size (control thread, queue stopped);
 * implemented by request.c. */
int vhd_queue_alloc_slots(struct vhostdev_queue *q);
void vhd_queue_free_slots(struct vhostdev_queue *q);

/* Implemented by the control side (queue.c). */
/* VIRTIO_F_NOTIFY_ON_EMPTY was acked. */
bool vhd_queue_notify_on_empty(const struct vhostdev_queue *q);
/* Sends the guest an interrupt: call fd, or in-band VRING_CALL. */
void vhd_queue_signal(struct vhostdev_queue *q);
/* A bad chain or ring: log why, stop the queue, set DEVICE_NEEDS_RESET. */
void vhd_queue_broken(struct vhostdev_queue *q, const char *why);
/* Does the control thread wait for this queue to run dry (a stopping
 * ring, or old guest memory waiting to be unmapped)? */
bool vhd_queue_drain_watched(const struct vhostdev_queue *q);
/* Called by request.c when inflight drops to 0 and it is watched. */
void vhd_queue_drained(struct vhostdev_queue *q);

#endif
