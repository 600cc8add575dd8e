/* SPDX-License-Identifier: MIT */
/* The packed virtqueue (virtio 1.x, "Packed Virtqueues"): one descriptor
 * ring both sides write, wrap counters instead of free-running indices,
 * and the two event suppression areas. As with the split ring, each
 * guest-written field is read once and only the local copy is trusted. */
#include <errno.h>

#include "dirty-log.h"
#include "inflight.h"
#include "memory.h"
#include "ring.h"

#define EVENT_FLAGS_MASK 3u

static inline bool desc_available(uint16_t flags, bool wrap)
{
	bool avail = flags & VRING_PACKED_DESC_F_AVAIL;
	bool used = flags & VRING_PACKED_DESC_F_USED;

	return avail == wrap && used != wrap;
}

static inline void advance(const struct vhostdev_queue *q, uint16_t *idx,
			   bool *wrap, unsigned int n)
{
	unsigned int next = *idx + n;

	if (next >= q->size) {
		next -= q->size;
		*wrap = !*wrap;
	}
	*idx = (uint16_t)next;
}

/* A table's entries are used in order; the spec reserves every flag but
 * WRITE in them, so NEXT is ignored. A nested INDIRECT is refused rather
 * than read as data: a driver that sets it means something we would
 * silently get wrong. */
static int walk_indirect(struct vhostdev_queue *q, struct vhostdev_req *req,
			 uint64_t addr, uint32_t len)
{
	const struct vring_packed_desc *table;
	unsigned int n;

	if (len == 0 || len % sizeof(struct vring_packed_desc))
		return vhd_ring_broken(q, "indirect table length is zero or not a multiple of 16");
	table = vhd_ring_table(q, addr, len);
	if (!table)
		return q->missed ? -EAGAIN :
		       vhd_ring_broken(q, "indirect table is not in guest memory");
	n = len / sizeof(struct vring_packed_desc);
	if (n > VHD_MAX_REQ_IOV)
		return vhd_ring_broken(q, "indirect table is too long");
	for (unsigned int i = 0; i < n; i++) {
		struct vring_packed_desc d;
		int r;

		vhd_guest_copy(&d, &table[i], sizeof(d));
		if (d.flags & VRING_DESC_F_INDIRECT)
			return vhd_ring_broken(q, "indirect descriptor inside an indirect table");
		r = vhd_req_add_buffer(req, d.addr, d.len,
				       d.flags & VRING_DESC_F_WRITE);
		if (r < 0)
			return vhd_req_fail(q, r);
	}
	return 0;
}

/* The ring looks empty. If kicks are wanted but the device event area
 * says otherwise (left so by a previous back end), fix it and say that
 * the ring must be looked at again, after a fence, so that a buffer added
 * before the driver saw the change is not left waiting. */
static bool rearm_kicks(struct vhostdev_queue *q)
{
	if (!q->notification_enabled ||
	    vhd_guest_load(&q->device_event->flags) ==
	    VRING_PACKED_EVENT_FLAG_ENABLE)
		return false;
	vhd_guest_store(&q->device_event->flags,
			(uint16_t)VRING_PACKED_EVENT_FLAG_ENABLE);
	if (q->log_ring)
		vhd_log_device_event_write(q, 2, 2);
	vhd_full_fence();
	return true;
}

/* One descriptor of a chain (from the ring or the in-flight region) into
 * req: an indirect table (only as the whole chain) or a buffer. */
static int add_desc(struct vhostdev_queue *q, struct vhostdev_req *req,
		    uint64_t addr, uint32_t len, uint16_t flags, bool alone)
{
	int r;

	if (flags & VRING_DESC_F_INDIRECT) {
		if (!q->indirect)
			return vhd_ring_broken(q, "indirect descriptor without INDIRECT_DESC");
		if (!alone || (flags & VRING_DESC_F_NEXT))
			return vhd_ring_broken(q, "indirect descriptor chained to others");
		return walk_indirect(q, req, addr, len);
	}
	r = vhd_req_add_buffer(req, addr, len, flags & VRING_DESC_F_WRITE);
	return r < 0 ? vhd_req_fail(q, r) : 0;
}

/* Reads the chain starting at q->last_avail into scratch: *next and
 * *next_wrap get the position after it, *count its descriptors, *id its
 * buffer id. head_flags are the head's flags as already checked. */
