/* SPDX-License-Identifier: MIT */
/* Unit tests of the split ring against a hostile driver: every malformed
 * ring or chain must fail the pop with -EIO, break the queue, mark the
 * device for reset, and leave all guest memory (and, through the guard
 * pages, everything around it) untouched. */
#include <check.h>
#include <errno.h>

#include "ring-driver.h"
#include "suites.h"

static struct ring r;

static void setup(void)
{
	ring_setup(&r, 8, BIT(VHOSTDEV_F_RING_INDIRECT_DESC) |
		   BIT(VHOSTDEV_F_RING_EVENT_IDX), 0);
}

static void teardown(void)
{
	ring_teardown(&r);
}

static void set_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	*split_desc(&r, i) = (struct vring_desc){ addr, len, flags, next };
}

/* Entry i of the indirect table at TABLE_GPA(0). */
static void set_entry(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		      uint16_t next)
{
	struct vring_desc *t = guest_va(&r.g, TABLE_GPA(0));

	t[i] = (struct vring_desc){ addr, len, flags, next };
}

START_TEST(descriptor_loop)
{
	set_desc(0, DATA_GPA(0), 16, VRING_DESC_F_NEXT, 1);
	set_desc(1, DATA_GPA(1), 16, VRING_DESC_F_NEXT, 0);
	split_publish(&r, 0);
	ring_expect_broken(&r, "loops");
}
END_TEST

START_TEST(chain_longer_than_ring)
{
	/* Every descriptor, each pointing at the next, the last back to
	 * the first: size + 1 links. */
	for (uint16_t i = 0; i < 8; i++)
		set_desc(i, DATA_GPA(i), 16, VRING_DESC_F_NEXT, (i + 1) % 8);
	split_publish(&r, 3);
	ring_expect_broken(&r, "longer than the ring");
}
END_TEST

START_TEST(self_loop)
{
	set_desc(5, DATA_GPA(0), 0, VRING_DESC_F_NEXT, 5);
	split_publish(&r, 5);
	ring_expect_broken(&r, "loops");
}
END_TEST

START_TEST(address_outside_memory)
{
	set_desc(0, GUEST_HOLE + 0x100, 16, 0, 0);
	split_publish(&r, 0);
	ring_expect_broken(&r, "buffer is not in guest memory");
}
END_TEST

START_TEST(buffer_runs_into_hole)
{
	set_desc(0, DATA_GPA(0), 16, VRING_DESC_F_NEXT, 1);
	set_desc(1, GUEST_HOLE - 8, 16, VRING_DESC_F_WRITE, 0);
	split_publish(&r, 0);
	ring_expect_broken(&r, "buffer is not in guest memory");
}
END_TEST

START_TEST(buffer_past_last_region)
{
	set_desc(0, GUEST_C + GUEST_REGION_SIZE - 1, 2, VRING_DESC_F_WRITE, 0);
	split_publish(&r, 0);
	ring_expect_broken(&r, "buffer is not in guest memory");
}
END_TEST

START_TEST(length_wraps_address_space)
{
	set_desc(0, UINT64_MAX - 7, 16, 0, 0);
	split_publish(&r, 0);
	ring_expect_broken(&r, "buffer is not in guest memory");
}
END_TEST

START_TEST(huge_length)
{
	set_desc(0, GUEST_A, UINT32_MAX, 0, 0);
	split_publish(&r, 0);
	ring_expect_broken(&r, "buffer is not in guest memory");
}
END_TEST

START_TEST(indirect_inside_indirect)
{
	set_entry(0, DATA_GPA(0), 16, VRING_DESC_F_NEXT, 1);
	set_entry(1, TABLE_GPA(1), 32, VRING_DESC_F_INDIRECT, 0);
	set_desc(0, TABLE_GPA(0), 32, VRING_DESC_F_INDIRECT, 0);
	split_publish(&r, 0);
	ring_expect_broken(&r, "indirect descriptor inside an indirect table");
}
END_TEST

START_TEST(indirect_with_next)
{
	set_entry(0, DATA_GPA(0), 16, 0, 0);
	set_desc(0, TABLE_GPA(0), 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT,
		 1);
	set_desc(1, DATA_GPA(1), 16, 0, 0);
	split_publish(&r, 0);
	ring_expect_broken(&r, "indirect descriptor chained to others");
}
END_TEST

START_TEST(indirect_after_direct)
{
	set_entry(0, DATA_GPA(0), 16, 0, 0);
	set_desc(0, DATA_GPA(1), 16, VRING_DESC_F_NEXT, 1);
	set_desc(1, TABLE_GPA(0), 16, VRING_DESC_F_INDIRECT, 0);
	split_publish(&r, 0);
	ring_expect_broken(&r, "indirect descriptor chained to others");
}
END_TEST

START_TEST(indirect_length_not_multiple_of_16)
{
	set_entry(0, DATA_GPA(0), 16, 0, 0);
	set_desc(0, TABLE_GPA(0), 24, VRING_DESC_F_INDIRECT, 0);
	split_publish(&r, 0);
	ring_expect_broken(&r, "not a multiple of 16");
}
END_TEST

