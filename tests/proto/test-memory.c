/* SPDX-License-Identifier: MIT */
/* Guest memory as the back end sees it: buffers straddling two regions,
 * buffers in holes, regions added and removed while rings run, tables
 * replaced while rings run, bad tables leaving the old one in place,
 * unaligned mmap offsets, and many memory slots. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define WANT (VHF_BIT(VHF_F_VERSION_1) | VHF_BIT(VHF_F_PROTOCOL_FEATURES) | \
	      VHF_BIT(VHF_F_EVENT_IDX))
#define PROTOCOL (VHF_BIT(VHF_PF_REPLY_ACK) | VHF_BIT(VHF_PF_STATUS) | \
		  VHF_BIT(VHF_PF_CONFIGURE_MEM_SLOTS) |                      \
		  VHF_BIT(VHF_PF_RESET_DEVICE))

static struct tdev *td;
static struct tsession s;

static void finish(void)
{
	ts_close(&s);
	tdev_stop(td);
}

/* Copies between plain memory and guest memory, region by region. */
static void gpa_write(uint64_t gpa, const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t *p = vhf_mem_ptr(s.mem, gpa + i, 1);

		ck_assert_msg(p, "gpa 0x%llx not ours",
			      (unsigned long long)(gpa + i));
		*p = buf[i];
	}
}

static void gpa_read(uint64_t gpa, uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t *p = vhf_mem_ptr(s.mem, gpa + i, 1);

		ck_assert_ptr_nonnull(p);
		buf[i] = *p;
	}
}

/* Posts one chain reading len bytes at out and writing them at in,
 * where either may be any guest address (filled through our mappings
 * when they are ours). */
static int post_at(struct vhf_vq *vq, uint64_t out, uint64_t in, size_t len,
		   uint8_t seed)
{
	struct vhf_buf b[2] = { { out, (uint32_t)len }, { in, (uint32_t)len } };
	uint8_t data[1024];

	ck_assert_uint_le(len, sizeof(data));
	for (size_t i = 0; i < len; i++)
		data[i] = (uint8_t)(seed + i * 13);
	if (vhf_mem_ptr(s.mem, out, 1))
		gpa_write(out, data, len);
	return vhf_vq_add(vq, b, 1, 1, false);
}

static void check_at(uint64_t in, size_t len, uint8_t seed)
{
	uint8_t data[1024];

	gpa_read(in, data, len);
	for (size_t i = 0; i < len; i++)
		ck_assert_msg(data[i] == (uint8_t)(seed + i * 13),
			      "byte %zu at 0x%llx", i,
			      (unsigned long long)in);
}

/* One round trip through addresses of the caller's choosing. */
static void echo_at(struct vhf_vq *vq, uint64_t out, uint64_t in,
		    size_t len, uint8_t seed)
{
	uint16_t id;
	uint32_t used;
	int head = post_at(vq, out, in, len, seed);

	ck_assert_int_ge(head, 0);
	vhf_vq_kick(vq);
	ts_wait_used(&s, vq, &id, &used);
	ck_assert_int_eq(id, head);
	ck_assert_uint_eq(used, len);
	check_at(in, len, seed);
}

/* Is a chain still served? (within T_QUIET_MS) */
static bool served(struct vhf_vq *vq, uint64_t out, uint64_t in)
{
	uint16_t id;
	uint32_t len;

	ck_assert_int_ge(post_at(vq, out, in, 16, 1), 0);
	vhf_vq_kick(vq);
	for (int i = 0; i < T_QUIET_MS / 5; i++) {
		if (vhf_vq_get_used(vq, &id, &len) == 1)
			return true;
		poll(NULL, 0, 5);
	}
	return false;
}

static uint64_t pool(unsigned int k)
{
	return s.pool_gpa + 8192ull * k;
}

/* Regions 0 and 2 touch: a buffer may run from one into the other and
 * the device must follow it across (two mappings, one buffer). */
START_TEST(straddling_buffers)
{
	const uint64_t border = T_REGION0_GPA + T_REGION0_SIZE;
	struct vhf_vq *vq;
	int idx;

	td = tdev_start(NULL);
	ts_open(&s, td, WANT, PROTOCOL);
	idx = vhf_mem_add(s.mem, border, 1 << 20, 0);
	ck_assert_int_eq(idx, 2);
	ck_assert_int_eq(vhf_set_mem_table(s.c, s.mem), 0);
	vq = ts_start_queue(&s, 0, 16);
	echo_at(vq, border - 300, pool(1), 600, 5);
	echo_at(vq, pool(2), border - 1, 700, 9);
	echo_at(vq, border - 512, border + 512, 512, 11);
	ck_assert_uint_eq(tdev_errors(td), 0);
	finish();
}
END_TEST

