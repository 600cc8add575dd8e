/* SPDX-License-Identifier: MIT */
/*
 * vhostdev-blk's control-thread side: creating the vhostdev device with the
 * virtio-blk features this backing store supports, serving the config
 * space (built on every read, so capacity and cache mode are always
 * current), the guest's writes to the writeback byte, and online resize
 * (SIGHUP, or a once-a-second look at the backing size).
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "blk.h"

#define SIZE_CHECK_PERIOD_S 1

static unsigned int log2u(unsigned int v)
{
	unsigned int r = 0;

	while (v > 1) {
		v >>= 1;
		r++;
	}
	return r;
}

static void build_config(struct blk_device *blk, struct virtio_blk_config *c)
{
	const struct backing *b = &blk->backing;
	uint64_t capacity = __atomic_load_n(&blk->capacity, __ATOMIC_ACQUIRE);

	memset(c, 0, sizeof(*c));
	c->capacity = htole64(capacity >> VIRTIO_BLK_SECTOR_SHIFT);
	c->size_max = htole32(BLK_SIZE_MAX);
	c->seg_max = htole32(BLK_SEG_MAX);
	c->blk_size = htole32(b->logical_block);
	c->physical_block_exp = (uint8_t)log2u(b->physical_block /
					       b->logical_block);
	c->min_io_size = htole16(1);
	c->writeback = __atomic_load_n(&blk->writeback, __ATOMIC_RELAXED);
	c->num_queues = htole16((uint16_t)blk->nqueues);
	c->max_discard_sectors = htole32(BLK_MAX_DISCARD_SECTORS);
	c->max_discard_seg = htole32(BLK_MAX_DISCARD_SEG);
	c->discard_sector_alignment =
		htole32(b->logical_block / VIRTIO_BLK_SECTOR_SIZE);
	c->max_write_zeroes_sectors = htole32(BLK_MAX_WRITE_ZEROES_SECTORS);
	c->max_write_zeroes_seg = htole32(BLK_MAX_WRITE_ZEROES_SEG);
	c->write_zeroes_may_unmap = 1;
}

/* Front ends ask for the config size they know (QEMU: its whole struct,
 * zoned fields included): bytes past ours read as zero. */
#define CONFIG_SPACE_MAX 256

static int config_read(struct vhostdev *dev, uint32_t offset, void *buf,
		       uint32_t size, void *userdata)
{
	struct blk_device *blk = userdata;
	struct virtio_blk_config c;
	uint8_t space[CONFIG_SPACE_MAX] = { 0 };

	if (offset > CONFIG_SPACE_MAX || size > CONFIG_SPACE_MAX - offset)
		return -EINVAL;
	build_config(blk, &c);
	memcpy(space, &c, sizeof(c));
	memcpy(buf, space + offset, size);
	return 0;
}

/* Only the writeback byte is writable, and only with CONFIG_WCE. */
static int config_write(struct vhostdev *dev, uint32_t offset,
			const void *buf, uint32_t size, void *userdata)
{
	struct blk_device *blk = userdata;
	const uint32_t wb = offsetof(struct virtio_blk_config, writeback);
	uint8_t value;

	if (offset != wb || size != 1)
		return -EINVAL;
	if (!(vhostdev_get_acked_features(dev) &
	      (1ull << VIRTIO_BLK_F_CONFIG_WCE)))
		return -EPERM;
	memcpy(&value, buf, 1);
	__atomic_store_n(&blk->writeback, value ? 1 : 0, __ATOMIC_RELAXED);
	daemon_log(blk->daemon, VHOSTDEV_LOG_INFO, "cache mode: %s",
		   value ? "writeback" : "writethrough");
	return 0;
}

static int features_acked(struct vhostdev *dev, uint64_t acked,
			  void *userdata)
{
	struct blk_device *blk = userdata;

	__atomic_store_n(&blk->acked_features, acked, __ATOMIC_RELAXED);
	return 0;
}

static void on_kick(struct vhostdev *dev, struct vhostdev_queue *q,
		    void *userdata)
{
	blk_queue_serve(vhostdev_queue_get_userdata(q));
}

