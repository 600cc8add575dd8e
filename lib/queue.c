/* SPDX-License-Identifier: MIT */
/* Queue lifecycle on the control side (start when the kick fd arrives,
 * stop on GET_VRING_BASE or disconnect, re-point rings when memory
 * moves), each queue's stable fd (an epoll set holding the current kick
 * eventfd and our own wake eventfd), guest interrupts, and the public
 * queue accessors. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "device.h"
#include "export.h"
#include "pipe-write.h"

int vhd_queue_init(struct vhostdev *dev, struct vhostdev_queue *q,
		   unsigned int index)
{
	struct epoll_event ev = { .events = EPOLLIN };

	memset(q, 0, sizeof(*q));
	q->dev = dev;
	q->index = index;
	q->mem = dev->mem;
	q->kick_fd = q->call_fd = q->err_fd = -1;
	/* The application's choice from here on: it survives ring
	 * restarts and front ends. */
	q->notification_enabled = true;
	q->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (q->epfd < 0)
		return -errno;
	q->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->wake_fd < 0)
		return -errno;
	if (epoll_ctl(q->epfd, EPOLL_CTL_ADD, q->wake_fd, &ev) < 0)
		return -errno;
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void drop_kick_fd(struct vhostdev_queue *q)
{
	if (q->kick_fd < 0)
		return;
	epoll_ctl(q->epfd, EPOLL_CTL_DEL, q->kick_fd, NULL);
	close_fd(&q->kick_fd);
}

void vhd_queue_fini(struct vhostdev_queue *q)
{
	if (!q->dev)
		return;
	drop_kick_fd(q);
	close_fd(&q->call_fd);
	close_fd(&q->err_fd);
	close_fd(&q->wake_fd);
	close_fd(&q->epfd);
	vhd_queue_free_slots(q);
}

bool vhd_queue_notify_on_empty(const struct vhostdev_queue *q)
{
	return vhd_has_feature(q->dev, VHOSTDEV_F_NOTIFY_ON_EMPTY);
}

/* A detached queue's worker may touch its fds even before the ring
 * starts, so any detached queue needs quiescing. */
bool vhd_queue_running_detached(const struct vhostdev_queue *q)
{
	return q->detached;
}

/* Front ends may hand us blocking eventfds or pipes: the library must
 * never block on them. */
static void set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags >= 0 && !(flags & O_NONBLOCK))
		fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* Ring areas, their sizes and alignments per the virtio spec. */
/* A ring area the device writes (write) or only reads. */
static int map_area(struct vhostdev_queue *q, const char *what, uint64_t uva,
		    uint64_t size, uint64_t align, bool write, void **out)
{
	void *p;

	if (uva & (align - 1)) {
		vhd_err(q->dev, "queue %u: %s at 0x%llx is not %llu-byte aligned",
			q->index, what, (unsigned long long)uva,
			(unsigned long long)align);
		return -EINVAL;
	}
	/* Behind a vIOMMU the ring addresses are I/O virtual addresses,
	 * translated like any other device access. */
	if (q->iotlb) {
		q->missed = false;
		p = vhd_iotlb_ptr(q, uva, size, write);
		if (!p && q->missed)
			return -EAGAIN;
	} else {
		p = vhd_memory_uva(q->mem, uva, size);
	}
	if (!p) {
		vhd_err(q->dev, "queue %u: %s at 0x%llx (+%llu) is not in guest memory",
			q->index, what, (unsigned long long)uva,
			(unsigned long long)size);
		return -EFAULT;
	}
	/* The front end picks a region's uva and file offset separately, so
	 * an aligned uva can still be an unaligned byte of our mapping. */
	if ((uintptr_t)p & (align - 1)) {
		vhd_err(q->dev, "queue %u: %s at 0x%llx is not %llu-byte aligned in its region's file",
			q->index, what, (unsigned long long)uva,
			(unsigned long long)align);
		return -EINVAL;
	}
	*out = p;
	return 0;
}

