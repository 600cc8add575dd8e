/* SPDX-License-Identifier: MIT */
/* Device state transfer. Saving: the device's blob, behind our header,
 * is written to the front end's pipe as the pipe takes it, and the pipe
 * is closed at the end (the front end reads until EOF). Loading: the pipe
 * is read until EOF, then the header is checked and the blob handed to
 * the device. The control thread never blocks: the pipe sits in the
 * device's epoll set while the transfer runs. CHECK_DEVICE_STATE reports
 * the outcome. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "dispatch.h"
#include "device-state.h"
#include "pipe-write.h"

#define STATE_MAGIC "VHDSTATE"
#define STATE_VERSION 1

/* Little-endian on the wire, whatever the host. */
struct state_header {
	char magic[8];
	uint32_t version;
	uint32_t device_id;
	uint32_t num_queues;
	uint32_t reserved;
	uint64_t features;    /* what the source's front end acked */
	uint64_t blob_size;
} __attribute__((packed));

void vhd_state_transfer_end(struct vhostdev *dev)
{
	struct vhd_state_transfer *t = &dev->state;

	if (t->fd >= 0) {
		epoll_ctl(dev->epfd, EPOLL_CTL_DEL, t->fd, NULL);
		close(t->fd);
	}
	free(t->buf);
	memset(t, 0, sizeof(*t));
	t->fd = -1;
}

static void finish(struct vhostdev *dev, int result)
{
	struct vhd_state_transfer *t = &dev->state;

	if (t->fd >= 0) {
		epoll_ctl(dev->epfd, EPOLL_CTL_DEL, t->fd, NULL);
		close(t->fd);
		t->fd = -1;
	}
	t->result = result;
	t->finished = true;
	if (result < 0)
		vhd_err(dev, "device state %s failed: %s",
			t->direction == VHU_STATE_SAVE ? "save" : "load",
			strerror(-result));
	else
		vhd_info(dev, "device state %s: %zu bytes",
			 t->direction == VHU_STATE_SAVE ? "saved" : "loaded",
			 t->size);
}

/* The whole stream is in: check our header, give the device its blob. */
static int load(struct vhostdev *dev)
{
	struct vhd_state_transfer *t = &dev->state;
	struct state_header h;
	uint64_t blob_size, features;

	if (t->size < sizeof(h))
		return -EPROTO;
	memcpy(&h, t->buf, sizeof(h));
	blob_size = le64toh(h.blob_size);
	features = le64toh(h.features);
	if (memcmp(h.magic, STATE_MAGIC, sizeof(h.magic)) ||
	    le32toh(h.version) != STATE_VERSION ||
	    blob_size != t->size - sizeof(h)) {
		vhd_err(dev, "device state: not a libvhostdev state stream of this version");
		return -EPROTO;
	}
	if (le32toh(h.device_id) != dev->device_id ||
	    le32toh(h.num_queues) != dev->num_queues) {
		vhd_err(dev, "device state: saved by device %u with %u queues, this is device %u with %u",
			le32toh(h.device_id), le32toh(h.num_queues),
			dev->device_id, dev->num_queues);
		return -EPROTO;
	}
	if (features & ~dev->features) {
		vhd_err(dev, "device state: the source used features 0x%llx this device does not offer",
			(unsigned long long)(features & ~dev->features));
		return -EPROTO;
	}
	if (blob_size == 0)
		return 0;
	if (!dev->cb.state_load) {
		vhd_err(dev, "device state: %llu bytes of device state but no load callback",
			(unsigned long long)blob_size);
		return -ENOTSUP;
	}
	return VHD_CALLBACK(dev, state_load, t->buf + sizeof(h),
			    (size_t)blob_size);
}

static int step_save(struct vhostdev *dev)
{
	struct vhd_state_transfer *t = &dev->state;
	int progress = 0;

	while (t->done < t->size) {
		ssize_t n = vhd_write_no_sigpipe(t->fd, t->buf + t->done,
						 t->size - t->done);

		if (n < 0) {
			if (errno == EAGAIN)
				return progress;
			if (errno == EINTR)
				continue;
			finish(dev, -errno);
			return 1;
		}
		t->done += (size_t)n;
		progress = 1;
	}
	finish(dev, 0);
	return 1;
}

static int step_load(struct vhostdev *dev)
{
	struct vhd_state_transfer *t = &dev->state;
	int progress = 0;

	for (;;) {
		ssize_t n;

		if (t->size == t->cap) {
			size_t cap = t->cap ? 2 * t->cap : 65536;
			uint8_t *buf;

			if (t->cap >= VHD_STATE_MAX + sizeof(struct state_header)) {
				finish(dev, -EFBIG);
				return 1;
			}
			buf = realloc(t->buf, cap);
			if (!buf) {
				finish(dev, -ENOMEM);
				return 1;
			}
			t->buf = buf;
			t->cap = cap;
		}
		n = read(t->fd, t->buf + t->size, t->cap - t->size);
		if (n < 0) {
			if (errno == EAGAIN)
				return progress;
			if (errno == EINTR)
				continue;
			finish(dev, -errno);
			return 1;
		}
		if (n == 0) {
			finish(dev, load(dev));
			return 1;
		}
		t->size += (size_t)n;
		progress = 1;
	}
}