/* A buffer in a hole: the request fails (or the ring is marked broken
 * and the device NEEDS_RESET), nothing crashes, the connection and the
 * other queue go on, and a reset brings the ring back. */
START_TEST(buffer_in_hole)
{
	struct vhf_vq *q0, *q1;
	uint8_t status = 0;

	td = tdev_start(NULL);
	ts_open(&s, td, WANT, PROTOCOL);
	q0 = ts_start_queue(&s, 0, 16);
	q1 = ts_start_queue(&s, 1, 16);
	echo_at(q0, pool(0), pool(1), 100, 1);

	ck_assert_int_ge(post_at(q0, 0x20000000ull, pool(2), 64, 2), 0);
	vhf_vq_kick(q0);
	for (int i = 0; i < 1000 && tdev_pop_errors(td) == 0; i++)
		poll(NULL, 0, 5);
	ck_assert_uint_ge(tdev_pop_errors(td), 1);
	ck_assert_uint_ge(tdev_errors(td), 1);
	ck_assert_int_eq(vhf_get_status(s.c, &status), 0);
	ck_assert_msg(status & 0x40, "status 0x%x without NEEDS_RESET",
		      status);

	echo_at(q1, pool(3), pool(4), 200, 3);
	ck_assert_int_eq(vhf_sync(s.c), 0);

	/* RESET_DEVICE and a fresh start clear it. */
	ck_assert_int_eq(vhf_reset_device(s.c), 0);
	ck_assert_int_eq(vhf_get_status(s.c, &status), 0);
	ck_assert_uint_eq(status & 0x40, 0);
	ck_assert_int_eq(vhf_set_features(s.c, s.features), 0);
	for (unsigned int i = 0; i < 2; i++) {
		vhf_vq_free(s.vq[i]);
		s.vq[i] = NULL;
	}
	q0 = ts_start_queue(&s, 0, 16);
	echo_at(q0, pool(5), pool(6), 300, 4);
	finish();
}
END_TEST

/* ADD_MEM_REG and REM_MEM_REG under a running ring. */
START_TEST(slots_while_running)
{
	const uint64_t g3 = 0x80000000ull;
	struct vhf_vq *vq;
	int idx;

	td = tdev_start(NULL);
	ts_open(&s, td, WANT, PROTOCOL);
	vq = ts_start_queue(&s, 0, 16);
	echo_at(vq, pool(0), pool(1), 100, 1);

	idx = vhf_mem_add(s.mem, g3, 1 << 20, 0);
	ck_assert_int_eq(idx, 2);
	ck_assert_int_eq(vhf_add_mem_reg(s.c, s.mem, idx), 0);
	echo_at(vq, g3, g3 + 4096, 1000, 2);
	echo_at(vq, pool(2), g3 + 8192, 1000, 3);

	/* The data region goes: the ring (in region 0) keeps going. */
	ck_assert_int_eq(vhf_rem_mem_reg(s.c, s.mem, 1), 0);
	echo_at(vq, g3 + 12288, g3 + 16384, 500, 4);
	/* And comes back. */
	ck_assert_int_eq(vhf_add_mem_reg(s.c, s.mem, 1), 0);
	echo_at(vq, pool(3), g3, 500, 5);

	/* Overlaps and unknown regions are refused, harmlessly. */
	ck_assert_int_ne(vhf_add_mem_reg(s.c, s.mem, 2), 0);
	{
		struct vhf_single_region_msg m = { .padding = 0 };

		vhf_mem_region_desc(s.mem, 2, &m.region);
		m.region.size /= 2;
		ck_assert_int_ne(vhf_request(s.c, VHF_REM_MEM_REG, &m,
					     sizeof(m), NULL, 0, NULL), 0);
	}
	echo_at(vq, g3, pool(4), 64, 6);
	tdev_reset_errors(td);

	/* A buffer in the removed region breaks the ring, not the
	 * device. */
	ck_assert_int_eq(vhf_rem_mem_reg(s.c, s.mem, 1), 0);
	ck_assert(!served(vq, pool(5), g3));
	ck_assert_uint_ge(tdev_pop_errors(td), 1);
	ck_assert_int_eq(vhf_sync(s.c), 0);
	finish();
}
END_TEST

/* SET_MEM_TABLE again while the ring runs: the same memory, then the
 * data region swapped for a new memfd at the same address. The device
 * must use the new mapping. */
