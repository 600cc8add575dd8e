/* SPDX-License-Identifier: MIT */
/* In-flight tracking (INFLIGHT_SHMFD) across a back-end crash: requests
 * taken and not completed when the device dies are resubmitted by the next
 * one, oldest first, and none is completed twice; a crash in the middle
 * of returning a request is finished, not repeated; and a region full of
 * garbage is survived. The "crash" is tdev_stop() with requests held: the
 * device goes away without completing them or touching the region, as a
 * killed process would. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"

/* Loop tests run once per layout: _i == 0 split, 1 packed. */
#define WANT(i) (T_ALL_FEATURES & ~((i) ? 0 : VHF_BIT(VHF_F_RING_PACKED)))
#define RING 16

static struct tdev *td;
static struct tsession s;
static struct vhf_inflight_msg region;
static int region_fd = -1;

/* A front end that asks for the region (as QEMU does at first start) and
 * hands it straight back. */
static uint64_t want;

static struct vhf_vq *start_tracked(int layout)
{
	want = WANT(layout);
	td = tdev_start(NULL);
	ts_open(&s, td, want, T_ALL_PROTOCOL);
	ck_assert_uint_eq(!!(s.features & VHF_BIT(VHF_F_RING_PACKED)), layout);
	ck_assert(s.protocol & VHF_BIT(VHF_PF_INFLIGHT_SHMFD));
	ck_assert_int_eq(vhf_get_inflight_fd(s.c, 2, RING, &region,
					     &region_fd), 0);
	ck_assert_int_ge(region_fd, 0);
	ck_assert_uint_ge(region.mmap_size, 2 * RING * 16);
	ck_assert_int_eq(vhf_set_inflight_fd(s.c, &region, region_fd), 0);
	return ts_start_queue(&s, 0, RING);
}

/* Kills the device with its held requests, starts a new one, and sets it
 * up from what the front end kept: its memory, its ring and the in-flight
 * region. The ring restarts at base, or where it started when base is
 * STALE_BASE: after a crash a front end only has a guess. */
#define STALE_BASE UINT32_MAX
static void crash_and_reconnect(struct vhf_vq *vq, uint32_t base)
{
	uint64_t features, protocol;

	tdev_stop(td);
	vhf_conn_free(s.c);
	td = tdev_start(NULL);
	s.td = td;
	ck_assert_int_eq(vhf_connect(tdev_path(td), T_TIMEOUT_MS, &s.c), 0);
	vhf_conn_set_timeout(s.c, T_TIMEOUT_MS);
	ck_assert_int_eq(vhf_negotiate(s.c, want, T_ALL_PROTOCOL, &features,
				       &protocol), 0);
	ck_assert_uint_eq(features, s.features);
	ck_assert_int_eq(vhf_set_mem_table(s.c, s.mem), 0);
	ck_assert_int_eq(vhf_set_inflight_fd(s.c, &region, region_fd), 0);
	if (base != STALE_BASE)
		vhf_vq_set_base(vq, base);
	ck_assert_int_eq(vhf_vq_setup(s.c, vq), 0);
	ck_assert_int_eq(vhf_vq_enable(s.c, vq, true), 0);
}

static void finish(void)
{
	ck_assert_uint_eq(tdev_pop_errors(td), 0);
	ts_close(&s);
	tdev_stop(td);
	close(region_fd);
	region_fd = -1;
}

/* The front end's view of the region, to inspect or tamper with. */
static void *map_region(void)
{
	void *map = mmap(NULL, region.mmap_size, PROT_READ | PROT_WRITE,
			 MAP_SHARED, region_fd, (off_t)region.mmap_offset);

	ck_assert_ptr_ne(map, MAP_FAILED);
	return map;
}

static void wait_held(unsigned int n)
{
	for (int i = 0; i < 1000 && tdev_held(td) < n; i++)
		poll(NULL, 0, 5);
	ck_assert_uint_eq(tdev_held(td), n);
}