static int take_chain(struct vhostdev_queue *q, struct vhostdev_req *scratch,
		      uint16_t head_flags, uint16_t *next, bool *next_wrap,
		      unsigned int *count, uint16_t *id)
{
	uint16_t i = q->last_avail;
	bool wrap = q->avail_wrap;
	unsigned int n = 0;
	int r;

	for (;;) {
		struct vring_packed_desc d;
		bool last;

		if (n == q->size)
			return vhd_ring_broken(q, "descriptor chain is longer than the ring");
		vhd_guest_copy(&d, &q->pdesc[i], sizeof(d));
		/* Keep the head flags we checked, not a second read. */
		if (n == 0)
			d.flags = head_flags;
		last = (d.flags & VRING_DESC_F_INDIRECT) ||
		       !(d.flags & VRING_DESC_F_NEXT);
		if (q->ptrack)
			vhd_inflight_packed_desc(q, &d, n == 0, last);
		n++;
		advance(q, &i, &wrap, 1);
		r = add_desc(q, scratch, d.addr, d.len, d.flags, n == 1);
		if (r < 0)
			return r;
		if (last) {
			*id = d.id;
			break;
		}
	}
	*next = i;
	*next_wrap = wrap;
	*count = n;
	return 0;
}

/* Moves a chain gathered in the scratch slot to the slot of its buffer
 * id. */
static int claim_slot(struct vhostdev_queue *q, struct vhostdev_req *scratch,
		      uint16_t id, unsigned int count,
		      struct vhostdev_req **out)
{
	struct vhostdev_req *req;

	if (id >= q->size)
		return vhd_ring_broken(q, "buffer id outside the ring");
	req = &q->slots[id];
	if (req->busy)
		return vhd_ring_broken(q, "buffer id is already in flight");
	vhd_req_begin(req, id);
	vhd_req_take_iov(req, scratch);
	req->ndescs = (uint16_t)count;
	req->busy = true;
	*out = req;
	return 0;
}

/* A chain a previous process took and never returned, rebuilt from the
 * copies of its descriptors in the in-flight region (its ring slots may
 * hold used descriptors by now). The copies come from the front end's
 * memory and are checked like the ring itself. */
static int pop_resubmitted(struct vhostdev_queue *q, struct vhostdev_req **out)
{
	const struct vhd_inflight_packed *t = q->ptrack;
	uint16_t head = q->resubmit[q->resubmit_next], e = head, id = 0;
	unsigned int n = t->desc[head].num;
	struct vhostdev_req *scratch = vhd_queue_scratch(q);
	int r;

	vhd_req_begin(scratch, 0);
	for (unsigned int k = 0; k < n; k++) {
		struct vhd_inflight_packed_desc d;

		if (e >= q->size)
			return vhd_ring_broken(q, "in-flight region holds a broken chain");
		vhd_guest_copy(&d, &t->desc[e], sizeof(d));
		/* The copy kept the driver's NEXT flag: only the chain's
		 * length says where it ends. */
		r = add_desc(q, scratch, d.addr, d.len,
			     d.flags & ~VRING_DESC_F_NEXT, n == 1);
		if (r < 0)
			return r;
		id = d.id;
		e = d.next;
	}
	r = claim_slot(q, scratch, id, n, out);
	if (r < 0)
		return r;
	(*out)->track_entry = head;
	q->resubmit_next++;
	return 1;
}

int vhd_packed_pop(struct vhostdev_queue *q, struct vhostdev_req **out)
{
	struct vhostdev_req *scratch;
	uint16_t flags, id = 0, next = 0;
	unsigned int count = 0;
	bool next_wrap = false;
	int r;

	if (q->resubmit_next < q->resubmit_count && q->ptrack)
		return pop_resubmitted(q, out);
	/* The head's flags publish the whole chain: acquire, then read. */
	flags = vhd_guest_load_acquire(&q->pdesc[q->last_avail].flags);
	if (!desc_available(flags, q->avail_wrap)) {
		if (!rearm_kicks(q))
			return 0;
		flags = vhd_guest_load_acquire(&q->pdesc[q->last_avail].flags);
		if (!desc_available(flags, q->avail_wrap))
			return 0;
	}

	/* The buffer id is in the chain's last descriptor: gather into the
	 * scratch slot until we know which slot the chain belongs to. */
	scratch = vhd_queue_scratch(q);
	vhd_req_begin(scratch, 0);
	r = take_chain(q, scratch, flags, &next, &next_wrap, &count, &id);
	if (r == 0)
		r = claim_slot(q, scratch, id, count, out);
	if (r < 0) {
		if (q->ptrack)
			vhd_inflight_packed_abort(q);
		return r;
	}
	if (q->ptrack)
		vhd_inflight_packed_taken(q, *out);
	q->last_avail = next;
	q->avail_wrap = next_wrap;
	return 1;
}

/* Ring position and wrap counter in the layout of the event suppression
 * off_wrap field. */
