/* SPDX-License-Identifier: MIT */
/*
 * vhostdev-rng: serves a virtio entropy device to a vhost-user front end
 * (QEMU's vhost-user-rng-pci), from getrandom() or --source, optionally
 * rate-limited. This file is the command line and the wiring; the device
 * is in rng-device.c, the loop and the common options in examples/common.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include "daemon.h"
#include "rng-device.h"

#define DEFAULT_PERIOD_MS 1000
/* A day: anything longer is more likely a typo than a policy. */
#define MAX_PERIOD_MS (24u * 3600 * 1000)

struct rng_options {
	const char *source;
	uint64_t max_bytes;
	uint64_t period_ms;
	int period_given;
};

static int set_source(void *ctx, const char *value)
{
	struct rng_options *o = ctx;

	if (!value[0])
		return -EINVAL;
	o->source = value;
	return 0;
}

static int set_max_bytes(void *ctx, const char *value)
{
	struct rng_options *o = ctx;

	return daemon_parse_u64(value, 1, UINT32_MAX, &o->max_bytes);
}

static int set_period(void *ctx, const char *value)
{
	struct rng_options *o = ctx;

	o->period_given = 1;
	return daemon_parse_u64(value, 1, MAX_PERIOD_MS, &o->period_ms);
}

static const struct daemon_option rng_options[] = {
	{ "source", "PATH", "read entropy from PATH, not getrandom()",
	  set_source },
	{ "max-bytes", "N", "at most N bytes per period (default: no limit)",
	  set_max_bytes },
	{ "period", "MS", "rate-limit period in ms (default 1000)",
	  set_period },
	{ 0 }
};

static int check_options(void *ctx);

/* The capability schema (QEMU's vhost-user.json) defines no features for
 * "rng", so the list is empty. */
static const char *const rng_features[] = { NULL };

static struct rng_options options = { .period_ms = DEFAULT_PERIOD_MS };

static const struct daemon_desc rng_desc = {
	.program = "vhostdev-rng",
	.summary = "Serve a virtio entropy device (virtio-rng) to a "
		   "vhost-user front end.",
	.type = "rng",
	.features = rng_features,
	.options = rng_options,
	.ctx = &options,
	.check = check_options,
};

static int check_options(void *ctx)
{
	struct rng_options *o = ctx;

	if (o->period_given && !o->max_bytes) {
		daemon_usage_error(&rng_desc, "--period needs --max-bytes");
		return -EINVAL;
	}
	return 0;
}

/* What was printed to stdout (--help, capabilities) must have arrived. */
static int flush_stdout(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("vhostdev-rng: writing to stdout");
		return 1;
	}
	return 0;
}

int main(int argc, char *argv[])
{
	struct daemon_args args;
	struct rng_device rng;
	struct daemon *d;
	int r;

	r = daemon_parse(&rng_desc, argc, argv, &args);
	if (r > 0)
		return flush_stdout();
	if (r < 0)
		return 1;
	r = rng_device_init(&rng, rng_desc.program, options.source,
			    options.max_bytes, (unsigned int)options.period_ms);
	if (r < 0)
		return 1;
	r = daemon_new(&rng_desc, &args, rng.dev, &d);
	if (r < 0) {
		rng_device_fini(&rng);
		return 1;
	}
	r = rng_device_attach(&rng, d);
	if (r == 0)
		r = daemon_run(d);
	daemon_free(d);
	rng_device_fini(&rng);
	return r < 0 ? 1 : 0;
}
