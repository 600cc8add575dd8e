/* SPDX-License-Identifier: MIT */
/*
 * vhostdev-fs's virtio side: the device object, one worker thread per
 * queue (the library's detached-queue mode), the optional thread pool the
 * request queues' workers hand their requests to, and the quiesce
 * handshake that keeps workers off the rings while the front end changes
 * them.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Slots per request queue when a pool runs: enough to keep every pool
 * thread busy from one queue, few enough to bound the memory. */
static unsigned int slots_per_queue(unsigned int pool_size)
{
	unsigned int n = 2 * pool_size + 2;

	return n > 64 ? 64 : n;
}

static void pool_submit(struct fs_pool *p, struct fs_slot *slot)
{
	slot->next = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->tail)
		p->tail->next = slot;
	else
		p->head = slot;
	p->tail = slot;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* Pool thread: runs slots and gives each back to its queue's worker. */
static void *pool_main(void *arg)
{
	struct fs_device *fsd = arg;
	struct fs_pool *p = &fsd->pool;

	for (;;) {
		struct fs_slot *slot;
		struct fs_worker *w;
		bool first;

		pthread_mutex_lock(&p->lock);
		while (!p->head && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		slot = p->head;
		if (slot) {
			p->head = slot->next;
			if (!p->head)
				p->tail = NULL;
		}
		pthread_mutex_unlock(&p->lock);
		if (!slot)
			return NULL;
		fs_request_run(&fsd->fs, &slot->r);
		w = slot->w;
		pthread_mutex_lock(&w->done_lock);
		first = !w->done;
		slot->next = w->done;
		w->done = slot;
		pthread_mutex_unlock(&w->done_lock);
		/* One wake-up for however many finish before the worker
		 * looks. */
		if (first)
			eventfd_write(w->wake_fd, 1);
	}
}

/* Worker: pushes what the pool finished, with one notification. Returns
 * how many. */
static unsigned int reap(struct fs_worker *w)
{
	struct fs_slot *slot, *next;
	unsigned int n = 0;

	pthread_mutex_lock(&w->done_lock);
	slot = w->done;
	w->done = NULL;
	pthread_mutex_unlock(&w->done_lock);
	for (; slot; slot = next) {
		next = slot->next;
		vhostdev_req_push(slot->req, fs_request_give(&w->fsd->fs,
							     &slot->r,
							     slot->req));
		slot->req = NULL;
		slot->next = w->free;
		w->free = slot;
		w->inflight--;
		n++;
	}
	if (!n)
		return 0;
	vhostdev_queue_notify(w->q);
	/* Requests left in the ring for want of a slot have no kick to
	 * come. */
	if (w->starved) {
		w->starved = false;
		w->more = true;
	}
	return n;
}

/* Worker: one request popped from a queue with a pool. Returns whether
 * its reply was pushed here. */
static bool hand_off(struct fs_worker *w, struct vhostdev_req *req)
{
	struct fs_slot *slot = w->free;

	w->free = slot->next;
	slot->req = req;
	if (fs_request_take(&w->fsd->fs, &slot->r, req)) {
		w->inflight++;
		pool_submit(&w->fsd->pool, slot);
		return false;
	}
	vhostdev_req_push(req, fs_request_give(&w->fsd->fs, &slot->r, req));
	slot->req = NULL;
	slot->next = w->free;
	w->free = slot;
	return true;
}

static void serve_queue(struct fs_worker *w)
{
	unsigned int done = 0, pushed = 0;
	struct vhostdev_req *req;
	int r;

	while (done < FS_BATCH && vhostdev_queue_is_ready(w->q)) {
		if (w->nslots && !w->free) {
			/* Every slot is in the pool: the rest waits in the
			 * ring until one comes back. */
			w->starved = true;
			break;
		}
		r = vhostdev_queue_pop(w->q, &req);
		if (r == 0)
			break;
		if (r < 0)
			continue; /* the library failed that chain */
		__atomic_add_fetch(&w->served, 1, __ATOMIC_RELAXED);
		done++;
		if (w->nslots) {
			pushed += hand_off(w, req);
			continue;
		}
		/* Each reply is signalled at once (EVENT_IDX lets the guest
		 * say when it wants to hear): a reader waiting for the first
		 * of several readahead requests must not wait for all. */
		vhostdev_req_complete(req, fs_serve(&w->fsd->fs,
						    &w->inline_req, req));
	}
	if (pushed)
		vhostdev_queue_notify(w->q);
	/* A full batch may have left requests behind with no kick to
	 * come: the worker comes back for them after letting a waiting
	 * quiesce in. */
	w->more = done == FS_BATCH;
}

/* Polling stops for a quiesce, for the end, or when the ring stops. */
static bool must_stop_polling(struct fs_worker *w)
{
	return __atomic_load_n(&w->fsd->quiesce_wanted, __ATOMIC_ACQUIRE) ||
	       __atomic_load_n(&w->fsd->stopping, __ATOMIC_ACQUIRE) ||
	       !vhostdev_queue_is_ready(w->q);
}

/* One polling pass (spin.h): the pool's replies, then the ring. */
static enum spin_pass queue_pass(void *ctx)
{
	struct fs_worker *w = ctx;
	uint64_t served = __atomic_load_n(&w->served, __ATOMIC_RELAXED);
	bool work;

	if (must_stop_polling(w))
		return SPIN_STOP;
	work = w->inflight && reap(w) > 0;
	serve_queue(w);
	work |= __atomic_load_n(&w->served, __ATOMIC_RELAXED) != served;
	return work ? SPIN_WORK : SPIN_IDLE;
}

/* Request queue, after a wake-up: the guest's next request often comes
 * within microseconds of its last reply. Keep serving with kicks off
 * until the ring stayed empty for the window, which saves the guest a
 * kick and us a wake-up per request. */
static void poll_after_wake(struct fs_worker *w)
{
	spin_window_adapt(&w->spin, w->slept_ns);
	if (!w->spin.spin_ns || must_stop_polling(w))
		return;
	vhostdev_queue_set_notification(w->q, 0);
	spin_run(&w->spin, queue_pass, w);
	vhostdev_queue_set_notification(w->q, 1);
	/* What came while kicks were off sent none: look once more, now or
	 * (quiesce wanted) after the resume. */
	if (__atomic_load_n(&w->fsd->quiesce_wanted, __ATOMIC_ACQUIRE))
		w->more = true;
	else
		serve_queue(w);
}

static void on_kick(struct vhostdev *dev, struct vhostdev_queue *q,
		    void *userdata)
{
	struct fs_device *fsd = userdata;

	serve_queue(&fsd->workers[vhostdev_queue_get_index(q)]);
}

static void clear_eventfd(int fd)
{
	eventfd_t value;

	eventfd_read(fd, &value);
}

/* Worker, holding nothing: sleeps through a quiesce. */
static void wait_resume(struct fs_device *fsd)
{
	pthread_mutex_lock(&fsd->qlock);
	while (fsd->quiesce_wanted && !fsd->stopping)
		pthread_cond_wait(&fsd->resumed, &fsd->qlock);
	pthread_mutex_unlock(&fsd->qlock);
}

/* Worker, holding its lock: waits for every request in the pool and
 * pushes it. */
static void drain(struct fs_worker *w)
{
	struct pollfd pfd = { .fd = w->wake_fd, .events = POLLIN };

	while (w->inflight) {
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			break;
		clear_eventfd(w->wake_fd);
		reap(w);
	}
}

/* The worker holds its lock while it serves and while the pool has work
 * of its queue: a quiesce taking the lock then knows the worker pushed
 * everything and pops nothing more. */
static void *worker_main(void *arg)
{
	struct fs_worker *w = arg;
	struct fs_device *fsd = w->fsd;
	struct pollfd pfd[3] = {
		{ .fd = w->wake_fd, .events = POLLIN },
		{ .fd = fsd->stop_fd, .events = POLLIN },
		{ .fd = vhostdev_queue_get_fd(w->q), .events = POLLIN },
	};

	pthread_mutex_lock(&w->lock);
	for (;;) {
		bool quiescing = __atomic_load_n(&fsd->quiesce_wanted,
						 __ATOMIC_ACQUIRE);
		bool more = w->more && !quiescing;
		uint64_t start;
		int r;

		if (!w->inflight) {
			pthread_mutex_unlock(&w->lock);
			if (quiescing) {
				wait_resume(fsd);
				/* Requests the quiesce left in the ring
				 * (w->more) have no kick to come. */
				more = w->more;
			}
			start = spin_now_ns();
			r = poll(pfd, 3, more ? 0 : -1);
			w->slept_ns = spin_now_ns() - start;
			pthread_mutex_lock(&w->lock);
		} else {
			/* While a quiesce waits, only the pool's replies. */
			start = spin_now_ns();
			r = poll(pfd, quiescing ? 2 : 3, more ? 0 : -1);
			w->slept_ns = spin_now_ns() - start;
			if (quiescing)
				pfd[2].revents = 0;
		}
		if (r < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		if (pfd[0].revents) {
			clear_eventfd(w->wake_fd);
			reap(w);
		}
		if (__atomic_load_n(&fsd->quiesce_wanted, __ATOMIC_ACQUIRE))
			continue;
		more = w->more;
		w->more = false;
		if (pfd[2].revents)
			vhostdev_queue_process(w->q);
		if (more && !w->more)
			serve_queue(w);
		if (w->spin.max_ns && (pfd[2].revents || more))
			poll_after_wake(w);
	}
	drain(w);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Control thread: make every worker stop touching its queue. Each one
 * pushes what it has in the pool, then lets go of its lock and waits for
 * the resume. */
static int on_quiesce(struct vhostdev *dev, void *userdata)
{
	struct fs_device *fsd = userdata;

	pthread_mutex_lock(&fsd->qlock);
	__atomic_store_n(&fsd->quiesce_wanted, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&fsd->qlock);
	for (unsigned int i = 0; i < fsd->num_queues; i++) {
		struct fs_worker *w = &fsd->workers[i];

		if (w->started)
			eventfd_write(w->wake_fd, 1);
		pthread_mutex_lock(&w->lock);
	}
	return 0;
}

static void on_resume(struct vhostdev *dev, void *userdata)
{
	struct fs_device *fsd = userdata;

	pthread_mutex_lock(&fsd->qlock);
	__atomic_store_n(&fsd->quiesce_wanted, false, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&fsd->resumed);
	pthread_mutex_unlock(&fsd->qlock);
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

void fs_device_log_counts(struct fs_device *fsd)
{
	char buf[1024];

	fs_format_counts(&fsd->fs, buf, sizeof(buf));
	daemon_log(fsd->daemon, VHOSTDEV_LOG_INFO, "requests: %s", buf);
}

/* The front end left: say how the work was spread over the queues. */
static void on_disconnect(struct vhostdev *dev, void *userdata)
{
	struct fs_device *fsd = userdata;

	fs_device_log_counts(fsd);
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
	pthread_mutex_init(&fsd->qlock, NULL);
	pthread_cond_init(&fsd->resumed, NULL);
	pthread_mutex_init(&fsd->pool.lock, NULL);
	pthread_cond_init(&fsd->pool.cond, NULL);
	for (unsigned int i = 0; i < 1 + FS_MAX_REQUEST_QUEUES; i++)
		fsd->workers[i].wake_fd = -1;
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
		pthread_mutex_init(&w->done_lock, NULL);
		w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		r = w->wake_fd < 0 ? -errno : 0;
		if (r == 0)
			r = fs_scratch_init(&w->inline_req.s);
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

/* The request queues' slots, before any thread runs. */
static int alloc_slots(struct fs_device *fsd, unsigned int pool_size)
{
	unsigned int n = slots_per_queue(pool_size);

	for (unsigned int i = 1; i < fsd->num_queues; i++) {
		struct fs_worker *w = &fsd->workers[i];

		w->slots = calloc(n, sizeof(*w->slots));
		if (!w->slots)
			return -ENOMEM;
		for (unsigned int j = 0; j < n; j++) {
			struct fs_slot *slot = &w->slots[j];
			int r = fs_scratch_init(&slot->r.s);

			if (r < 0)
				return r;
			w->nslots = j + 1;
			slot->w = w;
			slot->next = w->free;
			w->free = slot;
		}
	}
	return 0;
}

int fs_device_start(struct fs_device *fsd, struct daemon *d,
		    unsigned int pool_size, unsigned int poll_us)
{
	char name[16];
	int r;

	fsd->daemon = d;
	if (pool_size > FS_MAX_POOL_THREADS)
		return -EINVAL;
	if (pool_size) {
		r = alloc_slots(fsd, pool_size);
		if (r < 0) {
			daemon_log(d, VHOSTDEV_LOG_ERR, "thread pool: %s",
				   strerror(-r));
			return r;
		}
	}
	fsd->pool.size = pool_size;
	for (unsigned int i = 0; i < pool_size; i++) {
		r = pthread_create(&fsd->pool.threads[i], NULL, pool_main,
				   fsd);
		if (r) {
			daemon_log(d, VHOSTDEV_LOG_ERR,
				   "starting pool thread %u: %s", i,
				   strerror(r));
			return -r;
		}
		fsd->pool.started = i + 1;
		/* Named, so that ps -L (and the tests) can tell them. */
		pthread_setname_np(fsd->pool.threads[i], "fs-pool");
	}
	for (unsigned int i = 0; i < fsd->num_queues; i++) {
		struct fs_worker *w = &fsd->workers[i];

		/* FORGETs wait for nothing: the high-priority queue's worker
		 * sleeps between kicks and leaves the CPU to the rest. */
		spin_window_init(&w->spin, i ? poll_us : 0);
		r = pthread_create(&w->thread, NULL, worker_main, w);
		if (r) {
			daemon_log(d, VHOSTDEV_LOG_ERR,
				   "starting worker %u: %s", i, strerror(r));
			return -r;
		}
		w->started = true;
		snprintf(name, sizeof(name), "fs-queue%u", i & 0xffu);
		pthread_setname_np(w->thread, name);
	}
	return 0;
}

void fs_device_stop(struct fs_device *fsd)
{
	struct fs_pool *p = &fsd->pool;

	pthread_mutex_lock(&fsd->qlock);
	__atomic_store_n(&fsd->stopping, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&fsd->resumed);
	pthread_mutex_unlock(&fsd->qlock);
	if (fsd->stop_fd >= 0)
		eventfd_write(fsd->stop_fd, 1);
	/* Workers first: each waits for its requests in the pool. */
	for (unsigned int i = 0; i < fsd->num_queues; i++) {
		struct fs_worker *w = &fsd->workers[i];

		if (w->started)
			pthread_join(w->thread, NULL);
		w->started = false;
	}
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (unsigned int i = 0; i < p->started; i++)
		pthread_join(p->threads[i], NULL);
	p->started = 0;
}

void fs_device_fini(struct fs_device *fsd)
{
	fs_device_stop(fsd);
	fsd->dev = vhostdev_unref(fsd->dev);
	for (unsigned int i = 0; i < fsd->num_queues; i++) {
		struct fs_worker *w = &fsd->workers[i];

		fs_scratch_fini(&w->inline_req.s);
		for (unsigned int j = 0; j < w->nslots; j++)
			fs_scratch_fini(&w->slots[j].r.s);
		free(w->slots);
		w->slots = NULL;
		w->nslots = 0;
		pthread_mutex_destroy(&w->lock);
		pthread_mutex_destroy(&w->done_lock);
		if (w->wake_fd >= 0)
			close(w->wake_fd);
		w->wake_fd = -1;
	}
	if (fsd->stop_fd >= 0)
		close(fsd->stop_fd);
	fsd->stop_fd = -1;
	fs_fini(&fsd->fs);
}
