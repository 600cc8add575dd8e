/* SPDX-License-Identifier: MIT */
/* Bringing a vhost-user-blk back end up the way a front end does:
 * connect, negotiate, read the capacity, share one memfd as guest memory,
 * lay out the rings and request buffers in it and start the queues. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define BENCH_PROTOCOL                                                        \
	(VHF_BIT(VHF_PF_MQ) | VHF_BIT(VHF_PF_REPLY_ACK) |                     \
	 VHF_BIT(VHF_PF_CONFIG))

/* Per-request bytes outside the data block: header then status, in one
 * 32-byte cell so that a slot's small parts share a cache line. */
#define SLOT_SMALL 32u

/* Ring entries iodepth requests take: one each with indirect tables,
 * else one per buffer. */
static unsigned int ring_need(const struct bench_options *o)
{
	return o->iodepth * (o->indirect ? 1 : 3);
}

static unsigned int ring_size_for(const struct bench_options *o)
{
	unsigned int n = 1;

	if (o->queue_size)
		return o->queue_size;
	while (n < ring_need(o))
		n <<= 1;
	return n;
}

static uint64_t round_up(uint64_t v, uint64_t to)
{
	return (v + to - 1) / to * to;
}

/* Bytes of guest memory one queue needs, generously: the ring areas,
 * indirect tables (the front end reserves 16 descriptors per chain), and
 * the request buffers. */
static uint64_t queue_bytes(unsigned int ring, unsigned int depth)
{
	uint64_t b = 16ull * ring + 6 + 2ull * ring + 6 + 8ull * ring;

	b += 16ull * 16 * ring;
	b += (uint64_t)depth * (BENCH_BLOCK + SLOT_SMALL);
	return round_up(b, 4096) + 3 * 4096;
}

static int fail(struct bench_run *run, const char *step, int r)
{
	fprintf(stderr, "vhostdev-bench: %s: %s: %s\n", run->o->socket, step,
		r == -ETIMEDOUT ? "no reply in time" :
		r == -ECONNRESET ? "the back end closed the connection" :
		strerror(-r));
	return r;
}

static int negotiate(struct bench_run *run)
{
	struct bench_options *o = run->o;
	uint64_t want = VHF_BIT(VHF_F_VERSION_1) |
			VHF_BIT(VHF_F_PROTOCOL_FEATURES) |
			VHF_BIT(BLK_F_BLK_SIZE);
	int r;

	if (o->event_idx)
		want |= VHF_BIT(VHF_F_EVENT_IDX);
	if (o->indirect)
		want |= VHF_BIT(VHF_F_INDIRECT_DESC);
	if (o->packed)
		want |= VHF_BIT(VHF_F_RING_PACKED);
	if (o->queues > 1)
		want |= VHF_BIT(BLK_F_MQ);
	r = vhf_negotiate(run->conn, want, BENCH_PROTOCOL, &run->features,
			  &run->protocol);
	if (r < 0)
		return fail(run, "negotiation", r);
	if (want & ~run->features & ~VHF_BIT(BLK_F_BLK_SIZE)) {
		fprintf(stderr, "vhostdev-bench: %s: the back end does not"
			" offer features 0x%llx that were asked for\n",
			o->socket, (unsigned long long)
			(want & ~run->features & ~VHF_BIT(BLK_F_BLK_SIZE)));
		return -ENOTSUP;
	}
	if (!(run->protocol & VHF_BIT(VHF_PF_CONFIG))) {
		fprintf(stderr, "vhostdev-bench: %s: no CONFIG protocol"
			" feature, cannot learn the capacity\n", o->socket);
		return -ENOTSUP;
	}
	if (o->queues > 1) {
		uint64_t n = 0;

		r = vhf_get_queue_num(run->conn, &n);
		if (r < 0)
			return fail(run, "GET_QUEUE_NUM", r);
		if (n < o->queues) {
			fprintf(stderr, "vhostdev-bench: %s: the back end has"
				" %llu queues, %u asked for\n", o->socket,
				(unsigned long long)n, o->queues);
			return -ENOTSUP;
		}
	}
	return 0;
}

static int read_capacity(struct bench_run *run)
{
	uint8_t cfg[8];
	uint64_t cap = 0;
	int r = vhf_get_config(run->conn, 0, cfg, sizeof(cfg), 0);

	if (r < 0)
		return fail(run, "GET_CONFIG", r);
	for (int i = 7; i >= 0; i--)
		cap = cap << 8 | cfg[i];
	if (cap < BENCH_BLOCK / BLK_SECTOR) {
		fprintf(stderr, "vhostdev-bench: %s: capacity %llu sectors is"
			" less than one 4 KiB block\n", run->o->socket,
			(unsigned long long)cap);
		return -EINVAL;
	}
	run->sectors = cap;
	return 0;
}