START_TEST(held_requests_are_resubmitted_in_order)
{
	struct vhf_vq *vq = start_tracked(_i);
	int ids[3];
	uint16_t id;
	uint32_t len;

	ts_echo(&s, vq, 100, 1, 1, false);
	tdev_hold(td, true);
	for (unsigned int i = 0; i < 3; i++) {
		ids[i] = ts_post(&s, vq, 10 + i, 200 + 10 * i, 1, 1, false);
		ck_assert_int_ge(ids[i], 0);
	}
	vhf_vq_kick(vq);
	wait_held(3);

	/* The ring's start as base: the region, not the front end's guess,
	 * says where the ring goes on (4 taken: 1 used, 3 in flight). */
	crash_and_reconnect(vq, STALE_BASE);
	for (unsigned int i = 0; i < 3; i++) {
		ck_assert(ts_poll_used(vq, &id, &len));
		ck_assert_int_eq(id, ids[i]);
		ts_check_echo(&s, 10 + i, 200 + 10 * i, len);
	}
	/* Nothing more comes back (vhf_vq_get_used would fail with EPROTO
	 * on an id completed twice), and new requests are served. */
	ck_assert_int_eq(vhf_vq_get_used(vq, &id, &len), 0);
	ck_assert_uint_eq(tdev_completed(td), 3);
	ts_echo(&s, vq, 300, 2, 2, false);
	ck_assert_int_eq(vhf_vq_inflight(vq), 0);
	finish();
}
END_TEST

/* The layout of the split part of the region (vhost-user spec). */
struct split_part {
	uint64_t features;
	uint16_t version, desc_num, last_batch_head, used_idx;
	struct {
		uint8_t inflight, padding[5];
		uint16_t next;
		uint64_t counter;
	} desc[];
};

/* A crash after a request reached the used ring but before the region
 * said so: the new device must see it was returned, not return it
 * again. Staged by rolling the region back by one completion. */
START_TEST(half_returned_request_is_not_repeated)
{
	struct vhf_vq *vq = start_tracked(0);
	struct split_part *part;
	uint16_t id;
	uint32_t len;
	int head;
	void *map;

	ts_echo(&s, vq, 100, 1, 1, false);
	head = ts_post(&s, vq, 20, 150, 1, 1, false);
	ck_assert_int_ge(head, 0);
	vhf_vq_kick(vq);
	ck_assert(ts_poll_used(vq, &id, &len));
	ck_assert_int_eq(id, head);

	map = map_region();
	part = map;
	ck_assert_uint_eq(part->version, 1);
	ck_assert_uint_eq(part->desc_num, RING);
	ck_assert_uint_eq(part->used_idx, 2);
	ck_assert_uint_eq(part->last_batch_head, (uint16_t)head);
	ck_assert_uint_eq(part->desc[head].inflight, 0);
	/* As if the process died right after publishing used->idx. */
	part->desc[head].inflight = 1;
	part->used_idx = 1;

	crash_and_reconnect(vq, 1);
	ck_assert_uint_eq(part->used_idx, 2);
	ck_assert_uint_eq(part->desc[head].inflight, 0);
	ck_assert_int_eq(vhf_vq_get_used(vq, &id, &len), 0);
	ts_echo(&s, vq, 120, 1, 1, false);
	ck_assert_uint_eq(tdev_completed(td), 1);
	munmap(map, region.mmap_size);
	finish();
}
END_TEST

/* The packed layout of the region (vhost-user spec). */
struct packed_part {
	uint64_t features;
	uint16_t version, desc_num, free_head, old_free_head, used_idx,
		 old_used_idx;
	uint8_t used_wrap, old_used_wrap, padding[7];
	struct {
		uint8_t inflight, padding;
		uint16_t next, last, num;
		uint64_t counter;
		uint16_t id, flags;
		uint32_t len;
		uint64_t addr;
	} desc[];
};

/* The packed ring's version: a crash after the used descriptor was
 * written but before the region committed the return. Staged by putting
 * back the committed state from while the request was in flight. */
START_TEST(half_returned_packed_request_is_not_repeated)
{
	struct vhf_vq *vq = start_tracked(1);
	struct packed_part *part, before;
	uint16_t id, entry;
	uint32_t len;
	int head;
	void *map;

	ts_echo(&s, vq, 100, 1, 1, false);
	map = map_region();
	part = map;
	ck_assert_uint_eq(part->version, 1);
	ck_assert_uint_eq(part->desc_num, RING);

	tdev_hold(td, true);
	head = ts_post(&s, vq, 20, 150, 1, 1, false);
	ck_assert_int_ge(head, 0);
	vhf_vq_kick(vq);
	wait_held(1);
	memcpy(&before, part, sizeof(before));
	/* The held chain's head entry is the one entry in flight. */
	entry = RING;
	for (unsigned int i = 0; i < RING; i++) {
		if (part->desc[i].inflight != 1)
			continue;
		ck_assert_uint_eq(entry, RING);
		entry = (uint16_t)i;
	}
	ck_assert_uint_lt(entry, RING);
	ck_assert_uint_eq(part->desc[entry].num, 2);
	ck_assert_uint_eq(part->used_idx, 2);
	tdev_hold(td, false);
	ck_assert_uint_eq(tdev_release(td), 1);
	ck_assert(ts_poll_used(vq, &id, &len));
	ck_assert_int_eq(id, head);
	ck_assert_uint_eq(part->used_idx, 4);
	ck_assert_uint_eq(part->old_used_idx, 4);

	/* As if the process died right after writing the used descriptor:
	 * the committed fields are those from before, the entry still
	 * says in flight. */
	ck_assert_uint_eq(part->desc[entry].inflight, 0);
	part->desc[entry].inflight = 1;
	part->old_free_head = before.old_free_head;
	part->old_used_idx = before.old_used_idx;
	part->old_used_wrap = before.old_used_wrap;

	crash_and_reconnect(vq, (4u | 1u << 15) * 0x10001u);
	ck_assert_uint_eq(part->old_used_idx, 4);
	for (unsigned int i = 0; i < RING; i++)
		ck_assert_uint_eq(part->desc[i].inflight, 0);
	ck_assert_int_eq(vhf_vq_get_used(vq, &id, &len), 0);
	ts_echo(&s, vq, 120, 1, 1, false);
	ck_assert_uint_eq(tdev_completed(td), 1);
	munmap(map, region.mmap_size);
	finish();
}
END_TEST

