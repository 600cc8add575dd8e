/* SPDX-License-Identifier: MIT */
/* Hostile guests: descriptor chains and ring setups no driver should
 * write. The documented answer to a bad chain is DEVICE_NEEDS_RESET in
 * the status, no used entry, and not one guest byte changed outside the
 * device's ring area; a bad ring setup is refused with a failed
 * REPLY_ACK. Each case runs on a fresh connection. */
#include <errno.h>
#include <string.h>

#include "adversarial.h"

#define W VHF_DESC_F_WRITE
#define N VHF_DESC_F_NEXT
#define I VHF_DESC_F_INDIRECT
/* Buffers and tables, well clear of the ring at the start of A. */
#define DATA (ADV_A + 0x20000)
#define TABLE (ADV_A + 0x30000)

/* Writes a chain; returns 1 when it published it itself. */
typedef int (*chain_fn)(struct adv_session *s);

/* Writes a chain with write(), publishes head 0 and kicks; the device
 * must refuse it as documented. */
static int expect_refused(const struct adv_kind *kind, struct adv_daemon *d,
			  unsigned int how, chain_fn write)
{
	struct adv_session s;
	uint64_t lo, hi;
	uint16_t id;
	uint32_t len;
	bool reset, untouched;
	int used, r;

	r = adv_open(&s, kind, d, ADV_RING | how);
	if (r == -ENOTSUP) {
		adv_note("packed rings not offered: case skipped");
		adv_close(&s);
		return 0;
	}
	ADV_CHECK(r == 0, "session setup failed");
	if (!write(&s))
		adv_publish(&s, 0);
	adv_snapshot(&s);
	vhf_vq_kick(s.vq);
	reset = adv_wait_needs_reset(&s);
	used = adv_wait_used(&s, 100, &id, &len);
	adv_device_area(&s, &lo, &hi);
	untouched = adv_unchanged_except(&s, lo, hi);
	r = adv_close(&s);
	ADV_CHECK(reset, "status never showed DEVICE_NEEDS_RESET");
	ADV_CHECK(used == 0, "the bad chain was completed (%d)", used);
	ADV_CHECK(untouched, "guest memory changed outside the used ring");
	return r;
}

static int in_hole(struct adv_session *s)
{
	adv_split_desc(s, 0, ADV_HOLE + 0x100, 64, W, 0);
	return 0;
}

static int past_end_of_memory(struct adv_session *s)
{
	adv_split_desc(s, 0, 0xfffffffffffff000ull, 0x2000, W, 0);
	return 0;
}

static int straddles_hole(struct adv_session *s)
{
	adv_split_desc(s, 0, ADV_A + ADV_A_SIZE - 32, 64, W, 0);
	return 0;
}

static int enormous_length(struct adv_session *s)
{
	adv_split_desc(s, 0, DATA, 0xffffffffu, W, 0);
	return 0;
}

static int loop(struct adv_session *s)
{
	adv_split_desc(s, 1, DATA + 0x100, 16, W | N, 0);
	adv_split_desc(s, 0, DATA, 16, W | N, 1);
	return 0;
}

/* Entry i of the indirect table: the split layout, or for packed rings
 * the packed one (id in place of next, flags last). */
static void write_table(struct adv_session *s, unsigned int i, uint64_t addr,
			uint32_t len, uint16_t flags, uint16_t next)
{
	void *t = adv_ptr(s, TABLE + 16ull * i, 16);

	if (s->packed)
		*(struct vhf_pdesc *)t = (struct vhf_pdesc){
			.addr = addr, .len = len, .id = next, .flags = flags,
		};
	else
		*(struct vhf_desc *)t = (struct vhf_desc){
			.addr = addr, .len = len, .flags = flags, .next = next,
		};
}

static int indirect_in_indirect(struct adv_session *s)
{
	write_table(s, 0, TABLE + 0x1000, 16, I, 0);
	adv_split_desc(s, 0, TABLE, 16, I, 0);
	return 0;
}

static int indirect_table_in_hole(struct adv_session *s)
{
	adv_split_desc(s, 0, ADV_HOLE, 64, I, 0);
	return 0;
}

static int indirect_loop(struct adv_session *s)
{
	write_table(s, 0, DATA, 16, W | N, 1);
	write_table(s, 1, DATA + 16, 16, W | N, 0);
	adv_split_desc(s, 0, TABLE, 32, I, 0);
	return 0;
}

/* An indirect chain of 2048 one-byte buffers: longer than any request
 * may be (1024 iovecs) and than the ring. */
