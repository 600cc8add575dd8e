/* SPDX-License-Identifier: MIT */
/* Feature negotiation and the ring state rules that depend on it: what is
 * offered, what the device learns, rings starting disabled when
 * PROTOCOL_FEATURES is acked and enabled when it is not, enable/disable
 * while running, features frozen while rings run, RESET_DEVICE. */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "harness.h"

#define BASE (VHF_BIT(VHF_F_VERSION_1) | VHF_BIT(VHF_F_PROTOCOL_FEATURES))

static struct tdev *td;
static struct tsession s;

static void finish(void)
{
	char buf[256];

	ck_assert_msg(tdev_errors(td) == 0, "library error: %s",
		      tdev_last_error(td, buf, sizeof(buf)));
	ts_close(&s);
	tdev_stop(td);
}

START_TEST(offered)
{
	struct tdev_opts o = {
		.features = VHF_BIT(VHF_F_VERSION_1) | VHF_BIT(3) |
			    VHF_BIT(VHF_F_INDIRECT_DESC),
		.protocol_features = VHF_BIT(VHF_PF_MQ) |
				     VHF_BIT(VHF_PF_REPLY_ACK),
	};
	uint64_t f, pf;

	/* The library's own offer. */
	td = tdev_start(NULL);
	ts_connect(&s, td);
	ck_assert_int_eq(vhf_get_features(s.c, &f), 0);
	ck_assert(f & VHF_BIT(VHF_F_VERSION_1));
	ck_assert(f & VHF_BIT(VHF_F_PROTOCOL_FEATURES));
	ck_assert(f & VHF_BIT(VHF_F_INDIRECT_DESC));
	ck_assert(f & VHF_BIT(VHF_F_EVENT_IDX));
	ck_assert(f & VHF_BIT(VHF_F_RING_PACKED));
	/* ACCESS_PLATFORM only when a device asks for it: a front end
	 * that accepts it must then run an IOMMU for it. */
	ck_assert(!(f & VHF_BIT(VHF_F_ACCESS_PLATFORM)));
	/* Protocol features may be asked before SET_FEATURES. */
	ck_assert_int_eq(vhf_get_protocol_features(s.c, &pf), 0);
	ck_assert(pf & VHF_BIT(VHF_PF_REPLY_ACK));
	ck_assert(pf & VHF_BIT(VHF_PF_MQ));
	ck_assert(!(pf & VHF_BIT(VHF_PF_CONFIG)));
	ts_close(&s);
	tdev_stop(td);

	/* A device's own choice: a device bit added, transport bits
	 * withheld, and PROTOCOL_FEATURES still there. */
	td = tdev_start(&o);
	ts_connect(&s, td);
	ck_assert_int_eq(vhf_get_features(s.c, &f), 0);
	ck_assert_uint_eq(f, o.features | VHF_BIT(VHF_F_PROTOCOL_FEATURES));
	ck_assert_int_eq(vhf_get_protocol_features(s.c, &pf), 0);
	ck_assert_uint_eq(pf, o.protocol_features);
	finish();
}
END_TEST

START_TEST(acked_reaches_device)
{
	uint64_t want = BASE | VHF_BIT(VHF_F_EVENT_IDX);

	td = tdev_start(NULL);
	ts_connect(&s, td);
	ck_assert_uint_eq(tdev_acked_features(td), 0);
	ck_assert_int_eq(vhf_negotiate(s.c, want, VHF_BIT(VHF_PF_REPLY_ACK) |
				       VHF_BIT(VHF_PF_MQ), &s.features,
				       &s.protocol), 0);
	ck_assert_uint_eq(tdev_acked_features(td), want);
	ck_assert_uint_eq(tdev_acked_protocol_features(td),
			  VHF_BIT(VHF_PF_REPLY_ACK) | VHF_BIT(VHF_PF_MQ));
	ck_assert_uint_eq(tdev_count(td, "features"), 1);
	finish();
}
END_TEST

