/* SPDX-License-Identifier: MIT */
/* The driver side of a split virtqueue (virtio 1.x "Split Virtqueues"):
 * descriptor free list, available ring, used ring, and both directions of
 * notification suppression. */
#include <errno.h>

#include "internal.h"

void vhf_split_init(struct vhf_vq *vq)
{
	/* Free descriptors are linked through our own array, not the ring,
	 * so a test scribbling on the ring cannot break the driver. */
	for (unsigned int i = 0; i < vq->size; i++)
		vq->free_next[i] = (uint16_t)(i + 1);
	vq->free_head = 0;
	vq->num_free = vq->size;
	vq->base = 0;
}

static void fill_table(struct vhf_desc *t, const struct vhf_buf *bufs,
		       unsigned int nout, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		t[i].addr = bufs[i].gpa;
		t[i].len = bufs[i].len;
		t[i].flags = (i + 1 < n ? VHF_DESC_F_NEXT : 0) |
			     (i >= nout ? VHF_DESC_F_WRITE : 0);
		t[i].next = (uint16_t)(i + 1 < n ? i + 1 : 0);
	}
}

int vhf_split_add(struct vhf_vq *vq, const struct vhf_buf *bufs,
		  unsigned int nout, unsigned int nin, bool indirect)
{
	unsigned int n = nout + nin, need = indirect ? 1 : n;
	uint16_t head = vq->free_head, d = head, cur = head;

	if (vq->num_free < need)
		return -ENOSPC;
	if (indirect) {
		struct vhf_desc *t;
		uint64_t gpa;
		int r = vhf_vq_indirect_table(vq, head, &gpa);

		if (r < 0)
			return r;
		t = vhf_mem_ptr(vq->mem, gpa, 16ull * n);
		fill_table(t, bufs, nout, n);
		vq->desc[head].addr = gpa;
		vq->desc[head].len = 16 * n;
		vq->desc[head].flags = VHF_DESC_F_INDIRECT;
		vq->desc[head].next = 0;
		d = vq->free_next[head];
	} else {
		/* Take descriptors in free-list order, so that free_next
		 * also records the chain for when it comes back. */
		for (unsigned int i = 0; i < n; i++) {
			cur = d;
			d = vq->free_next[cur];
			vq->desc[cur].addr = bufs[i].gpa;
			vq->desc[cur].len = bufs[i].len;
			vq->desc[cur].flags =
				(i + 1 < n ? VHF_DESC_F_NEXT : 0) |
				(i >= nout ? VHF_DESC_F_WRITE : 0);
			vq->desc[cur].next = i + 1 < n ? d : 0;
		}
	}
	vq->free_head = d;
	vq->num_free -= need;
	vq->chains[head].busy = true;
	vq->chains[head].ndescs = (uint16_t)need;
	vq->chains[head].last = indirect ? head : cur;

	vq->avail->ring[vq->avail_idx % vq->size] = head;
	/* The entry (and the descriptors) before the index that
	 * publishes them. */
	__atomic_store_n(&vq->avail->idx, ++vq->avail_idx, __ATOMIC_RELEASE);
	return head;
}

bool vhf_split_need_kick(struct vhf_vq *vq)
{
	uint16_t old = (uint16_t)(vq->avail_idx - vq->added);

	if (vq->flags & VHF_VQ_EVENT_IDX) {
		uint16_t ev = __atomic_load_n(vhf_vq_avail_event(vq),
					      __ATOMIC_RELAXED);

		return vhf_need_event(ev, vq->avail_idx, old);
	}
	return !(__atomic_load_n(&vq->used->flags, __ATOMIC_RELAXED) &
		 VHF_USED_F_NO_NOTIFY);
}

int vhf_split_get_used(struct vhf_vq *vq, uint16_t *id, uint32_t *len)
{
	uint16_t idx = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
	struct vhf_used_elem e;
	struct vhf_chain *ch;

	if (idx == vq->last_used)
		return 0;
	e = vq->used->ring[vq->last_used % vq->size];
	vq->last_used++;
	if (vq->interrupts && (vq->flags & VHF_VQ_EVENT_IDX))
		__atomic_store_n(vhf_vq_used_event(vq), vq->last_used,
				 __ATOMIC_RELEASE);
	if (e.id >= vq->size || !vq->chains[e.id].busy)
		return -EPROTO;
	ch = &vq->chains[e.id];
	vq->free_next[ch->last] = vq->free_head;
	vq->free_head = (uint16_t)e.id;
	vq->num_free += ch->ndescs;
	ch->busy = false;
	*id = (uint16_t)e.id;
	*len = e.len;
	return 1;
}

void vhf_split_set_interrupts(struct vhf_vq *vq, bool enable)
{
	if (vq->flags & VHF_VQ_EVENT_IDX) {
		/* Without a flag to say "never", disabling leaves the event
		 * index behind: no interrupt until the device passes it. */
		if (enable)
			__atomic_store_n(vhf_vq_used_event(vq), vq->last_used,
					 __ATOMIC_RELEASE);
		return;
	}
	__atomic_store_n(&vq->avail->flags,
			 enable ? 0 : VHF_AVAIL_F_NO_INTERRUPT,
			 __ATOMIC_RELEASE);
}
