/* SPDX-License-Identifier: MIT */
/* Requests: the per-queue slots that hold a popped chain's iovecs, the
 * public pop / push / notify entry points that dispatch to the split or
 * packed ring, in-order completion, and copying to and from a request's
 * buffers. Once the slots exist, nothing here allocates or makes a
 * syscall, except the interrupt itself and growing one slot's iovec array
 * the first time a chain needs more than VHD_REQ_IOV_INLINE entries. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dirty-log.h"
#include "export.h"
#include "iotlb.h"
#include "memory.h"
#include "ring.h"

/* ---- slots -------------------------------------------------------------- */

int vhd_queue_alloc_slots(struct vhostdev_queue *q)
{
	struct vhostdev_req *slots;
	uint16_t *order;

	if (q->size == 0 || q->size > 32768)
		return -EINVAL;
	vhd_queue_free_slots(q);
	/* One more than the ring for the packed ring's scratch slot, and a
	 * last one with q == NULL that ends the array, so freeing does not
	 * depend on q->size staying what it was. */
	slots = calloc(q->size + 2, sizeof(*slots));
	order = calloc(q->size, sizeof(*order));
	if (!slots || !order) {
		free(slots);
		free(order);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i <= q->size; i++) {
		slots[i].q = q;
		slots[i].iov = slots[i].iov_inline;
		slots[i].iov_cap = VHD_REQ_IOV_INLINE;
	}
	q->slots = slots;
	q->order = order;
	q->order_head = 0;
	q->order_count = 0;
	return 0;
}

void vhd_queue_free_slots(struct vhostdev_queue *q)
{
	if (q->slots) {
		for (struct vhostdev_req *s = q->slots; s->q; s++)
			if (s->iov != s->iov_inline)
				free(s->iov);
	}
	free(q->slots);
	free(q->order);
	q->slots = NULL;
	q->order = NULL;
	q->order_head = 0;
	q->order_count = 0;
}

void vhd_req_begin(struct vhostdev_req *req, uint16_t id)
{
	req->id = id;
	req->ndescs = 1;
	req->userdata = NULL;
	req->done = false;
	req->written = 0;
	req->nout = 0;
	req->nin = 0;
}

/* The first chain too long for the inline array moves the slot to a heap
 * array of the largest size a chain may have, so this happens once per
 * slot at most. */
static int grow_iov(struct vhostdev_req *req)
{
	struct iovec *iov;

	if (req->iov_cap >= VHD_MAX_REQ_IOV)
		return -E2BIG;
	iov = malloc(VHD_MAX_REQ_IOV * sizeof(*iov));
	if (!iov)
		return -ENOMEM;
	memcpy(iov, req->iov, (req->nout + req->nin) * sizeof(*iov));
	if (req->iov != req->iov_inline)
		free(req->iov);
	req->iov = iov;
	req->iov_cap = VHD_MAX_REQ_IOV;
	return 0;
}

int vhd_req_add_buffer(struct vhostdev_req *req, uint64_t gpa, uint32_t len,
		       bool writable)
{
	unsigned int used = req->nout + req->nin;
	int n;

	if (len == 0)
		return 0;
	/* Readable then writable: a device reads the request, then writes
	 * the answer. */
	if (!writable && req->nin)
		return -EINVAL;
	for (;;) {
		if (req->q->iotlb)
			n = vhd_iotlb_iov(req->q, gpa, len, writable,
					  req->iov + used, req->iov_cap - used);
		else
			n = vhd_memory_gpa_iov(req->q->mem, gpa, len,
					       req->iov + used,
					       req->iov_cap - used);
		if (n != -ENOBUFS)
			break;
		n = grow_iov(req);
		if (n < 0)
			return n;
	}
	if (n < 0)
		return n;
	if (writable)
		req->nin += n;
	else
		req->nout += n;
	return 0;
}

int vhd_req_fail(struct vhostdev_queue *q, int err)
{
	switch (err) {
	case -ENOMEM:
	case -EAGAIN:
		/* Ours, or the IOMMU's translation still to come: the chain
		 * stays on the ring for the next try. */
		return err;
	case -EACCES:
		return vhd_ring_broken(q, "buffer access not permitted by the IOMMU");
	case -EFAULT:
		return vhd_ring_broken(q, "buffer is not in guest memory");
	case -E2BIG:
		return vhd_ring_broken(q, "chain has too many buffers");
	case -EINVAL:
		return vhd_ring_broken(q, "device-readable buffer after a device-writable one");
	default:
		return vhd_ring_broken(q, "bad buffer");
	}
}