/* Is the chain in slot served within ms? */
static bool served(struct vhf_vq *vq, unsigned int slot, int ms)
{
	uint16_t id;
	uint32_t len;

	for (int i = 0; i < ms / 5; i++) {
		if (vhf_vq_get_used(vq, &id, &len) == 1) {
			ts_check_echo(&s, slot, 16, len);
			return true;
		}
		poll(NULL, 0, 5);
	}
	return false;
}

/* PROTOCOL_FEATURES acked: a started ring waits for SET_VRING_ENABLE,
 * and disabling it again stops service. _i: split, packed. */
START_TEST(enable_rules_protocol)
{
	struct vhf_vq *vq;
	int r;

	td = tdev_start(NULL);
	ts_open(&s, td, BASE | (_i ? VHF_BIT(VHF_F_RING_PACKED) : 0),
		VHF_BIT(VHF_PF_REPLY_ACK));
	r = vhf_vq_new(s.mem, 0, 16, vhf_vq_flags_for(s.features), 0,
		       &s.vq[0]);
	ck_assert_int_eq(r, 0);
	vq = s.vq[0];
	ck_assert_int_eq(vhf_vq_setup(s.c, vq), 0);
	ck_assert_int_eq(tdev_queue_ready(td, 0), 0);
	ck_assert_int_ge(ts_post(&s, vq, 1, 16, 1, 1, false), 0);
	vhf_vq_kick(vq);
	ck_assert_msg(!served(vq, 1, T_QUIET_MS), "a disabled ring was served");
	ck_assert_uint_eq(tdev_popped(td), 0);

	ck_assert_int_eq(vhf_vq_enable(s.c, vq, true), 0);
	ck_assert_int_eq(tdev_queue_ready(td, 0), 1);
	/* The chain that waited is served once enabled, kick or not. */
	vhf_vq_kick(vq);
	ck_assert_msg(served(vq, 1, T_TIMEOUT_MS), "enabled ring idle");

	ck_assert_int_eq(vhf_vq_enable(s.c, vq, false), 0);
	ck_assert_int_eq(tdev_queue_ready(td, 0), 0);
	ck_assert_int_ge(ts_post(&s, vq, 2, 16, 1, 1, false), 0);
	vhf_vq_kick(vq);
	ck_assert_msg(!served(vq, 2, T_QUIET_MS), "a disabled ring was served");

	ck_assert_int_eq(vhf_vq_enable(s.c, vq, true), 0);
	vhf_vq_kick(vq);
	ck_assert(served(vq, 2, T_TIMEOUT_MS));

	/* After GET_VRING_BASE the restarted ring is disabled again. */
	ck_assert_int_eq(vhf_vq_stop(s.c, vq, NULL), 0);
	ck_assert_int_eq(vhf_vq_setup(s.c, vq), 0);
	ck_assert_int_eq(tdev_queue_ready(td, 0), 0);
	ck_assert_int_eq(vhf_vq_enable(s.c, vq, true), 0);
	ck_assert_int_eq(tdev_queue_ready(td, 0), 1);
	ts_echo(&s, vq, 16, 1, 1, false);
	finish();
}
END_TEST

/* PROTOCOL_FEATURES not acked: rings are enabled as soon as started. */
START_TEST(enable_rules_legacy)
{
	struct vhf_vq *vq;
	uint64_t f;
	int r;

	td = tdev_start(NULL);
	ts_connect(&s, td);
	ck_assert_int_eq(vhf_get_features(s.c, &f), 0);
	ck_assert_int_eq(vhf_set_owner(s.c), 0);
	s.features = VHF_BIT(VHF_F_VERSION_1) |
		     (_i ? VHF_BIT(VHF_F_RING_PACKED) : 0);
	ck_assert_int_eq(vhf_set_features(s.c, s.features), 0);
	ck_assert_int_eq(vhf_mem_new(&s.mem), 0);
	ck_assert_int_eq(vhf_mem_add(s.mem, T_REGION0_GPA, T_REGION0_SIZE, 0),
			 0);
	ck_assert_int_eq(vhf_mem_add(s.mem, T_REGION1_GPA, T_REGION1_SIZE, 0),
			 1);
	s.pool_slots = 8;
	ck_assert_int_eq(vhf_mem_alloc(s.mem, 16 * 4096, 4096, 1,
				       &s.pool_gpa), 0);
	ck_assert_int_eq(vhf_set_mem_table(s.c, s.mem), 0);
	r = vhf_vq_new(s.mem, 0, 16, vhf_vq_flags_for(s.features), 0,
		       &s.vq[0]);
	ck_assert_int_eq(r, 0);
	vq = s.vq[0];
	ck_assert_int_eq(vhf_vq_setup(s.c, vq), 0);
	ck_assert_int_eq(vhf_sync(s.c), 0);
	ck_assert_int_eq(tdev_queue_ready(td, 0), 1);
	ts_echo(&s, vq, 16, 1, 1, false);
	finish();
}
END_TEST

