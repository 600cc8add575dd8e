/* SPDX-License-Identifier: MIT */
/* Checks every front-end message against what its request allows, then
 * runs its handler, asking the application to quiesce worker threads
 * first when the handler changes rings or memory, and answers with a
 * reply or a REPLY_ACK as owed. A message that must wait (for quiesce or
 * for a ring to drain) stays pending across process() calls; the socket
 * is not read meanwhile. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dispatch.h"

enum vhd_size_rule {
	SZ_NONE,     /* no payload */
	SZ_U64,
	SZ_STATE,
	SZ_ADDR,
	SZ_MEM,      /* 8 + 32 * count */
	SZ_REGION,
	SZ_CONFIG,   /* 12 + config size */
	SZ_OBJECT,
	SZ_INFLIGHT,
	SZ_LOG,
	SZ_DEVICE_STATE,
	SZ_IOTLB,
	SZ_ANY       /* device-specific or not understood */
};

enum vhd_fd_rule {
	FD_NONE,
	FD_ONE,
	FD_VRING,    /* one unless the u64 says VHU_VRING_NOFD */
	FD_MEM,      /* one per region */
	FD_OPTIONAL, /* zero or one */
	FD_ANY
};

#define REPLY   (1u << 0) /* a reply is owed whatever the flags say */
#define QUIESCE (1u << 1) /* changes rings or memory */

struct vhd_request_info {
	const char *name;
	vhd_handler handler;     /* NULL: not implemented */
	enum vhd_size_rule size;
	enum vhd_fd_rule fds;
	unsigned int flags;
	int protocol_feature;    /* must be acked, or -1 */
};