void vhd_req_take_iov(struct vhostdev_req *dst, struct vhostdev_req *src)
{
	if (src->iov != src->iov_inline) {
		struct iovec *heap = src->iov;
		unsigned int cap = src->iov_cap;

		if (dst->iov != dst->iov_inline) {
			src->iov = dst->iov;
			src->iov_cap = dst->iov_cap;
		} else {
			src->iov = src->iov_inline;
			src->iov_cap = VHD_REQ_IOV_INLINE;
		}
		dst->iov = heap;
		dst->iov_cap = cap;
	} else {
		/* At most VHD_REQ_IOV_INLINE entries: they fit any slot. */
		memcpy(dst->iov, src->iov,
		       (src->nout + src->nin) * sizeof(*src->iov));
	}
	dst->nout = src->nout;
	dst->nin = src->nin;
}

void *vhd_ring_table(struct vhostdev_queue *q, uint64_t addr, uint32_t len)
{
	if (q->iotlb)
		return vhd_iotlb_ptr(q, addr, len, false);
	return vhd_memory_gpa(q->mem, addr, len);
}

/* ---- queue entry points ------------------------------------------------- */

VHD_EXPORT int vhostdev_queue_pop(struct vhostdev_queue *q,
				  struct vhostdev_req **out)
{
	struct vhostdev_req *req;
	int r;

	if (!q || !out)
		return -EINVAL;
	*out = NULL;
	if (!__atomic_load_n(&q->started, __ATOMIC_ACQUIRE) ||
	    !__atomic_load_n(&q->enabled, __ATOMIC_RELAXED) ||
	    __atomic_load_n(&q->stopping, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&q->broken, __ATOMIC_ACQUIRE))
		return 0;
	if (q->iotlb) {
		/* Rings waiting for a translation: the miss was sent. */
		if (q->rings_pending)
			return 0;
		q->missed = false;
	}
	r = q->packed ? vhd_packed_pop(q, &req) : vhd_split_pop(q, &req);
	if (r == -EAGAIN && q->iotlb)
		return vhd_iotlb_missed(q);
	if (r <= 0)
		return r;
	if (q->in_order) {
		unsigned int tail = q->order_head + q->order_count;

		if (tail >= q->size)
			tail -= q->size;
		q->order[tail] = req->id;
		q->order_count++;
	}
	__atomic_fetch_add(&q->inflight, 1, __ATOMIC_RELAXED);
	*out = req;
	return 1;
}

VHD_EXPORT int vhostdev_queue_notify(struct vhostdev_queue *q)
{
	bool notify;

	if (!q)
		return -EINVAL;
	/* No ring: never started, or its memory went away. */
	if (!__atomic_load_n(&q->started, __ATOMIC_ACQUIRE) || !q->desc)
		return 0;
	notify = q->packed ? vhd_packed_should_notify(q) :
			     vhd_split_should_notify(q);
	if (!notify)
		return 0;
	vhd_queue_signal(q);
	return 1;
}

VHD_EXPORT unsigned int vhostdev_queue_get_inflight(struct vhostdev_queue *q)
{
	if (!q)
		return 0;
	return __atomic_load_n(&q->inflight, __ATOMIC_RELAXED);
}

VHD_EXPORT int vhostdev_queue_set_notification(struct vhostdev_queue *q,
					       int enable)
{
	if (!q)
		return -EINVAL;
	q->notification_enabled = enable != 0;
	/* A queue that is not running gets the setting when it starts. */
	if (!__atomic_load_n(&q->started, __ATOMIC_ACQUIRE) || !q->desc)
		return 0;
	if (q->packed)
		vhd_packed_set_notification(q, enable != 0);
	else
		vhd_split_set_notification(q, enable != 0);
	return 0;
}

/* ---- requests ----------------------------------------------------------- */

static size_t iov_total(const struct iovec *iov, unsigned int n)
{
	size_t total = 0;

	for (unsigned int i = 0; i < n; i++)
		total += iov[i].iov_len;
	return total;
}

VHD_EXPORT const struct iovec *vhostdev_req_get_out(struct vhostdev_req *req,
						    unsigned int *count)
{
	if (count)
		*count = req ? req->nout : 0;
	return req ? req->iov : NULL;
}

VHD_EXPORT const struct iovec *vhostdev_req_get_in(struct vhostdev_req *req,
						   unsigned int *count)
{
	if (count)
		*count = req ? req->nin : 0;
	return req ? req->iov + req->nout : NULL;
}

