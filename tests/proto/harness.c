/* SPDX-License-Identifier: MIT */
/* The device side of the protocol tests: a libvhostdev echo device served
 * from its own control thread (and, optionally, one worker thread per
 * queue), with counters the tests read and a way to run code on the
 * control thread. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "harness.h"

struct worker {
	struct tdev *td;
	unsigned int index;
	pthread_t thread;
	int wake_fd;
	bool running;
};

struct tdev {
	struct vhostdev *dev;
	struct tdev_opts opts;
	char dir[64];
	char path[128];

	pthread_t thread;
	int stop_fd;
	int call_fd;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	void (*fn)(struct tdev *td, void *arg);
	void *arg;
	bool call_done;

	/* Counters, read by the test thread with atomics. */
	unsigned int popped, completed, pop_errors, process_errors;
	unsigned int c_start, c_stop, c_kick, c_quiesce, c_resume, c_reset;
	unsigned int c_connect, c_disconnect, c_features;

	pthread_mutex_t log_lock;
	unsigned int errors;
	char last_error[256];

	/* Held requests (attached queues only: the control thread). */
	bool hold;
	struct vhostdev_req *held[T_MAX_HELD];
	unsigned int nheld;

	unsigned int msg_count;
	uint32_t msg_request;
	size_t msg_size;

	uint8_t cw_buf[VHF_CONFIG_MAX];
	uint32_t cw_offset, cw_size;
	unsigned int cw_count;

	/* Workers and the quiesce handshake. */
	struct worker workers[T_MAX_QUEUES];
	pthread_mutex_t wlock;
	pthread_cond_t wcond;
	bool quiesce_req;
	bool wstop;
	unsigned int qgen;       /* one per quiesce callback */
	unsigned int npaused;    /* workers that stepped away in qgen */
};

#define INC(x) __atomic_add_fetch(&(x), 1, __ATOMIC_RELAXED)
#define GET(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)

TCase *t_tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	/* Generous: the whole suite also runs under ThreadSanitizer on a
	 * shared two-core machine. */
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return tc;
}

/* ---- library callbacks --------------------------------------------------- */

static void log_fn(struct vhostdev *dev, int priority, const char *file,
		   int line, const char *fn, const char *format, va_list args,
		   void *userdata)
{
	struct tdev *td = userdata;
	char buf[256];

	vsnprintf(buf, sizeof(buf), format, args);
	fprintf(stderr, "[vhostdev %d] %s: %s\n", priority, fn, buf);
	if (priority > VHOSTDEV_LOG_ERR)
		return;
	pthread_mutex_lock(&td->log_lock);
	td->errors++;
	snprintf(td->last_error, sizeof(td->last_error), "%s", buf);
	pthread_mutex_unlock(&td->log_lock);
}

/* Copies what the driver wrote into what it left for the device. */
static uint32_t echo(struct vhostdev_req *req)
{
	size_t out = vhostdev_req_get_out_size(req);
	size_t in = vhostdev_req_get_in_size(req);
	size_t n = out < in ? out : in;
	uint8_t buf[4096];

	for (size_t off = 0; off < n; off += sizeof(buf)) {
		size_t chunk = n - off < sizeof(buf) ? n - off : sizeof(buf);
		size_t got = vhostdev_req_read(req, off, buf, chunk);

		vhostdev_req_write(req, off, buf, got);
	}
	return (uint32_t)n;
}

static void on_kick(struct vhostdev *dev, struct vhostdev_queue *q,
		    void *userdata)
{
	struct tdev *td = userdata;
	struct vhostdev_req *req;
	unsigned int guard = 4 * 32768;
	bool pushed = false;
	int r;

	INC(td->c_kick);
	while (guard-- && (r = vhostdev_queue_pop(q, &req)) != 0) {
		if (r < 0) {
			INC(td->pop_errors);
			continue;
		}
		INC(td->popped);
		if (__atomic_load_n(&td->hold, __ATOMIC_ACQUIRE) &&
		    td->nheld < T_MAX_HELD) {
			td->held[td->nheld++] = req;
			continue;
		}
		if (vhostdev_req_push(req, echo(req)) == 0) {
			INC(td->completed);
			pushed = true;
		}
	}
	/* One interrupt for the whole batch. */
	if (pushed)
		vhostdev_queue_notify(q);
}

static void on_start(struct vhostdev *dev, struct vhostdev_queue *q,
		     void *userdata)
{
	INC(((struct tdev *)userdata)->c_start);
}

