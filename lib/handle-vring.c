/* SPDX-License-Identifier: MIT */
/* Handlers for per-ring requests: size, addresses, base, kick/call/err
 * fds, enable, in-band kicks, and GET_VRING_BASE, which stops a ring only
 * once the requests it handed out have come back. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "dispatch.h"
#include "pipe-write.h"

int vhd_handle_set_vring_num(struct vhostdev *dev, struct vhd_message *msg)
{
	struct vhostdev_queue *q = vhd_message_queue(dev, msg,
						     msg->payload.state.index);
	uint32_t num = msg->payload.state.num;

	if (!q)
		return -EINVAL;
	if (q->started) {
		vhd_err(dev, "SET_VRING_NUM: queue %u is running", q->index);
		return -EBUSY;
	}
	if (num == 0 || num > dev->max_queue_size) {
		vhd_err(dev, "SET_VRING_NUM: size %u not in 1..%u", num,
			dev->max_queue_size);
		return -EINVAL;
	}
	q->size = num;
	return 0;
}

int vhd_handle_set_vring_addr(struct vhostdev *dev, struct vhd_message *msg)
{
	const struct vhu_vring_addr *a = &msg->payload.addr;
	struct vhostdev_queue *q = vhd_message_queue(dev, msg, a->index);

	if (!q)
		return -EINVAL;
	q->desc_uva = a->desc;
	q->avail_uva = a->avail;
	q->used_uva = a->used;
	q->log_gpa = a->log;
	q->addr_flags = a->flags;
	vhd_dirty_log_update(dev);
	if (q->started && vhd_queue_remap(q) < 0) {
		vhd_queue_broken(q, "new ring addresses are not mapped");
		return -EFAULT;
	}
	return 0;
}

int vhd_handle_set_vring_base(struct vhostdev *dev, struct vhd_message *msg)
{
	struct vhostdev_queue *q = vhd_message_queue(dev, msg,
						     msg->payload.state.index);

	if (!q)
		return -EINVAL;
	if (q->started) {
		vhd_err(dev, "SET_VRING_BASE: queue %u is running", q->index);
		return -EBUSY;
	}
	q->base = msg->payload.state.num;
	return 0;
}

/* The position a restarted ring continues from: split rings give the
 * avail index; packed rings the avail index and wrap counter in the low
 * half, the used ones in the high half. */
static uint32_t ring_base(const struct vhostdev_queue *q)
{
	if (!q->packed)
		return q->last_avail;
	return (uint32_t)q->last_avail | (uint32_t)q->avail_wrap << 15 |
	       (uint32_t)q->used_idx << 16 | (uint32_t)q->used_wrap << 31;
}

int vhd_handle_get_vring_base(struct vhostdev *dev, struct vhd_message *msg)
{
	struct vhostdev_queue *q = vhd_message_queue(dev, msg,
						     msg->payload.state.index);
	struct vhu_vring_state state;

	if (!q)
		return -EINVAL;
	/* A ring still waiting for its IOMMU mapping never started. */
	q->start_pending = false;
	if (q->started) {
		if (!q->stopping) {
			__atomic_store_n(&q->stopping, true, __ATOMIC_RELEASE);
			VHD_CALLBACK_VOID(dev, queue_stop, q);
		}
		if (__atomic_load_n(&q->inflight, __ATOMIC_ACQUIRE) > 0)
			return VHD_DEFER;
		state.num = ring_base(q);
		vhd_queue_stop(q);
	} else {
		state.num = q->base;
	}
	state.index = q->index;
	/* Stopped: the next start begins disabled when PROTOCOL_FEATURES
	 * was acked, as a new ring would. */
	__atomic_store_n(&q->enabled,
			 !vhd_has_feature(dev, VHOSTDEV_F_PROTOCOL_FEATURES),
			 __ATOMIC_RELEASE);
	q->base = state.num;
	vhd_reply(dev, msg, &state, sizeof(state), NULL, 0);
	return VHD_REPLIED;
}

