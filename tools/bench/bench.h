/* SPDX-License-Identifier: MIT */
/* vhostdev-bench's shared declarations: the options, the per-queue state a
 * submitting thread owns, and the figures it hands back. */
#ifndef VHOSTDEV_BENCH_H
#define VHOSTDEV_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "vhostfront.h"

#define BENCH_BLOCK 4096u       /* every request moves one 4 KiB block */
#define BENCH_MAX_QUEUES 64
#define BENCH_MAX_PHASES 8
#define BENCH_MAX_CPUS 64

/* virtio-blk (virtio spec, "Block Device"): feature bits, request types,
 * status values and the request header the driver puts first. */
#define BLK_F_BLK_SIZE 6
#define BLK_F_MQ 12
#define BLK_T_IN 0u
#define BLK_T_OUT 1u
#define BLK_S_OK 0u
#define BLK_SECTOR 512u

struct blk_req_header {
	uint32_t type;          /* little-endian, like every field */
	uint32_t reserved;
	uint64_t sector;        /* in 512-byte units whatever blk_size is */
};

enum bench_rw { RW_READ, RW_WRITE, RW_MIXED };
enum bench_mode { MODE_INTERRUPT, MODE_POLL };

struct bench_options {
	const char *socket;
	enum bench_rw rw;
	enum bench_mode mode;
	unsigned int iodepth;
	unsigned int queues;
	unsigned int queue_size;        /* 0: smallest power of two >= iodepth */
	double runtime;                 /* seconds, 0: none */
	uint64_t phase_requests[BENCH_MAX_PHASES]; /* per phase, all queues */
	unsigned int nphases;           /* 0: one phase bounded by runtime */
	const char *between;            /* shell command run between phases */
	bool event_idx;
	bool indirect;
	bool packed;
	bool json;
	pid_t backend_pid;              /* 0: none */
	int cpus[BENCH_MAX_CPUS];
	unsigned int ncpus;
	int timeout_ms;                 /* longest wait for any completion */
	int wait_ms;                    /* for the socket to appear */
	uint64_t seed;
};

/* Latency histogram: 100 ns steps up to 1 ms, then 10 us steps up to
 * 101 ms, then one overflow bucket. Fixed size so that recording a
 * sample never allocates. */
#define HIST_FINE 10000u
#define HIST_COARSE 10000u
#define HIST_BUCKETS (HIST_FINE + HIST_COARSE + 1)

struct bench_hist {
	uint64_t count;
	uint64_t sum_ns;
	uint64_t max_ns;
	uint32_t bucket[HIST_BUCKETS];
};

void hist_add(struct bench_hist *h, uint64_t ns);
void hist_merge(struct bench_hist *into, const struct bench_hist *h);
/* The latency (ns) below which fraction q (0..1) of the samples lie. */
uint64_t hist_quantile(const struct bench_hist *h, double q);

/* Everything one queue's thread did. */
struct bench_counts {
	uint64_t submitted;
	uint64_t completed;
	uint64_t kicks;
	uint64_t calls;         /* sum of call eventfd counter values read */
	uint64_t bad_status;
	uint64_t bad_len;       /* used length other than what was written */
	uint64_t bytes;
};

/* One request slot: its buffers in guest memory. */
struct bench_slot {
	uint64_t hdr_gpa, data_gpa, status_gpa;
	struct blk_req_header *hdr;
	uint8_t *status;
	bool write;
};

struct bench_queue {
	const struct bench_options *o;
	struct vhf_vq *vq;
	unsigned int index;
	uint64_t sectors;       /* disk capacity in sectors */
	struct bench_slot *slots;       /* iodepth */
	unsigned int *free_slots;       /* stack of slot numbers */
	unsigned int nfree;
	/* by chain id (0..ring size-1) */
	unsigned int *slot_of;
	uint64_t *start_ns;
	uint64_t rng;
	int cpu;                /* -1: not pinned */

	/* This phase's target; the thread's results. */
	uint64_t target;
	bool use_deadline;
	uint64_t deadline_ns;
	struct bench_counts counts;
	struct bench_hist *hist;
	int error;              /* negative errno, or 0 */
	char why[160];          /* what went wrong, for the report */
};

struct bench_run {
	struct bench_options *o;
	struct vhf_conn *conn;
	struct vhf_mem *mem;
	uint64_t features, protocol;
	uint64_t sectors;
	unsigned int ring_size;
	struct bench_queue q[BENCH_MAX_QUEUES];
};

/* setup.c */
int bench_setup(struct bench_run *run);
void bench_teardown(struct bench_run *run);

/* worker.c: runs one phase on every queue (one thread each) and waits. */
int bench_run_phase(struct bench_run *run);
uint64_t bench_now_ns(void);

/* report.c */
struct bench_result {
	double seconds;
	struct bench_counts total;
	struct bench_hist *hist;
	bool have_cpu;
	double backend_cpu_s;
	double bench_cpu_s;
	int errors;             /* queues that failed */
};
int proc_cpu_seconds(pid_t pid, double *seconds);
void report_text(FILE *f, const struct bench_run *run,
		 const struct bench_result *r);
void report_json(FILE *f, const struct bench_run *run,
		 const struct bench_result *r);

#endif
