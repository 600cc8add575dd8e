/* SPDX-License-Identifier: MIT */
/*
 * The virtio file-system device (virtio spec "File System Device", device
 * id 26) of vhostdev-fs: queue 0 is the high-priority queue (FORGET,
 * INTERRUPT), queues 1.. are request queues; the config space is the tag
 * and the number of request queues. Every queue is detached and served by
 * its own worker thread. With --thread-pool-size=N the request queues'
 * workers hand their requests to N pool threads and push the replies the
 * pool sends back; the high-priority queue is always served inline. After
 * a wake-up, a request queue's worker keeps polling its ring for a while
 * (--poll-us, spin.h). A quiesce stops the workers popping, waits for the
 * pool work in flight to be pushed, and then holds every worker's lock.
 */
#ifndef VHOSTDEV_FS_DEVICE_H
#define VHOSTDEV_FS_DEVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon.h"
#include "fs.h"
#include "spin.h"

#define FS_DEVICE_ID 26
#define FS_TAG_SIZE 36
/* Request queues offered; QEMU's num-request-queues picks how many run. */
#define FS_MAX_REQUEST_QUEUES 8

/* Largest --thread-pool-size. */
#define FS_MAX_POOL_THREADS 64

struct fs_worker;

/* A request handed to the pool: preallocated, one per request in flight. */
struct fs_slot {
	struct fs_request r;
	struct vhostdev_req *req;
	struct fs_worker *w;
	struct fs_slot *next;  /* free list, pool queue or done list */
};

struct fs_worker {
	struct fs_device *fsd;
	struct vhostdev_queue *q;
	pthread_t thread;
	bool started;
	bool more;            /* a full batch left requests behind */
	bool starved;         /* requests wait for a free slot */
	uint64_t served;      /* requests since the front end came */
	/* Held while serving and while pool work is in flight; a quiesce
	 * holds every worker's. */
	pthread_mutex_t lock;
	struct fs_request inline_req;  /* served on this thread */
	/* Pool hand-off (request queues with a pool only). */
	struct fs_slot *slots;
	unsigned int nslots;
	struct fs_slot *free;          /* the worker's own */
	unsigned int inflight;         /* the worker's own */
	pthread_mutex_t done_lock;
	struct fs_slot *done;          /* run by the pool, to push */
	int wake_fd;          /* eventfd: pool work done, or quiesce wanted */
	/* Request queues: polling after a wake-up, and how long the last
	 * sleep lasted. */
	struct spin_window spin;
	uint64_t slept_ns;
};

/* Threads shared by the request queues, running slots in arrival order. */
struct fs_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct fs_slot *head, *tail;
	bool stop;
	unsigned int size;
	unsigned int started;
	pthread_t threads[FS_MAX_POOL_THREADS];
};

struct fs_device {
	struct vhostdev *dev;
	struct daemon *daemon;
	struct fs fs;
	unsigned int num_queues;
	int stop_fd;          /* eventfd: workers end */
	/* Quiesce: workers stop popping and wait here until resumed. */
	pthread_mutex_t qlock;
	pthread_cond_t resumed;
	bool quiesce_wanted;  /* atomic reads outside qlock */
	bool stopping;        /* likewise */
	struct fs_pool pool;
	struct fs_worker workers[1 + FS_MAX_REQUEST_QUEUES];
};

/* Creates the device (tag: at most 36 bytes) with its queues detached.
 * Prints what failed. */
int fs_device_init(struct fs_device *fsd, const char *program,
		   const char *tag);
/* Starts pool_size pool threads (0: every request served inline) and the
 * workers, whose request queues poll for at most poll_us after a wake-up
 * (0: never); the device's fs must be initialised. */
int fs_device_start(struct fs_device *fsd, struct daemon *d,
		    unsigned int pool_size, unsigned int poll_us);
/* Ends and joins the workers, then the pool. */
void fs_device_stop(struct fs_device *fsd);
void fs_device_fini(struct fs_device *fsd);
/* Logs the requests taken since start, by opcode. */
void fs_device_log_counts(struct fs_device *fsd);

#endif