START_TEST(table_replaced_while_running)
{
	struct vhf_vq *vq;
	int old_fd;

	td = tdev_start(NULL);
	ts_open(&s, td, WANT, PROTOCOL);
	vq = ts_start_queue(&s, 0, 16);
	echo_at(vq, pool(0), pool(1), 100, 1);
	ck_assert_int_eq(vhf_set_mem_table(s.c, s.mem), 0);
	echo_at(vq, pool(2), pool(3), 200, 2);

	/* Keep the old memfd alive: a device still using it would write
	 * there, where we no longer look. */
	old_fd = dup(vhf_mem_region(s.mem, 1)->fd);
	ck_assert_int_ge(old_fd, 0);
	ck_assert_int_eq(vhf_mem_drop(s.mem, 1), 0);
	ck_assert_int_eq(vhf_mem_add(s.mem, T_REGION1_GPA, T_REGION1_SIZE, 0),
			 2);
	ck_assert_int_eq(vhf_set_mem_table(s.c, s.mem), 0);
	echo_at(vq, pool(4), pool(5), 300, 3);
	ck_assert_uint_eq(tdev_errors(td), 0);
	close(old_fd);
	finish();
}
END_TEST

/* A request popped before SET_MEM_TABLE still holds iovecs into the old
 * mappings: they must stay mapped until it completes (unmapping them at
 * once would make the late write fault, or land in whatever the kernel
 * maps there next). */
START_TEST(table_replaced_with_request_in_flight)
{
	struct vhf_vq *vq;
	uint16_t id;
	uint32_t used;
	int head;

	td = tdev_start(NULL);
	ts_open(&s, td, WANT, PROTOCOL);
	vq = ts_start_queue(&s, 0, 16);
	tdev_hold(td, true);
	head = post_at(vq, pool(0), pool(1), 300, 9);
	ck_assert_int_ge(head, 0);
	vhf_vq_kick(vq);
	for (int i = 0; i < 1000 && tdev_held(td) < 1; i++)
		poll(NULL, 0, 5);
	ck_assert_uint_eq(tdev_held(td), 1);

	/* Once only: a second table could land where the first old one was
	 * and hide an early unmap. */
	ck_assert_int_eq(vhf_set_mem_table(s.c, s.mem), 0);
	tdev_hold(td, false);
	ck_assert_uint_eq(tdev_release(td), 1);
	ts_wait_used(&s, vq, &id, &used);
	ck_assert_int_eq(id, head);
	ck_assert_uint_eq(used, 300);
	/* Same memfds, so the old mapping's pages are ours too. */
	check_at(pool(1), 300, 9);
	echo_at(vq, pool(2), pool(3), 200, 4);
	ck_assert_uint_eq(tdev_errors(td), 0);
	finish();
}
END_TEST

/* A bad table is refused and the old one stays in force. */
START_TEST(bad_table_keeps_old)
{
	struct vhf_mem_table_msg t = { .nregions = 2 };
	struct vhf_vq *vq;
	int fds[2];

	td = tdev_start(NULL);
	ts_open(&s, td, WANT, PROTOCOL);
	vq = ts_start_queue(&s, 0, 16);
	echo_at(vq, pool(0), pool(1), 100, 1);

	/* Region 1 twice: overlapping. */
	vhf_mem_region_desc(s.mem, 1, &t.regions[0]);
	vhf_mem_region_desc(s.mem, 1, &t.regions[1]);
	fds[0] = fds[1] = vhf_mem_region(s.mem, 1)->fd;
	ck_assert_int_ne(vhf_request(s.c, VHF_SET_MEM_TABLE, &t, 8 + 64, fds,
				     2, NULL), 0);
	/* A region bigger than its memfd: accepting it would let the
	 * guest point at pages past the end of the file, and touching
	 * those raises SIGBUS in the back end. */
	vhf_mem_region_desc(s.mem, 0, &t.regions[0]);
	t.nregions = 1;
	t.regions[0].size = 1ull << 40;
	ck_assert_int_ne(vhf_request(s.c, VHF_SET_MEM_TABLE, &t, 8 + 32, fds,
				     1, NULL), 0);
	/* A region whose end wraps around. */
	vhf_mem_region_desc(s.mem, 0, &t.regions[0]);
	t.regions[0].gpa = ~0ull - 4095;
	ck_assert_int_ne(vhf_request(s.c, VHF_SET_MEM_TABLE, &t, 8 + 32, fds,
				     1, NULL), 0);
	echo_at(vq, pool(2), pool(3), 100, 2);
	finish();
}
END_TEST

/* A region that claims more than its fd holds must be refused: if it
 * were mapped, a buffer past the end of the file would kill the back end
 * with SIGBUS. */
