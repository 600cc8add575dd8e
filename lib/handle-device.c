/* SPDX-License-Identifier: MIT */
/* Handlers for device-wide requests: feature negotiation, ownership,
 * reset, status, config space, the back-end channel, shared objects and
 * device-specific requests. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "dispatch.h"

int vhd_handle_get_features(struct vhostdev *dev, struct vhd_message *msg)
{
	vhd_reply_u64(dev, msg, dev->features);
	return VHD_REPLIED;
}

int vhd_handle_set_features(struct vhostdev *dev, struct vhd_message *msg)
{
	uint64_t acked = msg->payload.u64;
	uint64_t unknown = acked & ~dev->features;
	int r;

	if (!(acked & (1ull << VHOSTDEV_F_VERSION_1))) {
		vhd_err(dev, "front end did not accept VERSION_1: legacy virtio is not supported");
		return -EPROTONOSUPPORT;
	}
	if (unknown) {
		vhd_err(dev, "front end acked features 0x%llx that were not offered",
			(unsigned long long)unknown);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < dev->num_queues; i++) {
		if (dev->queues[i].started &&
		    ((acked ^ dev->acked_features) &
		     ~(1ull << VHOSTDEV_F_LOG_ALL))) {
			vhd_err(dev, "features changed while queue %u runs", i);
			return -EBUSY;
		}
	}
	if (dev->cb.features) {
		r = VHD_CALLBACK(dev, features, acked);
		if (r < 0)
			return r;
	}
	dev->acked_features = acked;
	dev->features_set = true;
	vhd_dirty_log_update(dev);
	return 0;
}

int vhd_handle_set_owner(struct vhostdev *dev, struct vhd_message *msg)
{
	(void)msg;
	dev->owner = true;
	return 0;
}

/* RESET_OWNER (deprecated) and RESET_DEVICE: back to the initial device
 * state; the memory table and the back-end channel stay. */
int vhd_handle_reset(struct vhostdev *dev, struct vhd_message *msg)
{
	(void)msg;
	if (vhd_stop_all_queues(dev) == VHD_DEFER)
		return VHD_DEFER;
	vhd_reset_device_state(dev);
	VHD_CALLBACK_VOID(dev, reset);
	return 0;
}

int vhd_handle_get_protocol_features(struct vhostdev *dev,
				     struct vhd_message *msg)
{
	vhd_reply_u64(dev, msg, dev->protocol_features);
	return VHD_REPLIED;
}

int vhd_handle_set_protocol_features(struct vhostdev *dev,
				     struct vhd_message *msg)
{
	uint64_t acked = msg->payload.u64;
	uint64_t inband = 1ull << VHOSTDEV_PF_INBAND_NOTIFICATIONS;
	uint64_t inband_needs = (1ull << VHOSTDEV_PF_BACKEND_REQ) |
				(1ull << VHOSTDEV_PF_REPLY_ACK);

	if (acked & ~dev->protocol_features) {
		vhd_err(dev, "front end acked protocol features 0x%llx that were not offered",
			(unsigned long long)(acked & ~dev->protocol_features));
		return -EINVAL;
	}
	if ((acked & inband) && (acked & inband_needs) != inband_needs) {
		vhd_err(dev, "in-band notifications need BACKEND_REQ and REPLY_ACK");
		return -EINVAL;
	}
	dev->acked_protocol_features = acked;
	return 0;
}

int vhd_handle_get_queue_num(struct vhostdev *dev, struct vhd_message *msg)
{
	vhd_reply_u64(dev, msg, dev->num_queues);
	return VHD_REPLIED;
}

int vhd_handle_set_backend_req_fd(struct vhostdev *dev,
				  struct vhd_message *msg)
{
	vhd_backend_close(dev);
	dev->backend_fd = vhd_message_take_fd(msg, 0);
	return 0;
}

int vhd_handle_get_config(struct vhostdev *dev, struct vhd_message *msg)
{
	struct vhu_config *c = &msg->payload.config;
	uint32_t end = c->offset + c->size;
	int r = 0;

	if (end < c->offset)
		return -EINVAL; /* answer() sends the size-0 reply */
	memset(c->data, 0, c->size);
	if (dev->cb.config_read) {
		r = VHD_CALLBACK(dev, config_read, c->offset, c->data, c->size);
	} else if (end > dev->config_size) {
		vhd_err(dev, "GET_CONFIG of [%u, %u) beyond the %zu bytes of config space",
			c->offset, end, dev->config_size);
		r = -EINVAL;
	} else {
		memcpy(c->data, dev->config + c->offset, c->size);
	}
	if (r < 0) {
		/* A config reply of size 0 tells the front end it failed. */
		c->size = 0;
		vhd_reply(dev, msg, c, VHU_CONFIG_HEADER, NULL, 0);
		return VHD_REPLIED;
	}
	vhd_reply(dev, msg, c, VHU_CONFIG_HEADER + c->size, NULL, 0);
	return VHD_REPLIED;
}

int vhd_handle_set_config(struct vhostdev *dev, struct vhd_message *msg)
{
	struct vhu_config *c = &msg->payload.config;

	if (!dev->cb.config_write) {
		vhd_err(dev, "SET_CONFIG: the device has no writable config");
		return -ENOTSUP;
	}
	if (c->offset + c->size < c->offset)
		return -EINVAL;
	return VHD_CALLBACK(dev, config_write, c->offset, c->data, c->size);
}

int vhd_handle_set_status(struct vhostdev *dev, struct vhd_message *msg)
{
	if (msg->payload.u64 > 0xff)
		return -EINVAL;
	dev->status = (uint8_t)msg->payload.u64;
	return 0;
}

int vhd_handle_get_status(struct vhostdev *dev, struct vhd_message *msg)
{
	uint8_t status = dev->status;

	if (__atomic_load_n(&dev->needs_reset, __ATOMIC_ACQUIRE))
		status |= VIRTIO_STATUS_NEEDS_RESET;
	vhd_reply_u64(dev, msg, status);
	return VHD_REPLIED;
}

int vhd_handle_get_shared_object(struct vhostdev *dev,
				 struct vhd_message *msg)
{
	int fd = vhd_shared_object_find(dev, msg->payload.object.uuid);
	uint64_t ok = 0;

	if (fd < 0) {
		vhd_err(dev, "GET_SHARED_OBJECT: no object with that UUID");
		return -ENOENT;
	}
	vhd_reply(dev, msg, &ok, sizeof(ok), &fd, 1);
	return VHD_REPLIED;
}

int vhd_handle_device_message(struct vhostdev *dev, struct vhd_message *msg)
{
	if (!dev->cb.message) {
		vhd_err(dev, "request %u is not known to this device",
			msg->hdr.request);
		return -ENOTSUP;
	}
	int r = VHD_CALLBACK(dev, message, msg->hdr.request,
			     msg->payload.bytes, msg->hdr.size, msg->fds,
			     msg->nfds);

	return r < 0 ? r : 0;
}