START_TEST(indirect_length_zero)
{
	set_desc(0, TABLE_GPA(0), 0, VRING_DESC_F_INDIRECT, 0);
	split_publish(&r, 0);
	ring_expect_broken(&r, "indirect table length is zero");
}
END_TEST

START_TEST(indirect_table_outside_memory)
{
	set_desc(0, GUEST_HOLE, 32, VRING_DESC_F_INDIRECT, 0);
	split_publish(&r, 0);
	ring_expect_broken(&r, "indirect table is not in guest memory");
}
END_TEST

START_TEST(indirect_table_across_regions)
{
	/* Valid entries, but the table itself spans B and C. */
	struct vring_desc *t = guest_va(&r.g, GUEST_C - 16);

	t[0] = (struct vring_desc){ DATA_GPA(0), 16, VRING_DESC_F_NEXT, 1 };
	*(struct vring_desc *)guest_va(&r.g, GUEST_C) =
		(struct vring_desc){ DATA_GPA(1), 16, 0, 0 };
	set_desc(0, GUEST_C - 16, 32, VRING_DESC_F_INDIRECT, 0);
	split_publish(&r, 0);
	ring_expect_broken(&r, "indirect table is not in guest memory");
}
END_TEST

START_TEST(indirect_table_wraps)
{
	set_desc(0, UINT64_MAX - 15, 32, VRING_DESC_F_INDIRECT, 0);
	split_publish(&r, 0);
	ring_expect_broken(&r, "indirect table is not in guest memory");
}
END_TEST

START_TEST(indirect_next_outside_table)
{
	set_entry(0, DATA_GPA(0), 16, VRING_DESC_F_NEXT, 2);
	set_entry(1, DATA_GPA(1), 16, 0, 0);
	/* Entry 2 exists in memory but not in this 2-entry table. */
	set_entry(2, DATA_GPA(2), 16, 0, 0);
	set_desc(0, TABLE_GPA(0), 32, VRING_DESC_F_INDIRECT, 0);
	split_publish(&r, 0);
	ring_expect_broken(&r, "indirect next index outside the table");
}
END_TEST

START_TEST(indirect_loop)
{
	set_entry(0, DATA_GPA(0), 16, VRING_DESC_F_NEXT, 1);
	set_entry(1, DATA_GPA(1), 16, VRING_DESC_F_NEXT, 0);
	set_desc(0, TABLE_GPA(0), 32, VRING_DESC_F_INDIRECT, 0);
	split_publish(&r, 0);
	ring_expect_broken(&r, "indirect chain loops");
}
END_TEST

START_TEST(indirect_too_long)
{
	/* More entries than a request may have, all of length 0. */
	struct vring_desc *t = guest_va(&r.g, TABLE_GPA(16));

	for (unsigned int i = 0; i <= VHD_MAX_REQ_IOV; i++)
		t[i] = (struct vring_desc){ DATA_GPA(0), 0, VRING_DESC_F_NEXT,
					    (uint16_t)(i + 1) };
	t[VHD_MAX_REQ_IOV].flags = 0;
	set_desc(0, TABLE_GPA(16), (VHD_MAX_REQ_IOV + 1) * 16,
		 VRING_DESC_F_INDIRECT, 0);
	split_publish(&r, 0);
	ring_expect_broken(&r, "indirect chain is too long");
}
END_TEST

START_TEST(too_many_iovecs)
{
	/* The largest table, one of whose buffers needs two iovecs. */
	struct vring_desc *t = guest_va(&r.g, TABLE_GPA(16));

	for (unsigned int i = 0; i < VHD_MAX_REQ_IOV; i++)
		t[i] = (struct vring_desc){ DATA_GPA(0), 1, VRING_DESC_F_NEXT,
					    (uint16_t)(i + 1) };
	t[VHD_MAX_REQ_IOV - 1] = (struct vring_desc){ GUEST_C - 1, 2, 0, 0 };
	set_desc(0, TABLE_GPA(16), VHD_MAX_REQ_IOV * 16, VRING_DESC_F_INDIRECT,
		 0);
	split_publish(&r, 0);
	ring_expect_broken(&r, "too many buffers");
}
END_TEST

START_TEST(indirect_without_feature)
{
	ring_teardown(&r);
	ring_setup(&r, 8, 0, 0);
	set_entry(0, DATA_GPA(0), 16, 0, 0);
	set_desc(0, TABLE_GPA(0), 16, VRING_DESC_F_INDIRECT, 0);
	split_publish(&r, 0);
	ring_expect_broken(&r, "without INDIRECT_DESC");
}
END_TEST

START_TEST(head_out_of_range)
{
	split_publish(&r, 8);
	ring_expect_broken(&r, "head index outside");
}
END_TEST

START_TEST(head_far_out_of_range)
{
	split_publish(&r, 0xffff);
	ring_expect_broken(&r, "head index outside");
}
END_TEST

START_TEST(next_out_of_range)
{
	set_desc(0, DATA_GPA(0), 16, VRING_DESC_F_NEXT, 8);
	split_publish(&r, 0);
	ring_expect_broken(&r, "next index outside");
}
END_TEST