static void on_reset(struct vhostdev *dev, void *userdata)
{
	struct blk_device *blk = userdata;

	/* A new driver starts with the cache mode it negotiates. */
	__atomic_store_n(&blk->writeback, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&blk->acked_features, 0, __ATOMIC_RELAXED);
}

int blk_device_check_size(struct blk_device *blk)
{
	uint64_t size, old = __atomic_load_n(&blk->capacity, __ATOMIC_ACQUIRE);
	int r = backing_query_size(&blk->backing, &size);

	if (r < 0) {
		daemon_log(blk->daemon, VHOSTDEV_LOG_WARNING,
			   "%s: cannot get the size: %s", blk->opt.blk_file,
			   strerror(-r));
		return 0;
	}
	if (size == old)
		return 0;
	__atomic_store_n(&blk->capacity, size, __ATOMIC_RELEASE);
	daemon_log(blk->daemon, VHOSTDEV_LOG_INFO,
		   "%s: size changed from %llu to %llu bytes",
		   blk->opt.blk_file, (unsigned long long)old,
		   (unsigned long long)size);
	r = vhostdev_notify_config_change(blk->dev, NULL, 0);
	if (r < 0 && r != -ENOTCONN)
		daemon_log(blk->daemon, VHOSTDEV_LOG_WARNING,
			   "telling the front end about the new size: %s",
			   strerror(-r));
	return 0;
}

static int on_sighup(struct daemon *d, int fd, short revents, void *data)
{
	struct signalfd_siginfo info;

	while (read(fd, &info, sizeof(info)) == sizeof(info))
		;
	return blk_device_check_size(data);
}

static int on_timer(struct daemon *d, int fd, short revents, void *data)
{
	uint64_t expirations;

	if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return -errno;
	return blk_device_check_size(data);
}

static uint64_t device_features(struct blk_device *blk)
{
	uint64_t f = (1ull << VIRTIO_BLK_F_SIZE_MAX) |
		     (1ull << VIRTIO_BLK_F_SEG_MAX) |
		     (1ull << VIRTIO_BLK_F_BLK_SIZE) |
		     (1ull << VIRTIO_BLK_F_FLUSH) |
		     (1ull << VIRTIO_BLK_F_TOPOLOGY) |
		     (1ull << VIRTIO_BLK_F_CONFIG_WCE) |
		     (1ull << VIRTIO_BLK_F_MQ) |
		     (1ull << VIRTIO_BLK_F_DISCARD) |
		     (1ull << VIRTIO_BLK_F_WRITE_ZEROES);

	if (blk->backing.read_only)
		f |= 1ull << VIRTIO_BLK_F_RO;
	return f;
}

static int setup_queues(struct blk_device *blk)
{
	int r;

	blk->queues = calloc(blk->nqueues, sizeof(*blk->queues));
	if (!blk->queues)
		return -ENOMEM;
	for (unsigned int i = 0; i < blk->nqueues; i++) {
		struct blk_queue *q = &blk->queues[i];

		q->blk = blk;
		q->vq = vhostdev_get_queue(blk->dev, i);
		vhostdev_queue_set_userdata(q->vq, q);
		r = blk_queue_alloc(q, blk->opt.queue_size);
		if (r < 0)
			return r;
		r = vhostdev_queue_set_detached(q->vq, 1);
		if (r < 0)
			return r;
	}
	return 0;
}

