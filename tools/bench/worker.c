/* SPDX-License-Identifier: MIT */
/* The submitting threads, one per queue: keep iodepth random 4 KiB
 * requests in flight, check every completion, and count kicks, calls and
 * latencies. Nothing here allocates: buffers and counters were set up
 * before the first request. */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: cheap, and good enough to scatter offsets. */
static uint64_t next_random(struct bench_queue *q)
{
	q->rng ^= q->rng >> 12;
	q->rng ^= q->rng << 25;
	q->rng ^= q->rng >> 27;
	return q->rng * 0x2545f4914f6cdd1dull;
}

static bool may_submit(const struct bench_queue *q, uint64_t now)
{
	if (q->target && q->counts.submitted >= q->target)
		return false;
	return !q->use_deadline || now < q->deadline_ns;
}

static int submit_one(struct bench_queue *q, uint64_t now)
{
	uint64_t blocks = q->sectors / (BENCH_BLOCK / BLK_SECTOR);
	struct vhf_buf bufs[3];
	struct bench_slot *s;
	unsigned int n;
	int id;

	n = q->free_slots[--q->nfree];
	s = &q->slots[n];
	switch (q->o->rw) {
	case RW_READ:
		s->write = false;
		break;
	case RW_WRITE:
		s->write = true;
		break;
	default:
		s->write = next_random(q) >> 63;
		break;
	}
	s->hdr->type = htole32(s->write ? BLK_T_OUT : BLK_T_IN);
	s->hdr->reserved = 0;
	s->hdr->sector = htole64(next_random(q) % blocks *
				 (BENCH_BLOCK / BLK_SECTOR));
	/* Not a status value: a completion that leaves it is caught. */
	*s->status = 0xff;
	bufs[0] = (struct vhf_buf){ s->hdr_gpa, sizeof(*s->hdr) };
	bufs[1] = (struct vhf_buf){ s->data_gpa, BENCH_BLOCK };
	bufs[2] = (struct vhf_buf){ s->status_gpa, 1 };
	id = vhf_vq_add(q->vq, bufs, s->write ? 2 : 1, s->write ? 1 : 2,
			q->o->indirect);
	if (id < 0) {
		q->free_slots[q->nfree++] = n;
		snprintf(q->why, sizeof(q->why), "queue %u: adding a request"
			 " failed: %s", q->index, strerror(-id));
		return id;
	}
	q->slot_of[id] = n;
	q->start_ns[id] = now;
	q->counts.submitted++;
	return 0;
}

static int kick(struct bench_queue *q)
{
	int r = vhf_vq_kick(q->vq);

	if (r < 0) {
		snprintf(q->why, sizeof(q->why), "queue %u: kick failed: %s",
			 q->index, strerror(-r));
		return r;
	}
	q->counts.kicks += r;
	return 0;
}

/* Adds whatever the call eventfd has counted (non-blocking). */
static void collect_calls(struct bench_queue *q)
{
	uint64_t v;

	if (read(vhf_vq_call_fd(q->vq), &v, sizeof(v)) == sizeof(v))
		q->counts.calls += v;
}

static int complete_one(struct bench_queue *q, uint16_t id, uint32_t len,
			uint64_t now)
{
	unsigned int n = q->slot_of[id];
	struct bench_slot *s = &q->slots[n];
	uint8_t status = __atomic_load_n(s->status, __ATOMIC_RELAXED);

	if (status != BLK_S_OK) {
		if (!q->counts.bad_status)
			snprintf(q->why, sizeof(q->why), "queue %u: a %s"
				 " completed with status %u", q->index,
				 s->write ? "write" : "read", status);
		q->counts.bad_status++;
	}
	if (len != (s->write ? 1 : BENCH_BLOCK + 1))
		q->counts.bad_len++;
	hist_add(q->hist, now - q->start_ns[id]);
	q->counts.completed++;
	q->counts.bytes += BENCH_BLOCK;
	q->free_slots[q->nfree++] = n;
	return 0;
}

