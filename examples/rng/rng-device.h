/* SPDX-License-Identifier: MIT */
/* The virtio entropy device (virtio spec "Entropy Device", device id 4):
 * one request queue, no config space, no device feature bits. Every
 * device-writable buffer the guest posts is filled from the entropy source,
 * within the rate limit. */
#ifndef VHOSTDEV_RNG_DEVICE_H
#define VHOSTDEV_RNG_DEVICE_H

#include <stdint.h>

#include "daemon.h"
#include "entropy-source.h"
#include "rate-limit.h"

#define RNG_DEVICE_ID 4

struct rng_device {
	struct vhostdev *dev;
	struct daemon *daemon;
	struct entropy_source source;
	struct rate_limit limit;
	/* Popped and not yet filled: the source had nothing to give. */
	struct vhostdev_req *held;
	/* Some character devices (the kernel's /dev/hwrng) do not implement
	 * poll(), which then always says "readable": after a readable event
	 * that yields nothing, the source is tried again after a pause
	 * instead of spinning. */
	int pause_fd;
	int after_readable;
};

/* Creates the vhostdev device and opens the source (path NULL:
 * getrandom()); max_bytes == 0 means no rate limit. Prints what failed to
 * stderr, as PROGRAM: ..., and returns -errno. */
int rng_device_init(struct rng_device *rng, const char *program,
		    const char *source_path, uint64_t max_bytes,
		    unsigned int period_ms);
/* Puts the source and the rate-limit timer into the daemon's loop. */
int rng_device_attach(struct rng_device *rng, struct daemon *d);
void rng_device_fini(struct rng_device *rng);

#endif