VHD_EXPORT size_t vhostdev_req_get_out_size(struct vhostdev_req *req)
{
	return req ? iov_total(req->iov, req->nout) : 0;
}

VHD_EXPORT size_t vhostdev_req_get_in_size(struct vhostdev_req *req)
{
	return req ? iov_total(req->iov + req->nout, req->nin) : 0;
}

VHD_EXPORT uint16_t vhostdev_req_get_id(struct vhostdev_req *req)
{
	return req ? req->id : 0;
}

VHD_EXPORT struct vhostdev_queue *vhostdev_req_get_queue(
	struct vhostdev_req *req)
{
	return req ? req->q : NULL;
}

VHD_EXPORT void vhostdev_req_set_userdata(struct vhostdev_req *req,
					  void *userdata)
{
	if (req)
		req->userdata = userdata;
}

VHD_EXPORT void *vhostdev_req_get_userdata(struct vhostdev_req *req)
{
	return req ? req->userdata : NULL;
}

static void ring_push(struct vhostdev_queue *q, struct vhostdev_req *req,
		      uint32_t written)
{
	/* No ring pointers: its memory went away (remap_queues). */
	if (q->desc && q->packed)
		vhd_packed_push(q, req, written);
	else if (q->desc)
		vhd_split_push(q, req, written);
	req->busy = false;
	req->done = false;
}

/* In order: the driver reads used entries in the order it made buffers
 * available, so a request finished early waits for those before it. */
static void push_in_order(struct vhostdev_queue *q, struct vhostdev_req *req,
			  uint32_t written)
{
	req->written = written;
	req->done = true;
	while (q->order_count) {
		struct vhostdev_req *first = &q->slots[q->order[q->order_head]];

		if (!first->done)
			break;
		ring_push(q, first, first->written);
		if (++q->order_head == q->size)
			q->order_head = 0;
		q->order_count--;
	}
}

VHD_EXPORT int vhostdev_req_push(struct vhostdev_req *req, uint32_t written)
{
	struct vhostdev_queue *q;
	size_t in;

	if (!req || !req->busy || req->done)
		return -EINVAL;
	q = req->q;
	/* The driver trusts this length: never claim more than it gave. */
	in = vhostdev_req_get_in_size(req);
	if (written > in)
		written = (uint32_t)in;
	/* After the device's writes, before the guest can see them used. */
	if (q->log_buffers)
		vhd_log_req_written(q, req, written);
	if (q->in_order)
		push_in_order(q, req, written);
	else
		ring_push(q, req, written);
	if (__atomic_sub_fetch(&q->inflight, 1, __ATOMIC_RELEASE) == 0 &&
	    vhd_queue_drain_watched(q))
		vhd_queue_drained(q);
	return 0;
}

VHD_EXPORT int vhostdev_req_complete(struct vhostdev_req *req,
				     uint32_t written)
{
	struct vhostdev_queue *q = req ? req->q : NULL;
	int r = vhostdev_req_push(req, written);

	if (r < 0)
		return r;
	r = vhostdev_queue_notify(q);
	return r < 0 ? r : 0;
}

/* Copies between iov[0..n) starting offset bytes in and buf. */
static size_t iov_copy(const struct iovec *iov, unsigned int n, size_t offset,
		       void *buf, size_t size, bool to_iov)
{
	size_t done = 0;

	for (unsigned int i = 0; i < n && done < size; i++) {
		size_t len = iov[i].iov_len, chunk;
		uint8_t *p = iov[i].iov_base;

		if (offset >= len) {
			offset -= len;
			continue;
		}
		chunk = len - offset;
		if (chunk > size - done)
			chunk = size - done;
		if (to_iov)
			memcpy(p + offset, (const uint8_t *)buf + done, chunk);
		else
			memcpy((uint8_t *)buf + done, p + offset, chunk);
		done += chunk;
		offset = 0;
	}
	return done;
}

VHD_EXPORT size_t vhostdev_req_read(struct vhostdev_req *req, size_t offset,
				    void *buf, size_t size)
{
	if (!req || (!buf && size))
		return 0;
	return iov_copy(req->iov, req->nout, offset, buf, size, false);
}

VHD_EXPORT size_t vhostdev_req_write(struct vhostdev_req *req, size_t offset,
				     const void *buf, size_t size)
{
	if (!req || (!buf && size))
		return 0;
	return iov_copy(req->iov + req->nout, req->nin, offset, (void *)buf,
			size, true);
}
