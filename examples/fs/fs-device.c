/* SPDX-License-Identifier: MIT */
/*
 * vhostdev-fs's virtio side: the device object, one worker thread per
 * queue (the library's detached-queue mode), and the quiesce handshake
 * that keeps workers off the rings while the front end changes them.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "fs-device.h"

/* Requests served in one pass before the worker looks at its stop fd and
 * lets a waiting quiesce in. */
#define FS_BATCH 64

struct virtio_fs_config {
	char tag[FS_TAG_SIZE];
	uint32_t num_request_queues; /* little endian; x86 hosts only */
} __attribute__((packed));

static void serve_queue(struct fs_worker *w)
{
	unsigned int done = 0;
	struct vhostdev_req *req;
	int r;

	while (done < FS_BATCH && vhostdev_queue_is_ready(w->q)) {
		r = vhostdev_queue_pop(w->q, &req);
		if (r == 0)
			break;
		if (r < 0)
			continue; /* the library failed that chain */
		/* Each reply is signalled at once (EVENT_IDX lets the guest
		 * say when it wants to hear): a reader waiting for the first
		 * of several readahead requests must not wait for all. */
		vhostdev_req_complete(req, fs_serve(&w->fsd->fs, &w->scratch,
						    req));
		__atomic_add_fetch(&w->served, 1, __ATOMIC_RELAXED);
		done++;
	}
	/* A full batch may have left requests behind with no kick to
	 * come: the worker comes back for them after letting a waiting
	 * quiesce in. */
	w->more = done == FS_BATCH;
}

static void on_kick(struct vhostdev *dev, struct vhostdev_queue *q,
		    void *userdata)
{
	struct fs_device *fsd = userdata;

	serve_queue(&fsd->workers[vhostdev_queue_get_index(q)]);
}