int vhd_queue_remap(struct vhostdev_queue *q)
{
	uint64_t n = q->size;
	void *desc, *driver, *device;
	int r;

	if (q->packed) {
		r = map_area(q, "descriptor ring", q->desc_uva, 16 * n, 16,
			     true, &desc);
		if (!r)
			r = map_area(q, "driver area", q->avail_uva, 4, 4,
				     false, &driver);
		if (!r)
			r = map_area(q, "device area", q->used_uva, 4, 4, true,
				     &device);
	} else {
		r = map_area(q, "descriptor table", q->desc_uva, 16 * n, 16,
			     false, &desc);
		if (!r)
			r = map_area(q, "available ring", q->avail_uva,
				     6 + 2 * n, 2, false, &driver);
		if (!r)
			r = map_area(q, "used ring", q->used_uva, 6 + 8 * n, 4,
				     true, &device);
	}
	if (r < 0)
		return r;
	q->desc = desc;
	q->avail = driver;
	q->used = device;
	return 0;
}

int vhd_queue_start(struct vhostdev_queue *q)
{
	struct vhostdev *dev = q->dev;
	int r;

	if (!dev->features_set) {
		vhd_err(dev, "queue %u: kicked before SET_FEATURES", q->index);
		return -EPROTO;
	}
	if (q->size == 0) {
		vhd_err(dev, "queue %u: kicked before SET_VRING_NUM", q->index);
		return -EPROTO;
	}
	q->packed = vhd_has_feature(dev, VHOSTDEV_F_RING_PACKED);
	/* Split ring indices wrap at 2^16: only a power-of-two size divides
	 * that, as the virtio spec requires. */
	if (!q->packed && (q->size & (q->size - 1))) {
		vhd_err(dev, "queue %u: split ring size %u is not a power of two",
			q->index, q->size);
		return -EINVAL;
	}
	q->event_idx = vhd_has_feature(dev, VHOSTDEV_F_RING_EVENT_IDX);
	q->indirect = vhd_has_feature(dev, VHOSTDEV_F_RING_INDIRECT_DESC);
	q->in_order = vhd_has_feature(dev, VHOSTDEV_F_IN_ORDER);
	q->mem = dev->mem;
	q->iotlb = vhd_has_feature(dev, VHOSTDEV_F_ACCESS_PLATFORM) ?
		   &dev->iotlb : NULL;
	r = vhd_queue_remap(q);
	if (r == -EAGAIN) {
		/* Started again when the front end sends the translation. */
		q->start_pending = true;
		vhd_iotlb_missed(q);
		vhd_dbg(dev, "queue %u: waiting for the IOMMU to map its rings",
			q->index);
		return -EAGAIN;
	}
	q->start_pending = false;
	if (r < 0)
		return r;
	vhd_queue_free_slots(q);
	r = vhd_queue_alloc_slots(q);
	if (r < 0)
		return r;
	if (q->packed) {
		uint32_t used = q->base >> 16;

		q->last_avail = q->base & 0x7fff;
		q->avail_wrap = (q->base >> 15) & 1;
		/* Front ends that send only the avail half restart from a
		 * drained ring, where used == avail. */
		if (used == 0)
			used = q->base & 0xffff;
		q->used_idx = used & 0x7fff;
		q->used_wrap = (used >> 15) & 1;
		if (q->last_avail >= q->size || q->used_idx >= q->size) {
			vhd_err(dev, "queue %u: base 0x%x outside a ring of %u",
				q->index, q->base, q->size);
			vhd_queue_free_slots(q);
			return -EINVAL;
		}
	} else {
		q->last_avail = (uint16_t)q->base;
		q->used_idx = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE);
	}
	vhd_dirty_log_update(dev);
	/* May move last_avail past what a killed process left in flight. */
	r = vhd_inflight_queue_start(q);
	if (r < 0) {
		vhd_queue_free_slots(q);
		return r;
	}
	q->signalled_used_valid = false;
	/* The ring may hold whatever an earlier back end left there. */
	if (q->packed)
		vhd_packed_set_notification(q, q->notification_enabled);
	else
		vhd_split_set_notification(q, q->notification_enabled);
	q->inflight = 0;
	__atomic_store_n(&q->broken, false, __ATOMIC_RELAXED);
	/* Workers read these without a lock (vhostdev_queue_is_ready). */
	__atomic_store_n(&q->stopping, false, __ATOMIC_RELAXED);
	if (!vhd_has_feature(dev, VHOSTDEV_F_PROTOCOL_FEATURES))
		__atomic_store_n(&q->enabled, true, __ATOMIC_RELAXED);
	__atomic_store_n(&q->started, true, __ATOMIC_RELEASE);
	vhd_dbg(dev, "queue %u started: %s ring of %u, avail %u, used %u",
		q->index, q->packed ? "packed" : "split", q->size,
		q->last_avail, q->used_idx);
	VHD_CALLBACK_VOID(dev, queue_start, q);
	/* Buffers may be waiting already. */
	vhd_queue_wake(q);
	return 0;
}