static inline uint16_t pack_off_wrap(uint16_t idx, bool wrap)
{
	return idx | (uint16_t)wrap << VRING_PACKED_EVENT_F_WRAP_CTR;
}

/* Positions on the ring repeat every 2 * size descriptors (the wrap
 * counter is the extra bit): number them 0 .. 2 * size - 1 so that
 * distances are plain modular subtraction. The counter starts at 1. */
static inline uint32_t linear(const struct vhostdev_queue *q,
			      uint16_t off_wrap)
{
	uint32_t off = off_wrap & 0x7fff;
	bool wrap = off_wrap >> VRING_PACKED_EVENT_F_WRAP_CTR;

	return (off + (wrap ? 0 : q->size)) % (2 * q->size);
}

static inline uint32_t distance(const struct vhostdev_queue *q, uint32_t from,
				uint32_t to)
{
	uint32_t period = 2 * q->size;

	return (to + period - from) % period;
}

void vhd_packed_push(struct vhostdev_queue *q, struct vhostdev_req *req,
		     uint32_t written)
{
	struct vring_packed_desc *d = &q->pdesc[q->used_idx];
	uint16_t flags = q->used_wrap ?
		VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED : 0;

	/* WRITE in a used descriptor says whether len means anything. */
	if (written)
		flags |= VRING_DESC_F_WRITE;
	if (q->ptrack)
		vhd_inflight_packed_used_before(q, req);
	vhd_guest_store(&d->id, req->id);
	vhd_guest_store(&d->len, written);
	/* id and len must be visible before the flags that publish them. */
	vhd_guest_store_release(&d->flags, flags);
	if (q->log_ring)
		vhd_log_ring_write(q, 16ull * q->used_idx, 16);
	if (q->ptrack)
		vhd_inflight_packed_used_after(q, req);
	/* Past a ring's worth since the last decision, positions become
	 * ambiguous modulo 2 * size: signal next time to be safe. Checked
	 * before moving, while the distance is still exact. */
	if (q->signalled_used_valid &&
	    distance(q, linear(q, q->signalled_used),
		     linear(q, pack_off_wrap(q->used_idx, q->used_wrap))) +
	    req->ndescs > q->size)
		q->signalled_used_valid = false;
	advance(q, &q->used_idx, &q->used_wrap, req->ndescs);
}

static bool ring_empty(struct vhostdev_queue *q)
{
	uint16_t flags = vhd_guest_load_acquire(&q->pdesc[q->last_avail].flags);

	return !desc_available(flags, q->avail_wrap);
}

bool vhd_packed_should_notify(struct vhostdev_queue *q)
{
	uint16_t old = q->signalled_used;
	uint16_t now = pack_off_wrap(q->used_idx, q->used_wrap);
	bool valid = q->signalled_used_valid;
	struct vring_packed_event ev;

	if (valid && old == now)
		return false;
	/* Our used flags must be visible before we read the driver's
	 * wishes, or we race with it re-enabling interrupts. */
	vhd_full_fence();
	q->signalled_used = now;
	q->signalled_used_valid = true;

	if (vhd_queue_notify_on_empty(q) &&
	    __atomic_load_n(&q->inflight, __ATOMIC_RELAXED) == 0 &&
	    ring_empty(q))
		return true;
	/* One snapshot of both fields, as the driver writes them as a
	 * pair (offset first, then flags). */
	vhd_guest_copy(&ev, q->driver_event, sizeof(ev));
	switch (ev.flags & EVENT_FLAGS_MASK) {
	case VRING_PACKED_EVENT_FLAG_DISABLE:
		return false;
	case VRING_PACKED_EVENT_FLAG_DESC:
		if (!q->event_idx || !valid)
			return true;
		/* The driver wants a signal once the used descriptor at
		 * off_wrap is written: was it in what we wrote since the
		 * last decision, [old, now)? */
		return distance(q, linear(q, old), linear(q, ev.off_wrap)) <
		       distance(q, linear(q, old), linear(q, now));
	default:
		/* ENABLE, or the reserved value: a spare interrupt is
		 * harmless, a missing one hangs the driver. */
		return true;
	}
}

void vhd_packed_set_notification(struct vhostdev_queue *q, bool enable)
{
	uint16_t flags = enable ? VRING_PACKED_EVENT_FLAG_ENABLE :
				  VRING_PACKED_EVENT_FLAG_DISABLE;

	vhd_guest_store(&q->device_event->flags, flags);
	if (q->log_ring)
		vhd_log_device_event_write(q, 2, 2);
	/* The caller re-checks the ring next; that read must not pass the
	 * store above. */
	if (enable)
		vhd_full_fence();
}