static int longer_than_queue(struct adv_session *s)
{
	for (unsigned int i = 0; i < 2048; i++)
		write_table(s, i, DATA + i, 1, i < 2047 ? W | N : W,
			    (uint16_t)(i + 1));
	adv_split_desc(s, 0, TABLE, 2048 * 16, I, 0);
	return 0;
}

/* Without indirect tables, only a chain through every descriptor and
 * back is longer than the ring. */
static int chain_through_all(struct adv_session *s)
{
	for (unsigned int i = ADV_QUEUE_SIZE; i-- > 0;)
		adv_split_desc(s, (uint16_t)i, DATA + 16 * i, 16, W | N,
			       (uint16_t)((i + 1) % ADV_QUEUE_SIZE));
	return 0;
}

static int indirect_bad_length(struct adv_session *s)
{
	adv_split_desc(s, 0, TABLE, 17, I, 0);
	return 0;
}

static int head_out_of_range(struct adv_session *s)
{
	adv_split_desc(s, 0, DATA, 64, W, 0);
	vhf_vq_publish_raw(s->vq, 200);
	return 1;
}

static int avail_index_jump(struct adv_session *s)
{
	adv_split_desc(s, 0, DATA, 64, W, 0);
	vhf_vq_avail(s->vq)->ring[0] = 0;
	__atomic_store_n(&vhf_vq_avail(s->vq)->idx, 1000, __ATOMIC_RELEASE);
	return 1;
}

static int readable_after_writable(struct adv_session *s)
{
	adv_split_desc(s, 1, DATA + 0x100, 16, 0, 0);
	adv_split_desc(s, 0, DATA, 16, W | N, 1);
	return 0;
}

static int buffer_id_out_of_range(struct adv_session *s)
{
	adv_split_desc(s, 0, DATA, 64, W, 500);
	return 0;
}

#define REFUSED(fn, how)                                                      \
	static int run_##fn##_##how(const struct adv_kind *k,                 \
				    struct adv_daemon *d)                     \
	{                                                                     \
		return expect_refused(k, d, how, fn);                         \
	}
#define split 0
#define packed ADV_PACKED
REFUSED(in_hole, split)
REFUSED(in_hole, packed)
REFUSED(past_end_of_memory, split)
REFUSED(past_end_of_memory, packed)
REFUSED(straddles_hole, split)
REFUSED(straddles_hole, packed)
REFUSED(enormous_length, split)
REFUSED(enormous_length, packed)
REFUSED(loop, split)
REFUSED(chain_through_all, split)
REFUSED(indirect_in_indirect, split)
REFUSED(indirect_in_indirect, packed)
REFUSED(indirect_table_in_hole, split)
REFUSED(indirect_table_in_hole, packed)
REFUSED(indirect_loop, split)
REFUSED(indirect_bad_length, split)
REFUSED(indirect_bad_length, packed)
REFUSED(longer_than_queue, split)
REFUSED(longer_than_queue, packed)
REFUSED(head_out_of_range, split)
REFUSED(avail_index_jump, split)
REFUSED(buffer_id_out_of_range, packed)
REFUSED(readable_after_writable, split)
#undef split
#undef packed

/* Adjacent regions B and C: a data buffer across the border is fine
 * and is served in full (the control for the cases above). */
static int straddles_two_regions(const struct adv_kind *kind,
				 struct adv_daemon *d)
{
	struct adv_session s;
	int r;

	ADV_CHECK(adv_open(&s, kind, d, ADV_RING) == 0, "session setup");
	r = kind->request(&s, ADV_C - kind->data_len / 2);
	ADV_CHECK(adv_close(&s) == 0, "canaries");
	ADV_CHECK(r == 0, "a buffer across two adjacent regions not served");
	return 0;
}

/* Zero-length descriptors carry no bytes, whatever their address: the
 * chain is a request with no buffers, completed with length 0, and
 * nothing but the used ring changes. */
static int zero_length(const struct adv_kind *kind, struct adv_daemon *d)
{
	struct adv_session s;
	uint64_t lo, hi;
	uint16_t id = 0xffff;
	uint32_t len = 1;
	int used, untouched;

	ADV_CHECK(adv_open(&s, kind, d, ADV_RING) == 0, "session setup");
	adv_split_desc(&s, 1, DATA, 0, W, 0);
	adv_split_desc(&s, 0, ADV_HOLE, 0, W | N, 1);
	adv_publish(&s, 0);
	adv_snapshot(&s);
	vhf_vq_kick(s.vq);
	/* Raw-published, so the front end does not know the id: -EPROTO
	 * from vhf_vq_get_used means "a used entry came". */
	used = adv_wait_used(&s, 3000, &id, &len);
	adv_device_area(&s, &lo, &hi);
	untouched = adv_unchanged_except(&s, lo, hi);
	if (used == -EPROTO) {
		const struct vhf_used *u = vhf_vq_used(s.vq);

		id = (uint16_t)u->ring[0].id;
		len = u->ring[0].len;
	}
	ADV_CHECK(adv_close(&s) == 0, "canaries");
	ADV_CHECK(used == -EPROTO && id == 0 && len == 0,
		  "used %d id %u len %u, expected head 0 with length 0", used,
		  id, len);
	ADV_CHECK(untouched, "guest memory changed outside the used ring");
	return 0;
}