bool vhd_rings_running(const struct vhostdev *dev)
{
	for (unsigned int i = 0; i < dev->num_queues; i++)
		if (dev->queues[i].started)
			return true;
	return false;
}

void vhd_queue_stop(struct vhostdev_queue *q)
{
	q->start_pending = q->rings_pending = false;
	__atomic_store_n(&q->started, false, __ATOMIC_RELEASE);
	__atomic_store_n(&q->stopping, false, __ATOMIC_RELEASE);
	drop_kick_fd(q);
	vhd_queue_free_slots(q);
	vhd_inflight_queue_stop(q);
	vhd_dbg(q->dev, "queue %u stopped at avail %u used %u", q->index,
		q->last_avail, q->used_idx);
}

void vhd_queue_reset(struct vhostdev_queue *q)
{
	if (q->started)
		vhd_queue_stop(q);
	drop_kick_fd(q);
	close_fd(&q->call_fd);
	close_fd(&q->err_fd);
	q->start_pending = q->rings_pending = false;
	q->size = 0;
	q->desc_uva = q->avail_uva = q->used_uva = q->log_gpa = 0;
	q->addr_flags = 0;
	q->base = 0;
	__atomic_store_n(&q->enabled, false, __ATOMIC_RELEASE);
	__atomic_store_n(&q->broken, false, __ATOMIC_RELEASE);
}

