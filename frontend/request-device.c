/* SPDX-License-Identifier: MIT */
/* Typed helpers for the device-wide requests beyond negotiation: config
 * space, dirty log, side channels, in-flight buffer, shared objects,
 * postcopy and device state. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

int vhf_get_config(struct vhf_conn *c, uint32_t offset, void *buf,
		   uint32_t size, uint32_t flags)
{
	struct vhf_config_msg m = { .offset = offset, .size = size,
				    .flags = flags };
	struct vhf_msg reply;
	int r;

	if (size > VHF_CONFIG_MAX)
		return -EINVAL;
	r = vhf_request(c, VHF_GET_CONFIG, &m, VHF_CONFIG_HEADER + size, NULL,
			0, &reply);
	if (r < 0)
		return r;
	vhf_msg_close_fds(&reply);
	/* An empty payload (or an empty config) is how a back end says no. */
	if (reply.size == 0 ||
	    (reply.size >= VHF_CONFIG_HEADER && reply.payload.config.size == 0))
		return -EIO;
	if (reply.size != VHF_CONFIG_HEADER + size ||
	    reply.payload.config.size != size)
		return -EPROTO;
	memcpy(buf, reply.payload.config.data, size);
	return (int)size;
}

int vhf_set_config(struct vhf_conn *c, uint32_t offset, const void *buf,
		   uint32_t size, uint32_t flags)
{
	struct vhf_config_msg m = { .offset = offset, .size = size,
				    .flags = flags };

	if (size > VHF_CONFIG_MAX)
		return -EINVAL;
	memcpy(m.data, buf, size);
	return vhf_request(c, VHF_SET_CONFIG, &m, VHF_CONFIG_HEADER + size,
			   NULL, 0, NULL);
}

int vhf_set_log_base(struct vhf_conn *c, int fd, uint64_t size,
		     uint64_t offset)
{
	struct vhf_log_msg m = { .size = size, .offset = offset };
	struct vhf_msg reply;
	int r;

	if (!(c->protocol_features & VHF_BIT(VHF_PF_LOG_SHMFD)))
		return vhf_request(c, VHF_SET_LOG_BASE, &m, sizeof(m),
				   fd >= 0 ? &fd : NULL, fd >= 0, NULL);
	/* With LOG_SHMFD the back end owes a reply of its own. */
	r = vhf_request(c, VHF_SET_LOG_BASE, &m, sizeof(m),
			fd >= 0 ? &fd : NULL, fd >= 0, &reply);
	if (r < 0)
		return r;
	vhf_msg_close_fds(&reply);
	if (reply.size == sizeof(uint64_t))
		return vhf_ack_to_errno(reply.payload.u64);
	return 0;
}

static int send_fd(struct vhf_conn *c, uint32_t request, int fd)
{
	return vhf_request(c, request, NULL, 0, fd >= 0 ? &fd : NULL,
			   fd >= 0 ? 1 : 0, NULL);
}

int vhf_set_log_fd(struct vhf_conn *c, int fd)
{
	return send_fd(c, VHF_SET_LOG_FD, fd);
}

int vhf_gpu_set_socket(struct vhf_conn *c, int fd)
{
	return send_fd(c, VHF_GPU_SET_SOCKET, fd);
}

int vhf_set_backend_req_fd(struct vhf_conn *c, int fd)
{
	return send_fd(c, VHF_SET_BACKEND_REQ_FD, fd);
}

int vhf_send_rarp(struct vhf_conn *c, const uint8_t mac[6])
{
	uint64_t v = 0;

	memcpy(&v, mac, 6);
	return vhf_request(c, VHF_SEND_RARP, &v, sizeof(v), NULL, 0, NULL);
}

int vhf_net_set_mtu(struct vhf_conn *c, uint64_t mtu)
{
	return vhf_request(c, VHF_NET_SET_MTU, &mtu, sizeof(mtu), NULL, 0,
			   NULL);
}

/* Requests whose reply is a u64 status (0 success). */
static int status_reply(struct vhf_conn *c, uint32_t request,
			const void *payload, uint32_t size)
{
	struct vhf_msg reply;
	int r;

	r = vhf_request(c, request, payload, size, NULL, 0, &reply);
	if (r < 0)
		return r;
	vhf_msg_close_fds(&reply);
	if (reply.size != sizeof(uint64_t))
		return -EPROTO;
	return vhf_ack_to_errno(reply.payload.u64);
}