static void on_stop(struct vhostdev *dev, struct vhostdev_queue *q,
		    void *userdata)
{
	INC(((struct tdev *)userdata)->c_stop);
}

static void on_reset(struct vhostdev *dev, void *userdata)
{
	INC(((struct tdev *)userdata)->c_reset);
}

static void on_connect(struct vhostdev *dev, void *userdata)
{
	INC(((struct tdev *)userdata)->c_connect);
}

static void on_disconnect(struct vhostdev *dev, void *userdata)
{
	struct tdev *td = userdata;

	/* Held requests die with the rings. */
	td->nheld = 0;
	INC(td->c_disconnect);
}

static int on_features(struct vhostdev *dev, uint64_t acked, void *userdata)
{
	INC(((struct tdev *)userdata)->c_features);
	return 0;
}

static int on_config_write(struct vhostdev *dev, uint32_t offset,
			   const void *buf, uint32_t size, void *userdata)
{
	struct tdev *td = userdata;

	if (size > sizeof(td->cw_buf))
		return -EINVAL;
	pthread_mutex_lock(&td->lock);
	memcpy(td->cw_buf, buf, size);
	td->cw_offset = offset;
	td->cw_size = size;
	td->cw_count++;
	pthread_mutex_unlock(&td->lock);
	return 0;
}

static int on_message(struct vhostdev *dev, uint32_t request,
		      const void *payload, size_t size, const int *fds,
		      size_t nfds, void *userdata)
{
	struct tdev *td = userdata;

	if (request != VHF_GPU_SET_SOCKET && request != 1000)
		return -ENOTSUP;
	/* The library closes the fds after the call: use them now. */
	if (nfds > 0 && write(fds[0], "ok", 2) != 2)
		return -EIO;
	pthread_mutex_lock(&td->lock);
	td->msg_count++;
	td->msg_request = request;
	td->msg_size = size;
	pthread_mutex_unlock(&td->lock);
	return 0;
}

/* Asks every worker to step away from its queue; the last one to do so
 * acknowledges. */
static int on_quiesce(struct vhostdev *dev, void *userdata)
{
	struct tdev *td = userdata;
	uint64_t one = 1;

	INC(td->c_quiesce);
	pthread_mutex_lock(&td->wlock);
	td->qgen++;
	td->quiesce_req = true;
	td->npaused = 0;
	/* Workers still parked from the last quiesce count again. */
	pthread_cond_broadcast(&td->wcond);
	pthread_mutex_unlock(&td->wlock);
	for (unsigned int i = 0; i < td->opts.num_queues; i++)
		if (write(td->workers[i].wake_fd, &one, sizeof(one)) < 0)
			return -errno;
	return -EBUSY;
}

static void on_resume(struct vhostdev *dev, void *userdata)
{
	struct tdev *td = userdata;

	INC(td->c_resume);
	pthread_mutex_lock(&td->wlock);
	td->quiesce_req = false;
	pthread_cond_broadcast(&td->wcond);
	pthread_mutex_unlock(&td->wlock);
}

/* ---- threads ------------------------------------------------------------- */

static void run_call(struct tdev *td)
{
	void (*fn)(struct tdev *, void *);
	void *arg;

	pthread_mutex_lock(&td->lock);
	fn = td->fn;
	arg = td->arg;
	td->fn = NULL;
	pthread_mutex_unlock(&td->lock);
	if (!fn)
		return;
	fn(td, arg);
	pthread_mutex_lock(&td->lock);
	td->call_done = true;
	pthread_cond_broadcast(&td->cond);
	pthread_mutex_unlock(&td->lock);
}

static void *control_thread(void *p)
{
	struct tdev *td = p;
	struct pollfd pf[3] = {
		{ .fd = vhostdev_get_fd(td->dev), .events = POLLIN },
		{ .fd = td->call_fd, .events = POLLIN },
		{ .fd = td->stop_fd, .events = POLLIN },
	};
	uint64_t v;
	int r;

	for (;;) {
		if (poll(pf, 3, -1) < 0 && errno != EINTR)
			break;
		if (pf[2].revents)
			break;
		if (pf[1].revents && read(td->call_fd, &v, sizeof(v)) > 0)
			run_call(td);
		while ((r = vhostdev_process(td->dev)) > 0)
			;
		if (r < 0) {
			INC(td->process_errors);
			/* Do not spin on an error that stays. */
			poll(NULL, 0, 1);
		}
	}
	return NULL;
}

