/* SPDX-License-Identifier: MIT */
/*
 * The rate limit is a budget per period, the way QEMU's virtio-rng counts:
 * a period starts with the first bytes handed out, the budget is then
 * refilled when a one-shot timerfd says the period ended. An idle daemon
 * therefore has no timer ticking, and a guest that asks for more than the
 * budget waits in the daemon's poll() loop; nothing sleeps.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "rate-limit.h"

int rate_limit_init(struct rate_limit *rl, uint64_t max_bytes,
		    unsigned int period_ms)
{
	*rl = (struct rate_limit){
		.max_bytes = max_bytes,
		.period_ms = period_ms,
		.left = max_bytes,
		.timer_fd = -1,
	};
	if (!max_bytes)
		return 0;
	if (!period_ms)
		return -EINVAL;
	rl->timer_fd = timerfd_create(CLOCK_MONOTONIC,
				      TFD_NONBLOCK | TFD_CLOEXEC);
	return rl->timer_fd < 0 ? -errno : 0;
}

void rate_limit_fini(struct rate_limit *rl)
{
	if (rl->timer_fd >= 0)
		close(rl->timer_fd);
	rl->timer_fd = -1;
}

size_t rate_limit_available(const struct rate_limit *rl)
{
	if (!rl->max_bytes)
		return SIZE_MAX;
	return rl->left > SIZE_MAX ? SIZE_MAX : (size_t)rl->left;
}

int rate_limit_spend(struct rate_limit *rl, size_t bytes)
{
	struct itimerspec period = {
		.it_value.tv_sec = rl->period_ms / 1000,
		.it_value.tv_nsec = (long)(rl->period_ms % 1000) * 1000000,
	};

	if (!rl->max_bytes || !bytes)
		return 0;
	rl->left -= bytes < rl->left ? bytes : rl->left;
	if (rl->period_running)
		return 0;
	if (timerfd_settime(rl->timer_fd, 0, &period, NULL) < 0)
		return -errno;
	rl->period_running = true;
	return 0;
}

int rate_limit_refill(struct rate_limit *rl)
{
	uint64_t expirations;

	if (read(rl->timer_fd, &expirations, sizeof(expirations)) < 0 &&
	    errno != EAGAIN)
		return -errno;
	rl->period_running = false;
	rl->left = rl->max_bytes;
	return 0;
}

int rate_limit_fd(const struct rate_limit *rl)
{
	return rl->timer_fd;
}
