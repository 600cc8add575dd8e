/* SPDX-License-Identifier: MIT */
/* The back-end channel (SET_BACKEND_REQ_FD): requests we send to the front
 * end — config change, in-band interrupts, and virtio shared objects,
 * whose fds we keep so GET_SHARED_OBJECT can hand them out. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "device.h"
#include "export.h"

/* How long vhostdev_shared_object_lookup() waits for the front end. */
#define VHD_BACKEND_REPLY_MS 5000

void vhd_backend_close(struct vhostdev *dev)
{
	pthread_mutex_lock(&dev->backend_lock);
	if (dev->backend_fd >= 0)
		close(dev->backend_fd);
	dev->backend_fd = -1;
	pthread_mutex_unlock(&dev->backend_lock);
}

/* Reads the reply to request: its u64 result (0 or -errno) and the fd
 * that may come with it. */
static int read_reply(struct vhostdev *dev, uint32_t request, int *reply_fd)
{
	struct {
		struct vhu_header hdr;
		uint64_t value;
	} __attribute__((packed)) reply;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = &reply, .iov_len = sizeof(reply) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf) };
	struct pollfd pfd = { .fd = dev->backend_fd, .events = POLLIN };
	int fd = -1;
	ssize_t n;

	if (poll(&pfd, 1, VHD_BACKEND_REPLY_MS) <= 0) {
		vhd_err(dev, "front end did not answer back-end request %u",
			request);
		return -ETIMEDOUT;
	}
	n = recvmsg(dev->backend_fd, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
	if (n != (ssize_t)sizeof(reply) || reply.hdr.request != request ||
	    !(reply.hdr.flags & VHU_FLAG_REPLY) || reply.hdr.size != 8) {
		vhd_err(dev, "bad reply to back-end request %u", request);
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	if (reply.value != 0) {
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	if (reply_fd)
		*reply_fd = fd;
	else if (fd >= 0)
		close(fd);
	return 0;
}

int vhd_backend_send(struct vhostdev *dev, uint32_t request,
		     const void *payload, uint32_t size, bool need_reply,
		     int *reply_fd)
{
	struct vhu_header hdr = { .request = request, .flags = VHU_VERSION,
				  .size = size };
	struct iovec iov[2] = {
		{ .iov_base = &hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)payload, .iov_len = size },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t n;
	int r = 0;

	if (need_reply)
		hdr.flags |= VHU_FLAG_NEED_REPLY;
	pthread_mutex_lock(&dev->backend_lock);
	if (dev->backend_fd < 0) {
		r = -ENOTCONN;
		goto out;
	}
	do
		n = sendmsg(dev->backend_fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)(sizeof(hdr) + size)) {
		r = n < 0 ? -errno : -EIO;
		vhd_err(dev, "back-end request %u not sent: %s", request,
			strerror(-r));
		goto out;
	}
	if (need_reply)
		r = read_reply(dev, request, reply_fd);
out:
	pthread_mutex_unlock(&dev->backend_lock);
	return r;
}

/* ---- shared objects ----------------------------------------------------- */

static struct vhd_shared_object *find(struct vhostdev *dev,
				      const uint8_t uuid[16])
{
	for (unsigned int i = 0; i < dev->nobjects; i++)
		if (!memcmp(dev->objects[i].uuid, uuid, 16))
			return &dev->objects[i];
	return NULL;
}

int vhd_shared_object_find(struct vhostdev *dev, const uint8_t uuid[16])
{
	struct vhd_shared_object *o = find(dev, uuid);

	return o ? o->fd : -1;
}

void vhd_shared_objects_clear(struct vhostdev *dev)
{
	for (unsigned int i = 0; i < dev->nobjects; i++)
		close(dev->objects[i].fd);
	free(dev->objects);
	dev->objects = NULL;
	dev->nobjects = 0;
}

static int shared_object_ready(struct vhostdev *dev)
{
	if (!vhd_has_protocol(dev, VHOSTDEV_PF_SHARED_OBJECT))
		return -ENOTSUP;
	if (dev->backend_fd < 0)
		return -ENOTCONN;
	return 0;
}

VHD_EXPORT int vhostdev_shared_object_add(struct vhostdev *dev, int fd,
					  uint8_t uuid[16])
{
	struct vhd_shared_object *grown;
	int copy, r;

	if (!dev || fd < 0 || !uuid)
		return -EINVAL;
	r = shared_object_ready(dev);
	if (r < 0)
		return r;
	copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (copy < 0)
		return -errno;
	grown = realloc(dev->objects, (dev->nobjects + 1) * sizeof(*grown));
	if (!grown) {
		close(copy);
		return -ENOMEM;
	}
	dev->objects = grown;
	uuid_generate(uuid);
	r = vhd_backend_send(dev, VHU_BACKEND_SHARED_OBJECT_ADD, uuid, 16,
			     false, NULL);
	if (r < 0) {
		close(copy);
		return r;
	}
	memcpy(grown[dev->nobjects].uuid, uuid, 16);
	grown[dev->nobjects].fd = copy;
	dev->nobjects++;
	return 0;
}

VHD_EXPORT int vhostdev_shared_object_remove(struct vhostdev *dev,
					     const uint8_t uuid[16])
{
	struct vhd_shared_object *o;
	int r;

	if (!dev || !uuid)
		return -EINVAL;
	o = find(dev, uuid);
	if (!o)
		return -ENOENT;
	close(o->fd);
	*o = dev->objects[--dev->nobjects];
	r = shared_object_ready(dev);
	if (r < 0)
		return r;
	return vhd_backend_send(dev, VHU_BACKEND_SHARED_OBJECT_REMOVE, uuid, 16,
				false, NULL);
}

VHD_EXPORT int vhostdev_shared_object_lookup(struct vhostdev *dev,
					     const uint8_t uuid[16], int *fd)
{
	int r;

	if (!dev || !uuid || !fd)
		return -EINVAL;
	r = shared_object_ready(dev);
	if (r < 0)
		return r;
	*fd = -1;
	r = vhd_backend_send(dev, VHU_BACKEND_SHARED_OBJECT_LOOKUP, uuid, 16,
			     true, fd);
	if (r == 0 && *fd < 0)
		return -ENOENT;
	return r;
}