/* SET_VRING_KICK, SET_VRING_CALL and SET_VRING_ERR. */
int vhd_handle_set_vring_fd(struct vhostdev *dev, struct vhd_message *msg)
{
	uint64_t v = msg->payload.u64;
	struct vhostdev_queue *q;
	int fd, *slot;

	if (v & ~(uint64_t)(VHU_VRING_IDX_MASK | VHU_VRING_NOFD)) {
		vhd_err(dev, "%s: unknown bits in 0x%llx",
			vhd_request_name(msg->hdr.request),
			(unsigned long long)v);
		return -EINVAL;
	}
	q = vhd_message_queue(dev, msg, v & VHU_VRING_IDX_MASK);
	if (!q)
		return -EINVAL;
	fd = (v & VHU_VRING_NOFD) ? -1 : vhd_message_take_fd(msg, 0);
	if (msg->hdr.request == VHU_SET_VRING_KICK)
		return vhd_queue_set_kick(q, fd);
	slot = msg->hdr.request == VHU_SET_VRING_CALL ? &q->call_fd : &q->err_fd;
	if (*slot >= 0)
		close(*slot);
	if (fd >= 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		vhd_warn(dev, "queue %u: cannot make fd non-blocking", q->index);
	*slot = fd;
	if (slot == &q->call_fd)
		q->call_can_sigpipe = fd >= 0 && vhd_fd_can_sigpipe(fd);
	/* Front ends send the call fd after the kick fd that started the
	 * ring: completions in between signalled nobody. A spurious
	 * interrupt is harmless, a lost one hangs the guest. */
	if (msg->hdr.request == VHU_SET_VRING_CALL && q->started && fd >= 0)
		vhd_queue_signal(q);
	return 0;
}

int vhd_handle_set_vring_enable(struct vhostdev *dev, struct vhd_message *msg)
{
	struct vhostdev_queue *q = vhd_message_queue(dev, msg,
						     msg->payload.state.index);

	if (!q)
		return -EINVAL;
	if (msg->payload.state.num > 1) {
		vhd_err(dev, "SET_VRING_ENABLE: %u is neither 0 nor 1",
			msg->payload.state.num);
		return -EINVAL;
	}
	__atomic_store_n(&q->enabled, msg->payload.state.num != 0,
			 __ATOMIC_RELEASE);
	if (q->enabled)
		vhd_queue_wake(q);
	return 0;
}

int vhd_handle_vring_kick(struct vhostdev *dev, struct vhd_message *msg)
{
	struct vhostdev_queue *q = vhd_message_queue(dev, msg,
						     msg->payload.state.index);

	if (!q)
		return -EINVAL;
	vhd_queue_wake(q);
	return 0;
}

int vhd_stop_all_queues(struct vhostdev *dev)
{
	bool waiting = false;

	for (unsigned int i = 0; i < dev->num_queues; i++) {
		struct vhostdev_queue *q = &dev->queues[i];

		if (!q->started)
			continue;
		if (!q->stopping) {
			__atomic_store_n(&q->stopping, true, __ATOMIC_RELEASE);
			VHD_CALLBACK_VOID(dev, queue_stop, q);
		}
		if (__atomic_load_n(&q->inflight, __ATOMIC_ACQUIRE) > 0)
			waiting = true;
	}
	if (waiting)
		return VHD_DEFER;
	for (unsigned int i = 0; i < dev->num_queues; i++)
		if (dev->queues[i].started)
			vhd_queue_stop(&dev->queues[i]);
	return 0;
}

void vhd_reset_device_state(struct vhostdev *dev)
{
	for (unsigned int i = 0; i < dev->num_queues; i++)
		vhd_queue_reset(&dev->queues[i]);
	dev->acked_features = 0;
	dev->features_set = false;
	dev->status = 0;
	__atomic_store_n(&dev->needs_reset, 0, __ATOMIC_RELEASE);
}