static void *worker_main(void *arg)
{
	struct fs_worker *w = arg;
	struct pollfd pfd[2] = {
		{ .fd = vhostdev_queue_get_fd(w->q), .events = POLLIN },
		{ .fd = w->fsd->stop_fd, .events = POLLIN },
	};

	for (;;) {
		bool more = w->more;

		if (poll(pfd, 2, more ? 0 : -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		if (!pfd[0].revents && !more)
			continue;
		pthread_mutex_lock(&w->lock);
		w->more = false;
		if (pfd[0].revents)
			vhostdev_queue_process(w->q);
		if (more && !w->more)
			serve_queue(w);
		pthread_mutex_unlock(&w->lock);
	}
	return NULL;
}

/* Control thread: make every worker stop touching its queue. Each one
 * finishes the request it serves and then waits on its lock. */
static int on_quiesce(struct vhostdev *dev, void *userdata)
{
	struct fs_device *fsd = userdata;

	for (unsigned int i = 0; i < fsd->num_queues; i++)
		pthread_mutex_lock(&fsd->workers[i].lock);
	return 0;
}

static void on_resume(struct vhostdev *dev, void *userdata)
{
	struct fs_device *fsd = userdata;

	for (unsigned int i = fsd->num_queues; i-- > 0;)
		pthread_mutex_unlock(&fsd->workers[i].lock);
}

/* The front end left or reset the device: the next guest mounts afresh. */
static void on_reset(struct vhostdev *dev, void *userdata)
{
	struct fs_device *fsd = userdata;

	fs_reset(&fsd->fs);
	__atomic_store_n(&fsd->fs.proto_minor, 0, __ATOMIC_RELEASE);
}

/* The front end left: say how the work was spread over the queues. */
static void on_disconnect(struct vhostdev *dev, void *userdata)
{
	struct fs_device *fsd = userdata;

	for (unsigned int i = 0; i < fsd->num_queues; i++) {
		uint64_t n = __atomic_exchange_n(&fsd->workers[i].served, 0,
						 __ATOMIC_RELAXED);

		if (n)
			daemon_log(fsd->daemon, VHOSTDEV_LOG_INFO,
				   "queue %u served %llu requests", i,
				   (unsigned long long)n);
	}
	on_reset(dev, userdata);
}

int fs_device_init(struct fs_device *fsd, const char *program,
		   const char *tag)
{
	struct virtio_fs_config config = {
		.num_request_queues = FS_MAX_REQUEST_QUEUES,
	};
	int r;

	memset(fsd, 0, sizeof(*fsd));
	fsd->stop_fd = -1;
	fsd->num_queues = 1 + FS_MAX_REQUEST_QUEUES;
	/* The tag fills the field; it has no NUL when 36 bytes long. */
	memcpy(config.tag, tag, strnlen(tag, sizeof(config.tag)));
	fsd->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fsd->stop_fd < 0) {
		r = -errno;
		fprintf(stderr, "%s: eventfd: %s\n", program, strerror(-r));
		return r;
	}
	r = vhostdev_new(FS_DEVICE_ID, fsd->num_queues, &fsd->dev);
	if (r < 0) {
		fprintf(stderr, "%s: vhostdev_new: %s\n", program,
			strerror(-r));
		return r;
	}
	vhostdev_set_userdata(fsd->dev, fsd);
	/* Many queues: the front end asks how many (GET_QUEUE_NUM). */
	vhostdev_set_protocol_features(fsd->dev,
		vhostdev_get_protocol_features(fsd->dev) |
		(1ull << VHOSTDEV_PF_MQ));
	r = vhostdev_set_config(fsd->dev, &config, sizeof(config));
	if (r < 0) {
		fprintf(stderr, "%s: config: %s\n", program, strerror(-r));
		return r;
	}
	vhostdev_set_queue_kick_fn(fsd->dev, on_kick);
	vhostdev_set_quiesce_fn(fsd->dev, on_quiesce);
	vhostdev_set_resume_fn(fsd->dev, on_resume);
	vhostdev_set_reset_fn(fsd->dev, on_reset);
	vhostdev_set_disconnect_fn(fsd->dev, on_disconnect);
	for (unsigned int i = 0; i < fsd->num_queues; i++) {
		struct fs_worker *w = &fsd->workers[i];

		w->fsd = fsd;
		w->q = vhostdev_get_queue(fsd->dev, i);
		pthread_mutex_init(&w->lock, NULL);
		r = fs_scratch_init(&w->scratch);
		if (r == 0)
			r = vhostdev_queue_set_detached(w->q, 1);
		if (r < 0) {
			fprintf(stderr, "%s: queue %u: %s\n", program, i,
				strerror(-r));
			return r;
		}
	}
	return 0;
}

int fs_device_start(struct fs_device *fsd, struct daemon *d)
{
	int r;

	fsd->daemon = d;
	for (unsigned int i = 0; i < fsd->num_queues; i++) {
		struct fs_worker *w = &fsd->workers[i];

		r = pthread_create(&w->thread, NULL, worker_main, w);
		if (r) {
			daemon_log(d, VHOSTDEV_LOG_ERR,
				   "starting worker %u: %s", i, strerror(r));
			return -r;
		}
		w->started = true;
	}
	return 0;
}

void fs_device_stop(struct fs_device *fsd)
{
	if (fsd->stop_fd >= 0)
		eventfd_write(fsd->stop_fd, 1);
	for (unsigned int i = 0; i < fsd->num_queues; i++) {
		struct fs_worker *w = &fsd->workers[i];

		if (w->started)
			pthread_join(w->thread, NULL);
		w->started = false;
	}
}

void fs_device_fini(struct fs_device *fsd)
{
	fs_device_stop(fsd);
	fsd->dev = vhostdev_unref(fsd->dev);
	for (unsigned int i = 0; i < fsd->num_queues; i++) {
		fs_scratch_fini(&fsd->workers[i].scratch);
		pthread_mutex_destroy(&fsd->workers[i].lock);
	}
	if (fsd->stop_fd >= 0)
		close(fsd->stop_fd);
	fsd->stop_fd = -1;
	fs_fini(&fsd->fs);
}
