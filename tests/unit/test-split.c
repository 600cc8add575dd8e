/* SPDX-License-Identifier: MIT */
/* Unit tests of the split ring with well-behaved drivers: chains, indirect
 * tables, buffers across regions, growing a slot's iovecs, in-order and
 * out-of-order completion, and every notification decision (plain flags,
 * EVENT_IDX across 16-bit wrap-around, NOTIFY_ON_EMPTY). */
#include <check.h>
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>

#include "ring-driver.h"
#include "suites.h"

static struct ring r;

/* The library's pointer to a guest address. */
static void *host(uint64_t gpa)
{
	return vhd_memory_gpa(r.g.mem, gpa, 1);
}

static void teardown(void)
{
	ring_teardown(&r);
}

static struct vhostdev_req *pop_one(void)
{
	struct vhostdev_req *req = NULL;

	ck_assert_int_eq(vhostdev_queue_pop(r.q, &req), 1);
	ck_assert_ptr_nonnull(req);
	return req;
}

static void expect_empty(void)
{
	struct vhostdev_req *req = (struct vhostdev_req *)&r;

	ck_assert_int_eq(vhostdev_queue_pop(r.q, &req), 0);
	ck_assert_ptr_null(req);
}

/* Adds a one-buffer writable request, pops it and pushes it back. */
static void round_trip(void)
{
	struct buf b = { DATA_GPA(0), 64, true };

	split_add(&r, &b, 1);
	ck_assert_int_eq(vhostdev_req_push(pop_one(), 8), 0);
}

