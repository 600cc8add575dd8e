/* SPDX-License-Identifier: MIT */
/* Queues served by worker threads (vhostdev_queue_set_detached(),
 * vhostdev_queue_get_fd(), vhostdev_queue_process()) while the control
 * thread handles SET_MEM_TABLE, ADD/REM_MEM_REG, GET_VRING_BASE and
 * disconnects: every such message waits for the workers to quiesce
 * (acknowledged later from the worker threads) and resumes them after.
 * Meant to pass under ThreadSanitizer. _i: split, packed. */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "harness.h"

#define WANT (VHF_BIT(VHF_F_VERSION_1) | VHF_BIT(VHF_F_PROTOCOL_FEATURES) | \
	      VHF_BIT(VHF_F_EVENT_IDX) | VHF_BIT(VHF_F_INDIRECT_DESC))
#define PROTOCOL (VHF_BIT(VHF_PF_REPLY_ACK) |                               \
		  VHF_BIT(VHF_PF_CONFIGURE_MEM_SLOTS))
#define PER_ROUND 4

static struct tdev *td;
static struct tsession s;

static struct tdev *start_workers(void)
{
	struct tdev_opts o = { .workers = true, .num_queues = 2 };

	return tdev_start(&o);
}

/* Posts PER_ROUND chains on queue q, using pool slots of that queue. */
static void post_round(struct vhf_vq *vq, unsigned int q,
		       unsigned int round, unsigned int *slot_of)
{
	for (unsigned int k = 0; k < PER_ROUND; k++) {
		unsigned int slot = q * 128 + (round * PER_ROUND + k) % 128;
		int id = ts_post(&s, vq, slot, 64 + round % 200, 1 + k % 2,
				 1 + k / 2, k == 3);

		ck_assert_msg(id >= 0, "add: %s", strerror(-id));
		slot_of[id] = slot;
	}
	ck_assert_int_ge(vhf_vq_kick(vq), 0);
}

static void collect_round(struct vhf_vq *vq, unsigned int round,
			  const unsigned int *slot_of)
{
	for (unsigned int k = 0; k < PER_ROUND; k++) {
		uint16_t id;
		uint32_t len;

		ts_wait_used(&s, vq, &id, &len);
		ts_check_echo(&s, slot_of[id], 64 + round % 200, len);
	}
}

static void restart(struct vhf_vq *vq)
{
	ck_assert_int_eq(vhf_vq_stop(s.c, vq, NULL), 0);
	ck_assert_int_eq(vhf_vq_setup(s.c, vq), 0);
	ck_assert_int_eq(vhf_vq_enable(s.c, vq, true), 0);
}

static bool settled(struct tdev *t)
{
	return tdev_count(t, "quiesce") == tdev_count(t, "resume");
}

START_TEST(control_messages_under_traffic)
{
	const uint64_t scratch = 0x80000000ull;
	unsigned int slots[2][64];
	struct vhf_vq *vq[2];
	const unsigned int rounds = 120;
	int idx = -1;
	char buf[256];

	td = start_workers();
	ts_open(&s, td, WANT | (_i ? VHF_BIT(VHF_F_RING_PACKED) : 0),
		PROTOCOL);
	vq[0] = ts_start_queue(&s, 0, 64);
	vq[1] = ts_start_queue(&s, 1, 64);
	for (unsigned int round = 0; round < rounds; round++) {
		post_round(vq[0], 0, round, slots[0]);
		post_round(vq[1], 1, round, slots[1]);
		/* Whatever the workers are doing right now, the control
		 * side changes something under them. */
		switch (round % 5) {
		case 0: {
			/* The two session regions (not the scratch one,
			 * which comes and goes below). */
			static const unsigned int two[] = { 0, 1 };

			ck_assert_int_eq(vhf_set_mem_table_some(s.c, s.mem,
								two, 2), 0);
			break;
		}
		case 1:
			restart(vq[round / 5 % 2]);
			break;
		case 2:
			if (idx < 0)
				idx = vhf_mem_add(s.mem, scratch, 1 << 20, 0);
			ck_assert_int_ge(idx, 0);
			ck_assert_int_eq(vhf_add_mem_reg(s.c, s.mem, idx), 0);
			break;
		case 3:
			ck_assert_int_eq(vhf_rem_mem_reg(s.c, s.mem, idx), 0);
			break;
		case 4:
			ck_assert_int_eq(vhf_sync(s.c), 0);
			break;
		}
		collect_round(vq[0], round, slots[0]);
		collect_round(vq[1], round, slots[1]);
	}
	ck_assert_uint_eq(tdev_completed(td), 2 * PER_ROUND * rounds);
	ck_assert_uint_gt(tdev_count(td, "quiesce"), 0);
	ck_assert(tdev_wait(td, settled));
	ck_assert_msg(tdev_errors(td) == 0, "library error: %s",
		      tdev_last_error(td, buf, sizeof(buf)));
	ck_assert_uint_eq(tdev_pop_errors(td), 0);
	ts_close(&s);
	tdev_stop(td);
}
END_TEST

static bool disconnected(struct tdev *t)
{
	return tdev_count(t, "disconnect") > 0;
}

/* The front end leaves while the workers are busy; the next one gets
 * working queues. */
START_TEST(disconnect_under_traffic)
{
	unsigned int slots[2][64];
	struct vhf_vq *vq[2];

	td = start_workers();
	ts_open(&s, td, WANT | (_i ? VHF_BIT(VHF_F_RING_PACKED) : 0),
		PROTOCOL);
	vq[0] = ts_start_queue(&s, 0, 64);
	vq[1] = ts_start_queue(&s, 1, 64);
	/* Six rounds of nine descriptors: most of a 64-entry ring. */
	for (unsigned int round = 0; round < 6; round++) {
		post_round(vq[0], 0, round, slots[0]);
		post_round(vq[1], 1, round, slots[1]);
	}
	ts_close(&s);
	ck_assert(tdev_wait(td, disconnected));
	ck_assert(tdev_wait(td, settled));

	ts_open(&s, td, WANT | (_i ? VHF_BIT(VHF_F_RING_PACKED) : 0),
		PROTOCOL);
	vq[0] = ts_start_queue(&s, 0, 64);
	vq[1] = ts_start_queue(&s, 1, 64);
	for (unsigned int round = 0; round < 10; round++) {
		post_round(vq[0], 0, round, slots[0]);
		post_round(vq[1], 1, round, slots[1]);
		collect_round(vq[0], round, slots[0]);
		collect_round(vq[1], round, slots[1]);
	}
	ck_assert_uint_eq(tdev_pop_errors(td), 0);
	ts_close(&s);
	tdev_stop(td);
}
END_TEST

Suite *proto_suite(void)
{
	Suite *su = suite_create("workers");
	TCase *tc;

	tc = t_tcase(su, "workers");
	tcase_add_loop_test(tc, control_messages_under_traffic, 0, 2);
	tcase_add_loop_test(tc, disconnect_under_traffic, 0, 2);
	return su;
}
