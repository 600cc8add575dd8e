/* SPDX-License-Identifier: MIT */
#include <sched.h>
#include <time.h>

#include "spin.h"

/* The shortest window: one that shrinks below it stops, and one that
 * grows starts from it. */
#define SPIN_MIN_NS 1000u
/* One idle pass in this many yields the CPU: a thread woken on this CPU
 * (QEMU's, or another queue's worker) then waits microseconds, not a
 * scheduler tick. A yield on every pass costs more than the pass. */
#define SPIN_YIELD_PASSES 64

uint64_t spin_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void spin_window_init(struct spin_window *s, unsigned int max_us)
{
	s->max_ns = (uint64_t)max_us * 1000;
	s->spin_ns = s->max_ns;
}

void spin_window_adapt(struct spin_window *s, uint64_t slept_ns)
{
	if (slept_ns > s->max_ns) {
		/* Polling for longer would not have caught it. */
		s->spin_ns /= 2;
		if (s->spin_ns < SPIN_MIN_NS)
			s->spin_ns = 0;
	} else if (s->spin_ns + slept_ns < s->max_ns) {
		s->spin_ns = s->spin_ns ? s->spin_ns * 2 : SPIN_MIN_NS;
		if (s->spin_ns > s->max_ns)
			s->spin_ns = s->max_ns;
	}
}

void spin_run(const struct spin_window *s,
	      enum spin_pass (*pass)(void *ctx), void *ctx)
{
	uint64_t last_work;
	unsigned int idle = 0;

	if (!s->spin_ns)
		return;
	last_work = spin_now_ns();
	for (;;) {
		switch (pass(ctx)) {
		case SPIN_WORK:
			last_work = spin_now_ns();
			continue;
		case SPIN_STOP:
			return;
		case SPIN_IDLE:
			break;
		}
		if (spin_now_ns() - last_work >= s->spin_ns)
			return;
		if (++idle % SPIN_YIELD_PASSES == 0)
			sched_yield();
		else
			spin_relax();
	}
}