#define NOPF (-1)
static const struct vhd_request_info requests[VHU_REQUEST_MAX + 1] = {
	[VHU_GET_FEATURES] = { "GET_FEATURES", vhd_handle_get_features, SZ_NONE, FD_NONE, REPLY, NOPF },
	[VHU_SET_FEATURES] = { "SET_FEATURES", vhd_handle_set_features, SZ_U64, FD_NONE, QUIESCE, NOPF },
	[VHU_SET_OWNER] = { "SET_OWNER", vhd_handle_set_owner, SZ_NONE, FD_NONE, 0, NOPF },
	[VHU_RESET_OWNER] = { "RESET_OWNER", vhd_handle_reset, SZ_NONE, FD_NONE, QUIESCE, NOPF },
	[VHU_SET_MEM_TABLE] = { "SET_MEM_TABLE", vhd_handle_set_mem_table, SZ_MEM, FD_MEM, QUIESCE, NOPF },
	[VHU_SET_LOG_BASE] = { "SET_LOG_BASE", vhd_handle_set_log_base, SZ_LOG, FD_ONE, REPLY | QUIESCE, VHOSTDEV_PF_LOG_SHMFD },
	[VHU_SET_LOG_FD] = { "SET_LOG_FD", vhd_handle_set_log_fd, SZ_NONE, FD_ONE, 0, VHOSTDEV_PF_LOG_SHMFD },
	[VHU_SET_VRING_NUM] = { "SET_VRING_NUM", vhd_handle_set_vring_num, SZ_STATE, FD_NONE, QUIESCE, NOPF },
	[VHU_SET_VRING_ADDR] = { "SET_VRING_ADDR", vhd_handle_set_vring_addr, SZ_ADDR, FD_NONE, QUIESCE, NOPF },
	[VHU_SET_VRING_BASE] = { "SET_VRING_BASE", vhd_handle_set_vring_base, SZ_STATE, FD_NONE, QUIESCE, NOPF },
	[VHU_GET_VRING_BASE] = { "GET_VRING_BASE", vhd_handle_get_vring_base, SZ_STATE, FD_NONE, REPLY | QUIESCE, NOPF },
	[VHU_SET_VRING_KICK] = { "SET_VRING_KICK", vhd_handle_set_vring_fd, SZ_U64, FD_VRING, QUIESCE, NOPF },
	[VHU_SET_VRING_CALL] = { "SET_VRING_CALL", vhd_handle_set_vring_fd, SZ_U64, FD_VRING, QUIESCE, NOPF },
	[VHU_SET_VRING_ERR] = { "SET_VRING_ERR", vhd_handle_set_vring_fd, SZ_U64, FD_VRING, QUIESCE, NOPF },
	[VHU_GET_PROTOCOL_FEATURES] = { "GET_PROTOCOL_FEATURES", vhd_handle_get_protocol_features, SZ_NONE, FD_NONE, REPLY, NOPF },
	[VHU_SET_PROTOCOL_FEATURES] = { "SET_PROTOCOL_FEATURES", vhd_handle_set_protocol_features, SZ_U64, FD_NONE, QUIESCE, NOPF },
	[VHU_GET_QUEUE_NUM] = { "GET_QUEUE_NUM", vhd_handle_get_queue_num, SZ_NONE, FD_NONE, REPLY, VHOSTDEV_PF_MQ },
	[VHU_SET_VRING_ENABLE] = { "SET_VRING_ENABLE", vhd_handle_set_vring_enable, SZ_STATE, FD_NONE, QUIESCE, NOPF },
	[VHU_SEND_RARP] = { "SEND_RARP", NULL, SZ_ANY, FD_NONE, 0, VHOSTDEV_PF_RARP },
	[VHU_NET_SET_MTU] = { "NET_SET_MTU", NULL, SZ_ANY, FD_NONE, 0, VHOSTDEV_PF_NET_MTU },
	[VHU_SET_BACKEND_REQ_FD] = { "SET_BACKEND_REQ_FD", vhd_handle_set_backend_req_fd, SZ_NONE, FD_ONE, QUIESCE, VHOSTDEV_PF_BACKEND_REQ },
	[VHU_IOTLB_MSG] = { "IOTLB_MSG", vhd_handle_iotlb_msg, SZ_IOTLB, FD_NONE, REPLY | QUIESCE, NOPF },
	[VHU_SET_VRING_ENDIAN] = { "SET_VRING_ENDIAN", NULL, SZ_ANY, FD_NONE, 0, VHOSTDEV_PF_CROSS_ENDIAN },
	[VHU_GET_CONFIG] = { "GET_CONFIG", vhd_handle_get_config, SZ_CONFIG, FD_NONE, REPLY, VHOSTDEV_PF_CONFIG },
	[VHU_SET_CONFIG] = { "SET_CONFIG", vhd_handle_set_config, SZ_CONFIG, FD_NONE, 0, VHOSTDEV_PF_CONFIG },
	[VHU_CREATE_CRYPTO_SESSION] = { "CREATE_CRYPTO_SESSION", NULL, SZ_ANY, FD_NONE, REPLY, VHOSTDEV_PF_CRYPTO_SESSION },
	[VHU_CLOSE_CRYPTO_SESSION] = { "CLOSE_CRYPTO_SESSION", NULL, SZ_ANY, FD_NONE, 0, VHOSTDEV_PF_CRYPTO_SESSION },
	[VHU_POSTCOPY_ADVISE] = { "POSTCOPY_ADVISE", NULL, SZ_ANY, FD_NONE, REPLY, VHOSTDEV_PF_PAGEFAULT },
	[VHU_POSTCOPY_LISTEN] = { "POSTCOPY_LISTEN", NULL, SZ_ANY, FD_NONE, 0, VHOSTDEV_PF_PAGEFAULT },
	[VHU_POSTCOPY_END] = { "POSTCOPY_END", NULL, SZ_ANY, FD_NONE, REPLY, VHOSTDEV_PF_PAGEFAULT },
	[VHU_GET_INFLIGHT_FD] = { "GET_INFLIGHT_FD", vhd_handle_get_inflight_fd, SZ_INFLIGHT, FD_NONE, REPLY, VHOSTDEV_PF_INFLIGHT_SHMFD },
	[VHU_SET_INFLIGHT_FD] = { "SET_INFLIGHT_FD", vhd_handle_set_inflight_fd, SZ_INFLIGHT, FD_ONE, 0, VHOSTDEV_PF_INFLIGHT_SHMFD },
	[VHU_GPU_SET_SOCKET] = { "GPU_SET_SOCKET", vhd_handle_device_message, SZ_ANY, FD_ANY, 0, NOPF },
	[VHU_RESET_DEVICE] = { "RESET_DEVICE", vhd_handle_reset, SZ_NONE, FD_NONE, QUIESCE, VHOSTDEV_PF_RESET_DEVICE },
	[VHU_VRING_KICK] = { "VRING_KICK", vhd_handle_vring_kick, SZ_STATE, FD_NONE, 0, VHOSTDEV_PF_INBAND_NOTIFICATIONS },
	[VHU_GET_MAX_MEM_SLOTS] = { "GET_MAX_MEM_SLOTS", vhd_handle_get_max_mem_slots, SZ_NONE, FD_NONE, REPLY, VHOSTDEV_PF_CONFIGURE_MEM_SLOTS },
	[VHU_ADD_MEM_REG] = { "ADD_MEM_REG", vhd_handle_add_mem_reg, SZ_REGION, FD_ONE, QUIESCE, VHOSTDEV_PF_CONFIGURE_MEM_SLOTS },
	[VHU_REM_MEM_REG] = { "REM_MEM_REG", vhd_handle_rem_mem_reg, SZ_REGION, FD_OPTIONAL, QUIESCE, VHOSTDEV_PF_CONFIGURE_MEM_SLOTS },
	[VHU_SET_STATUS] = { "SET_STATUS", vhd_handle_set_status, SZ_U64, FD_NONE, 0, VHOSTDEV_PF_STATUS },
	[VHU_GET_STATUS] = { "GET_STATUS", vhd_handle_get_status, SZ_NONE, FD_NONE, REPLY, VHOSTDEV_PF_STATUS },
	[VHU_GET_SHARED_OBJECT] = { "GET_SHARED_OBJECT", vhd_handle_get_shared_object, SZ_OBJECT, FD_NONE, REPLY, VHOSTDEV_PF_SHARED_OBJECT },
	[VHU_SET_DEVICE_STATE_FD] = { "SET_DEVICE_STATE_FD", vhd_handle_set_device_state_fd, SZ_DEVICE_STATE, FD_ONE, REPLY, VHOSTDEV_PF_DEVICE_STATE },
	[VHU_CHECK_DEVICE_STATE] = { "CHECK_DEVICE_STATE", vhd_handle_check_device_state, SZ_NONE, FD_NONE, REPLY, VHOSTDEV_PF_DEVICE_STATE },
};

