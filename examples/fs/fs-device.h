/* SPDX-License-Identifier: MIT */
/*
 * The virtio file-system device (virtio spec "File System Device", device
 * id 26) of vhostdev-fs: queue 0 is the high-priority queue (FORGET,
 * INTERRUPT), queues 1.. are request queues; the config space is the tag
 * and the number of request queues. Every queue is detached and served by
 * its own worker thread; a quiesce takes every worker's lock, so the
 * control thread waits at most for the requests being served.
 */
#ifndef VHOSTDEV_FS_DEVICE_H
#define VHOSTDEV_FS_DEVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon.h"
#include "fs.h"

#define FS_DEVICE_ID 26
#define FS_TAG_SIZE 36
/* Request queues offered; QEMU's num-request-queues picks how many run. */
#define FS_MAX_REQUEST_QUEUES 8

struct fs_worker {
	struct fs_device *fsd;
	struct vhostdev_queue *q;
	pthread_t thread;
	bool started;
	bool more;            /* a full batch left requests behind */
	uint64_t served;      /* requests since the front end came */
	/* Held while serving; a quiesce holds every worker's. */
	pthread_mutex_t lock;
	struct fs_scratch scratch;
};

struct fs_device {
	struct vhostdev *dev;
	struct daemon *daemon;
	struct fs fs;
	unsigned int num_queues;
	int stop_fd;          /* eventfd: workers end */
	struct fs_worker workers[1 + FS_MAX_REQUEST_QUEUES];
};

/* Creates the device (tag: at most 36 bytes) with its queues detached.
 * Prints what failed. */
int fs_device_init(struct fs_device *fsd, const char *program,
		   const char *tag);
/* Starts the workers; the device's fs must be initialised. */
int fs_device_start(struct fs_device *fsd, struct daemon *d);
/* Ends and joins the workers. */
void fs_device_stop(struct fs_device *fsd);
void fs_device_fini(struct fs_device *fsd);

#endif
