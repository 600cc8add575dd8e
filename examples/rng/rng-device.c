/* SPDX-License-Identifier: MIT */
/*
 * vhostdev-rng's device logic. Requests are served on the control thread
 * whenever one may have become possible: a guest kick (the library's kick
 * callback, also run when a ring starts with buffers already posted), the
 * source becoming readable (or its pause ending), and a new rate-limit
 * period. While the budget is spent or the source is dry, no request is
 * popped (or the one popped is held), so the guest's buffers simply wait in
 * the ring.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "rng-device.h"

/* One request gets at most this much, so a guest posting a huge buffer
 * cannot keep the loop from its other work. The device may always write
 * less than the buffer holds. */
#define RNG_MAX_PER_REQUEST (64 * 1024)

/* Pop errors tolerated in one pass before leaving the rest for the next
 * kick, so a library that keeps failing cannot spin the loop. */
#define RNG_MAX_POP_ERRORS 16

/* Fills the request's device-writable buffers with up to limit bytes.
 * Returns the bytes written, -EAGAIN when the source had none, or the
 * source's error. */
static ssize_t fill(struct rng_device *rng, struct vhostdev_req *req,
		    size_t limit)
{
	const struct iovec *iov;
	unsigned int count;
	size_t done = 0;

	iov = vhostdev_req_get_in(req, &count);
	for (unsigned int i = 0; i < count && done < limit; i++) {
		char *base = iov[i].iov_base;
		size_t want = iov[i].iov_len;
		size_t got = 0;

		if (want > limit - done)
			want = limit - done;
		while (got < want) {
			ssize_t n = entropy_source_read(&rng->source,
							base + got,
							want - got);

			/* A partial answer is a good answer for an entropy
			 * device; an address the kernel refuses to write
			 * ends this request, not the daemon. */
			if (n == -EAGAIN && done + got > 0)
				return (ssize_t)(done + got);
			if (n == -EFAULT)
				return (ssize_t)(done + got);
			if (n < 0)
				return n;
			got += (size_t)n;
		}
		done += got;
	}
	return (ssize_t)done;
}

/* How long a source that claimed to be readable, and was not, rests. */
#define RNG_SOURCE_PAUSE_MS 10

static void watch_source(struct rng_device *rng, short events)
{
	int fd = entropy_source_fd(&rng->source);

	if (fd >= 0)
		daemon_set_fd_events(rng->daemon, fd, events);
}

/* The source has nothing now: wait until it says it has, or, when it just
 * said so and had nothing, for a short pause. */
static int wait_for_source(struct rng_device *rng)
{
	struct itimerspec pause = {
		.it_value.tv_nsec = RNG_SOURCE_PAUSE_MS * 1000000L,
	};

	if (!rng->after_readable) {
		watch_source(rng, POLLIN);
		return 0;
	}
	if (timerfd_settime(rng->pause_fd, 0, &pause, NULL) < 0)
		return -errno;
	return 0;
}

static void fail(struct rng_device *rng, int error, const char *what)
{
	if (rng->source.path && error == -ENODATA)
		daemon_log(rng->daemon, VHOSTDEV_LOG_ERR, "%s: %s: end of file",
			   what, rng->source.path);
	else
		daemon_log(rng->daemon, VHOSTDEV_LOG_ERR, "%s%s%s: %s", what,
			   rng->source.path ? " " : "",
			   rng->source.path ? rng->source.path : "",
			   strerror(-error));
	daemon_stop(rng->daemon, error);
}

static void serve(struct rng_device *rng)
{
	struct vhostdev_queue *q = vhostdev_get_queue(rng->dev, 0);
	unsigned int pushed = 0, errors = 0;

	while (vhostdev_queue_is_ready(q)) {
		size_t allowed = rate_limit_available(&rng->limit);
		ssize_t n;
		int r;

		/* The period's timer is running; its end calls serve(). */
		if (allowed == 0)
			break;
		if (allowed > RNG_MAX_PER_REQUEST)
			allowed = RNG_MAX_PER_REQUEST;
		if (!rng->held) {
			r = vhostdev_queue_pop(q, &rng->held);
			if (r == 0)
				break;
			if (r < 0) {
				/* The library already failed that chain. */
				rng->held = NULL;
				if (++errors > RNG_MAX_POP_ERRORS)
					break;
				continue;
			}
		}
		n = fill(rng, rng->held, allowed);
		if (n == -EAGAIN) {
			r = wait_for_source(rng);
			if (r < 0)
				fail(rng, r, "source pause timer");
			break;
		}
		if (n < 0) {
			fail(rng, (int)n, "reading");
			break;
		}
		r = rate_limit_spend(&rng->limit, (size_t)n);
		if (r < 0) {
			fail(rng, r, "rate limit timer");
			break;
		}
		daemon_log(rng->daemon, VHOSTDEV_LOG_DEBUG,
			   "request for %zu bytes: gave %zd",
			   vhostdev_req_get_in_size(rng->held), n);
		r = vhostdev_req_push(rng->held, (uint32_t)n);
		if (r < 0)
			daemon_log(rng->daemon, VHOSTDEV_LOG_WARNING,
				   "completing a request: %s", strerror(-r));
		rng->held = NULL;
		pushed++;
	}
	if (pushed)
		vhostdev_queue_notify(q);
}

