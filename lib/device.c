/* SPDX-License-Identifier: MIT */
/* The device object: creation and release, what it offers, callbacks, and
 * process(), which serves everything that is ready on the device fd. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dispatch.h"
#include "export.h"

/* Transport features the library implements for every device. */
#define VHD_TRANSPORT_FEATURES                                                \
	((1ull << VHOSTDEV_F_VERSION_1) |                                     \
	 (1ull << VHOSTDEV_F_RING_INDIRECT_DESC) |                            \
	 (1ull << VHOSTDEV_F_RING_EVENT_IDX) |                                \
	 (1ull << VHOSTDEV_F_RING_PACKED) | (1ull << VHOSTDEV_F_IN_ORDER) |   \
	 (1ull << VHOSTDEV_F_NOTIFY_ON_EMPTY) |                               \
	 (1ull << VHOSTDEV_F_LOG_ALL) |                                       \
	 (1ull << VHOSTDEV_F_PROTOCOL_FEATURES))

#define VHD_PROTOCOL_FEATURES                                                 \
	((1ull << VHOSTDEV_PF_MQ) | (1ull << VHOSTDEV_PF_REPLY_ACK) |         \
	 (1ull << VHOSTDEV_PF_BACKEND_REQ) |                                  \
	 (1ull << VHOSTDEV_PF_RESET_DEVICE) |                                 \
	 (1ull << VHOSTDEV_PF_INBAND_NOTIFICATIONS) |                         \
	 (1ull << VHOSTDEV_PF_CONFIGURE_MEM_SLOTS) |                          \
	 (1ull << VHOSTDEV_PF_STATUS) | (1ull << VHOSTDEV_PF_SHARED_OBJECT) | \
	 (1ull << VHOSTDEV_PF_INFLIGHT_SHMFD) |                               \
	 (1ull << VHOSTDEV_PF_LOG_SHMFD) |                                    \
	 (1ull << VHOSTDEV_PF_DEVICE_STATE))

/* Largest ring the split and packed layouts allow. */
#define VHD_QUEUE_SIZE_MAX 32768

static void free_device(struct vhostdev *dev)
{
	if (dev->queues)
		for (unsigned int i = 0; i < dev->num_queues; i++)
			vhd_queue_fini(&dev->queues[i]);
	free(dev->queues);
	vhd_conn_close(dev);
	if (dev->listen_fd >= 0)
		close(dev->listen_fd);
	if (dev->socket_path) {
		unlink(dev->socket_path);
		free(dev->socket_path);
	}
	vhd_backend_close(dev);
	vhd_shared_objects_clear(dev);
	if (dev->mem) {
		vhd_memory_clear(dev->mem);
		free(dev->mem);
	}
	vhd_retired_free(&dev->retired);
	vhd_state_transfer_end(dev);
	vhd_iotlb_clear(dev);
	vhd_inflight_release(dev);
	vhd_dirty_log_free(&dev->log);
	if (dev->event_fd >= 0)
		close(dev->event_fd);
	if (dev->epfd >= 0)
		close(dev->epfd);
	pthread_mutex_destroy(&dev->backend_lock);
	free(dev->config);
	free(dev);
}