static const struct vhd_request_info device_specific = {
	"device-specific", vhd_handle_device_message, SZ_ANY, FD_ANY, 0, NOPF
};

static const struct vhd_request_info *request_info(uint32_t request)
{
	if (request >= 1 && request <= VHU_REQUEST_MAX)
		return &requests[request];
	return &device_specific;
}

const char *vhd_request_name(uint32_t request)
{
	return request_info(request)->name;
}

int vhd_reply(struct vhostdev *dev, const struct vhd_message *msg,
	      const void *payload, uint32_t size, const int *fds,
	      unsigned int nfds)
{
	return vhd_conn_send(dev, msg->hdr.request, payload, size, fds, nfds);
}

int vhd_reply_u64(struct vhostdev *dev, const struct vhd_message *msg,
		  uint64_t value)
{
	return vhd_reply(dev, msg, &value, sizeof(value), NULL, 0);
}

int vhd_message_take_fd(struct vhd_message *msg, unsigned int i)
{
	int fd;

	if (i >= msg->nfds)
		return -1;
	fd = msg->fds[i];
	msg->fds[i] = -1;
	return fd;
}

void vhd_message_close_fds(struct vhd_message *msg)
{
	for (unsigned int i = 0; i < msg->nfds; i++)
		if (msg->fds[i] >= 0)
			close(msg->fds[i]);
	msg->nfds = 0;
}

struct vhostdev_queue *vhd_message_queue(struct vhostdev *dev,
					 const struct vhd_message *msg,
					 uint32_t index)
{
	if (index >= dev->num_queues) {
		vhd_err(dev, "%s: queue %u out of range (device has %u)",
			vhd_request_name(msg->hdr.request), index,
			dev->num_queues);
		return NULL;
	}
	return &dev->queues[index];
}

/* The payload size a request must have, or -1 when any size will do. */
static long expected_size(const struct vhd_request_info *info,
			  const struct vhd_message *msg)
{
	switch (info->size) {
	case SZ_NONE:
		return 0;
	case SZ_U64:
		return sizeof(uint64_t);
	case SZ_STATE:
		return sizeof(struct vhu_vring_state);
	case SZ_ADDR:
		return sizeof(struct vhu_vring_addr);
	case SZ_MEM:
		if (msg->hdr.size < 8 || msg->payload.mem.count > VHU_MEM_TABLE_MAX)
			return -2;
		return 8 + (long)sizeof(struct vhu_region) * msg->payload.mem.count;
	case SZ_REGION:
		return sizeof(struct vhu_single_region);
	case SZ_CONFIG:
		if (msg->hdr.size < VHU_CONFIG_HEADER ||
		    msg->payload.config.size > VHU_CONFIG_MAX)
			return -2;
		return VHU_CONFIG_HEADER + (long)msg->payload.config.size;
	case SZ_OBJECT:
		return sizeof(struct vhu_shared_object);
	case SZ_INFLIGHT:
		return sizeof(struct vhu_inflight);
	case SZ_LOG:
		return sizeof(struct vhu_log);
	case SZ_DEVICE_STATE:
		return sizeof(struct vhu_device_state);
	case SZ_IOTLB:
		return sizeof(struct vhu_iotlb);
	case SZ_ANY:
		break;
	}
	return -1;
}

