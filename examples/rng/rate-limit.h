/* SPDX-License-Identifier: MIT */
/* vhostdev-rng's --max-bytes / --period budget: at most max_bytes in each
 * period; what the guest asks beyond that waits for the next period. */
#ifndef VHOSTDEV_RNG_RATE_LIMIT_H
#define VHOSTDEV_RNG_RATE_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rate_limit {
	uint64_t max_bytes;  /* 0: no limit */
	unsigned int period_ms;
	uint64_t left;       /* bytes left in this period */
	int timer_fd;        /* one-shot: the end of the running period */
	bool period_running;
};

/* max_bytes == 0 disables the limit (no timer is created). */
int rate_limit_init(struct rate_limit *rl, uint64_t max_bytes,
		    unsigned int period_ms);
void rate_limit_fini(struct rate_limit *rl);

/* Bytes that may be handed out now (SIZE_MAX when unlimited). */
size_t rate_limit_available(const struct rate_limit *rl);
/* Counts bytes handed out; the first spending starts a period. */
int rate_limit_spend(struct rate_limit *rl, size_t bytes);
/* The timer fired: a new budget. Returns 0 or -errno. */
int rate_limit_refill(struct rate_limit *rl);
/* The timerfd to poll for the end of a period, or -1. */
int rate_limit_fd(const struct rate_limit *rl);

#endif