/* The request buffers of one queue, each slot's parts at fixed places. */
static int setup_slots(struct bench_run *run, struct bench_queue *q)
{
	unsigned int depth = run->o->iodepth;
	uint64_t data, small;
	int r;

	q->slots = calloc(depth, sizeof(*q->slots));
	q->free_slots = calloc(depth, sizeof(*q->free_slots));
	q->slot_of = calloc(run->ring_size, sizeof(*q->slot_of));
	q->start_ns = calloc(run->ring_size, sizeof(*q->start_ns));
	q->hist = calloc(1, sizeof(*q->hist));
	if (!q->slots || !q->free_slots || !q->slot_of || !q->start_ns ||
	    !q->hist)
		return -ENOMEM;
	r = vhf_mem_alloc(run->mem, (uint64_t)depth * BENCH_BLOCK, BENCH_BLOCK,
			  0, &data);
	if (r == 0)
		r = vhf_mem_alloc(run->mem, (uint64_t)depth * SLOT_SMALL, 64, 0,
				  &small);
	if (r < 0)
		return r;
	for (unsigned int i = 0; i < depth; i++) {
		struct bench_slot *s = &q->slots[i];

		s->data_gpa = data + (uint64_t)i * BENCH_BLOCK;
		s->hdr_gpa = small + (uint64_t)i * SLOT_SMALL;
		s->status_gpa = s->hdr_gpa + sizeof(struct blk_req_header);
		s->hdr = vhf_mem_ptr(run->mem, s->hdr_gpa, sizeof(*s->hdr));
		s->status = vhf_mem_ptr(run->mem, s->status_gpa, 1);
		q->free_slots[i] = depth - 1 - i;
	}
	q->nfree = depth;
	return 0;
}

int bench_setup(struct bench_run *run)
{
	struct bench_options *o = run->o;
	unsigned int flags;
	uint64_t size = 2 << 20;
	int r;

	run->ring_size = ring_size_for(o);
	if (run->ring_size < ring_need(o) || run->ring_size > 32768 ||
	    (!o->packed && (run->ring_size & (run->ring_size - 1)))) {
		fprintf(stderr, "vhostdev-bench: queue size %u cannot hold"
			" %u requests%s (split rings: a power of two)\n",
			run->ring_size, o->iodepth,
			o->indirect ? "" : " of three descriptors");
		return -EINVAL;
	}
	r = vhf_connect(o->socket, o->wait_ms, &run->conn);
	if (r < 0)
		return fail(run, "connect", r);
	vhf_conn_set_timeout(run->conn, o->timeout_ms);
	r = negotiate(run);
	if (r == 0)
		r = read_capacity(run);
	if (r < 0)
		return r;

	size += o->queues * queue_bytes(run->ring_size, o->iodepth);
	size = round_up(size, 2 << 20);
	r = vhf_mem_new(&run->mem);
	if (r == 0)
		r = vhf_mem_add(run->mem, 0, size, 0);
	if (r < 0)
		return fail(run, "guest memory", r);
	r = vhf_set_mem_table(run->conn, run->mem);
	if (r < 0)
		return fail(run, "SET_MEM_TABLE", r);

	flags = vhf_vq_flags_for(run->features);
	for (unsigned int i = 0; i < o->queues; i++) {
		struct bench_queue *q = &run->q[i];

		q->o = o;
		q->index = i;
		q->sectors = run->sectors;
		q->rng = o->seed * 0x9e3779b97f4a7c15ull + i + 1;
		q->cpu = o->ncpus ? o->cpus[i % o->ncpus] : -1;
		r = vhf_vq_new(run->mem, i, run->ring_size, flags, 0, &q->vq);
		if (r < 0)
			return fail(run, "ring allocation", r);
		r = setup_slots(run, q);
		if (r < 0)
			return fail(run, "request buffers", r);
		r = vhf_vq_setup(run->conn, q->vq);
		if (r < 0)
			return fail(run, "ring setup", r);
		r = vhf_vq_enable(run->conn, q->vq, true);
		if (r < 0)
			return fail(run, "SET_VRING_ENABLE", r);
	}
	return 0;
}

void bench_teardown(struct bench_run *run)
{
	for (unsigned int i = 0; i < run->o->queues; i++) {
		struct bench_queue *q = &run->q[i];

		/* Stop the rings cleanly (GET_VRING_BASE) while the back
		 * end is still there; errors no longer matter here. */
		if (q->vq && run->conn)
			vhf_vq_stop(run->conn, q->vq, NULL);
		vhf_vq_free(q->vq);
		free(q->slots);
		free(q->free_slots);
		free(q->slot_of);
		free(q->start_ns);
		free(q->hist);
	}
	vhf_conn_free(run->conn);
	vhf_mem_free(run->mem);
}