/* A region the front end filled with garbage: more heads in flight than
 * the driver made available, a batch list that loops, huge counters. The
 * device must not crash, must not resubmit chains that were never taken,
 * and must go on serving the ring from the base the front end gave. */
START_TEST(garbage_region_is_survived)
{
	struct vhf_vq *vq = start_tracked(_i);
	uint8_t *bytes;
	void *map;

	ts_echo(&s, vq, 100, 1, 1, false);
	map = map_region();
	/* Past the version and size words, everything is noise, with
	 * inflight-looking bytes sprinkled in. */
	bytes = map;
	for (size_t i = 12; i < region.mmap_size / 2; i++)
		bytes[i] = i % 7 == 0 ? 1 : (uint8_t)(i * 131 + 17);

	/* The base QEMU would restore from the used index: one chain used
	 * (split: index 1; packed: 2 descriptors, wrap counters 1). */
	crash_and_reconnect(vq, _i ? (2u | 1u << 15) * 0x10001u : 1);
	ck_assert_int_eq(vhf_sync(s.c), 0);
	ts_echo(&s, vq, 90, 1, 1, false);
	ck_assert_uint_eq(tdev_completed(td), 1);
	munmap(map, region.mmap_size);
	finish();
}
END_TEST

/* Refusals: no fd, a region too small for its claim, while rings run. */
START_TEST(bad_regions_are_refused)
{
	struct vhf_inflight_msg small, in;
	int fd;

	td = tdev_start(NULL);
	ts_open(&s, td, WANT(0), T_ALL_PROTOCOL);
	ck_assert_int_lt(vhf_get_inflight_fd(s.c, 3, RING, &in, &fd), 0);
	ck_assert_int_lt(vhf_get_inflight_fd(s.c, 2, 0, &in, &fd), 0);
	ck_assert_int_eq(vhf_get_inflight_fd(s.c, 2, RING, &region,
					     &region_fd), 0);
	small = region;
	small.mmap_size = 64;
	ck_assert_int_lt(vhf_set_inflight_fd(s.c, &small, region_fd), 0);
	small = region;
	small.mmap_offset = 4096;
	ck_assert_int_lt(vhf_set_inflight_fd(s.c, &small, region_fd), 0);
	ck_assert_int_lt(vhf_set_inflight_fd(s.c, &region, -1), 0);
	ck_assert_int_eq(vhf_set_inflight_fd(s.c, &region, region_fd), 0);
	ts_start_queue(&s, 0, RING);
	/* Rings run: neither request may swap the region under them. */
	ck_assert_int_lt(vhf_set_inflight_fd(s.c, &region, region_fd), 0);
	ck_assert_int_lt(vhf_get_inflight_fd(s.c, 2, RING, &in, &fd), 0);
	ck_assert_int_eq(vhf_sync(s.c), 0);
	finish();
}
END_TEST

Suite *proto_suite(void)
{
	Suite *su = suite_create("inflight");
	TCase *tc = t_tcase(su, "crash");

	tcase_add_loop_test(tc, held_requests_are_resubmitted_in_order, 0, 2);
	tcase_add_test(tc, half_returned_request_is_not_repeated);
	tcase_add_test(tc, half_returned_packed_request_is_not_repeated);
	tcase_add_loop_test(tc, garbage_region_is_survived, 0, 2);
	tcase_add_test(tc, bad_regions_are_refused);
	return su;
}
