/* SPDX-License-Identifier: MIT */
/*
 * vhostdev-blk's worker threads. Each owns some detached queues and one
 * io_uring, and waits in poll() on the queues' fds, the ring's completion
 * eventfd and its own wake eventfd (or, with --poll, spins over the rings
 * with guest kicks turned off). After each wake-up it keeps polling for a
 * while (--poll-us, adaptive) before it sleeps again. Completions are
 * reaped on the thread that submitted them, so a queue is only ever
 * touched by its worker.
 *
 * Quiesce handshake: the control thread's quiesce callback raises a flag
 * with a new generation number and wakes every worker; each finishes
 * everything it has in flight (so no I/O can land in guest memory the
 * front end is about to change), acknowledges, and sleeps until resume.
 * The last to acknowledge calls vhostdev_quiesce_done().
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "blk.h"

/* --poll with no ring running: how long a worker sleeps between looks. */
#define POLL_IDLE_WAIT_MS 100
/* --poll: passes between reads of the kick eventfds. With kicks
 * suppressed they only hold the odd kick the guest sent anyway and the
 * library's wake-ups, and each read is a system call; the rings themselves
 * are looked at on every pass. */
#define POLL_KICK_CHECK_PASSES 256
/* --poll: one idle pass in this many yields the CPU to other threads; the
 * rest only pause briefly. A yield per pass cost more than the pass. */
#define POLL_YIELD_PASSES 64
/* --poll: rings idle for this long put the worker to sleep until a kick.
 * A guest that keeps requests coming never lets that happen; a disk left
 * idle, or a worker whose CPU other threads want (and which would
 * otherwise spend its share spinning), gives the CPU back. A wake-up
 * costs some 30 us: polling for longer than a few of them buys nothing. */
#define POLL_IDLE_SLEEP_US 200
struct io_uring_sqe *blk_worker_get_sqe(struct blk_worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);

	if (!sqe) {
		if (io_uring_submit(&w->ring) < 0)
			return NULL;
		sqe = io_uring_get_sqe(&w->ring);
	}
	return sqe;
}

static void notify_all(struct blk_worker *w)
{
	for (unsigned int i = 0; i < w->nqueues; i++)
		blk_queue_flush_notify(w->queues[i]);
}

/* Finishes every completion that has arrived; returns how many. */
static unsigned int reap(struct blk_worker *w)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	io_uring_for_each_cqe(&w->ring, head, cqe) {
		struct blk_slot *slot = io_uring_cqe_get_data(cqe);

		n++;
		w->inflight--;
		blk_slot_complete_io(slot, cqe->res);
	}
	io_uring_cq_advance(&w->ring, n);
	if (io_uring_sq_ready(&w->ring))
		io_uring_submit(&w->ring);
	if (n)
		notify_all(w);
	return n;
}

/* Waits for everything in flight to complete, and completes it (blk.h). */
void blk_worker_drain(struct blk_worker *w)
{
	while (w->inflight) {
		int r = io_uring_submit_and_wait(&w->ring, 1);

		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY)
			break;
		reap(w);
	}
}

static void clear_eventfd(int fd)
{
	uint64_t value;

	if (read(fd, &value, sizeof(value)) < 0) {
		/* EAGAIN: nothing was pending. */
	}
}

static void wake(struct blk_worker *w)
{
	uint64_t one = 1;

	if (write(w->wake_fd, &one, sizeof(one)) < 0) {
		/* The counter cannot overflow in practice; a full counter
		 * still leaves the fd readable, which is all we need. */
	}
}

/* Acknowledges the current quiesce and sleeps until resume or shutdown. */
static void quiesce_point(struct blk_worker *w, unsigned int *acked_gen)
{
	struct blk_device *blk = w->blk;
	bool last = false;

	blk_worker_drain(w);
	pthread_mutex_lock(&blk->lock);
	if (blk->quiesced && *acked_gen != blk->quiesce_gen) {
		*acked_gen = blk->quiesce_gen;
		last = --blk->stopping_workers == 0;
	}
	if (last)
		vhostdev_quiesce_done(blk->dev);
	while (blk->quiesced && *acked_gen == blk->quiesce_gen &&
	       !blk->shutdown)
		pthread_cond_wait(&blk->resumed, &blk->lock);
	pthread_mutex_unlock(&blk->lock);
	/* The rings may have been set up anew. */
	for (unsigned int i = 0; i < w->nqueues; i++)
		w->queues[i]->kicks_off = false;
}

/* Quiesce or shutdown wanted: polling must stop. */
static bool stop_requested(struct blk_device *blk)
{
	return __atomic_load_n(&blk->quiesced, __ATOMIC_ACQUIRE) ||
	       __atomic_load_n(&blk->shutdown, __ATOMIC_ACQUIRE);
}

