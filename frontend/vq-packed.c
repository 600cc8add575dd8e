/* SPDX-License-Identifier: MIT */
/* The driver side of a packed virtqueue (virtio 1.x "Packed Virtqueues"):
 * descriptor ring with wrap counters, buffer ids, and the driver and
 * device event suppression areas. */
#include <errno.h>

#include "internal.h"

#define WRAP_BIT 15

void vhf_packed_init(struct vhf_vq *vq)
{
	/* Hand out low ids first: ids popped from the top of the stack. */
	for (unsigned int i = 0; i < vq->size; i++)
		vq->free_ids[i] = (uint16_t)(vq->size - 1 - i);
	vq->nfree_ids = vq->size;
	vq->num_free = vq->size;
	vq->next_avail = 0;
	vq->avail_wrap = true;
	vq->next_used = 0;
	vq->used_wrap = true;
	/* Next avail 0, wrap 1; next used 0, wrap 1. */
	vq->base = (1u << WRAP_BIT) | (1u << (16 + WRAP_BIT));
	if (vq->flags & VHF_VQ_EVENT_IDX) {
		vq->driver_event->off_wrap = 1u << WRAP_BIT;
		__atomic_store_n(&vq->driver_event->flags, VHF_EVENT_F_DESC,
				 __ATOMIC_RELEASE);
	}
}

static uint16_t avail_bits(bool wrap)
{
	/* Available: AVAIL equals the driver's wrap counter, USED not. */
	return wrap ? VHF_PDESC_F_AVAIL : VHF_PDESC_F_USED;
}

int vhf_packed_add(struct vhf_vq *vq, const struct vhf_buf *bufs,
		   unsigned int nout, unsigned int nin, bool indirect)
{
	unsigned int n = nout + nin, need = indirect ? 1 : n;
	uint16_t slot = vq->next_avail, head = vq->next_avail, id, head_flags;
	bool wrap = vq->avail_wrap;
	uint64_t table = 0;

	if (vq->num_free < need || vq->nfree_ids == 0)
		return -ENOSPC;
	id = vq->free_ids[vq->nfree_ids - 1];
	if (indirect) {
		struct vhf_pdesc *t;
		int r = vhf_vq_indirect_table(vq, id, &table);

		if (r < 0)
			return r;
		t = vhf_mem_ptr(vq->mem, table, 16ull * n);
		for (unsigned int i = 0; i < n; i++) {
			t[i].addr = bufs[i].gpa;
			t[i].len = bufs[i].len;
			t[i].id = 0;
			t[i].flags = i >= nout ? VHF_DESC_F_WRITE : 0;
		}
	}
	vq->nfree_ids--;

	head_flags = 0;
	for (unsigned int i = 0; i < need; i++) {
		struct vhf_pdesc *d = &vq->pdesc[slot];
		uint16_t flags = avail_bits(wrap);

		if (indirect) {
			d->addr = table;
			d->len = 16 * n;
			flags |= VHF_DESC_F_INDIRECT;
		} else {
			d->addr = bufs[i].gpa;
			d->len = bufs[i].len;
			if (i + 1 < need)
				flags |= VHF_DESC_F_NEXT;
			if (i >= nout)
				flags |= VHF_DESC_F_WRITE;
		}
		d->id = id;
		/* The head's flags go last: they publish the whole chain. */
		if (i == 0)
			head_flags = flags;
		else
			d->flags = flags;
		if (++slot == vq->size) {
			slot = 0;
			wrap = !wrap;
		}
	}
	__atomic_store_n(&vq->pdesc[head].flags, head_flags, __ATOMIC_RELEASE);
	vq->next_avail = slot;
	vq->avail_wrap = wrap;
	vq->num_free -= need;
	vq->chains[id].busy = true;
	vq->chains[id].ndescs = (uint16_t)need;
	return id;
}

bool vhf_packed_need_kick(struct vhf_vq *vq)
{
	struct vhf_pevent ev;
	uint16_t event, old, cur;

	ev.flags = __atomic_load_n(&vq->device_event->flags, __ATOMIC_RELAXED);
	ev.off_wrap = __atomic_load_n(&vq->device_event->off_wrap,
				      __ATOMIC_RELAXED);
	if (ev.flags == VHF_EVENT_F_DISABLE)
		return false;
	if (ev.flags != VHF_EVENT_F_DESC || !(vq->flags & VHF_VQ_EVENT_IDX))
		return true;
	/* Did the descriptor the device asked about become available in
	 * this batch? Compare in a space where the device's offset is
	 * moved back a lap when its wrap counter is not ours. */
	cur = vq->next_avail;
	old = (uint16_t)(cur - vq->added);
	event = ev.off_wrap & ~(1u << WRAP_BIT);
	if ((bool)(ev.off_wrap >> WRAP_BIT) != vq->avail_wrap)
		event = (uint16_t)(event - vq->size);
	return vhf_need_event(event, cur, old);
}

int vhf_packed_get_used(struct vhf_vq *vq, uint16_t *id, uint32_t *len)
{
	struct vhf_pdesc *d = &vq->pdesc[vq->next_used];
	uint16_t flags = __atomic_load_n(&d->flags, __ATOMIC_ACQUIRE);
	bool avail = flags & VHF_PDESC_F_AVAIL, used = flags & VHF_PDESC_F_USED;
	struct vhf_chain *ch;
	uint16_t i = d->id;
	uint32_t l = d->len;

	if (avail != used || used != vq->used_wrap)
		return 0;
	if (i >= vq->size || !vq->chains[i].busy)
		return -EPROTO;
	ch = &vq->chains[i];
	vq->next_used += ch->ndescs;
	if (vq->next_used >= vq->size) {
		vq->next_used -= vq->size;
		vq->used_wrap = !vq->used_wrap;
	}
	vq->num_free += ch->ndescs;
	vq->free_ids[vq->nfree_ids++] = i;
	ch->busy = false;
	if (vq->interrupts && (vq->flags & VHF_VQ_EVENT_IDX))
		__atomic_store_n(&vq->driver_event->off_wrap,
				 (uint16_t)(vq->next_used |
					    (vq->used_wrap << WRAP_BIT)),
				 __ATOMIC_RELEASE);
	*id = i;
	*len = l;
	return 1;
}

void vhf_packed_set_interrupts(struct vhf_vq *vq, bool enable)
{
	uint16_t flags = enable ? VHF_EVENT_F_ENABLE : VHF_EVENT_F_DISABLE;

	if (enable && (vq->flags & VHF_VQ_EVENT_IDX)) {
		__atomic_store_n(&vq->driver_event->off_wrap,
				 (uint16_t)(vq->next_used |
					    (vq->used_wrap << WRAP_BIT)),
				 __ATOMIC_RELAXED);
		flags = VHF_EVENT_F_DESC;
	}
	__atomic_store_n(&vq->driver_event->flags, flags, __ATOMIC_RELEASE);
}