/* SET_VRING_ADDR with the used ring in the hole: refused when the ring
 * starts (the kick fd), and nothing is served. */
static int used_ring_outside_memory(const struct adv_kind *kind,
				    struct adv_daemon *d)
{
	struct adv_session s;
	struct vhf_vring_addr a;
	uint64_t desc, avail, used;
	int r_addr, r_kick, r;

	ADV_CHECK(adv_open(&s, kind, d, ADV_MEMORY) == 0, "session setup");
	r = vhf_vq_new(s.m, 0, ADV_QUEUE_SIZE, VHF_VQ_ALWAYS_KICK, s.ra,
		       &s.vq);
	vhf_vq_addrs(s.vq, &desc, &avail, &used);
	a = (struct vhf_vring_addr){
		.index = 0,
		.desc = vhf_mem_uva(s.m, desc),
		.avail = vhf_mem_uva(s.m, avail),
		/* No region has this front-end address. */
		.used = vhf_mem_uva(s.m, desc) + 0x7000000,
	};
	if (r == 0)
		r = vhf_set_vring_num(s.c, 0, ADV_QUEUE_SIZE);
	if (r == 0)
		r = vhf_set_vring_base(s.c, 0, 0);
	r_addr = vhf_set_vring_addr(s.c, &a);
	r_kick = vhf_set_vring_kick(s.c, 0, vhf_vq_kick_fd(s.vq));
	if (r == 0)
		r = vhf_set_vring_call(s.c, 0, vhf_vq_call_fd(s.vq));
	if (r == 0)
		r = vhf_sync(s.c);
	ADV_CHECK(adv_close(&s) == 0, "canaries");
	ADV_CHECK(r == 0, "setup: %s", strerror(-r));
	ADV_CHECK(r_addr < 0 || r_kick < 0,
		  "a used ring outside guest memory was accepted");
	adv_note("SET_VRING_ADDR: %s, SET_VRING_KICK: %s", strerror(-r_addr),
		 strerror(-r_kick));
	return 0;
}

/* The rings move into the hole while the queue runs: refused with
 * EFAULT, and the ring is broken (DEVICE_NEEDS_RESET): it served before
 * and serves no more. */
static int ring_moves_under_backend(const struct adv_kind *kind,
				    struct adv_daemon *d)
{
	struct adv_session s;
	struct vhf_vring_addr a = { 0 };
	uint64_t desc, avail, used;
	struct vhf_buf b = { ADV_B, 64 };
	uint16_t id;
	uint32_t len;
	int moved, served, after;
	bool reset;

	ADV_CHECK(adv_open(&s, kind, d, ADV_RING) == 0, "session setup");
	served = adv_good_request(&s);
	vhf_vq_addrs(s.vq, &desc, &avail, &used);
	a.desc = vhf_mem_uva(s.m, desc);
	a.avail = vhf_mem_uva(s.m, avail);
	a.used = a.desc + 0x7000000;
	moved = vhf_set_vring_addr(s.c, &a);
	reset = adv_wait_needs_reset(&s);
	vhf_vq_add(s.vq, &b, 0, 1, false);
	vhf_vq_kick(s.vq);
	after = adv_wait_used(&s, 100, &id, &len);
	ADV_CHECK(adv_close(&s) == 0, "canaries");
	ADV_CHECK(served == 0, "the queue did not serve before the move");
	ADV_CHECK(moved == -EFAULT, "moving the used ring out of memory: %d",
		  moved);
	ADV_CHECK(reset, "status never showed DEVICE_NEEDS_RESET");
	ADV_CHECK(after == 0, "served after the rings moved out of memory");
	return 0;
}

/* The region holding the ring goes away while the queue runs (REM_MEM_REG
 * and SET_MEM_TABLE without it): the ring breaks, the daemon lives on. */
static int ring_memory_removed(const struct adv_kind *kind,
			       struct adv_daemon *d, bool whole_table)
{
	struct adv_session s;
	unsigned int keep[2];
	bool reset;
	uint16_t id;
	uint32_t len;
	struct vhf_buf b = { ADV_B, 64 };
	int r, used;