/* One pass over the completions and every running ring, with guest kicks
 * suppressed (the caller polls). check_kicks also reads the kick eventfds.
 * Returns whether anything happened; *ready tells whether any queue runs
 * at all. */
static bool poll_rings(struct blk_worker *w, bool check_kicks, bool *ready)
{
	bool busy = w->inflight && reap(w) > 0;

	*ready = false;
	for (unsigned int i = 0; i < w->nqueues; i++) {
		struct blk_queue *q = w->queues[i];

		if (!vhostdev_queue_is_ready(q->vq))
			continue;
		*ready = true;
		if (!q->kicks_off) {
			vhostdev_queue_set_notification(q->vq, 0);
			q->kicks_off = true;
		}
		if (check_kicks)
			vhostdev_queue_process(q->vq);
		/* Requests done at once (null or in-memory backing) leave
		 * the free slot count as it was: count what was taken. */
		busy |= blk_queue_serve(q) > 0;
	}
	return busy;
}

/* Polling ends: kicks on again, then one more look at each ring, as
 * buffers made available while they were off sent no kick. */
static void stop_polling(struct blk_worker *w)
{
	for (unsigned int i = 0; i < w->nqueues; i++) {
		struct blk_queue *q = w->queues[i];

		if (!q->kicks_off)
			continue;
		vhostdev_queue_set_notification(q->vq, 1);
		q->kicks_off = false;
		blk_queue_serve(q);
	}
}

/* Waits for a kick, a completion or a wake-up (at most timeout_ms, -1
 * for ever) and handles what came. */
static void event_pass(struct blk_worker *w, struct pollfd *pfd,
		       int timeout_ms)
{
	unsigned int n = w->nqueues;
	uint64_t start = spin_now_ns();
	int r = poll(pfd, n + 2, timeout_ms);

	w->slept_ns = spin_now_ns() - start;
	if (r <= 0)
		return;
	if (pfd[n].revents)
		clear_eventfd(w->wake_fd);
	if (pfd[n + 1].revents) {
		clear_eventfd(w->ring_event_fd);
		reap(w);
	}
	for (unsigned int i = 0; i < n; i++)
		if (pfd[i].revents)
			vhostdev_queue_process(w->queues[i]->vq);
}

/* Interrupt mode, polling after a wake-up (spin.h): one pass over the
 * rings with kicks suppressed. */
static enum spin_pass rings_pass(void *ctx)
{
	struct blk_worker *w = ctx;
	bool ready;

	if (stop_requested(w->blk))
		return SPIN_STOP;
	if (poll_rings(w, false, &ready))
		return SPIN_WORK;
	return ready ? SPIN_IDLE : SPIN_STOP;
}

/* Interrupt mode, after a wake-up: requests come in bursts. Keep serving
 * with kicks suppressed until the rings have been idle for the window,
 * which saves the guest a kick and us a wake-up per batch. */
static void poll_after_wake(struct blk_worker *w)
{
	spin_window_adapt(&w->spin, w->slept_ns);
	spin_run(&w->spin, rings_pass, w);
	stop_polling(w);
}

/* --poll: one pass; between idle passes the CPU pauses, and now and then
 * yields to other threads without giving up the polling. Rings idle for
 * POLL_IDLE_SLEEP_US: kicks on, and sleep until one comes. */
static void poll_pass(struct blk_worker *w, struct pollfd *pfd)
{
	bool check_kicks = ++w->passes % POLL_KICK_CHECK_PASSES == 0;
	bool ready;
	uint64_t now;

	if (poll_rings(w, check_kicks, &ready)) {
		w->last_work_ns = 0;
		return;
	}
	if (!ready) {
		/* No ring to poll (no front end yet): sleep until the
		 * library wakes a queue, or look again soon. */
		event_pass(w, pfd, POLL_IDLE_WAIT_MS);
		return;
	}
	now = spin_now_ns();
	if (!w->last_work_ns) {
		w->last_work_ns = now;
	} else if (now - w->last_work_ns >= POLL_IDLE_SLEEP_US * 1000ull) {
		stop_polling(w);
		event_pass(w, pfd, -1);
		w->last_work_ns = 0;
		return;
	}
	if (w->passes % POLL_YIELD_PASSES == 0)
		sched_yield();
	else
		spin_relax();
}

