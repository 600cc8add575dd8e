/* SPDX-License-Identifier: MIT */
/* In-flight request tracking (VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD): a
 * region of shared memory that the front end keeps across back-end
 * restarts, recording which chains were taken from each ring and not yet
 * returned, so that a new back-end process resubmits them in the order
 * the guest made them available and completes none twice. Layouts from
 * the vhost-user specification ("Inflight I/O tracking"). */
#ifndef VHD_INFLIGHT_H
#define VHD_INFLIGHT_H

#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>

struct vhostdev;
struct vhostdev_queue;
struct vhostdev_req;
struct vhd_message;
struct vring_packed_desc;

/* Split ring: one entry per descriptor table index. */
struct vhd_inflight_split_desc {
	uint8_t inflight;
	uint8_t padding[5];
	uint16_t next;        /* last batch of used heads, a list */
	uint64_t counter;     /* order the heads were taken in */
};

struct vhd_inflight_split {
	uint64_t features;
	uint16_t version;     /* 0: never used, 1: this layout */
	uint16_t desc_num;
	uint16_t last_batch_head;
	uint16_t used_idx;    /* used->idx once the last batch is recorded */
	struct vhd_inflight_split_desc desc[];
};

/* Packed ring: entries hold copies of the descriptors of chains in
 * flight (the ring slots may be overwritten by used elements of other
 * chains), linked into chains and a free list; the "old_" fields are the
 * last committed state, the others may be half-way through an update. */
struct vhd_inflight_packed_desc {
	uint8_t inflight;
	uint8_t padding;
	uint16_t next;
	uint16_t last;        /* head entry: the chain's last entry */
	uint16_t num;         /* head entry: descriptors in the chain */
	uint64_t counter;
	uint16_t id;
	uint16_t flags;
	uint32_t len;
	uint64_t addr;
};

struct vhd_inflight_packed {
	uint64_t features;
	uint16_t version;
	uint16_t desc_num;
	uint16_t free_head;
	uint16_t old_free_head;
	uint16_t used_idx;
	uint16_t old_used_idx;
	uint8_t used_wrap_counter;
	uint8_t old_used_wrap_counter;
	uint8_t padding[7];
	struct vhd_inflight_packed_desc desc[];
};

/* The region the front end holds for us. */
struct vhd_inflight_region {
	void *map;
	size_t map_size;
	uint8_t *base;        /* queue 0's part */
	uint16_t num_queues;
	uint16_t queue_size;
};

/* Bytes each queue's part takes for rings of up to queue_size entries
 * (room for either layout, so the ring type can be chosen later). */
size_t vhd_inflight_queue_bytes(uint16_t queue_size);

int vhd_handle_get_inflight_fd(struct vhostdev *dev, struct vhd_message *msg);
int vhd_handle_set_inflight_fd(struct vhostdev *dev, struct vhd_message *msg);
void vhd_inflight_release(struct vhostdev *dev);

/* At ring start (control thread): attaches q to its part of the region,
 * recovers what a previous process left in flight, and sets the ring
 * position to follow it. */
int vhd_inflight_queue_start(struct vhostdev_queue *q);
void vhd_inflight_queue_stop(struct vhostdev_queue *q);

/* Data path hooks (packed rings): each descriptor of a chain as it is
 * read, the chain once it was taken whole (or its abandonment), and its
 * return on either side of writing the used descriptor. A resubmitted
 * chain is rebuilt from the region. */
void vhd_inflight_packed_desc(struct vhostdev_queue *q,
			      const struct vring_packed_desc *d, bool head,
			      bool last);
void vhd_inflight_packed_taken(struct vhostdev_queue *q,
			       struct vhostdev_req *req);
void vhd_inflight_packed_abort(struct vhostdev_queue *q);
void vhd_inflight_packed_used_before(struct vhostdev_queue *q,
				     struct vhostdev_req *req);
void vhd_inflight_packed_used_after(struct vhostdev_queue *q,
				    struct vhostdev_req *req);

/* Data path hooks (split rings). */
void vhd_inflight_split_taken(struct vhostdev_queue *q, uint16_t head);
void vhd_inflight_split_used_before(struct vhostdev_queue *q, uint16_t head);
void vhd_inflight_split_used_after(struct vhostdev_queue *q, uint16_t head,
				   uint16_t used_idx);

#endif