/* Features cannot change under a running ring (LOG_ALL aside). */
START_TEST(features_frozen_while_running)
{
	struct vhf_vq *vq;

	td = tdev_start(NULL);
	ts_open(&s, td, BASE | VHF_BIT(VHF_F_EVENT_IDX),
		VHF_BIT(VHF_PF_REPLY_ACK));
	vq = ts_start_queue(&s, 0, 16);
	ts_echo(&s, vq, 32, 1, 1, false);
	ck_assert_int_ne(vhf_set_features(s.c, BASE), 0);
	ck_assert_uint_eq(tdev_acked_features(td),
			  BASE | VHF_BIT(VHF_F_EVENT_IDX));
	/* The same set again is fine. */
	ck_assert_int_eq(vhf_set_features(s.c, BASE | VHF_BIT(VHF_F_EVENT_IDX)),
			 0);
	ts_echo(&s, vq, 32, 1, 1, false);
	/* Once stopped it may change. */
	ck_assert_int_eq(vhf_vq_stop(s.c, vq, NULL), 0);
	ck_assert_int_eq(vhf_set_features(s.c, BASE), 0);
	ck_assert_uint_eq(tdev_acked_features(td), BASE);
	tdev_reset_errors(td);
	finish();
}
END_TEST

/* RESET_DEVICE: rings stop, features are forgotten, the reset callback
 * runs, and the device can be set up again on the same connection. */
START_TEST(reset_device)
{
	struct vhf_vq *vq;

	td = tdev_start(NULL);
	ts_open(&s, td, BASE | VHF_BIT(VHF_F_EVENT_IDX),
		VHF_BIT(VHF_PF_REPLY_ACK) | VHF_BIT(VHF_PF_RESET_DEVICE) |
		VHF_BIT(VHF_PF_STATUS));
	vq = ts_start_queue(&s, 0, 16);
	ts_echo(&s, vq, 32, 1, 1, false);
	ck_assert_int_eq(vhf_set_status(s.c, 0x0f), 0);
	ck_assert_int_eq(vhf_reset_device(s.c), 0);
	ck_assert_uint_eq(tdev_count(td, "reset"), 1);
	ck_assert_uint_eq(tdev_acked_features(td), 0);
	ck_assert_int_eq(tdev_queue_ready(td, 0), 0);
	ck_assert_uint_eq(tdev_status(td), 0);
	/* Same connection, same memory table: set up anew. */
	ck_assert_int_eq(vhf_set_features(s.c, s.features), 0);
	vhf_vq_free(s.vq[0]);
	s.vq[0] = NULL;
	vq = ts_start_queue(&s, 0, 16);
	ts_echo(&s, vq, 48, 2, 1, false);
	finish();
}
END_TEST

Suite *proto_suite(void)
{
	Suite *su = suite_create("features");
	TCase *tc;

	tc = t_tcase(su, "negotiation");
	tcase_add_test(tc, offered);
	tcase_add_test(tc, acked_reaches_device);
	tcase_add_test(tc, features_frozen_while_running);
	tcase_add_test(tc, reset_device);
	tc = t_tcase(su, "enable");
	tcase_add_loop_test(tc, enable_rules_protocol, 0, 2);
	tcase_add_loop_test(tc, enable_rules_legacy, 0, 2);
	return su;
}
