/* SPDX-License-Identifier: MIT */
/* The layout-independent part of the virtqueue driver: allocating a ring
 * in guest memory, the eventfds, telling the back end about the ring, and
 * the kick/call signalling. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"

unsigned int vhf_vq_flags_for(uint64_t features)
{
	unsigned int f = 0;

	if (features & VHF_BIT(VHF_F_RING_PACKED))
		f |= VHF_VQ_PACKED;
	if (features & VHF_BIT(VHF_F_EVENT_IDX))
		f |= VHF_VQ_EVENT_IDX;
	return f;
}

static int alloc_rings(struct vhf_vq *vq)
{
	uint64_t n = vq->size;
	int r;

	r = vhf_mem_alloc(vq->mem, 16 * n, 16, vq->region, &vq->desc_gpa);
	if (r < 0)
		return r;
	if (vq->flags & VHF_VQ_PACKED) {
		r = vhf_mem_alloc(vq->mem, 4, 4, vq->region, &vq->avail_gpa);
		if (r < 0)
			return r;
		return vhf_mem_alloc(vq->mem, 4, 4, vq->region, &vq->used_gpa);
	}
	/* flags, idx, ring[n], used_event / flags, idx, ring[n], avail_event */
	r = vhf_mem_alloc(vq->mem, 6 + 2 * n, 2, vq->region, &vq->avail_gpa);
	if (r < 0)
		return r;
	return vhf_mem_alloc(vq->mem, 6 + 8 * n, 4, vq->region, &vq->used_gpa);
}

int vhf_vq_new(struct vhf_mem *m, unsigned int index, unsigned int size,
	       unsigned int flags, int region, struct vhf_vq **out)
{
	struct vhf_vq *vq;
	int r;

	if (!size || size > 32768 ||
	    (!(flags & VHF_VQ_PACKED) && (size & (size - 1))))
		return -EINVAL;
	vq = calloc(1, sizeof(*vq));
	if (!vq)
		return -ENOMEM;
	vq->mem = m;
	vq->index = index;
	vq->size = size;
	vq->flags = flags;
	vq->region = region;
	vq->interrupts = true;
	vq->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vq->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vq->chains = calloc(size, sizeof(*vq->chains));
	if (vq->kick_fd < 0 || vq->call_fd < 0 || !vq->chains) {
		r = vq->chains ? -errno : -ENOMEM;
		goto fail;
	}
	r = alloc_rings(vq);
	if (r < 0)
		goto fail;
	vq->desc = vhf_mem_ptr(m, vq->desc_gpa, 16ull * size);
	if (flags & VHF_VQ_PACKED) {
		vq->pdesc = (struct vhf_pdesc *)vq->desc;
		vq->desc = NULL;
		vq->driver_event = vhf_mem_ptr(m, vq->avail_gpa, 4);
		vq->device_event = vhf_mem_ptr(m, vq->used_gpa, 4);
		vq->free_ids = calloc(size, sizeof(uint16_t));
		if (!vq->free_ids) {
			r = -ENOMEM;
			goto fail;
		}
		vhf_packed_init(vq);
	} else {
		vq->avail = vhf_mem_ptr(m, vq->avail_gpa, 6 + 2ull * size);
		vq->used = vhf_mem_ptr(m, vq->used_gpa, 6 + 8ull * size);
		vq->free_next = calloc(size, sizeof(uint16_t));
		if (!vq->free_next) {
			r = -ENOMEM;
			goto fail;
		}
		vhf_split_init(vq);
	}
	*out = vq;
	return 0;
fail:
	vhf_vq_free(vq);
	return r;
}

void vhf_vq_free(struct vhf_vq *vq)
{
	if (!vq)
		return;
	if (vq->kick_fd >= 0)
		close(vq->kick_fd);
	if (vq->call_fd >= 0)
		close(vq->call_fd);
	free(vq->chains);
	free(vq->free_next);
	free(vq->free_ids);
	free(vq);
}

int vhf_vq_indirect_table(struct vhf_vq *vq, unsigned int id, uint64_t *gpa)
{
	uint64_t per = 16 * VHF_INDIRECT_MAX;

	if (!vq->indirect_gpa) {
		int r = vhf_mem_alloc(vq->mem, per * vq->size, 16, vq->region,
				      &vq->indirect_gpa);
		if (r < 0)
			return r;
	}
	*gpa = vq->indirect_gpa + per * id;
	return 0;
}

uint64_t vhf_vq_indirect_gpa(const struct vhf_vq *vq, unsigned int id)
{
	return vq->indirect_gpa ? vq->indirect_gpa + 16ull * VHF_INDIRECT_MAX * id
				: 0;
}

uint32_t vhf_vq_base(const struct vhf_vq *vq)
{
	return vq->base;
}

void vhf_vq_set_base(struct vhf_vq *vq, uint32_t base)
{
	vq->base = base;
}

int vhf_vq_setup(struct vhf_conn *c, struct vhf_vq *vq)
{
	struct vhf_vring_addr a = {
		.index = vq->index,
		.desc = vhf_mem_uva(vq->mem, vq->desc_gpa),
		.used = vhf_mem_uva(vq->mem, vq->used_gpa),
		.avail = vhf_mem_uva(vq->mem, vq->avail_gpa),
	};
	int r;

	/* The order QEMU uses when it starts a ring. */
	r = vhf_set_vring_num(c, vq->index, vq->size);
	if (r == 0)
		r = vhf_set_vring_base(c, vq->index, vq->base);
	if (r == 0)
		r = vhf_set_vring_addr(c, &a);
	if (r == 0)
		r = vhf_set_vring_kick(c, vq->index, vq->kick_fd);
	if (r == 0)
		r = vhf_set_vring_call(c, vq->index, vq->call_fd);
	return r;
}

