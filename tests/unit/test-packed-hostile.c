/* SPDX-License-Identifier: MIT */
/* Unit tests of the packed ring against a hostile driver: each malformed
 * chain must fail the pop with -EIO, break the queue, mark the device for
 * reset, and leave guest memory (and the guard pages around it) alone. */
#include <check.h>
#include <errno.h>

#include "ring-driver.h"
#include "suites.h"

static struct ring r;

static void setup(void)
{
	ring_setup(&r, 8, BIT(VHOSTDEV_F_RING_PACKED) |
		   BIT(VHOSTDEV_F_RING_INDIRECT_DESC) |
		   BIT(VHOSTDEV_F_RING_EVENT_IDX), 0);
}

static void teardown(void)
{
	ring_teardown(&r);
}

static struct vring_packed_desc *table(void)
{
	return guest_va(&r.g, TABLE_GPA(0));
}

static void add_one(uint64_t addr, uint32_t len, uint16_t id, uint16_t flags)
{
	const struct vring_packed_desc d = { addr, len, id, flags };

	packed_add_raw(&r, &d, 1);
}

START_TEST(chain_longer_than_ring)
{
	struct vring_packed_desc d[8];

	/* Every slot says NEXT: the chain runs into its own head. */
	for (unsigned int i = 0; i < 8; i++)
		d[i] = (struct vring_packed_desc){ DATA_GPA(i), 16, 0,
						   VRING_DESC_F_NEXT };
	packed_add_raw(&r, d, 8);
	ring_expect_broken(&r, "longer than the ring");
}
END_TEST

START_TEST(chain_longer_than_ring_of_zero_lengths)
{
	struct vring_packed_desc d[8];

	for (unsigned int i = 0; i < 8; i++)
		d[i] = (struct vring_packed_desc){ 0, 0, 0, VRING_DESC_F_NEXT };
	packed_add_raw(&r, d, 8);
	ring_expect_broken(&r, "longer than the ring");
}
END_TEST

START_TEST(address_outside_memory)
{
	add_one(GUEST_HOLE + 0x40, 16, 0, 0);
	ring_expect_broken(&r, "buffer is not in guest memory");
}
END_TEST

START_TEST(buffer_runs_into_hole)
{
	const struct vring_packed_desc d[] = {
		{ DATA_GPA(0), 16, 0, VRING_DESC_F_NEXT },
		{ GUEST_HOLE - 8, 16, 0, VRING_DESC_F_WRITE },
	};

	packed_add_raw(&r, d, 2);
	ring_expect_broken(&r, "buffer is not in guest memory");
}
END_TEST

START_TEST(length_wraps_address_space)
{
	add_one(UINT64_MAX - 3, 8, 0, 0);
	ring_expect_broken(&r, "buffer is not in guest memory");
}
END_TEST

START_TEST(indirect_inside_indirect)
{
	table()[0] = (struct vring_packed_desc){ DATA_GPA(0), 16, 0, 0 };
	table()[1] = (struct vring_packed_desc){ TABLE_GPA(1), 16, 0,
						 VRING_DESC_F_INDIRECT };
	add_one(TABLE_GPA(0), 32, 0, VRING_DESC_F_INDIRECT);
	ring_expect_broken(&r, "indirect descriptor inside an indirect table");
}
END_TEST

START_TEST(indirect_with_next)
{
	const struct vring_packed_desc d[] = {
		{ TABLE_GPA(0), 16, 0,
		  VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT },
		{ DATA_GPA(1), 16, 0, 0 },
	};

	table()[0] = (struct vring_packed_desc){ DATA_GPA(0), 16, 0, 0 };
	packed_add_raw(&r, d, 2);
	ring_expect_broken(&r, "indirect descriptor chained to others");
}
END_TEST

START_TEST(indirect_after_direct)
{
	const struct vring_packed_desc d[] = {
		{ DATA_GPA(1), 16, 0, VRING_DESC_F_NEXT },
		{ TABLE_GPA(0), 16, 0, VRING_DESC_F_INDIRECT },
	};

	table()[0] = (struct vring_packed_desc){ DATA_GPA(0), 16, 0, 0 };
	packed_add_raw(&r, d, 2);
	ring_expect_broken(&r, "indirect descriptor chained to others");
}
END_TEST

START_TEST(indirect_length_not_multiple_of_16)
{
	table()[0] = (struct vring_packed_desc){ DATA_GPA(0), 16, 0, 0 };
	add_one(TABLE_GPA(0), 17, 0, VRING_DESC_F_INDIRECT);
	ring_expect_broken(&r, "not a multiple of 16");
}
END_TEST

START_TEST(indirect_length_zero)
{
	add_one(TABLE_GPA(0), 0, 0, VRING_DESC_F_INDIRECT);
	ring_expect_broken(&r, "indirect table length is zero");
}
END_TEST

START_TEST(indirect_table_outside_memory)
{
	add_one(GUEST_HOLE + 0x1000, 16, 0, VRING_DESC_F_INDIRECT);
	ring_expect_broken(&r, "indirect table is not in guest memory");
}
END_TEST

START_TEST(indirect_table_across_regions)
{
	*(struct vring_packed_desc *)guest_va(&r.g, GUEST_C - 16) =
		(struct vring_packed_desc){ DATA_GPA(0), 16, 0, 0 };
	*(struct vring_packed_desc *)guest_va(&r.g, GUEST_C) =
		(struct vring_packed_desc){ DATA_GPA(1), 16, 0, 0 };
	add_one(GUEST_C - 16, 32, 0, VRING_DESC_F_INDIRECT);
	ring_expect_broken(&r, "indirect table is not in guest memory");
}
END_TEST