START_TEST(avail_index_jumps)
{
	set_desc(0, DATA_GPA(0), 16, 0, 0);
	for (int i = 0; i < 8; i++)
		split_avail(&r)->ring[i] = 0;
	__atomic_store_n(&split_avail(&r)->idx, 9, __ATOMIC_RELEASE);
	ring_expect_broken(&r, "more than the ring size");
}
END_TEST

START_TEST(avail_index_goes_back)
{
	struct buf b = { DATA_GPA(0), 16, false };
	struct vhostdev_req *req;

	split_add(&r, &b, 1);
	ck_assert_int_eq(vhostdev_queue_pop(r.q, &req), 1);
	/* Behind last_avail is 65535 buffers ahead of it. */
	__atomic_store_n(&split_avail(&r)->idx, 0, __ATOMIC_RELEASE);
	ring_expect_broken(&r, "more than the ring size");
}
END_TEST

START_TEST(duplicate_head_in_flight)
{
	struct buf b = { DATA_GPA(0), 16, false };
	struct vhostdev_req *req;
	uint16_t head;

	head = split_add(&r, &b, 1);
	ck_assert_int_eq(vhostdev_queue_pop(r.q, &req), 1);
	split_publish(&r, head);
	ring_expect_broken(&r, "already in flight");
	/* The first one is still the device's and can complete. */
	ck_assert(req->busy);
	ck_assert_int_eq(vhostdev_req_push(req, 0), 0);
}
END_TEST

START_TEST(readable_after_writable)
{
	set_desc(0, DATA_GPA(0), 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc(1, DATA_GPA(1), 16, 0, 0);
	split_publish(&r, 0);
	ring_expect_broken(&r, "readable buffer after a device-writable");
}
END_TEST

START_TEST(readable_after_writable_in_table)
{
	set_entry(0, DATA_GPA(0), 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
		  1);
	set_entry(1, DATA_GPA(1), 16, 0, 0);
	set_desc(0, TABLE_GPA(0), 32, VRING_DESC_F_INDIRECT, 0);
	split_publish(&r, 0);
	ring_expect_broken(&r, "readable buffer after a device-writable");
}
END_TEST

START_TEST(good_chain_before_bad_one_survives)
{
	struct buf b = { DATA_GPA(0), 16, true };
	struct vhostdev_req *req;
	uint32_t id, len;

	split_add(&r, &b, 1);
	ck_assert_int_eq(vhostdev_queue_pop(r.q, &req), 1);
	set_desc(1, GUEST_HOLE, 16, 0, 0);
	split_publish(&r, 1);
	ring_expect_broken(&r, "buffer is not in guest memory");
	ck_assert_int_eq(vhostdev_req_push(req, 16), 0);
	ck_assert(split_get_used(&r, &id, &len));
	ck_assert_uint_eq(id, 0);
	ck_assert_uint_eq(len, 16);
}
END_TEST

Suite *split_hostile_suite(void)
{
	Suite *s = suite_create("split-hostile");
	TCase *tc = tcase_create("chains");
	TCase *ti = tcase_create("indirect");
	TCase *tr = tcase_create("ring");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, descriptor_loop);
	tcase_add_test(tc, chain_longer_than_ring);
	tcase_add_test(tc, self_loop);
	tcase_add_test(tc, address_outside_memory);
	tcase_add_test(tc, buffer_runs_into_hole);
	tcase_add_test(tc, buffer_past_last_region);
	tcase_add_test(tc, length_wraps_address_space);
	tcase_add_test(tc, huge_length);
	tcase_add_test(tc, next_out_of_range);
	tcase_add_test(tc, readable_after_writable);
	tcase_add_test(tc, good_chain_before_bad_one_survives);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(ti, setup, teardown);
	tcase_add_test(ti, indirect_inside_indirect);
	tcase_add_test(ti, indirect_with_next);
	tcase_add_test(ti, indirect_after_direct);
	tcase_add_test(ti, indirect_length_not_multiple_of_16);
	tcase_add_test(ti, indirect_length_zero);
	tcase_add_test(ti, indirect_table_outside_memory);
	tcase_add_test(ti, indirect_table_across_regions);
	tcase_add_test(ti, indirect_table_wraps);
	tcase_add_test(ti, indirect_next_outside_table);
	tcase_add_test(ti, indirect_loop);
	tcase_add_test(ti, indirect_too_long);
	tcase_add_test(ti, too_many_iovecs);
	tcase_add_test(ti, indirect_without_feature);
	tcase_add_test(ti, readable_after_writable_in_table);
	suite_add_tcase(s, ti);

	tcase_add_checked_fixture(tr, setup, teardown);
	tcase_add_test(tr, head_out_of_range);
	tcase_add_test(tr, head_far_out_of_range);
	tcase_add_test(tr, avail_index_jumps);
	tcase_add_test(tr, avail_index_goes_back);
	tcase_add_test(tr, duplicate_head_in_flight);
	suite_add_tcase(s, tr);
	return s;
}