static bool fds_allowed(const struct vhd_request_info *info,
			const struct vhd_message *msg)
{
	switch (info->fds) {
	case FD_NONE:
		return msg->nfds == 0;
	case FD_ONE:
		return msg->nfds == 1;
	case FD_VRING:
		return msg->nfds == ((msg->payload.u64 & VHU_VRING_NOFD) ? 0 : 1);
	case FD_MEM:
		return msg->nfds == msg->payload.mem.count;
	case FD_OPTIONAL:
		return msg->nfds <= 1;
	case FD_ANY:
		return true;
	}
	return false;
}

/* -errno when the message is malformed or not allowed now. */
static int check_message(struct vhostdev *dev, const struct vhd_message *msg,
			 const struct vhd_request_info *info)
{
	long size;

	if ((msg->hdr.flags & VHU_VERSION_MASK) != VHU_VERSION) {
		vhd_err(dev, "%s: header version %u, expected %u", info->name,
			msg->hdr.flags & VHU_VERSION_MASK, VHU_VERSION);
		return -EPROTO;
	}
	if (msg->hdr.flags & VHU_FLAG_REPLY) {
		vhd_err(dev, "%s: reply flag set on a request", info->name);
		return -EPROTO;
	}
	if (msg->hdr.size > VHU_PAYLOAD_MAX) {
		vhd_err(dev, "%s: payload of %u bytes is larger than any request",
			info->name, msg->hdr.size);
		return -EMSGSIZE;
	}
	size = expected_size(info, msg);
	if (size == -2) {
		/* Too short to hold its own count, or a count too large. */
		vhd_err(dev, "%s: payload of %u bytes does not describe a valid table",
			info->name, msg->hdr.size);
		return -EINVAL;
	}
	if (size >= 0 && msg->hdr.size != (uint32_t)size) {
		vhd_err(dev, "%s: payload of %u bytes, expected %ld",
			info->name, msg->hdr.size, size);
		return -EINVAL;
	}
	if (msg->fds_lost || !fds_allowed(info, msg)) {
		vhd_err(dev, "%s: %u file descriptors is not what it takes",
			info->name, msg->nfds);
		return -EINVAL;
	}
	if (info->protocol_feature >= 0 &&
	    !vhd_has_protocol(dev, (unsigned)info->protocol_feature) &&
	    info->handler != vhd_handle_get_queue_num) {
		vhd_err(dev, "%s: protocol feature %d was not negotiated",
			info->name, info->protocol_feature);
		return -ENOTSUP;
	}
	if (!info->handler) {
		vhd_err(dev, "%s: not supported by this back end", info->name);
		return -ENOTSUP;
	}
	return 0;
}

static bool any_detached_running(const struct vhostdev *dev)
{
	for (unsigned int i = 0; i < dev->num_queues; i++)
		if (vhd_queue_running_detached(&dev->queues[i]))
			return true;
	return false;
}

/* 1 when workers are out of the way, 0 while waiting for them. */
static int quiesce(struct vhostdev *dev)
{
	int r;

	if (dev->quiesced || !any_detached_running(dev))
		return 1;
	if (dev->wait == VHD_WAIT_QUIESCE) {
		if (!__atomic_load_n(&dev->quiesce_done, __ATOMIC_ACQUIRE))
			return 0;
	} else {
		if (!dev->cb.quiesce) {
			vhd_err(dev, "detached queues run but no quiesce callback is set");
			/* Nothing to wait for: the application broke the
			 * contract, carry on rather than hang the front end. */
			dev->quiesced = true;
			return 1;
		}
		__atomic_store_n(&dev->quiesce_done, 0, __ATOMIC_RELAXED);
		r = VHD_CALLBACK(dev, quiesce);
		if (r == -EBUSY) {
			dev->wait = VHD_WAIT_QUIESCE;
			return 0;
		}
		if (r < 0)
			vhd_err(dev, "quiesce callback failed: %s", strerror(-r));
	}
	dev->wait = VHD_WAIT_NONE;
	dev->quiesced = true;
	return 1;
}