static void *worker_main(void *arg)
{
	struct blk_worker *w = arg;
	struct blk_device *blk = w->blk;
	unsigned int n = w->nqueues, acked_gen = 0;
	struct pollfd pfd[n + 2];

	for (unsigned int i = 0; i < n; i++)
		pfd[i] = (struct pollfd){
			.fd = vhostdev_queue_get_fd(w->queues[i]->vq),
			.events = POLLIN,
		};
	pfd[n] = (struct pollfd){ .fd = w->wake_fd, .events = POLLIN };
	pfd[n + 1] = (struct pollfd){ .fd = w->ring_event_fd,
				      .events = POLLIN };
	while (!__atomic_load_n(&blk->shutdown, __ATOMIC_ACQUIRE)) {
		if (__atomic_load_n(&blk->quiesced, __ATOMIC_ACQUIRE)) {
			quiesce_point(w, &acked_gen);
			continue;
		}
		if (blk->opt.poll) {
			poll_pass(w, pfd);
		} else {
			event_pass(w, pfd, -1);
			if (blk->opt.poll_us)
				poll_after_wake(w);
		}
	}
	blk_worker_drain(w);
	return NULL;
}

int blk_quiesce(struct vhostdev *dev, void *userdata)
{
	struct blk_device *blk = userdata;

	if (__atomic_load_n(&blk->shutdown, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&blk->lock);
	blk->quiesce_gen++;
	blk->stopping_workers = blk->nworkers;
	__atomic_store_n(&blk->quiesced, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&blk->lock);
	for (unsigned int i = 0; i < blk->nworkers; i++)
		wake(&blk->workers[i]);
	return -EBUSY;
}

void blk_resume(struct vhostdev *dev, void *userdata)
{
	struct blk_device *blk = userdata;

	pthread_mutex_lock(&blk->lock);
	__atomic_store_n(&blk->quiesced, false, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&blk->resumed);
	pthread_mutex_unlock(&blk->lock);
}

static int worker_init(struct blk_device *blk, struct blk_worker *w)
{
	unsigned int entries = 0;
	int r;

	w->blk = blk;
	spin_window_init(&w->spin, blk->opt.poll_us);
	w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	w->ring_event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->wake_fd < 0 || w->ring_event_fd < 0)
		return -errno;
	/* One SQE per slot at most is in flight, so neither queue of the
	 * ring can overflow. */
	for (unsigned int i = 0; i < w->nqueues; i++)
		entries += w->queues[i]->nslots;
	if (entries > 32768)
		entries = 32768;
	r = io_uring_queue_init(entries, &w->ring, 0);
	if (r < 0)
		return r;
	w->ring_ready = true;
	return io_uring_register_eventfd(&w->ring, w->ring_event_fd);
}

int blk_workers_start(struct blk_device *blk)
{
	unsigned int nw = blk->opt.threads;
	int r;

	if (nw == 0 || nw > blk->nqueues)
		nw = blk->nqueues;
	blk->workers = calloc(nw, sizeof(*blk->workers));
	if (!blk->workers)
		return -ENOMEM;
	blk->nworkers = nw;
	/* All fds -1 first: blk_workers_stop() may clean up after a failure
	 * half-way. */
	for (unsigned int i = 0; i < nw; i++)
		blk->workers[i].wake_fd = blk->workers[i].ring_event_fd = -1;
	for (unsigned int i = 0; i < nw; i++) {
		struct blk_worker *w = &blk->workers[i];

		w->index = i;
		w->queues = calloc(blk->nqueues / nw + 1, sizeof(*w->queues));
		if (!w->queues)
			return -ENOMEM;
	}
	/* Queue i goes to worker i mod nw. */
	for (unsigned int i = 0; i < blk->nqueues; i++) {
		struct blk_worker *w = &blk->workers[i % nw];

		blk->queues[i].worker = w;
		w->queues[w->nqueues++] = &blk->queues[i];
	}
	for (unsigned int i = 0; i < nw; i++) {
		r = worker_init(blk, &blk->workers[i]);
		if (r < 0)
			return r;
	}
	for (unsigned int i = 0; i < nw; i++) {
		struct blk_worker *w = &blk->workers[i];

		r = -pthread_create(&w->thread, NULL, worker_main, w);
		if (r < 0)
			return r;
		w->started = true;
	}
	return 0;
}

void blk_workers_stop(struct blk_device *blk)
{
	if (!blk->workers)
		return;
	pthread_mutex_lock(&blk->lock);
	__atomic_store_n(&blk->shutdown, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&blk->resumed);
	pthread_mutex_unlock(&blk->lock);
	for (unsigned int i = 0; i < blk->nworkers; i++) {
		struct blk_worker *w = &blk->workers[i];

		if (w->started) {
			wake(w);
			pthread_join(w->thread, NULL);
		}
		if (w->ring_ready)
			io_uring_queue_exit(&w->ring);
		if (w->wake_fd >= 0)
			close(w->wake_fd);
		if (w->ring_event_fd >= 0)
			close(w->ring_event_fd);
		free(w->queues);
	}
	free(blk->workers);
	blk->workers = NULL;
	blk->nworkers = 0;
	/* A quiesce still waiting for workers that are gone: nothing touches
	 * the queues any more. */
	if (__atomic_load_n(&blk->quiesced, __ATOMIC_ACQUIRE))
		vhostdev_quiesce_done(blk->dev);
}