/* Takes every used entry there is, refilling as it goes. Returns the
 * number taken, or a negative errno when the back end broke the ring. */
static int reap(struct bench_queue *q, bool *added)
{
	uint64_t now = 0;
	uint32_t len;
	uint16_t id;
	int r, n = 0;

	while ((r = vhf_vq_get_used(q->vq, &id, &len)) == 1) {
		now = bench_now_ns();
		complete_one(q, id, len, now);
		n++;
		if (may_submit(q, now)) {
			r = submit_one(q, now);
			if (r < 0)
				return r;
			*added = true;
		}
	}
	if (r < 0) {
		snprintf(q->why, sizeof(q->why), "queue %u: the back end"
			 " returned a used id that is not in flight (or a"
			 " duplicate)", q->index);
		return r;
	}
	return n;
}

static int stalled(struct bench_queue *q)
{
	snprintf(q->why, sizeof(q->why), "queue %u: no completion within %d"
		 " ms (%u in flight)", q->index, q->o->timeout_ms,
		 vhf_vq_inflight(q->vq));
	return -ETIMEDOUT;
}

/* Interrupt mode: sleep on the call eventfd. Notifications are off while
 * we process (like a guest driver) and re-armed before sleeping, with a
 * last look at the ring in between so nothing slips by. */
static int wait_call(struct bench_queue *q, bool *added)
{
	struct pollfd p = { .fd = vhf_vq_call_fd(q->vq), .events = POLLIN };
	int r;

	vhf_vq_set_interrupts(q->vq, true);
	r = reap(q, added);
	if (r != 0) {
		vhf_vq_set_interrupts(q->vq, false);
		return r < 0 ? r : 0;
	}
	do {
		r = poll(&p, 1, q->o->timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r == 0)
		return stalled(q);
	if (r < 0)
		return -errno;
	collect_calls(q);
	vhf_vq_set_interrupts(q->vq, false);
	return 0;
}

static int run_queue(struct bench_queue *q)
{
	uint64_t now = bench_now_ns(), last_progress = now;
	unsigned long spins = 0;
	bool added = false;
	int r;

	vhf_vq_set_interrupts(q->vq, false);
	while (q->nfree && may_submit(q, now)) {
		r = submit_one(q, now);
		if (r < 0)
			return r;
		added = true;
	}
	while (vhf_vq_inflight(q->vq)) {
		if (added) {
			r = kick(q);
			if (r < 0)
				return r;
			added = false;
		}
		r = reap(q, &added);
		if (r < 0)
			return r;
		if (r > 0) {
			spins = 0;
			last_progress = 0;
			continue;
		}
		if (q->o->mode == MODE_INTERRUPT) {
			r = wait_call(q, &added);
			if (r < 0)
				return r;
			continue;
		}
		/* Poll mode: spin, looking at the clock only now and then. */
		if (++spins % 4096)
			continue;
		now = bench_now_ns();
		if (!last_progress)
			last_progress = now;
		else if (now - last_progress > q->o->timeout_ms * 1000000ull)
			return stalled(q);
	}
	collect_calls(q);
	return 0;
}

static void *queue_thread(void *arg)
{
	struct bench_queue *q = arg;

	if (q->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(q->cpu, &set);
		/* A failed pin only makes figures noisier. */
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	q->error = run_queue(q);
	return NULL;
}

int bench_run_phase(struct bench_run *run)
{
	pthread_t t[BENCH_MAX_QUEUES];
	unsigned int started = 0;
	int err = 0;

	for (unsigned int i = 0; i < run->o->queues; i++) {
		int r = pthread_create(&t[i], NULL, queue_thread, &run->q[i]);

		if (r) {
			fprintf(stderr, "vhostdev-bench: cannot start a thread:"
				" %s\n", strerror(r));
			err = -r;
			break;
		}
		started++;
	}
	for (unsigned int i = 0; i < started; i++) {
		pthread_join(t[i], NULL);
		if (run->q[i].error && !err)
			err = run->q[i].error;
	}
	return err;
}