static void resume(struct vhostdev *dev)
{
	if (!dev->quiesced)
		return;
	dev->quiesced = false;
	VHD_CALLBACK_VOID(dev, resume);
}

/* Lets workers run again while a handler waits for them to drain. */
static void wait_drain(struct vhostdev *dev)
{
	dev->wait = VHD_WAIT_DRAIN;
	resume(dev);
}

static void finish(struct vhostdev *dev, struct vhd_message *msg)
{
	resume(dev);
	vhd_message_close_fds(msg);
	dev->pending = false;
	dev->wait = VHD_WAIT_NONE;
	if (dev->conn_fd >= 0)
		vhd_conn_watch(dev, true);
}

static void answer(struct vhostdev *dev, const struct vhd_message *msg,
		   const struct vhd_request_info *info, int r)
{
	if (r == VHD_REPLIED)
		return;
	if (msg->hdr.request == VHU_GET_CONFIG) {
		/* The spec's failure answer: a config reply of size 0. */
		struct vhu_config c = msg->payload.config;

		c.size = 0;
		vhd_reply(dev, msg, &c, VHU_CONFIG_HEADER, NULL, 0);
		return;
	}
	if (info->flags & REPLY) {
		/* Owed but not sent: the handler failed. */
		vhd_reply_u64(dev, msg, (uint64_t)(r < 0 ? -r : EIO));
		return;
	}
	if (msg->hdr.flags & VHU_FLAG_NEED_REPLY)
		vhd_reply_u64(dev, msg, (uint64_t)(r < 0 ? -r : 0));
}

int vhd_dispatch(struct vhostdev *dev)
{
	struct vhd_message *msg = &dev->reader.msg;
	const struct vhd_request_info *info = request_info(msg->hdr.request);
	int r;

	if (dev->pending_disconnect)
		return vhd_dispatch_disconnect(dev);

	if (!dev->pending) {
		r = check_message(dev, msg, info);
		if (r < 0) {
			answer(dev, msg, info, r);
			vhd_message_close_fds(msg);
			return 1;
		}
		vhd_dbg(dev, "%s (%u bytes, %u fds)", info->name,
			msg->hdr.size, msg->nfds);
		dev->pending = true;
		vhd_conn_watch(dev, false);
	}
	if (dev->wait == VHD_WAIT_DRAIN)
		dev->wait = VHD_WAIT_NONE;
	if ((info->flags & QUIESCE) && !quiesce(dev))
		return 0;
	r = info->handler(dev, msg);
	if (r == VHD_DEFER) {
		wait_drain(dev);
		return 0;
	}
	if (r < 0)
		vhd_err(dev, "%s failed: %s", info->name, strerror(-r));
	answer(dev, msg, info, r);
	finish(dev, msg);
	return 1;
}

/* The front end left (or vhostdev_disconnect() was called): drain and stop
 * every ring, then forget everything the connection set up. */
int vhd_dispatch_disconnect(struct vhostdev *dev)
{
	struct vhd_message *msg = &dev->reader.msg;

	if (!dev->pending_disconnect) {
		if (dev->pending) {
			vhd_warn(dev, "front end left while %s was pending",
				 vhd_request_name(msg->hdr.request));
			vhd_message_close_fds(msg);
		}
		dev->pending = true;
		dev->pending_disconnect = true;
		dev->wait = VHD_WAIT_NONE;
		vhd_conn_close(dev);
	}
	if (dev->wait == VHD_WAIT_DRAIN)
		dev->wait = VHD_WAIT_NONE;
	if (!quiesce(dev))
		return 0;
	if (vhd_stop_all_queues(dev) == VHD_DEFER) {
		wait_drain(dev);
		return 0;
	}
	vhd_reset_device_state(dev);
	vhd_memory_clear(dev->mem);
	vhd_inflight_release(dev);
	vhd_dirty_log_release(dev);
	vhd_state_transfer_end(dev);
	vhd_iotlb_clear(dev);
	/* Every ring is stopped and drained: nothing uses old memory. */
	vhd_retired_unmap(&dev->retired);
	vhd_backend_close(dev);
	vhd_shared_objects_clear(dev);
	dev->acked_protocol_features = 0;
	dev->owner = false;
	dev->pending_disconnect = false;
	resume(dev);
	dev->pending = false;
	dev->wait = VHD_WAIT_NONE;
	vhd_info(dev, "front end disconnected");
	VHD_CALLBACK_VOID(dev, disconnect);
	vhd_conn_listen_again(dev);
	return 1;
}