int vhf_vq_enable(struct vhf_conn *c, struct vhf_vq *vq, bool enable)
{
	return vhf_set_vring_enable(c, vq->index, enable);
}

int vhf_vq_stop(struct vhf_conn *c, struct vhf_vq *vq, uint32_t *base)
{
	uint32_t b;
	int r = vhf_get_vring_base(c, vq->index, &b);

	if (r < 0)
		return r;
	vq->base = b;
	if (base)
		*base = b;
	return 0;
}

int vhf_vq_add(struct vhf_vq *vq, const struct vhf_buf *bufs,
	       unsigned int nout, unsigned int nin, bool indirect)
{
	int r;

	if (nout + nin == 0 ||
	    nout + nin > (indirect ? VHF_INDIRECT_MAX : vq->size))
		return -EINVAL;
	if (vq->flags & VHF_VQ_PACKED)
		r = vhf_packed_add(vq, bufs, nout, nin, indirect);
	else
		r = vhf_split_add(vq, bufs, nout, nin, indirect);
	if (r >= 0) {
		vq->inflight++;
		vq->added++;
	}
	return r;
}

int vhf_vq_kick(struct vhf_vq *vq)
{
	uint64_t one = 1;
	bool need;

	/* Our writes to the ring before the device's suppression state. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->flags & VHF_VQ_PACKED)
		need = vhf_packed_need_kick(vq);
	else
		need = vhf_split_need_kick(vq);
	vq->added = 0;
	if (!need && !(vq->flags & VHF_VQ_ALWAYS_KICK))
		return 0;
	if (write(vq->kick_fd, &one, sizeof(one)) != sizeof(one))
		return -errno;
	return 1;
}

int vhf_vq_wait_call(struct vhf_vq *vq, int timeout_ms)
{
	struct pollfd p = { .fd = vq->call_fd, .events = POLLIN };
	uint64_t v;
	int r;

	do {
		r = poll(&p, 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	if (read(vq->call_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

int vhf_vq_test_call(struct vhf_vq *vq)
{
	uint64_t v;

	if (read(vq->call_fd, &v, sizeof(v)) == sizeof(v))
		return 1;
	return errno == EAGAIN ? 0 : -errno;
}

int vhf_vq_get_used(struct vhf_vq *vq, uint16_t *id, uint32_t *len)
{
	int r;

	if (vq->flags & VHF_VQ_PACKED)
		r = vhf_packed_get_used(vq, id, len);
	else
		r = vhf_split_get_used(vq, id, len);
	if (r == 1)
		vq->inflight--;
	return r;
}

void vhf_vq_set_interrupts(struct vhf_vq *vq, bool enable)
{
	vq->interrupts = enable;
	if (vq->flags & VHF_VQ_PACKED)
		vhf_packed_set_interrupts(vq, enable);
	else
		vhf_split_set_interrupts(vq, enable);
	/* The device must see the new setting before we look at the ring
	 * again, or an entry could slip by without an interrupt. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

unsigned int vhf_vq_inflight(const struct vhf_vq *vq)
{
	return vq->inflight;
}

unsigned int vhf_vq_size(const struct vhf_vq *vq)
{
	return vq->size;
}

unsigned int vhf_vq_index(const struct vhf_vq *vq)
{
	return vq->index;
}

bool vhf_vq_is_packed(const struct vhf_vq *vq)
{
	return vq->flags & VHF_VQ_PACKED;
}

int vhf_vq_kick_fd(const struct vhf_vq *vq)
{
	return vq->kick_fd;
}

int vhf_vq_call_fd(const struct vhf_vq *vq)
{
	return vq->call_fd;
}

struct vhf_desc *vhf_vq_desc(struct vhf_vq *vq)
{
	return vq->desc;
}

struct vhf_avail *vhf_vq_avail(struct vhf_vq *vq)
{
	return vq->avail;
}

struct vhf_used *vhf_vq_used(struct vhf_vq *vq)
{
	return vq->used;
}

uint16_t *vhf_vq_used_event(struct vhf_vq *vq)
{
	return vq->avail ? &vq->avail->ring[vq->size] : NULL;
}

uint16_t *vhf_vq_avail_event(struct vhf_vq *vq)
{
	return vq->used ? (uint16_t *)&vq->used->ring[vq->size] : NULL;
}

struct vhf_pdesc *vhf_vq_pdesc(struct vhf_vq *vq)
{
	return vq->pdesc;
}

struct vhf_pevent *vhf_vq_driver_event(struct vhf_vq *vq)
{
	return vq->driver_event;
}

struct vhf_pevent *vhf_vq_device_event(struct vhf_vq *vq)
{
	return vq->device_event;
}

void vhf_vq_addrs(const struct vhf_vq *vq, uint64_t *desc, uint64_t *avail,
		  uint64_t *used)
{
	if (desc)
		*desc = vq->desc_gpa;
	if (avail)
		*avail = vq->avail_gpa;
	if (used)
		*used = vq->used_gpa;
}

void vhf_vq_publish_raw(struct vhf_vq *vq, uint16_t head)
{
	if (vq->flags & VHF_VQ_PACKED)
		return;
	vq->avail->ring[vq->avail_idx % vq->size] = head;
	__atomic_store_n(&vq->avail->idx, ++vq->avail_idx, __ATOMIC_RELEASE);
	vq->added++;
}