START_TEST(region_past_end_of_file)
{
	struct vhf_single_region_msg m = { .padding = 0 };
	const uint64_t g = 0xa0000000ull;
	struct vhf_vq *vq;
	int idx, fd, r;

	td = tdev_start(NULL);
	ts_open(&s, td, WANT, PROTOCOL);
	vq = ts_start_queue(&s, 0, 16);
	idx = vhf_mem_add(s.mem, g, 1 << 20, 0);
	ck_assert_int_ge(idx, 0);
	vhf_mem_region_desc(s.mem, idx, &m.region);
	m.region.size = 2 << 20;
	fd = vhf_mem_region(s.mem, idx)->fd;
	r = vhf_request(s.c, VHF_ADD_MEM_REG, &m, sizeof(m), &fd, 1, NULL);
	ck_assert_msg(r != 0, "a 2 MiB region on a 1 MiB memfd was accepted");
	/* Whatever happened, a buffer there must not be served. */
	ck_assert(!served(vq, g + (3 << 19), pool(0)));
	ck_assert_int_eq(vhf_sync(s.c), 0);
	finish();
}
END_TEST

/* A region whose mmap offset is not page aligned (gpa G is 0x100 bytes
 * into a page of the fd). */
START_TEST(unaligned_offset)
{
	struct vhf_single_region_msg m = { .padding = 0 };
	const uint64_t g = 0x90000000ull;
	const struct vhf_region *r;
	struct vhf_vq *vq;
	uint8_t *host;
	int idx, fd;

	td = tdev_start(NULL);
	ts_open(&s, td, WANT, PROTOCOL);
	vq = ts_start_queue(&s, 0, 16);
	idx = vhf_mem_add(s.mem, g, 1 << 20, 0x10000);
	ck_assert_int_ge(idx, 0);
	r = vhf_mem_region(s.mem, idx);
	host = r->host;
	m.region.gpa = g + 0x100;
	m.region.size = r->size - 0x100;
	m.region.uva = r->uva + 0x100;
	m.region.mmap_offset = r->mmap_offset + 0x100;
	fd = r->fd;
	ck_assert_int_eq(vhf_request(s.c, VHF_ADD_MEM_REG, &m, sizeof(m), &fd,
				     1, NULL), 0);
	/* Region [g+0x100, ...) as the back end knows it is host+0x100 in
	 * ours: write and read through our own mapping. */
	echo_at(vq, pool(0), g + 0x100, 256, 7);
	ck_assert_uint_eq(host[0x100], 7);
	echo_at(vq, g + 0x1000, pool(1), 256, 8);
	ck_assert_uint_eq(tdev_errors(td), 0);
	finish();
}
END_TEST

/* Far more than 8 regions through ADD_MEM_REG, buffers in the first and
 * last ones, then half of them removed. */
START_TEST(many_slots)
{
	const uint64_t base = 0x100000000ull;
	uint64_t slots;
	struct vhf_vq *vq;
	int first = -1, last = -1;

	td = tdev_start(NULL);
	ts_open(&s, td, WANT, PROTOCOL);
	ck_assert_int_eq(vhf_get_max_mem_slots(s.c, &slots), 0);
	ck_assert_uint_ge(slots, 509);
	vq = ts_start_queue(&s, 0, 16);
	for (unsigned int i = 0; i < 64; i++) {
		int idx = vhf_mem_add(s.mem, base + i * 0x100000ull, 0x10000,
				      0);

		ck_assert_int_ge(idx, 0);
		ck_assert_int_eq(vhf_add_mem_reg(s.c, s.mem, idx), 0);
		if (first < 0)
			first = idx;
		last = idx;
	}
	echo_at(vq, base, base + 63 * 0x100000ull, 1000, 1);
	for (int idx = first; idx <= last; idx += 2)
		ck_assert_int_eq(vhf_rem_mem_reg(s.c, s.mem, idx), 0);
	echo_at(vq, base + 0x100000ull, base + 63 * 0x100000ull + 2048, 1000,
		2);
	ck_assert_uint_eq(tdev_errors(td), 0);
	finish();
}
END_TEST

Suite *proto_suite(void)
{
	Suite *su = suite_create("memory");
	TCase *tc;

	tc = t_tcase(su, "layout");
	tcase_add_test(tc, straddling_buffers);
	tcase_add_test(tc, buffer_in_hole);
	tcase_add_test(tc, unaligned_offset);
	tcase_add_test(tc, region_past_end_of_file);
	tc = t_tcase(su, "changes");
	tcase_add_test(tc, slots_while_running);
	tcase_add_test(tc, table_replaced_while_running);
	tcase_add_test(tc, table_replaced_with_request_in_flight);
	tcase_add_test(tc, bad_table_keeps_old);
	tcase_add_test(tc, many_slots);
	return su;
}