int vhd_queue_set_kick(struct vhostdev_queue *q, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int r;

	drop_kick_fd(q);
	if (fd >= 0) {
		if (epoll_ctl(q->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			r = -errno;

			vhd_err(q->dev, "queue %u: kick fd refused by epoll: %s",
				q->index, strerror(-r));
			close(fd);
			return r;
		}
		set_nonblocking(fd);
		q->kick_fd = fd;
	}
	if (q->started) {
		vhd_queue_wake(q);
		return 0;
	}
	r = vhd_queue_start(q);
	/* Waiting for an IOTLB update is not a failure. */
	return r == -EAGAIN ? 0 : r;
}

void vhd_queue_wake(struct vhostdev_queue *q)
{
	/* Write first: a reader that sees the flag is sure to find the
	 * eventfd readable, so it never stays readable unread. */
	eventfd_write(q->wake_fd, 1);
	__atomic_store_n(&q->wake_pending, 1, __ATOMIC_RELEASE);
}

void vhd_queue_signal(struct vhostdev_queue *q)
{
	struct vhu_vring_state state = { .index = q->index, .num = 0 };

	if (q->call_fd >= 0) {
		/* Non-blocking (see set_nonblocking): a pipe nobody reads
		 * loses the interrupt instead of hanging the thread. */
		uint64_t one = 1;

		ssize_t n = q->call_can_sigpipe ?
			vhd_write_no_sigpipe(q->call_fd, &one, sizeof(one)) :
			write(q->call_fd, &one, sizeof(one));

		if (n < 0 && errno != EAGAIN)
			vhd_warn(q->dev, "queue %u: interrupt not sent: %s",
				 q->index, strerror(errno));
		return;
	}
	if (vhd_has_protocol(q->dev, VHOSTDEV_PF_INBAND_NOTIFICATIONS))
		vhd_backend_send(q->dev, VHU_BACKEND_VRING_CALL, &state,
				 sizeof(state), false, NULL);
}

void vhd_queue_broken(struct vhostdev_queue *q, const char *why)
{
	vhd_err(q->dev, "queue %u: %s; device needs reset", q->index, why);
	__atomic_store_n(&q->broken, true, __ATOMIC_RELEASE);
	__atomic_store_n(&q->dev->needs_reset, 1, __ATOMIC_RELEASE);
	vhd_device_wake(q->dev);
}

bool vhd_queue_drain_watched(const struct vhostdev_queue *q)
{
	return __atomic_load_n(&q->stopping, __ATOMIC_ACQUIRE) ||
	       __atomic_load_n(&q->dev->retiring, __ATOMIC_ACQUIRE);
}

void vhd_queue_drained(struct vhostdev_queue *q)
{
	vhd_device_wake(q->dev);
}

/* ---- public ------------------------------------------------------------- */

VHD_EXPORT struct vhostdev_queue *vhostdev_get_queue(struct vhostdev *dev,
						     unsigned int index)
{
	if (!dev || index >= dev->num_queues)
		return NULL;
	return &dev->queues[index];
}

VHD_EXPORT unsigned int vhostdev_queue_get_index(struct vhostdev_queue *q)
{
	return q->index;
}

VHD_EXPORT struct vhostdev *vhostdev_queue_get_device(struct vhostdev_queue *q)
{
	return q->dev;
}

VHD_EXPORT unsigned int vhostdev_queue_get_size(struct vhostdev_queue *q)
{
	return q->size;
}

VHD_EXPORT int vhostdev_queue_is_ready(struct vhostdev_queue *q)
{
	/* Called from workers while the control thread changes these. */
	return __atomic_load_n(&q->started, __ATOMIC_ACQUIRE) &&
	       __atomic_load_n(&q->enabled, __ATOMIC_ACQUIRE) &&
	       !__atomic_load_n(&q->stopping, __ATOMIC_ACQUIRE) &&
	       !__atomic_load_n(&q->broken, __ATOMIC_ACQUIRE);
}

VHD_EXPORT void vhostdev_queue_set_userdata(struct vhostdev_queue *q,
					    void *userdata)
{
	q->userdata = userdata;
}

VHD_EXPORT void *vhostdev_queue_get_userdata(struct vhostdev_queue *q)
{
	return q->userdata;
}

VHD_EXPORT int vhostdev_queue_get_fd(struct vhostdev_queue *q)
{
	return q->epfd;
}

VHD_EXPORT int vhostdev_queue_set_detached(struct vhostdev_queue *q,
					   int detached)
{
	struct vhostdev *dev = q->dev;
	struct epoll_event ev = { .events = EPOLLIN };
	int r;

	if (q->started)
		return -EBUSY;
	if (!!detached == q->detached)
		return 0;
	ev.data.u64 = VHD_TAG_QUEUE + q->index;
	if (detached)
		r = epoll_ctl(dev->epfd, EPOLL_CTL_DEL, q->epfd, NULL);
	else
		r = epoll_ctl(dev->epfd, EPOLL_CTL_ADD, q->epfd, &ev);
	if (r < 0)
		return -errno;
	q->detached = !!detached;
	return 0;
}

VHD_EXPORT int vhostdev_queue_process(struct vhostdev_queue *q)
{
	struct vhostdev *dev = q->dev;
	eventfd_t value;
	bool kicked = false;

	if (q->in_callback)
		return -EBUSY;
	if (q->kick_fd >= 0 && eventfd_read(q->kick_fd, &value) == 0)
		kicked = true;
	if (__atomic_exchange_n(&q->wake_pending, 0, __ATOMIC_ACQUIRE)) {
		eventfd_read(q->wake_fd, &value);
		kicked = true;
	}
	if (!kicked || !vhostdev_queue_is_ready(q))
		return 0;
	if (dev->cb.queue_kick) {
		q->in_callback++;
		dev->cb.queue_kick(dev, q, dev->userdata);
		q->in_callback--;
	}
	return 1;
}
