/* SPDX-License-Identifier: MIT */
/* The split virtqueue (virtio 1.x, "Split Virtqueues"): taking chains off
 * the available ring, putting them on the used ring, and both directions
 * of notification suppression. The guest can rewrite every byte of the
 * three areas at any time: each field is read once into a local, checked,
 * and only the local is used. */
#include <errno.h>

#include "dirty-log.h"
#include "inflight.h"
#include "memory.h"
#include "ring.h"

/* The event index words sit right after each ring (EVENT_IDX). */
static inline uint16_t *used_event(struct vhostdev_queue *q)
{
	return &q->avail->ring[q->size];
}

static inline uint16_t *avail_event(struct vhostdev_queue *q)
{
	return (uint16_t *)&q->used->ring[q->size];
}

/* Every store into the used ring goes through here when the ring is
 * logged for migration. */
static inline void log_used(struct vhostdev_queue *q, const void *p,
			    size_t len)
{
	if (q->log_ring)
		vhd_log_ring_write(q, (uint64_t)((const uint8_t *)p -
						 (const uint8_t *)q->used),
				   len);
}

/* Split rings are a power of two in size (the front end checks it, and
 * so does the driver); masking keeps any index inside the ring even if
 * one were not. */
static inline uint16_t ring_slot(const struct vhostdev_queue *q, uint16_t idx)
{
	return idx & (uint16_t)(q->size - 1);
}

static int walk_indirect(struct vhostdev_queue *q, struct vhostdev_req *req,
			 uint64_t addr, uint32_t len)
{
	const struct vring_desc *table;
	unsigned int n, limit, count = 0;
	uint16_t i = 0;

	if (len == 0 || len % sizeof(struct vring_desc))
		return vhd_ring_broken(q, "indirect table length is zero or not a multiple of 16");
	table = vhd_ring_table(q, addr, len);
	if (!table)
		return q->missed ? -EAGAIN :
		       vhd_ring_broken(q, "indirect table is not in guest memory");
	n = len / sizeof(struct vring_desc);
	/* Entries of length 0 make no iovec: cap the walk too, so a huge
	 * table of them cannot keep us busy. */
	limit = n < VHD_MAX_REQ_IOV ? n : VHD_MAX_REQ_IOV;
	for (;;) {
		struct vring_desc d;
		int r;

		if (count++ == limit)
			return vhd_ring_broken(q, count > n ?
					       "indirect chain loops" :
					       "indirect chain is too long");
		vhd_guest_copy(&d, &table[i], sizeof(d));
		if (d.flags & VRING_DESC_F_INDIRECT)
			return vhd_ring_broken(q, "indirect descriptor inside an indirect table");
		r = vhd_req_add_buffer(req, d.addr, d.len,
				       d.flags & VRING_DESC_F_WRITE);
		if (r < 0)
			return vhd_req_fail(q, r);
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		i = d.next;
		if (i >= n)
			return vhd_ring_broken(q, "indirect next index outside the table");
	}
}

static int walk_chain(struct vhostdev_queue *q, struct vhostdev_req *req,
		      uint16_t head)
{
	unsigned int count = 0;
	uint16_t i = head;

	vhd_req_begin(req, head);
	for (;;) {
		struct vring_desc d;
		int r;

		/* A chain visits each descriptor at most once, so one longer
		 * than the table loops. */
		if (count++ == q->size)
			return vhd_ring_broken(q, "descriptor chain loops or is longer than the ring");
		vhd_guest_copy(&d, &q->desc[i], sizeof(d));
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (!q->indirect)
				return vhd_ring_broken(q, "indirect descriptor without INDIRECT_DESC");
			if (count != 1 || (d.flags & VRING_DESC_F_NEXT))
				return vhd_ring_broken(q, "indirect descriptor chained to others");
			return walk_indirect(q, req, d.addr, d.len);
		}
		r = vhd_req_add_buffer(req, d.addr, d.len,
				       d.flags & VRING_DESC_F_WRITE);
		if (r < 0)
			return vhd_req_fail(q, r);
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		i = d.next;
		if (i >= q->size)
			return vhd_ring_broken(q, "next index outside the descriptor table");
	}
}

/* The ring looks empty. If kicks are wanted, make sure the driver will
 * send one for its next buffer, and say whether the ring must be looked
 * at again: the suppression state may be stale (left by a previous back
 * end, or moved by the last pop without a fence), and a buffer added
 * before the driver saw our update would otherwise wait forever. */
static bool rearm_kicks(struct vhostdev_queue *q)
{
	if (!q->notification_enabled)
		return false;
	if (q->event_idx) {
		if (vhd_guest_load(avail_event(q)) != q->last_avail) {
			vhd_guest_store(avail_event(q), q->last_avail);
			log_used(q, avail_event(q), 2);
		}
	} else {
		if (!(vhd_guest_load(&q->used->flags) & VRING_USED_F_NO_NOTIFY))
			return false;
		vhd_guest_store(&q->used->flags, 0);
		log_used(q, &q->used->flags, 2);
	}
	vhd_full_fence();
	return true;
}

