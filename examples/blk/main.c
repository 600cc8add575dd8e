/* SPDX-License-Identifier: MIT */
/*
 * vhostdev-blk: serves a virtio block device (a raw image file, a host
 * block device, or a null disk) to a vhost-user front end (QEMU's
 * vhost-user-blk-pci). This file is the command line and the wiring; the
 * device is in blk-device.c, the worker threads in worker.c, requests in
 * request.c, and the loop and common options in examples/common.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "blk.h"

#define DEFAULT_QUEUE_SIZE 1024
#define MAX_QUEUE_SIZE 32768
/* vhost-user queue indices fit in 8 bits. */
#define MAX_NUM_QUEUES 256
/* --poll-us: polling after a wake-up, at most 100 ms. */
#define DEFAULT_POLL_US 50

static struct blk_options options = {
	.num_queues = 1,
	.queue_size = DEFAULT_QUEUE_SIZE,
	.poll_us = DEFAULT_POLL_US,
};

static int set_blk_file(void *ctx, const char *value)
{
	struct blk_options *o = ctx;
	uint64_t size;
	int r;

	if (!value[0])
		return -EINVAL;
	/* A wrong null size is a wrong option value, said as such. */
	r = backing_parse_null(value, &size);
	if (r < 0)
		return r;
	o->blk_file = value;
	return 0;
}

static int set_read_only(void *ctx, const char *value)
{
	((struct blk_options *)ctx)->read_only = true;
	return 0;
}

static int set_poll(void *ctx, const char *value)
{
	((struct blk_options *)ctx)->poll = true;
	return 0;
}

static int set_serial(void *ctx, const char *value)
{
	struct blk_options *o = ctx;

	if (strlen(value) > VIRTIO_BLK_ID_BYTES)
		return -ERANGE;
	o->serial = value;
	return 0;
}

static int set_num_queues(void *ctx, const char *value)
{
	return daemon_parse_uint(value, 1, MAX_NUM_QUEUES,
				 &((struct blk_options *)ctx)->num_queues);
}

static int set_threads(void *ctx, const char *value)
{
	return daemon_parse_uint(value, 1, MAX_NUM_QUEUES,
				 &((struct blk_options *)ctx)->threads);
}

static int set_poll_us(void *ctx, const char *value)
{
	return daemon_parse_uint(value, 0, SPIN_MAX_US,
				 &((struct blk_options *)ctx)->poll_us);
}

static int set_queue_size(void *ctx, const char *value)
{
	struct blk_options *o = ctx;
	int r = daemon_parse_uint(value, 2, MAX_QUEUE_SIZE, &o->queue_size);

	/* Split rings must be a power of two; so must this limit. */
	if (r == 0 && (o->queue_size & (o->queue_size - 1)))
		return -EINVAL;
	return r;
}

static int set_cache(void *ctx, const char *value)
{
	struct blk_options *o = ctx;

	if (strcmp(value, "none") == 0)
		o->direct = true;
	else if (strcmp(value, "writeback") == 0)
		o->direct = false;
	else
		return -EINVAL;
	return 0;
}

static const struct daemon_option blk_option_list[] = {
	{ "blk-file", "PATH", "serve this image file or block device, or "
	  "null:SIZE (e.g. null:1G) for a disk that stores nothing",
	  set_blk_file },
	{ "read-only", NULL, "refuse writes (the guest sees a read-only disk)",
	  set_read_only },
	{ "serial", "TEXT", "disk serial number (up to 20 bytes)",
	  set_serial },
	{ "num-queues", "N", "request queues (default 1)", set_num_queues },
	{ "queue-size", "N", "largest ring accepted, a power of two "
	  "(default 1024)", set_queue_size },
	{ "threads", "N", "worker threads (default: one per queue)",
	  set_threads },
	{ "poll", NULL, "busy-poll the rings instead of waiting for kicks",
	  set_poll },
	{ "poll-us", "N", "without --poll: after a wake-up, keep polling the "
	  "rings for up to N microseconds without a request (adaptive; "
	  "default 50, 0: never)", set_poll_us },
	{ "cache", "MODE", "none (O_DIRECT) or writeback (default)",
	  set_cache },
	{ 0 }
};

static int check_options(void *ctx);

/* QEMU's vhost-user.json defines these for the "block" type. */
static const char *const blk_features[] = { "read-only", "blk-file", NULL };

static const struct daemon_desc blk_desc = {
	.program = "vhostdev-blk",
	.summary = "Serve a virtio block device (virtio-blk) to a vhost-user "
		   "front end.",
	.type = "block",
	.features = blk_features,
	.options = blk_option_list,
	.ctx = &options,
	.check = check_options,
};

static int check_options(void *ctx)
{
	struct blk_options *o = ctx;

	if (!o->blk_file) {
		daemon_usage_error(&blk_desc, "--blk-file is required");
		return -EINVAL;
	}
	if (o->threads > o->num_queues) {
		daemon_usage_error(&blk_desc,
				   "--threads=%u is more than --num-queues=%u",
				   o->threads, o->num_queues);
		return -EINVAL;
	}
	if (o->direct && strncmp(o->blk_file, "null:", 5) == 0) {
		daemon_usage_error(&blk_desc,
				   "--cache=none makes no sense with a null "
				   "backing");
		return -EINVAL;
	}
	return 0;
}

/* What was printed to stdout (--help, capabilities) must have arrived. */
static int flush_stdout(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("vhostdev-blk: writing to stdout");
		return 1;
	}
	return 0;
}

int main(int argc, char *argv[])
{
	struct daemon_args args;
	struct blk_device blk;
	struct daemon *d;
	int r;

	r = daemon_parse(&blk_desc, argc, argv, &args);
	if (r > 0)
		return flush_stdout();
	if (r < 0)
		return 1;
	r = blk_device_init(&blk, blk_desc.program, &options);
	if (r < 0)
		return 1;
	r = daemon_new(&blk_desc, &args, blk.dev, &d);
	if (r < 0) {
		blk_device_fini(&blk);
		return 1;
	}
	r = blk_device_attach(&blk, d);
	if (r == 0)
		r = daemon_run(d);
	/* The workers go first: a disconnect's quiesce then has nobody to
	 * wait for. */
	blk_workers_stop(&blk);
	daemon_free(d);
	blk_device_fini(&blk);
	return r < 0 ? 1 : 0;
}