static int watch(struct vhostdev *dev, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(dev->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

VHD_EXPORT int vhostdev_new(uint32_t device_id, unsigned int num_queues,
			    struct vhostdev **out)
{
	struct vhostdev *dev;
	int r;

	if (!out || num_queues == 0 || num_queues > 256)
		return -EINVAL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->refcount = 1;
	dev->device_id = device_id;
	dev->log_priority = vhd_log_priority_from_env();
	dev->features = VHD_TRANSPORT_FEATURES;
	dev->protocol_features = VHD_PROTOCOL_FEATURES;
	dev->max_queue_size = VHD_QUEUE_SIZE_MAX;
	dev->socket_mode = 0600;
	dev->listen_fd = dev->conn_fd = dev->backend_fd = -1;
	dev->event_fd = -1;
	dev->log.notify_fd = -1;
	dev->state.fd = -1;
	pthread_mutex_init(&dev->backend_lock, NULL);

	dev->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (dev->epfd < 0)
		goto fail_errno;
	dev->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (dev->event_fd < 0)
		goto fail_errno;
	r = watch(dev, dev->event_fd, VHD_TAG_EVENT);
	if (r < 0)
		goto fail;
	dev->mem = malloc(sizeof(*dev->mem));
	if (!dev->mem) {
		r = -ENOMEM;
		goto fail;
	}
	vhd_memory_init(dev->mem);
	dev->queues = calloc(num_queues, sizeof(*dev->queues));
	if (!dev->queues) {
		r = -ENOMEM;
		goto fail;
	}
	dev->num_queues = num_queues;
	for (unsigned int i = 0; i < num_queues; i++) {
		r = vhd_queue_init(dev, &dev->queues[i], i);
		if (r < 0)
			goto fail;
		r = watch(dev, dev->queues[i].epfd, VHD_TAG_QUEUE + i);
		if (r < 0)
			goto fail;
	}
	*out = dev;
	return 0;

fail_errno:
	r = -errno;
fail:
	free_device(dev);
	return r;
}

VHD_EXPORT struct vhostdev *vhostdev_ref(struct vhostdev *dev)
{
	if (dev)
		dev->refcount++;
	return dev;
}

VHD_EXPORT struct vhostdev *vhostdev_unref(struct vhostdev *dev)
{
	if (!dev || --dev->refcount > 0)
		return NULL;
	/* Last reference: the application has stopped its workers, so rings
	 * are abandoned, not drained. */
	for (unsigned int i = 0; i < dev->num_queues; i++)
		vhd_queue_reset(&dev->queues[i]);
	free_device(dev);
	return NULL;
}

VHD_EXPORT void vhostdev_set_userdata(struct vhostdev *dev, void *userdata)
{
	dev->userdata = userdata;
}

VHD_EXPORT void *vhostdev_get_userdata(struct vhostdev *dev)
{
	return dev->userdata;
}

VHD_EXPORT uint32_t vhostdev_get_device_id(struct vhostdev *dev)
{
	return dev->device_id;
}

VHD_EXPORT unsigned int vhostdev_get_num_queues(struct vhostdev *dev)
{
	return dev->num_queues;
}

VHD_EXPORT uint8_t vhostdev_get_status(struct vhostdev *dev)
{
	uint8_t status = dev->status;

	if (__atomic_load_n(&dev->needs_reset, __ATOMIC_ACQUIRE))
		status |= VIRTIO_STATUS_NEEDS_RESET;
	return status;
}

/* ---- what is offered ---------------------------------------------------- */

VHD_EXPORT int vhostdev_set_features(struct vhostdev *dev, uint64_t features)
{
	if (!(features & (1ull << VHOSTDEV_F_VERSION_1)))
		return -EINVAL;
	if (dev->conn_fd >= 0)
		return -EBUSY;
	dev->features = features | (1ull << VHOSTDEV_F_PROTOCOL_FEATURES);
	return 0;
}

VHD_EXPORT uint64_t vhostdev_get_features(struct vhostdev *dev)
{
	return dev->features;
}

VHD_EXPORT uint64_t vhostdev_get_acked_features(struct vhostdev *dev)
{
	return dev->acked_features;
}

VHD_EXPORT int vhostdev_set_protocol_features(struct vhostdev *dev,
					      uint64_t features)
{
	uint64_t known = VHD_PROTOCOL_FEATURES | (1ull << VHOSTDEV_PF_CONFIG);

	if (features & ~known)
		return -ENOTSUP;
	if (dev->conn_fd >= 0)
		return -EBUSY;
	dev->protocol_features = features;
	return 0;
}

VHD_EXPORT uint64_t vhostdev_get_protocol_features(struct vhostdev *dev)
{
	return dev->protocol_features;
}

VHD_EXPORT uint64_t vhostdev_get_acked_protocol_features(struct vhostdev *dev)
{
	return dev->acked_protocol_features;
}

VHD_EXPORT int vhostdev_set_max_queue_size(struct vhostdev *dev,
					   unsigned int size)
{
	if (size == 0 || size > VHD_QUEUE_SIZE_MAX)
		return -EINVAL;
	dev->max_queue_size = size;
	return 0;
}

static int store_config(struct vhostdev *dev, const void *config, size_t size)
{
	uint8_t *copy;

	if (size > VHU_CONFIG_MAX)
		return -EINVAL;
	copy = malloc(size ? size : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, config, size);
	free(dev->config);
	dev->config = copy;
	dev->config_size = size;
	return 0;
}

VHD_EXPORT int vhostdev_set_config(struct vhostdev *dev, const void *config,
				   size_t size)
{
	int r;

	if (!config && size)
		return -EINVAL;
	r = store_config(dev, config, size);
	if (r == 0)
		dev->protocol_features |= 1ull << VHOSTDEV_PF_CONFIG;
	return r;
}

VHD_EXPORT int vhostdev_notify_config_change(struct vhostdev *dev,
					     const void *config, size_t size)
{
	int r;

	if (config) {
		r = store_config(dev, config, size);
		if (r < 0)
			return r;
	}
	if (!vhd_has_protocol(dev, VHOSTDEV_PF_CONFIG) || dev->backend_fd < 0)
		return -ENOTCONN;
	return vhd_backend_send(dev, VHU_BACKEND_CONFIG_CHANGE_MSG, NULL, 0,
				false, NULL);
}

VHD_EXPORT int vhostdev_set_needs_reset(struct vhostdev *dev)
{
	__atomic_store_n(&dev->needs_reset, 1, __ATOMIC_RELEASE);
	if (dev->backend_fd < 0)
		return 0;
	return vhd_backend_send(dev, VHU_BACKEND_CONFIG_CHANGE_MSG, NULL, 0,
				false, NULL);
}

/* ---- callbacks ---------------------------------------------------------- */

#define SETTER(name, type, field)                                             \
	VHD_EXPORT int vhostdev_set_##name##_fn(struct vhostdev *dev, type fn) \
	{                                                                     \
		if (!dev)                                                     \
			return -EINVAL;                                       \
		dev->cb.field = fn;                                           \
		return 0;                                                     \
	}

SETTER(features, vhostdev_features_fn, features)
SETTER(state_save, vhostdev_state_save_fn, state_save)
SETTER(state_load, vhostdev_state_load_fn, state_load)
SETTER(config_write, vhostdev_config_write_fn, config_write)
SETTER(queue_start, vhostdev_queue_fn, queue_start)
SETTER(queue_stop, vhostdev_queue_fn, queue_stop)
SETTER(queue_kick, vhostdev_queue_fn, queue_kick)
SETTER(quiesce, vhostdev_quiesce_fn, quiesce)
SETTER(resume, vhostdev_device_fn, resume)
SETTER(reset, vhostdev_device_fn, reset)
SETTER(connect, vhostdev_device_fn, connect)
SETTER(disconnect, vhostdev_device_fn, disconnect)
SETTER(message, vhostdev_message_fn, message)

VHD_EXPORT int vhostdev_set_config_read_fn(struct vhostdev *dev,
					   vhostdev_config_read_fn fn)
{
	if (!dev)
		return -EINVAL;
	dev->cb.config_read = fn;
	if (fn)
		dev->protocol_features |= 1ull << VHOSTDEV_PF_CONFIG;
	return 0;
}

VHD_EXPORT int vhostdev_quiesce_done(struct vhostdev *dev)
{
	if (!dev)
		return -EINVAL;
	__atomic_store_n(&dev->quiesce_done, 1, __ATOMIC_RELEASE);
	vhd_device_wake(dev);
	return 0;
}

/* ---- the event loop ----------------------------------------------------- */

void vhd_device_wake(struct vhostdev *dev)
{
	eventfd_write(dev->event_fd, 1);
}

VHD_EXPORT int vhostdev_get_fd(struct vhostdev *dev)
{
	return dev->epfd;
}

/* Messages handled per process() call, so kicks are not starved by a
 * front end that floods the socket. */
#define VHD_MESSAGES_PER_CALL 64

static int serve_connection(struct vhostdev *dev)
{
	int progress = 0;

	for (int n = 0; n < VHD_MESSAGES_PER_CALL; n++) {
		int r;

		if (dev->conn_fd < 0 || dev->pending)
			break;
		r = vhd_conn_read(dev);
		if (r == 0)
			break;
		progress = 1;
		if (r < 0) {
			vhd_dispatch_disconnect(dev);
			break;
		}
		vhd_dispatch(dev);
	}
	return progress;
}

static int handle_event(struct vhostdev *dev)
{
	eventfd_t value;

	eventfd_read(dev->event_fd, &value);
	if (__atomic_load_n(&dev->needs_reset, __ATOMIC_ACQUIRE) &&
	    !(dev->status & VIRTIO_STATUS_NEEDS_RESET)) {
		dev->status |= VIRTIO_STATUS_NEEDS_RESET;
		if (dev->backend_fd >= 0)
			vhd_backend_send(dev, VHU_BACKEND_CONFIG_CHANGE_MSG,
					 NULL, 0, false, NULL);
	}
	if (dev->pending)
		vhd_dispatch(dev);
	vhd_memory_reap(dev);
	return 1;
}

VHD_EXPORT int vhostdev_process(struct vhostdev *dev)
{
	struct epoll_event events[16];
	int progress = 0, n;

	if (!dev)
		return -EINVAL;
	if (dev->in_callback)
		return -EBUSY;
	n = epoll_wait(dev->epfd, events, 16, 0);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		uint64_t tag = events[i].data.u64;

		switch (tag) {
		case VHD_TAG_LISTEN:
			progress |= vhd_conn_accept(dev) > 0;
			break;
		case VHD_TAG_CONN:
			if (dev->pending && (events[i].events & (EPOLLHUP | EPOLLERR))) {
				/* Not reading while a message waits, but the
				 * front end is gone: stop waiting for it. */
				vhd_dispatch_disconnect(dev);
				progress = 1;
			} else {
				progress |= serve_connection(dev);
			}
			break;
		case VHD_TAG_EVENT:
			progress |= handle_event(dev);
			break;
		case VHD_TAG_STATE:
			progress |= vhd_state_transfer_step(dev) > 0;
			break;
		default:
			if (tag - VHD_TAG_QUEUE < dev->num_queues)
				progress |= vhostdev_queue_process(
					&dev->queues[tag - VHD_TAG_QUEUE]) > 0;
			break;
		}
	}
	return progress;
}