static void on_kick(struct vhostdev *dev, struct vhostdev_queue *q,
		    void *userdata)
{
	serve(userdata);
}

/* The ring is going away (GET_VRING_BASE, reset, disconnect): the library
 * waits until no request is in flight, so a held one is returned empty. */
static void on_queue_stop(struct vhostdev *dev, struct vhostdev_queue *q,
			  void *userdata)
{
	struct rng_device *rng = userdata;

	if (!rng->held)
		return;
	vhostdev_req_push(rng->held, 0);
	vhostdev_queue_notify(q);
	rng->held = NULL;
	watch_source(rng, 0);
}

static int on_source_readable(struct daemon *d, int fd, short revents,
			      void *data)
{
	struct rng_device *rng = data;

	watch_source(rng, 0);
	rng->after_readable = 1;
	serve(rng);
	rng->after_readable = 0;
	return 0;
}

static int on_pause_end(struct daemon *d, int fd, short revents, void *data)
{
	struct rng_device *rng = data;
	uint64_t expirations;

	if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return -errno;
	serve(rng);
	return 0;
}

static int on_period_end(struct daemon *d, int fd, short revents, void *data)
{
	struct rng_device *rng = data;
	int r = rate_limit_refill(&rng->limit);

	if (r < 0) {
		daemon_log(d, VHOSTDEV_LOG_ERR, "rate limit timer: %s",
			   strerror(-r));
		return r;
	}
	serve(rng);
	return 0;
}

int rng_device_init(struct rng_device *rng, const char *program,
		    const char *source_path, uint64_t max_bytes,
		    unsigned int period_ms)
{
	int r;

	*rng = (struct rng_device){
		.source.fd = -1, .limit.timer_fd = -1, .pause_fd = -1,
	};
	r = entropy_source_open(&rng->source, source_path);
	if (r < 0) {
		fprintf(stderr, "%s: --source=%s: %s\n", program, source_path,
			strerror(-r));
		return r;
	}
	if (entropy_source_fd(&rng->source) >= 0) {
		rng->pause_fd = timerfd_create(CLOCK_MONOTONIC,
					       TFD_NONBLOCK | TFD_CLOEXEC);
		if (rng->pause_fd < 0) {
			r = -errno;
			fprintf(stderr, "%s: timerfd: %s\n", program,
				strerror(-r));
			goto fail;
		}
	}
	r = rate_limit_init(&rng->limit, max_bytes, period_ms);
	if (r < 0) {
		fprintf(stderr, "%s: rate limit timer: %s\n", program,
			strerror(-r));
		goto fail;
	}
	r = vhostdev_new(RNG_DEVICE_ID, 1, &rng->dev);
	if (r < 0) {
		fprintf(stderr, "%s: vhostdev_new: %s\n", program,
			strerror(-r));
		goto fail;
	}
	vhostdev_set_userdata(rng->dev, rng);
	vhostdev_set_queue_kick_fn(rng->dev, on_kick);
	vhostdev_set_queue_stop_fn(rng->dev, on_queue_stop);
	return 0;
fail:
	rng_device_fini(rng);
	return r;
}

int rng_device_attach(struct rng_device *rng, struct daemon *d)
{
	int r = 0;

	rng->daemon = d;
	if (entropy_source_fd(&rng->source) >= 0)
		r = daemon_add_fd(d, entropy_source_fd(&rng->source), 0,
				  on_source_readable, rng);
	if (r == 0 && rng->pause_fd >= 0)
		r = daemon_add_fd(d, rng->pause_fd, POLLIN, on_pause_end, rng);
	if (r == 0 && rate_limit_fd(&rng->limit) >= 0)
		r = daemon_add_fd(d, rate_limit_fd(&rng->limit), POLLIN,
				  on_period_end, rng);
	return r;
}

void rng_device_fini(struct rng_device *rng)
{
	rng->dev = vhostdev_unref(rng->dev);
	if (rng->pause_fd >= 0)
		close(rng->pause_fd);
	rng->pause_fd = -1;
	rate_limit_fini(&rng->limit);
	entropy_source_close(&rng->source);
}