int vhd_state_transfer_step(struct vhostdev *dev)
{
	struct vhd_state_transfer *t = &dev->state;

	if (t->fd < 0 || t->finished)
		return 0;
	return t->direction == VHU_STATE_SAVE ? step_save(dev) :
						step_load(dev);
}

/* Header plus the device's blob, ready to stream. */
static int prepare_save(struct vhostdev *dev)
{
	struct vhd_state_transfer *t = &dev->state;
	struct state_header h = {
		.version = htole32(STATE_VERSION),
		.device_id = htole32(dev->device_id),
		.num_queues = htole32(dev->num_queues),
		.features = htole64(dev->acked_features),
	};
	void *blob = NULL;
	size_t size = 0;
	int r;

	if (dev->cb.state_save) {
		r = VHD_CALLBACK(dev, state_save, &blob, &size);
		if (r < 0) {
			free(blob);
			return r;
		}
		if (size && !blob)
			return -EINVAL;
	}
	t->buf = malloc(sizeof(h) + size);
	if (!t->buf) {
		free(blob);
		return -ENOMEM;
	}
	memcpy(h.magic, STATE_MAGIC, sizeof(h.magic));
	h.blob_size = htole64(size);
	memcpy(t->buf, &h, sizeof(h));
	if (size)
		memcpy(t->buf + sizeof(h), blob, size);
	free(blob);
	t->size = t->cap = sizeof(h) + size;
	return 0;
}

/* The reply: an error code in bits 0-7 (0: accepted), and the flag that
 * says we send no fd of our own. */
static int answer(struct vhostdev *dev, struct vhd_message *msg, int err)
{
	uint64_t code = err ? ((uint8_t)-err ? (uint8_t)-err : 0xff) : 0;

	vhd_reply_u64(dev, msg, code | VHU_STATE_NO_FD);
	return VHD_REPLIED;
}

int vhd_handle_set_device_state_fd(struct vhostdev *dev,
				   struct vhd_message *msg)
{
	const struct vhu_device_state *in = &msg->payload.device_state;
	struct vhd_state_transfer *t = &dev->state;
	struct epoll_event ev = { .data.u64 = VHD_TAG_STATE };
	int fd = vhd_message_take_fd(msg, 0), flags, r;

	vhd_state_transfer_end(dev);
	if (in->phase != 0 ||
	    (in->direction != VHU_STATE_SAVE && in->direction != VHU_STATE_LOAD)) {
		vhd_err(dev, "SET_DEVICE_STATE_FD: direction %u phase %u not supported",
			in->direction, in->phase);
		close(fd);
		return answer(dev, msg, -EINVAL);
	}
	if (vhd_rings_running(dev)) {
		vhd_err(dev, "SET_DEVICE_STATE_FD while rings run");
		close(fd);
		return answer(dev, msg, -EBUSY);
	}
	t->direction = (int)in->direction;
	r = in->direction == VHU_STATE_SAVE ? prepare_save(dev) : 0;
	flags = fcntl(fd, F_GETFL);
	if (r == 0 && (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0))
		r = -errno;
	ev.events = in->direction == VHU_STATE_SAVE ? EPOLLOUT : EPOLLIN;
	if (r == 0 && epoll_ctl(dev->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		vhd_state_transfer_end(dev);
		return answer(dev, msg, r);
	}
	t->fd = fd;
	vhd_state_transfer_step(dev);
	return answer(dev, msg, 0);
}

int vhd_handle_check_device_state(struct vhostdev *dev,
				  struct vhd_message *msg)
{
	struct vhd_state_transfer *t = &dev->state;
	int result;

	/* The front end closed its end of a load before asking: whatever
	 * is left in the pipe can be read without waiting. */
	if (t->fd >= 0 && t->direction == VHU_STATE_LOAD)
		vhd_state_transfer_step(dev);
	if (t->fd < 0 && !t->finished)
		result = -ENOENT;
	else if (!t->finished)
		result = -EBUSY;
	else
		result = t->result;
	if (result == -ENOENT)
		vhd_err(dev, "CHECK_DEVICE_STATE without a transfer");
	else if (result == -EBUSY)
		vhd_err(dev, "CHECK_DEVICE_STATE before the transfer ended");
	vhd_state_transfer_end(dev);
	vhd_reply_u64(dev, msg, result ? 1 : 0);
	return VHD_REPLIED;
}