static void *worker_thread(void *p)
{
	struct worker *w = p;
	struct tdev *td = w->td;
	struct vhostdev_queue *q = vhostdev_get_queue(td->dev, w->index);
	struct pollfd pf[2] = {
		{ .fd = vhostdev_queue_get_fd(q), .events = POLLIN },
		{ .fd = w->wake_fd, .events = POLLIN },
	};
	unsigned int gen = 0;
	uint64_t v;

	for (;;) {
		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			break;
		if (pf[1].revents && read(w->wake_fd, &v, sizeof(v)) < 0)
			break;
		pthread_mutex_lock(&td->wlock);
		/* Each quiesce is acknowledged once by every worker; a new
		 * one may start before a parked worker has run again. */
		while (td->quiesce_req && !td->wstop) {
			if (gen != td->qgen) {
				gen = td->qgen;
				if (++td->npaused == td->opts.num_queues)
					vhostdev_quiesce_done(td->dev);
			}
			pthread_cond_wait(&td->wcond, &td->wlock);
		}
		if (td->wstop) {
			pthread_mutex_unlock(&td->wlock);
			break;
		}
		pthread_mutex_unlock(&td->wlock);
		if (pf[0].revents)
			vhostdev_queue_process(q);
	}
	return NULL;
}

/* ---- lifetime ------------------------------------------------------------ */

static void setup_device(struct tdev *td)
{
	const struct tdev_opts *o = &td->opts;
	struct vhostdev *dev;
	int r;

	r = vhostdev_new(o->device_id, o->num_queues, &td->dev);
	ck_assert_msg(r == 0, "vhostdev_new: %s", strerror(-r));
	dev = td->dev;
	vhostdev_set_userdata(dev, td);
	vhostdev_set_log_fn(dev, log_fn, td);
	if (!getenv("VHOSTDEV_LOG"))
		vhostdev_set_log_priority(dev, VHOSTDEV_LOG_WARNING);
	if (o->features) {
		r = vhostdev_set_features(dev, o->features);
		ck_assert_msg(r == 0, "set_features: %s", strerror(-r));
	}
	if (o->protocol_features) {
		r = vhostdev_set_protocol_features(dev, o->protocol_features);
		ck_assert_msg(r == 0, "set_protocol_features: %s",
			      strerror(-r));
	}
	if (o->config_size) {
		r = vhostdev_set_config(dev, o->config, o->config_size);
		ck_assert_msg(r == 0, "set_config: %s", strerror(-r));
	}
	vhostdev_set_queue_kick_fn(dev, on_kick);
	vhostdev_set_queue_start_fn(dev, on_start);
	vhostdev_set_queue_stop_fn(dev, on_stop);
	vhostdev_set_reset_fn(dev, on_reset);
	vhostdev_set_connect_fn(dev, on_connect);
	vhostdev_set_disconnect_fn(dev, on_disconnect);
	vhostdev_set_features_fn(dev, on_features);
	if (o->config_writable)
		vhostdev_set_config_write_fn(dev, on_config_write);
	if (o->messages)
		vhostdev_set_message_fn(dev, on_message);
	if (o->workers) {
		vhostdev_set_quiesce_fn(dev, on_quiesce);
		vhostdev_set_resume_fn(dev, on_resume);
		for (unsigned int i = 0; i < o->num_queues; i++) {
			r = vhostdev_queue_set_detached(
				vhostdev_get_queue(dev, i), 1);
			ck_assert_msg(r == 0, "set_detached: %s",
				      strerror(-r));
		}
	}
}

struct tdev *tdev_start(const struct tdev_opts *opts)
{
	struct tdev *td = calloc(1, sizeof(*td));
	int r;

	ck_assert_ptr_nonnull(td);
	if (opts)
		td->opts = *opts;
	if (!td->opts.device_id)
		td->opts.device_id = 4;
	if (!td->opts.num_queues)
		td->opts.num_queues = 2;
	ck_assert_uint_le(td->opts.num_queues, T_MAX_QUEUES);
	pthread_mutex_init(&td->lock, NULL);
	pthread_cond_init(&td->cond, NULL);
	pthread_mutex_init(&td->log_lock, NULL);
	pthread_mutex_init(&td->wlock, NULL);
	pthread_cond_init(&td->wcond, NULL);
	td->stop_fd = eventfd(0, EFD_CLOEXEC);
	td->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ck_assert(td->stop_fd >= 0 && td->call_fd >= 0);