/* A chain a previous process took and never returned, taken again. The
 * driver has not had it back, so its descriptors are still there. */
static int pop_resubmitted(struct vhostdev_queue *q, struct vhostdev_req **out)
{
	uint16_t head = q->resubmit[q->resubmit_next];
	struct vhostdev_req *req = &q->slots[head];
	int r;

	if (req->busy)
		return vhd_ring_broken(q, "resubmitted head is already in flight");
	r = walk_chain(q, req, head);
	if (r < 0)
		return r;
	q->resubmit_next++;
	req->busy = true;
	*out = req;
	return 1;
}

int vhd_split_pop(struct vhostdev_queue *q, struct vhostdev_req **out)
{
	uint16_t avail_idx, pending, head;
	struct vhostdev_req *req;
	int r;

	if (q->resubmit_next < q->resubmit_count)
		return pop_resubmitted(q, out);
	avail_idx = vhd_guest_load_acquire(&q->avail->idx);
	pending = avail_idx - q->last_avail;
	if (pending == 0) {
		if (!rearm_kicks(q))
			return 0;
		avail_idx = vhd_guest_load_acquire(&q->avail->idx);
		pending = avail_idx - q->last_avail;
		if (pending == 0)
			return 0;
	}
	if (pending > q->size)
		return vhd_ring_broken(q, "available index moved by more than the ring size");

	head = vhd_guest_load(&q->avail->ring[ring_slot(q, q->last_avail)]);
	if (head >= q->size)
		return vhd_ring_broken(q, "head index outside the descriptor table");
	req = &q->slots[head];
	if (req->busy)
		return vhd_ring_broken(q, "head is already in flight");
	r = walk_chain(q, req, head);
	if (r < 0)
		return r;
	if (q->track)
		vhd_inflight_split_taken(q, head);

	q->last_avail++;
	if (q->event_idx && q->notification_enabled) {
		vhd_guest_store(avail_event(q), q->last_avail);
		log_used(q, avail_event(q), 2);
	}
	req->busy = true;
	*out = req;
	return 1;
}

void vhd_split_push(struct vhostdev_queue *q, struct vhostdev_req *req,
		    uint32_t written)
{
	struct vring_used_elem *e = &q->used->ring[ring_slot(q, q->used_idx)];

	if (q->track)
		vhd_inflight_split_used_before(q, req->id);
	vhd_guest_store(&e->id, (uint32_t)req->id);
	vhd_guest_store(&e->len, written);
	q->used_idx++;
	/* The entry must be visible before the index that publishes it. */
	vhd_guest_store_release(&q->used->idx, q->used_idx);
	log_used(q, e, sizeof(*e));
	log_used(q, &q->used->idx, 2);
	if (q->track)
		vhd_inflight_split_used_after(q, req->id, q->used_idx);
	/* More than a ring's worth used without a decision: rather than
	 * reason about so long a window (past 65535 entries the 16-bit
	 * event index test would misread it), signal at the next one. */
	if ((uint16_t)(q->used_idx - q->signalled_used) > q->size)
		q->signalled_used_valid = false;
}

static bool ring_empty(struct vhostdev_queue *q)
{
	return vhd_guest_load_acquire(&q->avail->idx) == q->last_avail;
}

bool vhd_split_should_notify(struct vhostdev_queue *q)
{
	uint16_t old = q->signalled_used, now = q->used_idx;
	bool valid = q->signalled_used_valid;

	if (valid && old == now)
		return false;
	/* Our used->idx store must be visible before we read what the
	 * driver asked for, or we race with it re-enabling interrupts. */
	vhd_full_fence();
	q->signalled_used = now;
	q->signalled_used_valid = true;

	if (vhd_queue_notify_on_empty(q) &&
	    __atomic_load_n(&q->inflight, __ATOMIC_RELAXED) == 0 &&
	    ring_empty(q))
		return true;
	if (q->event_idx) {
		uint16_t event = vhd_guest_load(used_event(q));

		return !valid || vring_need_event(event, now, old);
	}
	return !(vhd_guest_load(&q->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
}

void vhd_split_set_notification(struct vhostdev_queue *q, bool enable)
{
	if (q->event_idx) {
		/* Disabling needs no write: avail_event stops moving, so the
		 * driver kicks at most once more. */
		if (enable) {
			vhd_guest_store(avail_event(q), q->last_avail);
			log_used(q, avail_event(q), 2);
		}
	} else {
		uint16_t flags = enable ? 0 : VRING_USED_F_NO_NOTIFY;

		vhd_guest_store(&q->used->flags, flags);
		log_used(q, &q->used->flags, 2);
	}
	/* The caller re-checks the ring next: that read must not pass the
	 * store above, or a buffer added in between goes unnoticed. */
	if (enable)
		vhd_full_fence();
}