int blk_device_init(struct blk_device *blk, const char *program,
		    const struct blk_options *opt)
{
	struct vhostdev *dev;
	int r;

	*blk = (struct blk_device){
		.program = program, .opt = *opt, .hup_fd = -1, .timer_fd = -1,
		.backing.fd = -1, .backing.fd_buffered = -1, .writeback = 1,
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.resumed = PTHREAD_COND_INITIALIZER,
	};
	/* Up to 20 bytes, zero-padded, no terminator when full (the
	 * option parser checked the length). */
	if (opt->serial)
		memcpy(blk->serial, opt->serial, strlen(opt->serial));
	r = backing_open(&blk->backing, opt->blk_file, opt->read_only,
			 opt->direct);
	if (r < 0) {
		fprintf(stderr, "%s: --blk-file=%s: %s\n", program,
			opt->blk_file, r == -EINVAL ?
			"not a regular file or block device" : strerror(-r));
		return r;
	}
	if (blk->backing.size == 0)
		fprintf(stderr, "%s: warning: %s is empty\n", program,
			opt->blk_file);
	blk->capacity = blk->backing.size;
	blk->nqueues = opt->num_queues;
	r = vhostdev_new(VIRTIO_BLK_DEVICE_ID, blk->nqueues, &dev);
	if (r < 0) {
		fprintf(stderr, "%s: vhostdev_new: %s\n", program,
			strerror(-r));
		goto fail;
	}
	blk->dev = dev;
	vhostdev_set_userdata(dev, blk);
	/* ACCESS_PLATFORM: served behind a vIOMMU (iommu_platform=on). */
	r = vhostdev_set_features(dev, vhostdev_get_features(dev) |
				  (1ull << VHOSTDEV_F_ACCESS_PLATFORM) |
				       device_features(blk));
	if (r == 0)
		r = vhostdev_set_max_queue_size(dev, opt->queue_size);
	if (r == 0)
		r = setup_queues(blk);
	if (r < 0) {
		fprintf(stderr, "%s: setting up the device: %s\n", program,
			strerror(-r));
		goto fail;
	}
	vhostdev_set_config_read_fn(dev, config_read);
	vhostdev_set_config_write_fn(dev, config_write);
	vhostdev_set_features_fn(dev, features_acked);
	vhostdev_set_queue_kick_fn(dev, on_kick);
	vhostdev_set_quiesce_fn(dev, blk_quiesce);
	vhostdev_set_resume_fn(dev, blk_resume);
	vhostdev_set_reset_fn(dev, on_reset);
	return 0;
fail:
	blk_device_fini(blk);
	return r;
}

int blk_device_attach(struct blk_device *blk, struct daemon *d)
{
	struct itimerspec period = {
		.it_value.tv_sec = SIZE_CHECK_PERIOD_S,
		.it_interval.tv_sec = SIZE_CHECK_PERIOD_S,
	};
	sigset_t hup;
	int r;

	blk->daemon = d;
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	/* Blocked before the workers start, so they inherit the mask and
	 * only the signalfd sees SIGHUP. */
	r = -pthread_sigmask(SIG_BLOCK, &hup, NULL);
	if (r < 0)
		return r;
	blk->hup_fd = signalfd(-1, &hup, SFD_CLOEXEC | SFD_NONBLOCK);
	if (blk->hup_fd < 0)
		return -errno;
	r = daemon_add_fd(d, blk->hup_fd, POLLIN, on_sighup, blk);
	if (r < 0)
		return r;
	if (blk->backing.kind != BACKING_NULL) {
		blk->timer_fd = timerfd_create(CLOCK_MONOTONIC,
					       TFD_CLOEXEC | TFD_NONBLOCK);
		if (blk->timer_fd < 0 ||
		    timerfd_settime(blk->timer_fd, 0, &period, NULL) < 0)
			return -errno;
		r = daemon_add_fd(d, blk->timer_fd, POLLIN, on_timer, blk);
		if (r < 0)
			return r;
	}
	if (blk->backing.kind == BACKING_BLOCK_DEVICE) {
		r = discard_helper_start(&blk->discard, blk->backing.fd);
		if (r < 0) {
			daemon_log(d, VHOSTDEV_LOG_ERR,
				   "starting the discard thread: %s",
				   strerror(-r));
			return r;
		}
	}
	r = blk_workers_start(blk);
	if (r < 0)
		daemon_log(d, VHOSTDEV_LOG_ERR, "starting the workers: %s",
			   strerror(-r));
	return r;
}

void blk_device_fini(struct blk_device *blk)
{
	/* The workers wait for their discards, so the helper goes last. */
	blk_workers_stop(blk);
	discard_helper_stop(&blk->discard);
	blk->dev = vhostdev_unref(blk->dev);
	if (blk->queues)
		for (unsigned int i = 0; i < blk->nqueues; i++)
			blk_queue_free(&blk->queues[i]);
	free(blk->queues);
	blk->queues = NULL;
	if (blk->hup_fd >= 0)
		close(blk->hup_fd);
	if (blk->timer_fd >= 0)
		close(blk->timer_fd);
	blk->hup_fd = blk->timer_fd = -1;
	backing_close(&blk->backing);
}