	ADV_CHECK(adv_open(&s, kind, d, ADV_RING) == 0, "session setup");
	keep[0] = (unsigned int)s.rb;
	keep[1] = (unsigned int)s.rc;
	r = whole_table ? vhf_set_mem_table_some(s.c, s.m, keep, 2) :
			  vhf_rem_mem_reg(s.c, s.m, (unsigned int)s.ra);
	/* The guest still writes its ring (our mapping is intact). */
	vhf_vq_add(s.vq, &b, 0, 1, false);
	vhf_vq_kick(s.vq);
	reset = adv_wait_needs_reset(&s);
	used = adv_wait_used(&s, 100, &id, &len);
	ADV_CHECK(adv_close(&s) == 0, "canaries");
	ADV_CHECK(r == 0, "removing the region: %s", strerror(-r));
	ADV_CHECK(reset, "status never showed DEVICE_NEEDS_RESET");
	ADV_CHECK(used == 0, "served from a ring that is not mapped");
	return 0;
}

static int rem_mem_reg_under_ring(const struct adv_kind *k,
				  struct adv_daemon *d)
{
	return ring_memory_removed(k, d, false);
}

static int mem_table_without_ring(const struct adv_kind *k,
				  struct adv_daemon *d)
{
	return ring_memory_removed(k, d, true);
}

#define NEEDS_RESET "DEVICE_NEEDS_RESET, no used entry, memory untouched"
const struct adv_case adv_ring_cases[] = {
	{ "desc-in-hole-split", NEEDS_RESET, run_in_hole_split },
	{ "desc-in-hole-packed", NEEDS_RESET, run_in_hole_packed },
	{ "desc-past-end-of-memory-split", NEEDS_RESET, run_past_end_of_memory_split },
	{ "desc-past-end-of-memory-packed", NEEDS_RESET, run_past_end_of_memory_packed },
	{ "desc-straddles-region-and-hole-split", NEEDS_RESET, run_straddles_hole_split },
	{ "desc-straddles-region-and-hole-packed", NEEDS_RESET, run_straddles_hole_packed },
	{ "desc-straddles-two-regions", "served in full", straddles_two_regions },
	{ "desc-enormous-length-split", NEEDS_RESET, run_enormous_length_split },
	{ "desc-enormous-length-packed", NEEDS_RESET, run_enormous_length_packed },
	{ "desc-loop-split", NEEDS_RESET, run_loop_split },
	{ "chain-through-every-desc-split", NEEDS_RESET, run_chain_through_all_split },
	{ "indirect-in-indirect-split", NEEDS_RESET, run_indirect_in_indirect_split },
	{ "indirect-in-indirect-packed", NEEDS_RESET, run_indirect_in_indirect_packed },
	{ "indirect-table-in-hole-split", NEEDS_RESET, run_indirect_table_in_hole_split },
	{ "indirect-table-in-hole-packed", NEEDS_RESET, run_indirect_table_in_hole_packed },
	{ "indirect-loop-split", NEEDS_RESET, run_indirect_loop_split },
	{ "indirect-length-not-16n-split", NEEDS_RESET, run_indirect_bad_length_split },
	{ "indirect-length-not-16n-packed", NEEDS_RESET, run_indirect_bad_length_packed },
	{ "chain-longer-than-queue-split", NEEDS_RESET, run_longer_than_queue_split },
	{ "chain-longer-than-queue-packed", NEEDS_RESET, run_longer_than_queue_packed },
	{ "head-out-of-range-split", NEEDS_RESET, run_head_out_of_range_split },
	{ "avail-index-jump-split", NEEDS_RESET, run_avail_index_jump_split },
	{ "buffer-id-out-of-range-packed", NEEDS_RESET, run_buffer_id_out_of_range_packed },
	{ "readable-after-writable-split", NEEDS_RESET, run_readable_after_writable_split },
	{ "desc-zero-length-split", "served with length 0, memory untouched", zero_length },
	{ "used-ring-outside-memory", "failed REPLY_ACK", used_ring_outside_memory },
	{ "ring-moves-under-backend", "failed REPLY_ACK, DEVICE_NEEDS_RESET", ring_moves_under_backend },
	{ "rem-mem-reg-under-ring", "ack 0, DEVICE_NEEDS_RESET", rem_mem_reg_under_ring },
	{ "mem-table-without-ring", "ack 0, DEVICE_NEEDS_RESET", mem_table_without_ring },
	{ NULL, NULL, NULL }
};