START_TEST(simple_chain)
{
	const struct buf b[] = {
		{ DATA_GPA(0), 100, false },
		{ DATA_GPA(1), 50, false },
		{ DATA_GPA(2), 200, true },
	};
	uint8_t in[150], out[200], *guest;
	const struct iovec *iov;
	struct vhostdev_req *req;
	unsigned int n;
	uint32_t id, len;
	uint16_t head;

	ring_setup(&r, 8, 0, 0);
	ring_fill(&r, DATA_GPA(0), 100, 1);
	ring_fill(&r, DATA_GPA(1), 50, 2);
	expect_empty();
	head = split_add(&r, b, 3);
	req = pop_one();
	ck_assert_uint_eq(vhostdev_req_get_id(req), head);
	ck_assert_ptr_eq(vhostdev_req_get_queue(req), r.q);
	ck_assert_uint_eq(vhostdev_queue_get_inflight(r.q), 1);

	iov = vhostdev_req_get_out(req, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_ptr_eq(iov[0].iov_base, host(DATA_GPA(0)));
	ck_assert_uint_eq(iov[0].iov_len, 100);
	ck_assert_ptr_eq(iov[1].iov_base, host(DATA_GPA(1)));
	ck_assert_uint_eq(iov[1].iov_len, 50);
	iov = vhostdev_req_get_in(req, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_ptr_eq(iov[0].iov_base, host(DATA_GPA(2)));
	ck_assert_uint_eq(vhostdev_req_get_out_size(req), 150);
	ck_assert_uint_eq(vhostdev_req_get_in_size(req), 200);

	/* Reads cross the iovec border; offsets past the end copy less. */
	ck_assert_uint_eq(vhostdev_req_read(req, 0, in, sizeof(in)), 150);
	ck_assert_mem_eq(in, guest_va(&r.g, DATA_GPA(0)), 100);
	ck_assert_mem_eq(in + 100, guest_va(&r.g, DATA_GPA(1)), 50);
	ck_assert_uint_eq(vhostdev_req_read(req, 90, in, 20), 20);
	ck_assert_mem_eq(in, (uint8_t *)guest_va(&r.g, DATA_GPA(0)) + 90, 10);
	ck_assert_mem_eq(in + 10, guest_va(&r.g, DATA_GPA(1)), 10);
	ck_assert_uint_eq(vhostdev_req_read(req, 140, in, 20), 10);
	ck_assert_uint_eq(vhostdev_req_read(req, 150, in, 20), 0);

	for (unsigned int i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(0x80 ^ i);
	ck_assert_uint_eq(vhostdev_req_write(req, 0, out, sizeof(out)), 200);
	ck_assert_uint_eq(vhostdev_req_write(req, 190, out, 20), 10);
	guest = guest_va(&r.g, DATA_GPA(2));
	ck_assert_mem_eq(guest, out, 190);
	ck_assert_mem_eq(guest + 190, out, 10);

	ck_assert_int_eq(vhostdev_req_push(req, 200), 0);
	ck_assert_uint_eq(vhostdev_queue_get_inflight(r.q), 0);
	ck_assert(split_get_used(&r, &id, &len));
	ck_assert_uint_eq(id, head);
	ck_assert_uint_eq(len, 200);
	ck_assert(!split_get_used(&r, &id, &len));
	expect_empty();
	ck_assert_uint_eq(r.g.nlogs, 0);
}
END_TEST

START_TEST(empty_ring_changes_nothing)
{
	ring_setup(&r, 8, BIT(VHOSTDEV_F_RING_EVENT_IDX), 0);
	guest_snapshot(&r.g);
	expect_empty();
	ck_assert(guest_unchanged(&r.g));
	ck_assert_uint_eq(vhostdev_queue_get_inflight(r.q), 0);
}
END_TEST

START_TEST(buffer_across_regions)
{
	const struct buf b[] = {
		{ GUEST_C - 64, 128, false },
		{ GUEST_C - 8, 16, true },
	};
	struct vhostdev_req *req;
	const struct iovec *iov;
	unsigned int n;

	ring_setup(&r, 8, 0, 0);
	split_add(&r, b, 2);
	req = pop_one();
	iov = vhostdev_req_get_out(req, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_ptr_eq(iov[0].iov_base, host(GUEST_C - 64));
	ck_assert_uint_eq(iov[0].iov_len, 64);
	ck_assert_ptr_eq(iov[1].iov_base, host(GUEST_C));
	ck_assert_uint_eq(iov[1].iov_len, 64);
	iov = vhostdev_req_get_in(req, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(iov[0].iov_len, 8);
	ck_assert_uint_eq(iov[1].iov_len, 8);
	ck_assert_uint_eq(vhostdev_req_get_in_size(req), 16);
}
END_TEST

START_TEST(zero_length_buffers_are_skipped)
{
	const struct buf b[] = {
		{ DATA_GPA(0), 0, false },
		{ DATA_GPA(1), 10, false },
		{ 0xdead0000, 0, true },
		{ DATA_GPA(2), 20, true },
	};
	struct vhostdev_req *req;
	unsigned int out, in;

	ring_setup(&r, 8, 0, 0);
	split_add(&r, b, 4);
	req = pop_one();
	vhostdev_req_get_out(req, &out);
	vhostdev_req_get_in(req, &in);
	ck_assert_uint_eq(out, 1);
	ck_assert_uint_eq(in, 1);
	ck_assert_uint_eq(vhostdev_req_get_in_size(req), 20);
}
END_TEST

START_TEST(indirect_table)
{
	const struct buf b[] = {
		{ DATA_GPA(0), 16, false },
		{ GUEST_C - 4, 8, false },
		{ DATA_GPA(2), 64, true },
	};
	struct vhostdev_req *req;
	unsigned int out, in;
	uint32_t id, len;
	uint16_t head;

	ring_setup(&r, 8, BIT(VHOSTDEV_F_RING_INDIRECT_DESC), 0);
	/* The driver's NEXT links need not be in table order. */
	head = split_add_indirect(&r, TABLE_GPA(0), b, 3);
	req = pop_one();
	ck_assert_uint_eq(vhostdev_req_get_id(req), head);
	vhostdev_req_get_out(req, &out);
	vhostdev_req_get_in(req, &in);
	ck_assert_uint_eq(out, 3);
	ck_assert_uint_eq(in, 1);
	ck_assert_uint_eq(vhostdev_req_get_out_size(req), 24);
	ck_assert_int_eq(vhostdev_req_complete(req, 64), 0);
	ck_assert(split_get_used(&r, &id, &len));
	ck_assert_uint_eq(id, head);
	ck_assert_uint_eq(len, 64);
	ck_assert_uint_eq(ring_signals(&r), 1);
}
END_TEST

START_TEST(indirect_table_follows_next_links)
{
	struct vring_desc *t;
	struct vhostdev_req *req;
	const struct iovec *iov;
	unsigned int n;

	ring_setup(&r, 8, BIT(VHOSTDEV_F_RING_INDIRECT_DESC), 0);
	t = guest_va(&r.g, TABLE_GPA(0));
	/* 0 -> 2 -> 3; entry 1 is not part of the chain (and not memory). */
	t[0] = (struct vring_desc){ DATA_GPA(0), 10, VRING_DESC_F_NEXT, 2 };
	t[1] = (struct vring_desc){ 0xdeadbeef000, 1, 0, 0 };
	t[2] = (struct vring_desc){ DATA_GPA(2), 20, VRING_DESC_F_NEXT, 3 };
	t[3] = (struct vring_desc){ DATA_GPA(3), 30, VRING_DESC_F_WRITE, 0 };
	*split_desc(&r, 0) = (struct vring_desc){ TABLE_GPA(0), 4 * 16,
						  VRING_DESC_F_INDIRECT, 0 };
	split_publish(&r, 0);
	req = pop_one();
	iov = vhostdev_req_get_out(req, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_ptr_eq(iov[0].iov_base, host(DATA_GPA(0)));
	ck_assert_uint_eq(iov[0].iov_len, 10);
	ck_assert_ptr_eq(iov[1].iov_base, host(DATA_GPA(2)));
	ck_assert_uint_eq(iov[1].iov_len, 20);
	iov = vhostdev_req_get_in(req, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_ptr_eq(iov[0].iov_base, host(DATA_GPA(3)));
}
END_TEST

START_TEST(long_chain_grows_iovecs_once)
{
	struct buf b[20];
	struct vhostdev_req *req;
	struct iovec *grown;
	unsigned int n;

	ring_setup(&r, 32, 0, 0);
	for (unsigned int i = 0; i < 20; i++)
		b[i] = (struct buf){ DATA_GPA(i), 100 + i, i >= 15 };
	split_add(&r, b, 20);
	req = pop_one();
	vhostdev_req_get_out(req, &n);
	ck_assert_uint_eq(n, 15);
	vhostdev_req_get_in(req, &n);
	ck_assert_uint_eq(n, 5);
	for (unsigned int i = 0; i < 20; i++)
		ck_assert_ptr_eq(req->iov[i].iov_base,
				 host(DATA_GPA(i)));
	grown = req->iov;
	ck_assert_ptr_ne(grown, req->iov_inline);
	ck_assert_int_eq(vhostdev_req_push(req, 0), 0);

	/* The same slot again, long then short: no new allocation. */
	r.next_desc = 0;
	split_add(&r, b, 20);
	req = pop_one();
	ck_assert_ptr_eq(req->iov, grown);
	ck_assert_int_eq(vhostdev_req_push(req, 0), 0);
	r.next_desc = 0;
	split_add(&r, b, 2);
	req = pop_one();
	ck_assert_ptr_eq(req->iov, grown);
	vhostdev_req_get_out(req, &n);
	ck_assert_uint_eq(n, 2);
}
END_TEST

START_TEST(largest_chain_fits)
{
	struct vring_desc *t;
	struct vhostdev_req *req;
	unsigned int n;

	ring_setup(&r, 8, BIT(VHOSTDEV_F_RING_INDIRECT_DESC), 0);
	t = guest_va(&r.g, TABLE_GPA(16));
	for (unsigned int i = 0; i < VHD_MAX_REQ_IOV; i++)
		t[i] = (struct vring_desc){ DATA_GPA(0) + i, 1,
			i + 1 < VHD_MAX_REQ_IOV ? VRING_DESC_F_NEXT : 0,
			(uint16_t)(i + 1) };
	*split_desc(&r, 0) = (struct vring_desc){
		TABLE_GPA(16), VHD_MAX_REQ_IOV * 16, VRING_DESC_F_INDIRECT, 0 };
	split_publish(&r, 0);
	req = pop_one();
	vhostdev_req_get_out(req, &n);
	ck_assert_uint_eq(n, VHD_MAX_REQ_IOV);
	ck_assert_uint_eq(vhostdev_req_get_out_size(req), VHD_MAX_REQ_IOV);
}
END_TEST

START_TEST(out_of_order_completion)
{
	struct buf b = { DATA_GPA(0), 64, true };
	struct vhostdev_req *req[3];
	uint32_t id, len;

	ring_setup(&r, 8, 0, 0);
	for (int i = 0; i < 3; i++)
		split_add(&r, &b, 1);
	for (int i = 0; i < 3; i++)
		req[i] = pop_one();
	ck_assert_int_eq(vhostdev_req_push(req[2], 3), 0);
	ck_assert_int_eq(vhostdev_req_push(req[0], 1), 0);
	ck_assert(split_get_used(&r, &id, &len));
	ck_assert_uint_eq(id, 2);
	ck_assert_uint_eq(len, 3);
	ck_assert(split_get_used(&r, &id, &len));
	ck_assert_uint_eq(id, 0);
	ck_assert(!split_get_used(&r, &id, &len));
	ck_assert_uint_eq(vhostdev_queue_get_inflight(r.q), 1);
	/* A finished head can come back while others are still busy. */
	r.next_desc = 0;
	split_add(&r, &b, 1);
	ck_assert_uint_eq(vhostdev_req_get_id(pop_one()), 0);
}
END_TEST

START_TEST(in_order_completion)
{
	struct buf b = { DATA_GPA(0), 64, true };
	struct vhostdev_req *req[4];
	uint32_t id, len;

	ring_setup(&r, 4, BIT(VHOSTDEV_F_IN_ORDER), 0);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 4; i++)
			split_add(&r, &b, 1);
		for (int i = 0; i < 4; i++)
			req[i] = pop_one();
		/* Finished last first: held back until the first is done. */
		ck_assert_int_eq(vhostdev_req_push(req[3], 4), 0);
		ck_assert_int_eq(vhostdev_req_push(req[1], 2), 0);
		ck_assert(!split_get_used(&r, &id, &len));
		ck_assert_uint_eq(vhostdev_queue_get_inflight(r.q), 2);
		/* Pushing one that waits is refused like any double push. */
		ck_assert_int_eq(vhostdev_req_push(req[3], 4), -EINVAL);
		ck_assert_int_eq(vhostdev_req_push(req[0], 1), 0);
		for (uint32_t i = 0; i < 2; i++) {
			ck_assert(split_get_used(&r, &id, &len));
			ck_assert_uint_eq(id, i);
			ck_assert_uint_eq(len, i + 1);
		}
		ck_assert(!split_get_used(&r, &id, &len));
		ck_assert_int_eq(vhostdev_req_push(req[2], 3), 0);
		for (uint32_t i = 2; i < 4; i++) {
			ck_assert(split_get_used(&r, &id, &len));
			ck_assert_uint_eq(id, i);
			ck_assert_uint_eq(len, i + 1);
		}
		ck_assert_uint_eq(vhostdev_queue_get_inflight(r.q), 0);
	}
}
END_TEST

START_TEST(written_is_clamped)
{
	const struct buf b[] = {
		{ DATA_GPA(0), 10, false },
		{ DATA_GPA(1), 30, true },
	};
	uint32_t id, len;

	ring_setup(&r, 8, 0, 0);
	split_add(&r, b, 2);
	ck_assert_int_eq(vhostdev_req_push(pop_one(), 1000), 0);
	ck_assert(split_get_used(&r, &id, &len));
	ck_assert_uint_eq(len, 30);
	/* Nothing writable: nothing written, whatever the device says. */
	split_add(&r, b, 1);
	ck_assert_int_eq(vhostdev_req_push(pop_one(), 5), 0);
	ck_assert(split_get_used(&r, &id, &len));
	ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(notify_without_event_idx)
{
	struct vring_avail *avail;

	ring_setup(&r, 8, 0, 0);
	avail = split_avail(&r);
	round_trip();
	ck_assert_int_eq(vhostdev_queue_notify(r.q), 1);
	ck_assert_uint_eq(ring_signals(&r), 1);
	/* Used ring did not move since. */
	ck_assert_int_eq(vhostdev_queue_notify(r.q), 0);
	ck_assert_uint_eq(ring_signals(&r), 0);

	avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	round_trip();
	ck_assert_int_eq(vhostdev_queue_notify(r.q), 0);
	ck_assert_uint_eq(ring_signals(&r), 0);
	avail->flags = 0;
	round_trip();
	ck_assert_int_eq(vhostdev_queue_notify(r.q), 1);
	ck_assert_uint_eq(ring_signals(&r), 1);
}
END_TEST

START_TEST(notify_with_event_idx)
{
	ring_setup(&r, 8, BIT(VHOSTDEV_F_RING_EVENT_IDX), 0);
	/* The first decision has no history: always signal. */
	*split_used_event(&r) = 100;
	round_trip();
	ck_assert_int_eq(vhostdev_queue_notify(r.q), 1);
	/* Signal once used->idx passes used_event (entry 3 is used). */
	*split_used_event(&r) = 3;
	round_trip(); /* used 2 */
	ck_assert_int_eq(vhostdev_queue_notify(r.q), 0);
	round_trip(); /* used 3 */
	ck_assert_int_eq(vhostdev_queue_notify(r.q), 0);
	round_trip(); /* used 4 */
	ck_assert_int_eq(vhostdev_queue_notify(r.q), 1);
	/* A batch that jumps over the event signals once. */
	*split_used_event(&r) = 5;
	round_trip();
	round_trip();
	round_trip(); /* used 7 */
	ck_assert_int_eq(vhostdev_queue_notify(r.q), 1);
	ck_assert_int_eq(vhostdev_queue_notify(r.q), 0);
	/* An event already behind us stays quiet. */
	*split_used_event(&r) = 2;
	round_trip();
	ck_assert_int_eq(vhostdev_queue_notify(r.q), 0);
	ck_assert_uint_eq(ring_signals(&r), 3);
}
END_TEST

START_TEST(notify_event_idx_wraps)
{
	/* Restart near the end of the 16-bit index space. */
	ring_setup(&r, 8, BIT(VHOSTDEV_F_RING_EVENT_IDX), 65533);
	ck_assert_uint_eq(r.q->used_idx, 65533);
	ck_assert_uint_eq(r.q->last_avail, 65533);
	round_trip(); /* used 65534 */
	ck_assert_int_eq(vhostdev_queue_notify(r.q), 1);
	*split_used_event(&r) = 65535;
	round_trip(); /* used 65535 */
	ck_assert_int_eq(vhostdev_queue_notify(r.q), 0);
	round_trip(); /* used 0 */
	ck_assert_int_eq(vhostdev_queue_notify(r.q), 1);
	ck_assert_uint_eq(split_used(&r)->idx, 0);
	*split_used_event(&r) = 1;
	round_trip(); /* used 1 */
	ck_assert_int_eq(vhostdev_queue_notify(r.q), 0);
	round_trip(); /* used 2 */
	ck_assert_int_eq(vhostdev_queue_notify(r.q), 1);
	ck_assert_uint_eq(ring_signals(&r), 3);
}
END_TEST

START_TEST(notify_event_idx_batch_across_wrap)
{
	ring_setup(&r, 8, BIT(VHOSTDEV_F_RING_EVENT_IDX), 65534);
	round_trip(); /* used 65535 */
	ck_assert_int_eq(vhostdev_queue_notify(r.q), 1);
	*split_used_event(&r) = 65535;
	round_trip();
	round_trip();
	round_trip(); /* used 2 */
	ck_assert_int_eq(vhostdev_queue_notify(r.q), 1);
	/* And an event just past the batch does not fire. */
	*split_used_event(&r) = 4;
	round_trip();
	round_trip(); /* used 4 */
	ck_assert_int_eq(vhostdev_queue_notify(r.q), 0);
}
END_TEST

START_TEST(notify_after_more_than_a_ring)
{
	ring_setup(&r, 4, BIT(VHOSTDEV_F_RING_EVENT_IDX), 0);
	round_trip();
	ck_assert_int_eq(vhostdev_queue_notify(r.q), 1);
	/* An event the index passed long ago: by itself no signal, but
	 * five pushes in a ring of four without a decision is ambiguous. */
	*split_used_event(&r) = 0;
	for (int i = 0; i < 4; i++)
		round_trip();
	ck_assert_int_eq(vhostdev_queue_notify(r.q), 0);
	for (int i = 0; i < 5; i++)
		round_trip();
	ck_assert_int_eq(vhostdev_queue_notify(r.q), 1);
}
END_TEST

START_TEST(notify_on_empty)
{
	struct buf b = { DATA_GPA(0), 64, true };
	struct vhostdev_req *req[2];

	ring_setup(&r, 8, BIT(VHOSTDEV_F_NOTIFY_ON_EMPTY), 0);
	split_avail(&r)->flags = VRING_AVAIL_F_NO_INTERRUPT;
	split_add(&r, &b, 1);
	split_add(&r, &b, 1);
	/* Done but the ring still has a buffer: suppressed. */
	ck_assert_int_eq(vhostdev_req_complete(pop_one(), 1), 0);
	ck_assert_uint_eq(ring_signals(&r), 0);
	/* Out of buffers with nothing in flight: signal anyway. */
	ck_assert_int_eq(vhostdev_req_complete(pop_one(), 1), 0);
	ck_assert_uint_eq(ring_signals(&r), 1);
	/* Empty ring but one still in flight: suppressed. */
	split_add(&r, &b, 1);
	split_add(&r, &b, 1);
	req[0] = pop_one();
	req[1] = pop_one();
	ck_assert_int_eq(vhostdev_req_complete(req[0], 1), 0);
	ck_assert_uint_eq(ring_signals(&r), 0);
	ck_assert_int_eq(vhostdev_req_complete(req[1], 1), 0);
	ck_assert_uint_eq(ring_signals(&r), 1);
}
END_TEST

START_TEST(notify_on_empty_beats_event_idx)
{
	ring_setup(&r, 8, BIT(VHOSTDEV_F_NOTIFY_ON_EMPTY) |
		   BIT(VHOSTDEV_F_RING_EVENT_IDX), 0);
	round_trip();
	ck_assert_int_eq(vhostdev_queue_notify(r.q), 1);
	*split_used_event(&r) = 1000;
	round_trip();
	ck_assert_int_eq(vhostdev_queue_notify(r.q), 1);
}
END_TEST

START_TEST(notify_without_feature_ignores_empty)
{
	ring_setup(&r, 8, 0, 0);
	split_avail(&r)->flags = VRING_AVAIL_F_NO_INTERRUPT;
	round_trip();
	ck_assert_int_eq(vhostdev_queue_notify(r.q), 0);
}
END_TEST

START_TEST(set_notification_flags)
{
	ring_setup(&r, 8, 0, 0);
	ck_assert_int_eq(vhostdev_queue_set_notification(r.q, 0), 0);
	ck_assert_uint_eq(split_used(&r)->flags, VRING_USED_F_NO_NOTIFY);
	ck_assert_int_eq(vhostdev_queue_set_notification(r.q, 1), 0);
	ck_assert_uint_eq(split_used(&r)->flags, 0);
	ck_assert_int_eq(vhostdev_queue_set_notification(NULL, 1), -EINVAL);
}
END_TEST

START_TEST(set_notification_event_idx)
{
	ring_setup(&r, 8, BIT(VHOSTDEV_F_RING_EVENT_IDX), 0);
	round_trip();
	/* Each pop asks for a kick at the next buffer. */
	ck_assert_uint_eq(*split_avail_event(&r), 1);
	ck_assert_int_eq(vhostdev_queue_set_notification(r.q, 0), 0);
	round_trip();
	round_trip();
	ck_assert_uint_eq(*split_avail_event(&r), 1);
	ck_assert_uint_eq(split_used(&r)->flags, 0);
	ck_assert_int_eq(vhostdev_queue_set_notification(r.q, 1), 0);
	ck_assert_uint_eq(*split_avail_event(&r), 3);
	round_trip();
	ck_assert_uint_eq(*split_avail_event(&r), 4);
}
END_TEST

START_TEST(pop_only_when_ready)
{
	struct buf b = { DATA_GPA(0), 64, true };
	struct vhostdev_req *req;

	ring_setup(&r, 8, 0, 0);
	split_add(&r, &b, 1);
	r.q->enabled = false;
	expect_empty();
	r.q->enabled = true;
	r.q->stopping = true;
	expect_empty();
	r.q->stopping = false;
	r.q->started = false;
	expect_empty();
	ck_assert_int_eq(vhostdev_queue_notify(r.q), 0);
	r.q->started = true;
	req = pop_one();
	ck_assert_int_eq(vhostdev_queue_pop(NULL, &req), -EINVAL);
	ck_assert_int_eq(vhostdev_queue_pop(r.q, NULL), -EINVAL);
}
END_TEST

START_TEST(push_errors)
{
	struct buf b = { DATA_GPA(0), 64, true };
	struct vhostdev_req *req;

	ring_setup(&r, 8, 0, 0);
	split_add(&r, &b, 1);
	req = pop_one();
	ck_assert_int_eq(vhostdev_req_push(req, 1), 0);
	ck_assert_int_eq(vhostdev_req_push(req, 1), -EINVAL);
	ck_assert_int_eq(vhostdev_req_complete(req, 1), -EINVAL);
	ck_assert_int_eq(vhostdev_req_push(NULL, 1), -EINVAL);
	ck_assert_int_eq(vhostdev_req_complete(NULL, 1), -EINVAL);
	/* A slot never popped is not busy either. */
	ck_assert_int_eq(vhostdev_req_push(&r.q->slots[5], 1), -EINVAL);
	ck_assert_uint_eq(split_used(&r)->idx, 1);
	ck_assert_uint_eq(vhostdev_queue_get_inflight(r.q), 0);
}
END_TEST

START_TEST(drain_wakes_control_thread)
{
	struct buf b = { DATA_GPA(0), 64, true };
	struct vhostdev_req *req[2];
	eventfd_t v;

	ring_setup(&r, 8, 0, 0);
	split_add(&r, &b, 1);
	split_add(&r, &b, 1);
	req[0] = pop_one();
	req[1] = pop_one();
	while (eventfd_read(r.g.dev->event_fd, &v) == 0)
		;
	__atomic_store_n(&r.q->stopping, true, __ATOMIC_RELEASE);
	ck_assert_int_eq(vhostdev_req_push(req[0], 0), 0);
	ck_assert_int_eq(eventfd_read(r.g.dev->event_fd, &v), -1);
	ck_assert_int_eq(vhostdev_req_push(req[1], 0), 0);
	ck_assert_int_eq(eventfd_read(r.g.dev->event_fd, &v), 0);
	ck_assert_uint_eq(vhostdev_queue_get_inflight(r.q), 0);
}
END_TEST

START_TEST(userdata_is_per_pop)
{
	struct buf b = { DATA_GPA(0), 64, true };
	struct vhostdev_req *req;
	int x;

	ring_setup(&r, 8, 0, 0);
	split_add(&r, &b, 1);
	req = pop_one();
	vhostdev_req_set_userdata(req, &x);
	ck_assert_ptr_eq(vhostdev_req_get_userdata(req), &x);
	ck_assert_int_eq(vhostdev_req_push(req, 0), 0);
	r.next_desc = 0;
	split_add(&r, &b, 1);
	req = pop_one();
	ck_assert_ptr_null(vhostdev_req_get_userdata(req));
}
END_TEST

START_TEST(many_rounds_through_the_ring)
{
	const struct buf b[] = {
		{ DATA_GPA(0), 16, false },
		{ DATA_GPA(1), 32, true },
	};
	uint32_t id, len;

	ring_setup(&r, 16, BIT(VHOSTDEV_F_RING_EVENT_IDX) |
		   BIT(VHOSTDEV_F_RING_INDIRECT_DESC), 65000);
	for (unsigned int i = 0; i < 3000; i++) {
		struct vhostdev_req *req;

		if (i % 3)
			split_add(&r, b, 2);
		else
			split_add_indirect(&r, TABLE_GPA(i % 8), b, 2);
		req = pop_one();
		ck_assert_uint_eq(vhostdev_req_get_out_size(req), 16);
		ck_assert_int_eq(vhostdev_req_push(req, i % 33), 0);
		ck_assert(split_get_used(&r, &id, &len));
		ck_assert_uint_eq(len, i % 33);
	}
	ck_assert_uint_eq(split_used(&r)->idx, (uint16_t)(65000 + 3000));
	ck_assert_uint_eq(r.g.nlogs, 0);
}
END_TEST

START_TEST(slots_free_whatever_the_size)
{
	struct buf b[12];
	struct vhostdev_req *req;

	ring_setup(&r, 8, 0, 0);
	for (unsigned int i = 0; i < 12; i++)
		b[i] = (struct buf){ DATA_GPA(i), 8, false };
	/* Eight descriptors, one across B and C: nine iovecs, so slot 6
	 * grows its array. */
	b[0].gpa = GUEST_C - 4;
	r.next_desc = 6;
	split_add(&r, b, 8);
	req = pop_one();
	ck_assert_uint_eq(vhostdev_req_get_id(req), 6);
	ck_assert_ptr_ne(req->iov, req->iov_inline);
	vhostdev_req_push(req, 0);
	/* Freeing must neither leak slot 6's array when the size shrank
	 * nor run past the array when it grew (ASan and valgrind watch). */
	r.q->size = 2;
	vhd_queue_free_slots(r.q);
	ck_assert_ptr_null(r.q->slots);
	r.q->size = 8;
	ck_assert_int_eq(vhd_queue_alloc_slots(r.q), 0);
	r.q->size = 1024;
	vhd_queue_free_slots(r.q);
	r.q->size = 8;
}
END_TEST

START_TEST(empty_pop_rearms_stale_flags)
{
	ring_setup(&r, 8, 0, 0);
	/* Left behind by a previous back end while we want kicks. */
	split_used(&r)->flags = VRING_USED_F_NO_NOTIFY;
	expect_empty();
	ck_assert_uint_eq(split_used(&r)->flags, 0);
	/* Suppressed on purpose: left alone. */
	ck_assert_int_eq(vhostdev_queue_set_notification(r.q, 0), 0);
	expect_empty();
	ck_assert_uint_eq(split_used(&r)->flags, VRING_USED_F_NO_NOTIFY);
}
END_TEST

START_TEST(empty_pop_rearms_stale_avail_event)
{
	ring_setup(&r, 8, BIT(VHOSTDEV_F_RING_EVENT_IDX), 100);
	*split_avail_event(&r) = 7;
	expect_empty();
	ck_assert_uint_eq(*split_avail_event(&r), 100);
	ck_assert_int_eq(vhostdev_queue_set_notification(r.q, 0), 0);
	*split_avail_event(&r) = 7;
	expect_empty();
	ck_assert_uint_eq(*split_avail_event(&r), 7);
}
END_TEST

Suite *split_suite(void)
{
	Suite *s = suite_create("split");
	TCase *tc = tcase_create("chains");
	TCase *tn = tcase_create("notify");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, simple_chain);
	tcase_add_test(tc, empty_ring_changes_nothing);
	tcase_add_test(tc, buffer_across_regions);
	tcase_add_test(tc, zero_length_buffers_are_skipped);
	tcase_add_test(tc, indirect_table);
	tcase_add_test(tc, indirect_table_follows_next_links);
	tcase_add_test(tc, long_chain_grows_iovecs_once);
	tcase_add_test(tc, largest_chain_fits);
	tcase_add_test(tc, out_of_order_completion);
	tcase_add_test(tc, in_order_completion);
	tcase_add_test(tc, written_is_clamped);
	tcase_add_test(tc, pop_only_when_ready);
	tcase_add_test(tc, push_errors);
	tcase_add_test(tc, drain_wakes_control_thread);
	tcase_add_test(tc, userdata_is_per_pop);
	tcase_add_test(tc, many_rounds_through_the_ring);
	tcase_add_test(tc, slots_free_whatever_the_size);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(tn, NULL, teardown);
	tcase_add_test(tn, notify_without_event_idx);
	tcase_add_test(tn, notify_with_event_idx);
	tcase_add_test(tn, notify_event_idx_wraps);
	tcase_add_test(tn, notify_event_idx_batch_across_wrap);
	tcase_add_test(tn, notify_after_more_than_a_ring);
	tcase_add_test(tn, notify_on_empty);
	tcase_add_test(tn, notify_on_empty_beats_event_idx);
	tcase_add_test(tn, notify_without_feature_ignores_empty);
	tcase_add_test(tn, set_notification_flags);
	tcase_add_test(tn, set_notification_event_idx);
	tcase_add_test(tn, empty_pop_rearms_stale_flags);
	tcase_add_test(tn, empty_pop_rearms_stale_avail_event);
	suite_add_tcase(s, tn);
	return s;
}
