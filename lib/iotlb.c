/* SPDX-License-Identifier: MIT */
/* The IOTLB: entries the front end sent, lookups for the data path, and
 * misses. The table is only changed by IOTLB_MSG, which the library
 * treats like a memory table change (worker threads are quiesced first),
 * so lookups take no lock.
 *
 * A miss is answered by an UPDATE on the main channel, or by nothing at
 * all when the guest used an address it never mapped. We cannot tell the
 * two apart by waiting, so a queue gives up on an address that is still
 * missing after the front end has sent several changes since it was asked
 * for: the chain is treated as bad. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "iotlb.h"
#include "ring.h"

/* vhost_iotlb_msg types. */
#define IOTLB_MISS 1
#define IOTLB_UPDATE 2
#define IOTLB_INVALIDATE 3
#define IOTLB_ACCESS_FAIL 4

/* Changes the front end may make after a miss before the address counts
 * as one it will never map. */
#define MISS_PATIENCE 4

void vhd_iotlb_clear(struct vhostdev *dev)
{
	free(dev->iotlb.entries);
	memset(&dev->iotlb, 0, sizeof(dev->iotlb));
}

/* Index of the first entry ending after iova. */
static unsigned int first_after(const struct vhd_iotlb *t, uint64_t iova)
{
	unsigned int lo = 0, hi = t->count;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct vhd_iotlb_entry *e = &t->entries[mid];

		if (e->iova + (e->size - 1) < iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Removes [iova, iova + size) from every entry, splitting one that
 * straddles it. size > 0, no wrap. */
static int invalidate(struct vhd_iotlb *t, uint64_t iova, uint64_t size)
{
	uint64_t last = iova + (size - 1);
	unsigned int i = first_after(t, iova);

	while (i < t->count && t->entries[i].iova <= last) {
		struct vhd_iotlb_entry *e = &t->entries[i];
		uint64_t e_last = e->iova + (e->size - 1);

		if (e->iova < iova && e_last > last) {
			/* A hole in the middle: keep both ends. */
			struct vhd_iotlb_entry tail = *e;

			if (t->count == t->cap)
				return -ENOSPC;
			tail.iova = last + 1;
			tail.size = e_last - last;
			tail.uaddr += tail.iova - e->iova;
			e->size = iova - e->iova;
			memmove(e + 2, e + 1, (t->count - i - 1) * sizeof(*e));
			e[1] = tail;
			t->count++;
			return 0;
		}
		if (e->iova < iova) {
			e->size = iova - e->iova;
			i++;
		} else if (e_last > last) {
			e->uaddr += last + 1 - e->iova;
			e->size = e_last - last;
			e->iova = last + 1;
			i++;
		} else {
			memmove(e, e + 1, (t->count - i - 1) * sizeof(*e));
			t->count--;
		}
	}
	return 0;
}

static int update(struct vhd_iotlb *t, const struct vhd_iotlb_entry *n)
{
	unsigned int i;
	int r;

	/* A new mapping replaces whatever overlapped it. */
	r = invalidate(t, n->iova, n->size);
	if (r < 0)
		return r;
	if (t->count == t->cap) {
		unsigned int cap = t->cap ? 2 * t->cap : 64;
		struct vhd_iotlb_entry *e;

		if (t->cap >= VHD_IOTLB_MAX_ENTRIES)
			return -ENOSPC;
		e = realloc(t->entries, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		t->entries = e;
		t->cap = cap;
	}
	i = first_after(t, n->iova);
	memmove(&t->entries[i + 1], &t->entries[i],
		(t->count - i) * sizeof(*n));
	t->entries[i] = *n;
	t->count++;
	return 0;
}

/* Queues waiting for a translation try again; rings whose addresses
 * changed are looked up again. */
static void iotlb_changed(struct vhostdev *dev)
{
	dev->iotlb.generation++;
	for (unsigned int i = 0; i < dev->num_queues; i++) {
		struct vhostdev_queue *q = &dev->queues[i];

		if (q->start_pending) {
			int r = vhd_queue_start(q);

			if (r < 0 && r != -EAGAIN)
				vhd_queue_broken(q, "ring could not start");
		} else if (q->started) {
			int r = vhd_queue_remap(q);

			q->rings_pending = r == -EAGAIN;
			if (r < 0 && r != -EAGAIN)
				vhd_queue_broken(q, "ring is no longer mapped");
			else if (r == -EAGAIN)
				vhd_iotlb_missed(q);
		}
		if (q->started)
			vhd_queue_wake(q);
	}
}

int vhd_handle_iotlb_msg(struct vhostdev *dev, struct vhd_message *msg)
{
	const struct vhu_iotlb *m = &msg->payload.iotlb;
	struct vhd_iotlb_entry e = {
		.iova = m->iova, .size = m->size, .uaddr = m->uaddr,
		.perm = m->perm,
	};
	int r;

	if (!vhd_has_feature(dev, VHOSTDEV_F_ACCESS_PLATFORM)) {
		vhd_err(dev, "IOTLB_MSG without ACCESS_PLATFORM");
		return -EPROTO;
	}
	if (m->type != IOTLB_UPDATE && m->type != IOTLB_INVALIDATE) {
		vhd_err(dev, "IOTLB_MSG of type %u refused", m->type);
		return -EINVAL;
	}
	if (m->size == 0 || m->iova + (m->size - 1) < m->iova ||
	    (m->type == IOTLB_UPDATE &&
	     (m->uaddr + (m->size - 1) < m->uaddr || m->perm == 0 ||
	      m->perm > (VHD_IOTLB_PERM_RO | VHD_IOTLB_PERM_WO)))) {
		vhd_err(dev, "IOTLB_MSG: iova 0x%llx size 0x%llx uaddr 0x%llx perm %u refused",
			(unsigned long long)m->iova,
			(unsigned long long)m->size,
			(unsigned long long)m->uaddr, m->perm);
		return -EINVAL;
	}
	vhd_dbg(dev, "IOTLB %s iova 0x%llx size 0x%llx uaddr 0x%llx perm %u",
		m->type == IOTLB_UPDATE ? "update" : "invalidate",
		(unsigned long long)m->iova, (unsigned long long)m->size,
		(unsigned long long)m->uaddr, m->perm);
	r = m->type == IOTLB_UPDATE ? update(&dev->iotlb, &e) :
				      invalidate(&dev->iotlb, m->iova, m->size);
	if (r < 0) {
		vhd_err(dev, "IOTLB_MSG: %s", strerror(-r));
		return r;
	}
	iotlb_changed(dev);
	/* Owed whatever the flags say (the spec's acknowledgement). */
	vhd_reply_u64(dev, msg, 0);
	return VHD_REPLIED;
}

/* ---- lookups ------------------------------------------------------------ */

static const struct vhd_iotlb_entry *lookup(const struct vhd_iotlb *t,
					    uint64_t iova)
{
	unsigned int i = first_after(t, iova);

	if (i < t->count && t->entries[i].iova <= iova)
		return &t->entries[i];
	return NULL;
}

static int note_miss(struct vhostdev_queue *q, uint64_t iova, bool write)
{
	q->miss_iova = iova;
	q->miss_perm = write ? VHD_IOTLB_PERM_WO : VHD_IOTLB_PERM_RO;
	q->missed = true;
	return -EAGAIN;
}

int vhd_iotlb_iov(struct vhostdev_queue *q, uint64_t iova, uint64_t len,
		  bool write, struct iovec *iov, unsigned int max)
{
	uint8_t need = write ? VHD_IOTLB_PERM_WO : VHD_IOTLB_PERM_RO;
	unsigned int n = 0;

	if (len && iova + (len - 1) < iova)
		return -EFAULT;
	while (len > 0) {
		const struct vhd_iotlb_entry *e = lookup(q->iotlb, iova);
		uint64_t chunk;
		int got;

		if (!e)
			return note_miss(q, iova, write);
		if (!(e->perm & need))
			return -EACCES;
		chunk = e->size - (iova - e->iova);
		if (chunk > len)
			chunk = len;
		got = vhd_memory_uva_iov(q->mem, e->uaddr + (iova - e->iova),
					 chunk, iov + n, max - n);
		if (got < 0)
			return got;
		n += (unsigned int)got;
		iova += chunk;
		len -= chunk;
	}
	return (int)n;
}

void *vhd_iotlb_ptr(struct vhostdev_queue *q, uint64_t iova, uint64_t len,
		    bool write)
{
	uint8_t need = write ? VHD_IOTLB_PERM_WO : VHD_IOTLB_PERM_RO;
	const struct vhd_iotlb_entry *e = lookup(q->iotlb, iova);
	uint64_t off;

	if (!e) {
		note_miss(q, iova, write);
		return NULL;
	}
	off = iova - e->iova;
	/* One entry must cover the whole range: a table or ring is used
	 * through a single pointer. */
	if (!(e->perm & need) || len > e->size - off)
		return NULL;
	return vhd_memory_uva(q->mem, e->uaddr + off, len);
}

/* ---- misses ------------------------------------------------------------- */

static void send_iotlb(struct vhostdev_queue *q, uint8_t type)
{
	struct vhu_iotlb m = {
		.iova = q->miss_iova,
		.perm = q->miss_perm,
		.type = type,
	};

	vhd_backend_send(q->dev, VHU_BACKEND_IOTLB_MSG, &m, sizeof(m), false,
			 NULL);
}

int vhd_iotlb_missed(struct vhostdev_queue *q)
{
	unsigned int now = q->iotlb->generation;

	q->missed = false;
	if (q->miss_asked && q->miss_asked_iova == q->miss_iova) {
		if (now == q->miss_asked_gen)
			return 0;    /* not answered yet */
		if (now - q->miss_asked_gen >= MISS_PATIENCE) {
			send_iotlb(q, IOTLB_ACCESS_FAIL);
			q->miss_asked = false;
			return vhd_ring_broken(q, "buffer address is not mapped by the IOMMU");
		}
		return 0;
	}
	q->miss_asked = true;
	q->miss_asked_iova = q->miss_iova;
	q->miss_asked_gen = now;
	send_iotlb(q, IOTLB_MISS);
	return 0;
}