START_TEST(indirect_table_too_long)
{
	struct vring_packed_desc *t = guest_va(&r.g, TABLE_GPA(16));

	for (unsigned int i = 0; i <= VHD_MAX_REQ_IOV; i++)
		t[i] = (struct vring_packed_desc){ DATA_GPA(0), 0, 0, 0 };
	add_one(TABLE_GPA(16), (VHD_MAX_REQ_IOV + 1) * 16, 0,
		VRING_DESC_F_INDIRECT);
	ring_expect_broken(&r, "indirect table is too long");
}
END_TEST

START_TEST(too_many_iovecs)
{
	struct vring_packed_desc *t = guest_va(&r.g, TABLE_GPA(16));

	for (unsigned int i = 0; i < VHD_MAX_REQ_IOV; i++)
		t[i] = (struct vring_packed_desc){ DATA_GPA(0), 1, 0, 0 };
	t[7] = (struct vring_packed_desc){ GUEST_C - 1, 2, 0, 0 };
	add_one(TABLE_GPA(16), VHD_MAX_REQ_IOV * 16, 0, VRING_DESC_F_INDIRECT);
	ring_expect_broken(&r, "too many buffers");
}
END_TEST

START_TEST(indirect_without_feature)
{
	ring_teardown(&r);
	ring_setup(&r, 8, BIT(VHOSTDEV_F_RING_PACKED), 0);
	table()[0] = (struct vring_packed_desc){ DATA_GPA(0), 16, 0, 0 };
	add_one(TABLE_GPA(0), 16, 0, VRING_DESC_F_INDIRECT);
	ring_expect_broken(&r, "without INDIRECT_DESC");
}
END_TEST

START_TEST(buffer_id_out_of_range)
{
	add_one(DATA_GPA(0), 16, 8, 0);
	ring_expect_broken(&r, "buffer id outside the ring");
}
END_TEST

START_TEST(buffer_id_far_out_of_range)
{
	const struct vring_packed_desc d[] = {
		{ DATA_GPA(0), 16, 0, VRING_DESC_F_NEXT },
		{ DATA_GPA(1), 16, 0xffff, VRING_DESC_F_WRITE },
	};

	packed_add_raw(&r, d, 2);
	ring_expect_broken(&r, "buffer id outside the ring");
}
END_TEST

START_TEST(duplicate_id_in_flight)
{
	struct buf b = { DATA_GPA(0), 16, true };
	struct vhostdev_req *req;

	packed_add(&r, 3, &b, 1);
	ck_assert_int_eq(vhostdev_queue_pop(r.q, &req), 1);
	packed_add(&r, 3, &b, 1);
	ring_expect_broken(&r, "already in flight");
	ck_assert(req->busy);
	ck_assert_uint_eq(req->nin, 1);
	ck_assert_int_eq(vhostdev_req_push(req, 16), 0);
}
END_TEST

START_TEST(readable_after_writable)
{
	const struct vring_packed_desc d[] = {
		{ DATA_GPA(0), 16, 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT },
		{ DATA_GPA(1), 16, 0, 0 },
	};

	packed_add_raw(&r, d, 2);
	ring_expect_broken(&r, "readable buffer after a device-writable");
}
END_TEST

START_TEST(readable_after_writable_in_table)
{
	table()[0] = (struct vring_packed_desc){ DATA_GPA(0), 16, 0,
						 VRING_DESC_F_WRITE };
	table()[1] = (struct vring_packed_desc){ DATA_GPA(1), 16, 0, 0 };
	add_one(TABLE_GPA(0), 32, 0, VRING_DESC_F_INDIRECT);
	ring_expect_broken(&r, "readable buffer after a device-writable");
}
END_TEST

Suite *packed_hostile_suite(void)
{
	Suite *s = suite_create("packed-hostile");
	TCase *tc = tcase_create("chains");
	TCase *ti = tcase_create("indirect");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, chain_longer_than_ring);
	tcase_add_test(tc, chain_longer_than_ring_of_zero_lengths);
	tcase_add_test(tc, address_outside_memory);
	tcase_add_test(tc, buffer_runs_into_hole);
	tcase_add_test(tc, length_wraps_address_space);
	tcase_add_test(tc, buffer_id_out_of_range);
	tcase_add_test(tc, buffer_id_far_out_of_range);
	tcase_add_test(tc, duplicate_id_in_flight);
	tcase_add_test(tc, readable_after_writable);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(ti, setup, teardown);
	tcase_add_test(ti, indirect_inside_indirect);
	tcase_add_test(ti, indirect_with_next);
	tcase_add_test(ti, indirect_after_direct);
	tcase_add_test(ti, indirect_length_not_multiple_of_16);
	tcase_add_test(ti, indirect_length_zero);
	tcase_add_test(ti, indirect_table_outside_memory);
	tcase_add_test(ti, indirect_table_across_regions);
	tcase_add_test(ti, indirect_table_too_long);
	tcase_add_test(ti, too_many_iovecs);
	tcase_add_test(ti, indirect_without_feature);
	tcase_add_test(ti, readable_after_writable_in_table);
	suite_add_tcase(s, ti);
	return s;
}
