/* SPDX-License-Identifier: MIT */
/*
 * Polling after a wake-up, for the daemons' queue workers. Requests come
 * in bursts, and a worker that keeps looking at its rings for a short
 * while after serving one (guest kicks off meanwhile) catches the next
 * without a kick or a sleep: each of those costs the guest an exit and the
 * host a wake-up, tens of microseconds on a virtual machine.
 *
 * The window adapts to the gaps between requests: it grows while they come
 * within the limit (--poll-us) and shrinks to nothing once the sleeps
 * between them are longer, so an idle device costs no CPU.
 */
#ifndef VHOSTDEV_EXAMPLES_SPIN_H
#define VHOSTDEV_EXAMPLES_SPIN_H

#include <stdint.h>

/* The largest --poll-us a daemon takes: 100 ms. */
#define SPIN_MAX_US 100000u

struct spin_window {
	uint64_t max_ns;   /* the limit; 0: never poll */
	uint64_t spin_ns;  /* the window now; 0: no polling */
};

/* What one polling pass found. */
enum spin_pass {
	SPIN_IDLE,  /* nothing: go on until the window ends */
	SPIN_WORK,  /* requests: the window starts again */
	SPIN_STOP,  /* stop polling now (quiesce, shutdown, no ring) */
};

void spin_window_init(struct spin_window *s, unsigned int max_us);

/* Sizes the window from the sleep that just ended (ns): had it been within
 * the limit, a longer window would have caught the request without it. */
void spin_window_adapt(struct spin_window *s, uint64_t slept_ns);

/* Runs pass(ctx) until it found nothing for the window, or says stop. */
void spin_run(const struct spin_window *s,
	      enum spin_pass (*pass)(void *ctx), void *ctx);

uint64_t spin_now_ns(void);

/* Tells the CPU this is a spin loop: saves power and lets the other
 * hyperthread of the core run. */
static inline void spin_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

#endif