	setup_device(td);
	if (td->opts.connect_path) {
		r = vhostdev_connect(td->dev, td->opts.connect_path);
		ck_assert_msg(r == 0, "vhostdev_connect: %s", strerror(-r));
	} else {
		snprintf(td->dir, sizeof(td->dir), "%s/vhd-proto.XXXXXX",
			 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		ck_assert_ptr_nonnull(mkdtemp(td->dir));
		snprintf(td->path, sizeof(td->path), "%s/dev.sock", td->dir);
		r = vhostdev_listen(td->dev, td->path);
		ck_assert_msg(r == 0, "vhostdev_listen: %s", strerror(-r));
	}
	r = pthread_create(&td->thread, NULL, control_thread, td);
	ck_assert_int_eq(r, 0);
	if (td->opts.workers) {
		for (unsigned int i = 0; i < td->opts.num_queues; i++) {
			struct worker *w = &td->workers[i];

			w->td = td;
			w->index = i;
			w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			ck_assert_int_ge(w->wake_fd, 0);
			r = pthread_create(&w->thread, NULL, worker_thread, w);
			ck_assert_int_eq(r, 0);
			w->running = true;
		}
	}
	return td;
}

void tdev_stop(struct tdev *td)
{
	uint64_t one = 1;

	if (!td)
		return;
	ck_assert(write(td->stop_fd, &one, sizeof(one)) == sizeof(one));
	pthread_join(td->thread, NULL);
	pthread_mutex_lock(&td->wlock);
	td->wstop = true;
	pthread_cond_broadcast(&td->wcond);
	pthread_mutex_unlock(&td->wlock);
	for (unsigned int i = 0; i < T_MAX_QUEUES; i++) {
		struct worker *w = &td->workers[i];

		if (!w->running)
			continue;
		ck_assert(write(w->wake_fd, &one, sizeof(one)) ==
			  sizeof(one));
		pthread_join(w->thread, NULL);
		close(w->wake_fd);
	}
	/* Every thread is gone: this one is the control thread now. */
	vhostdev_unref(td->dev);
	if (td->dir[0]) {
		unlink(td->path);
		rmdir(td->dir);
	}
	close(td->stop_fd);
	close(td->call_fd);
	free(td);
}

const char *tdev_path(const struct tdev *td)
{
	return td->path;
}

struct vhostdev *tdev_dev(struct tdev *td)
{
	return td->dev;
}

void tdev_call_start(struct tdev *td, void (*fn)(struct tdev *td, void *arg),
		     void *arg)
{
	uint64_t one = 1;

	pthread_mutex_lock(&td->lock);
	td->fn = fn;
	td->arg = arg;
	td->call_done = false;
	pthread_mutex_unlock(&td->lock);
	ck_assert(write(td->call_fd, &one, sizeof(one)) == sizeof(one));
}

void tdev_call_wait(struct tdev *td)
{
	pthread_mutex_lock(&td->lock);
	while (!td->call_done)
		pthread_cond_wait(&td->cond, &td->lock);
	pthread_mutex_unlock(&td->lock);
}

void tdev_call(struct tdev *td, void (*fn)(struct tdev *td, void *arg),
	       void *arg)
{
	tdev_call_start(td, fn, arg);
	tdev_call_wait(td);
}

struct u64_query {
	uint64_t value;
	unsigned int index;
	int which;
};

static void query(struct tdev *td, void *arg)
{
	struct u64_query *q = arg;

	switch (q->which) {
	case 0:
		q->value = vhostdev_get_acked_features(td->dev);
		break;
	case 1:
		q->value = vhostdev_get_acked_protocol_features(td->dev);
		break;
	case 2:
		q->value = (uint64_t)vhostdev_queue_is_ready(
			vhostdev_get_queue(td->dev, q->index));
		break;
	case 3:
		q->value = (uint64_t)vhostdev_is_connected(td->dev);
		break;
	case 4:
		q->value = vhostdev_get_status(td->dev);
		break;
	}
}

static uint64_t ask(struct tdev *td, int which, unsigned int index)
{
	struct u64_query q = { .which = which, .index = index };

	tdev_call(td, query, &q);
	return q.value;
}

uint64_t tdev_acked_features(struct tdev *td)
{
	return ask(td, 0, 0);
}

uint64_t tdev_acked_protocol_features(struct tdev *td)
{
	return ask(td, 1, 0);
}

int tdev_queue_ready(struct tdev *td, unsigned int q)
{
	return (int)ask(td, 2, q);
}

int tdev_connected(struct tdev *td)
{
	return (int)ask(td, 3, 0);
}

uint8_t tdev_status(struct tdev *td)
{
	return (uint8_t)ask(td, 4, 0);
}

unsigned int tdev_popped(struct tdev *td)
{
	return GET(td->popped);
}

unsigned int tdev_completed(struct tdev *td)
{
	return GET(td->completed);
}

unsigned int tdev_pop_errors(struct tdev *td)
{
	return GET(td->pop_errors);
}

unsigned int tdev_count(struct tdev *td, const char *what)
{
	static const struct {
		const char *name;
		size_t off;
	} counters[] = {
		{ "start", offsetof(struct tdev, c_start) },
		{ "stop", offsetof(struct tdev, c_stop) },
		{ "kick", offsetof(struct tdev, c_kick) },
		{ "quiesce", offsetof(struct tdev, c_quiesce) },
		{ "resume", offsetof(struct tdev, c_resume) },
		{ "reset", offsetof(struct tdev, c_reset) },
		{ "connect", offsetof(struct tdev, c_connect) },
		{ "disconnect", offsetof(struct tdev, c_disconnect) },
		{ "features", offsetof(struct tdev, c_features) },
		{ "process-errors", offsetof(struct tdev, process_errors) },
	};

	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		if (strcmp(counters[i].name, what) == 0)
			return __atomic_load_n(
				(unsigned int *)((char *)td + counters[i].off),
				__ATOMIC_ACQUIRE);
	ck_abort_msg("no counter '%s'", what);
	return 0;
}

unsigned int tdev_errors(struct tdev *td)
{
	unsigned int n;

	pthread_mutex_lock(&td->log_lock);
	n = td->errors;
	pthread_mutex_unlock(&td->log_lock);
	return n;
}

const char *tdev_last_error(struct tdev *td, char *buf, size_t len)
{
	pthread_mutex_lock(&td->log_lock);
	snprintf(buf, len, "%s", td->last_error);
	pthread_mutex_unlock(&td->log_lock);
	return buf;
}

void tdev_reset_errors(struct tdev *td)
{
	pthread_mutex_lock(&td->log_lock);
	td->errors = 0;
	td->last_error[0] = '\0';
	pthread_mutex_unlock(&td->log_lock);
}

void tdev_hold(struct tdev *td, bool hold)
{
	ck_assert_msg(!td->opts.workers, "holding needs attached queues");
	__atomic_store_n(&td->hold, hold, __ATOMIC_RELEASE);
}

static void release_held(struct tdev *td, void *arg)
{
	unsigned int *n = arg;

	for (unsigned int i = 0; i < td->nheld; i++) {
		struct vhostdev_req *req = td->held[i];

		if (vhostdev_req_complete(req, echo(req)) == 0)
			INC(td->completed);
	}
	*n = td->nheld;
	td->nheld = 0;
}

unsigned int tdev_release(struct tdev *td)
{
	unsigned int n = 0;

	tdev_call(td, release_held, &n);
	return n;
}

static void count_held(struct tdev *td, void *arg)
{
	*(unsigned int *)arg = td->nheld;
}

unsigned int tdev_held(struct tdev *td)
{
	unsigned int n = 0;

	tdev_call(td, count_held, &n);
	return n;
}

unsigned int tdev_messages(struct tdev *td, uint32_t *request,
			   size_t *size)
{
	unsigned int n;

	pthread_mutex_lock(&td->lock);
	n = td->msg_count;
	if (request)
		*request = td->msg_request;
	if (size)
		*size = td->msg_size;
	pthread_mutex_unlock(&td->lock);
	return n;
}

unsigned int tdev_config_writes(struct tdev *td, uint32_t *offset,
				uint8_t *buf, uint32_t *size)
{
	unsigned int n;

	pthread_mutex_lock(&td->lock);
	n = td->cw_count;
	if (offset)
		*offset = td->cw_offset;
	if (size)
		*size = td->cw_size;
	if (buf)
		memcpy(buf, td->cw_buf, td->cw_size);
	pthread_mutex_unlock(&td->lock);
	return n;
}

bool tdev_wait(struct tdev *td, bool (*cond)(struct tdev *td))
{
	for (int i = 0; i < T_TIMEOUT_MS / 5; i++) {
		if (cond(td))
			return true;
		poll(NULL, 0, 5);
	}
	return cond(td);
}