int vhf_iotlb_msg(struct vhf_conn *c, const struct vhf_iotlb_msg *m)
{
	return status_reply(c, VHF_IOTLB_MSG, m, sizeof(*m));
}

int vhf_postcopy_advise(struct vhf_conn *c, int *fd)
{
	struct vhf_msg reply;
	int r;

	*fd = -1;
	r = vhf_request(c, VHF_POSTCOPY_ADVISE, NULL, 0, NULL, 0, &reply);
	if (r < 0)
		return r;
	if (reply.nfds != 1) {
		vhf_msg_close_fds(&reply);
		return -EIO;
	}
	*fd = reply.fds[0];
	return 0;
}

int vhf_postcopy_listen(struct vhf_conn *c)
{
	return vhf_request(c, VHF_POSTCOPY_LISTEN, NULL, 0, NULL, 0, NULL);
}

int vhf_postcopy_end(struct vhf_conn *c)
{
	return status_reply(c, VHF_POSTCOPY_END, NULL, 0);
}

int vhf_get_inflight_fd(struct vhf_conn *c, uint16_t num_queues,
			uint16_t queue_size, struct vhf_inflight_msg *out,
			int *fd)
{
	struct vhf_inflight_msg m = { .num_queues = num_queues,
				      .queue_size = queue_size };
	struct vhf_msg reply;
	int r;

	*fd = -1;
	r = vhf_request(c, VHF_GET_INFLIGHT_FD, &m, sizeof(m), NULL, 0,
			&reply);
	if (r < 0)
		return r;
	if (reply.size < offsetof(struct vhf_inflight_msg, queue_size) + 2 ||
	    reply.nfds != 1) {
		vhf_msg_close_fds(&reply);
		return reply.nfds ? -EPROTO : -EIO;
	}
	memcpy(out, &reply.payload.inflight, sizeof(*out));
	*fd = reply.fds[0];
	return 0;
}

int vhf_set_inflight_fd(struct vhf_conn *c, const struct vhf_inflight_msg *in,
			int fd)
{
	return vhf_request(c, VHF_SET_INFLIGHT_FD, in, sizeof(*in),
			   fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0, NULL);
}

int vhf_get_shared_object(struct vhf_conn *c, const uint8_t uuid[16],
			  int *fd)
{
	struct vhf_shared_msg m;
	struct vhf_msg reply;
	int r;

	*fd = -1;
	memcpy(m.uuid, uuid, sizeof(m.uuid));
	r = vhf_request(c, VHF_GET_SHARED_OBJECT, &m, sizeof(m), NULL, 0,
			&reply);
	if (r < 0)
		return r;
	if (reply.nfds == 0)
		return -ENOENT;
	*fd = reply.fds[0];
	for (unsigned int i = 1; i < reply.nfds; i++)
		close(reply.fds[i]);
	return 0;
}

int vhf_set_device_state_fd(struct vhf_conn *c, uint32_t direction,
			    uint32_t phase, int fd, int *reply_fd)
{
	struct vhf_device_state_msg m = { .direction = direction,
					  .phase = phase };
	struct vhf_msg reply;
	int r;

	*reply_fd = -1;
	r = vhf_request(c, VHF_SET_DEVICE_STATE_FD, &m, sizeof(m),
			fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0, &reply);
	if (r < 0)
		return r;
	if (reply.size != sizeof(uint64_t)) {
		vhf_msg_close_fds(&reply);
		return -EPROTO;
	}
	/* Bits 0..7: error; bit 8: no fd in the reply. */
	if (reply.payload.u64 & 0xff) {
		vhf_msg_close_fds(&reply);
		return vhf_ack_to_errno(reply.payload.u64 & 0xff);
	}
	if (!(reply.payload.u64 & VHF_VRING_NOFD)) {
		if (reply.nfds != 1) {
			vhf_msg_close_fds(&reply);
			return -EPROTO;
		}
		*reply_fd = reply.fds[0];
		return 0;
	}
	vhf_msg_close_fds(&reply);
	return 0;
}

int vhf_check_device_state(struct vhf_conn *c)
{
	return status_reply(c, VHF_CHECK_DEVICE_STATE, NULL, 0);
}
