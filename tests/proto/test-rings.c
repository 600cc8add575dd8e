/* SPDX-License-Identifier: MIT */
/* Rings end to end: split and packed layouts, direct and indirect chains,
 * index wrap-around, interrupt and kick suppression (flags, EVENT_IDX,
 * NOTIFY_ON_EMPTY), and GET_VRING_BASE stopping a ring only once the
 * requests in flight have come back. Loop tests run once per layout
 * (_i == 0 split, 1 packed). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "harness.h"

#define BASE (VHF_BIT(VHF_F_VERSION_1) | VHF_BIT(VHF_F_PROTOCOL_FEATURES))
#define LAYOUT(i) ((i) ? VHF_BIT(VHF_F_RING_PACKED) : 0)

static struct tdev *td;
static struct tsession s;

static void start(uint64_t want)
{
	td = tdev_start(NULL);
	ts_open(&s, td, want, T_ALL_PROTOCOL);
	ck_assert_uint_eq(s.features, want);
}

static void finish(void)
{
	char buf[256];

	ck_assert_msg(tdev_errors(td) == 0, "library error: %s",
		      tdev_last_error(td, buf, sizeof(buf)));
	ck_assert_uint_eq(tdev_pop_errors(td), 0);
	ts_close(&s);
	tdev_stop(td);
}

/* No interrupt arrives within T_QUIET_MS. */
static void assert_no_call(struct vhf_vq *vq)
{
	poll(NULL, 0, T_QUIET_MS);
	ck_assert_msg(vhf_vq_test_call(vq) == 0, "unexpected interrupt");
}

START_TEST(echo_direct)
{
	struct vhf_vq *vq;

	start(BASE | LAYOUT(_i));
	vq = ts_start_queue(&s, 0, 64);
	ts_echo(&s, vq, 100, 1, 1, false);
	ts_echo(&s, vq, 3000, 3, 2, false);
	ts_echo(&s, vq, 4096, 16, 16, false);
	ck_assert_uint_eq(tdev_completed(td), 3);
	finish();
}
END_TEST

START_TEST(echo_indirect)
{
	struct vhf_vq *vq;

	start(BASE | LAYOUT(_i) | VHF_BIT(VHF_F_INDIRECT_DESC));
	vq = ts_start_queue(&s, 0, 16);
	ts_echo(&s, vq, 2000, 5, 4, true);
	ts_echo(&s, vq, 64, 1, 1, true);
	/* Direct and indirect chains side by side. */
	ts_echo(&s, vq, 500, 2, 2, false);
	ts_echo(&s, vq, 4096, 32, 32, true);
	finish();
}
END_TEST

/* Many rounds through a small ring: indices (and packed wrap counters)
 * go round many times, with and without EVENT_IDX. _i: bit 0 layout,
 * bit 1 EVENT_IDX, bit 2 INDIRECT. */
START_TEST(echo_wrap)
{
	uint64_t want = BASE | LAYOUT(_i & 1);
	bool indirect = _i & 4;
	unsigned int slot_of[8], total = 0;
	struct vhf_vq *vq;

	if (_i & 2)
		want |= VHF_BIT(VHF_F_EVENT_IDX);
	if (indirect)
		want |= VHF_BIT(VHF_F_INDIRECT_DESC);
	start(want);
	vq = ts_start_queue(&s, 0, 8);
	for (unsigned int round = 0; round < 40; round++) {
		unsigned int n = 1 + round % 3;

		total += n;
		for (unsigned int k = 0; k < n; k++) {
			unsigned int slot = (round * 3 + k) % 256;
			int id = ts_post(&s, vq, slot, 200 + k, 1, 1,
					 indirect);

			ck_assert_msg(id >= 0, "add: %s", strerror(-id));
			ck_assert_int_lt(id, 8);
			slot_of[id] = slot;
		}
		ck_assert_int_ge(vhf_vq_kick(vq), 0);
		for (unsigned int k = 0; k < n; k++) {
			uint16_t id;
			uint32_t len;

			ts_wait_used(&s, vq, &id, &len);
			ck_assert_uint_lt(id, 8);
			ts_check_echo(&s, slot_of[id], len, len);
			ck_assert_uint_ge(len, 200);
		}
		ck_assert_uint_eq(vhf_vq_inflight(vq), 0);
	}
	ck_assert_uint_eq(tdev_completed(td), total);
	finish();
}
END_TEST

START_TEST(two_queues)
{
	struct vhf_vq *q0, *q1;
	uint16_t id;
	uint32_t len;
	int a, b;

	start(BASE | LAYOUT(_i));
	q0 = ts_start_queue(&s, 0, 32);
	q1 = ts_start_queue(&s, 1, 32);
	a = ts_post(&s, q0, 1, 111, 1, 1, false);
	b = ts_post(&s, q1, 2, 222, 2, 1, false);
	ck_assert(a >= 0 && b >= 0);
	vhf_vq_kick(q0);
	vhf_vq_kick(q1);
	ts_wait_used(&s, q1, &id, &len);
	ck_assert_int_eq(id, b);
	ts_check_echo(&s, 2, 222, len);
	ts_wait_used(&s, q0, &id, &len);
	ck_assert_int_eq(id, a);
	ts_check_echo(&s, 1, 111, len);
	finish();
}
END_TEST

/* Without EVENT_IDX the driver turns interrupts off with a flag. */
START_TEST(interrupt_flags)
{
	struct vhf_vq *vq;
	uint16_t id;
	uint32_t len;

	start(BASE | LAYOUT(_i));
	vq = ts_start_queue(&s, 0, 16);
	ts_echo(&s, vq, 10, 1, 1, false);
	vhf_vq_test_call(vq);
	vhf_vq_set_interrupts(vq, false);
	ck_assert_int_ge(ts_post(&s, vq, 3, 10, 1, 1, false), 0);
	vhf_vq_kick(vq);
	ck_assert(ts_poll_used(vq, &id, &len));
	ts_check_echo(&s, 3, 10, len);
	assert_no_call(vq);

	vhf_vq_set_interrupts(vq, true);
	ts_echo(&s, vq, 20, 1, 1, false);
	finish();
}
END_TEST

/* With EVENT_IDX the driver names the used index it wants to hear about:
 * nothing for the first chain, an interrupt for the second. (The first
 * completion after a ring starts always interrupts, as in Linux's vhost:
 * one round trip gets past it.) */
START_TEST(interrupt_event_idx)
{
	struct vhf_vq *vq;
	uint16_t id;
	uint32_t len;

	start(BASE | LAYOUT(_i) | VHF_BIT(VHF_F_EVENT_IDX));
	vq = ts_start_queue(&s, 0, 16);
	ts_echo(&s, vq, 10, 1, 1, false);
	vhf_vq_set_interrupts(vq, false);
	vhf_vq_test_call(vq);
	if (_i) {
		/* Chains take two descriptors: the next one is used at
		 * offset 2, the one after at 4, which is what we ask. */
		struct vhf_pevent *ev = vhf_vq_driver_event(vq);

		ev->off_wrap = 4 | 1u << 15;
		__atomic_store_n(&ev->flags, VHF_EVENT_F_DESC,
				 __ATOMIC_SEQ_CST);
	} else {
		/* Interrupt when used->idx moves past 2. */
		__atomic_store_n(vhf_vq_used_event(vq), 2, __ATOMIC_SEQ_CST);
	}
	ck_assert_int_ge(ts_post(&s, vq, 1, 10, 1, 1, false), 0);
	vhf_vq_kick(vq);
	ck_assert(ts_poll_used(vq, &id, &len));
	ts_check_echo(&s, 1, 10, len);
	assert_no_call(vq);

	ck_assert_int_ge(ts_post(&s, vq, 2, 10, 1, 1, false), 0);
	vhf_vq_kick(vq);
	ck_assert_int_eq(vhf_vq_wait_call(vq, T_TIMEOUT_MS), 0);
	ck_assert(ts_poll_used(vq, &id, &len));
	ts_check_echo(&s, 2, 10, len);
	finish();
}
END_TEST

/* The device publishes where it wants the next kick (split avail_event):
 * after it has caught up, the very next chain needs a kick. */
START_TEST(kick_event_idx)
{
	struct vhf_vq *vq;
	uint16_t ev;

	start(BASE | VHF_BIT(VHF_F_EVENT_IDX));
	vq = ts_start_queue(&s, 0, 16);
	for (unsigned int i = 0; i < 5; i++)
		ts_echo(&s, vq, 10, 1, 1, false);
	ev = __atomic_load_n(vhf_vq_avail_event(vq), __ATOMIC_SEQ_CST);
	ck_assert_uint_eq(ev, vhf_vq_avail(vq)->idx);
	ck_assert_int_ge(ts_post(&s, vq, 1, 10, 1, 1, false), 0);
	ck_assert_int_eq(vhf_vq_kick(vq), 1);
	finish();
}
END_TEST

/* NOTIFY_ON_EMPTY: an interrupt when the ring runs empty, even with
 * interrupts turned off. */
START_TEST(notify_on_empty)
{
	struct vhf_vq *vq;
	uint16_t id;
	uint32_t len;

	start(BASE | VHF_BIT(VHF_F_NOTIFY_ON_EMPTY));
	vq = ts_start_queue(&s, 0, 16);
	vhf_vq_test_call(vq);
	vhf_vq_set_interrupts(vq, false);
	ck_assert_int_ge(ts_post(&s, vq, 1, 10, 1, 1, false), 0);
	vhf_vq_kick(vq);
	ck_assert_int_eq(vhf_vq_wait_call(vq, T_TIMEOUT_MS), 0);
	ck_assert(ts_poll_used(vq, &id, &len));
	finish();
}
END_TEST

/* GET_VRING_BASE stops the ring but answers only once every popped
 * request is back; the ring then restarts where it stopped. */
START_TEST(get_vring_base_waits)
{
	struct vhf_vring_state st = { .index = 0, .num = 0 };
	uint32_t want_base;
	struct vhf_msg reply;
	struct vhf_vq *vq;
	uint16_t id;
	uint32_t len;

	start(BASE | LAYOUT(_i));
	vq = ts_start_queue(&s, 0, 16);
	tdev_hold(td, true);
	ck_assert_int_ge(ts_post(&s, vq, 1, 100, 1, 1, false), 0);
	ck_assert_int_ge(ts_post(&s, vq, 2, 200, 1, 1, false), 0);
	vhf_vq_kick(vq);
	for (int i = 0; i < 1000 && tdev_popped(td) < 2; i++)
		poll(NULL, 0, 5);
	ck_assert_uint_eq(tdev_popped(td), 2);

	ck_assert_int_eq(vhf_send(s.c, VHF_GET_VRING_BASE, 0, &st, sizeof(st),
				  NULL, 0), 0);
	vhf_conn_set_timeout(s.c, T_QUIET_MS);
	ck_assert_int_eq(vhf_recv(s.c, &reply), -ETIMEDOUT);
	vhf_conn_set_timeout(s.c, T_TIMEOUT_MS);
	ck_assert_uint_eq(tdev_count(td, "stop"), 1);
	ck_assert_uint_eq(tdev_held(td), 2);

	tdev_hold(td, false);
	ck_assert_uint_eq(tdev_release(td), 2);
	ck_assert_int_eq(vhf_wait_reply(s.c, VHF_GET_VRING_BASE, &reply), 0);
	ck_assert_uint_eq(reply.size, sizeof(st));
	ck_assert_uint_eq(reply.payload.state.index, 0);
	/* Split: next avail index 2. Packed: two chains of two descriptors
	 * each, avail and used index 4, both wrap counters still 1. */
	want_base = _i ? (4u | 1u << 15 | 4u << 16 | 1u << 31) : 2;
	ck_assert_uint_eq(reply.payload.state.num, want_base);
	ck_assert(ts_poll_used(vq, &id, &len));
	ck_assert(ts_poll_used(vq, &id, &len));

	/* Stopped: nothing is served until the ring is set up again. */
	ck_assert_int_eq(tdev_queue_ready(td, 0), 0);
	vhf_vq_set_base(vq, reply.payload.state.num);
	ck_assert_int_eq(vhf_vq_setup(s.c, vq), 0);
	ck_assert_int_eq(vhf_vq_enable(s.c, vq, true), 0);
	ts_echo(&s, vq, 300, 2, 2, false);
	finish();
}
END_TEST

/* A stopped ring keeps its position across stop and restart, several
 * times. */
START_TEST(stop_restart)
{
	struct vhf_vq *vq;
	uint32_t base;

	start(BASE | LAYOUT(_i) | VHF_BIT(VHF_F_EVENT_IDX));
	vq = ts_start_queue(&s, 0, 8);
	for (unsigned int i = 0; i < 5; i++) {
		ts_echo(&s, vq, 50, 1, 1, false);
		ts_echo(&s, vq, 60, 2, 1, false);
		ck_assert_int_eq(vhf_vq_stop(s.c, vq, &base), 0);
		if (!_i)
			ck_assert_uint_eq(base, 2 * (i + 1));
		ck_assert_int_eq(vhf_vq_setup(s.c, vq), 0);
		ck_assert_int_eq(vhf_vq_enable(s.c, vq, true), 0);
	}
	ts_echo(&s, vq, 70, 1, 1, false);
	finish();
}
END_TEST

static void kicks_off(struct tdev *t, void *arg)
{
	(void)arg;
	ck_assert_int_eq(vhostdev_queue_set_notification(
				 vhostdev_get_queue(tdev_dev(t), 0), 0), 0);
}

static void kicks_on(struct tdev *t, void *arg)
{
	(void)arg;
	ck_assert_int_eq(vhostdev_queue_set_notification(
				 vhostdev_get_queue(tdev_dev(t), 0), 1), 0);
}

/* What the ring tells the driver about kicks: 1 when it asks for none. */
static unsigned int kicks_suppressed(struct vhf_vq *vq)
{
	if (vhf_vq_is_packed(vq))
		return __atomic_load_n(&vhf_vq_device_event(vq)->flags,
				       __ATOMIC_ACQUIRE);
	return __atomic_load_n(&vhf_vq_used(vq)->flags, __ATOMIC_ACQUIRE);
}

/* Suppressing kicks before the ring starts is the application's choice:
 * starting (and restarting) the ring applies it instead of resetting it. */
START_TEST(notification_choice_survives_start)
{
	struct vhf_vq *vq;
	uint32_t base;

	start(BASE | LAYOUT(_i));
	tdev_call(td, kicks_off, NULL);
	vq = ts_start_queue(&s, 0, 16);
	ck_assert_uint_eq(kicks_suppressed(vq), 1);
	ck_assert_int_eq(vhf_vq_stop(s.c, vq, &base), 0);
	ck_assert_int_eq(vhf_vq_setup(s.c, vq), 0);
	ck_assert_int_eq(vhf_vq_enable(s.c, vq, true), 0);
	ck_assert_uint_eq(kicks_suppressed(vq), 1);
	tdev_call(td, kicks_on, NULL);
	ck_assert_uint_eq(kicks_suppressed(vq), 0);
	/* Our front end, like a driver, kicks only when asked to. */
	ts_echo(&s, vq, 100, 1, 1, false);
	finish();
}
END_TEST

/* Kick fds are the front end's: the spec allows eventfds without
 * O_NONBLOCK, or pipes. Neither may block the device. */
START_TEST(foreign_kick_fds)
{
	uint64_t one = 1;
	struct vhf_vq *vq;
	uint16_t id;
	uint32_t len;
	int efd, p[2];

	start(BASE | LAYOUT(_i));
	vq = ts_start_queue(&s, 0, 16);
	efd = eventfd(0, EFD_CLOEXEC);
	ck_assert_int_ge(efd, 0);
	ck_assert_int_eq(vhf_set_vring_kick(s.c, 0, efd), 0);
	ck_assert_int_eq(vhf_sync(s.c), 0);
	ck_assert_int_ge(ts_post(&s, vq, 1, 10, 1, 1, false), 0);
	ck_assert_int_eq(write(efd, &one, sizeof(one)), sizeof(one));
	ck_assert(ts_poll_used(vq, &id, &len));
	ts_check_echo(&s, 1, 10, len);
	ck_assert_int_eq(vhf_sync(s.c), 0);

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(vhf_set_vring_kick(s.c, 0, p[0]), 0);
	ck_assert_int_eq(vhf_sync(s.c), 0);
	ck_assert_int_ge(ts_post(&s, vq, 2, 20, 1, 1, false), 0);
	ck_assert_int_eq(write(p[1], &one, sizeof(one)), sizeof(one));
	ck_assert(ts_poll_used(vq, &id, &len));
	ts_check_echo(&s, 2, 20, len);
	ck_assert_int_eq(vhf_sync(s.c), 0);
	close(efd);
	close(p[0]);
	close(p[1]);
	finish();
}
END_TEST

/* A call fd nobody reads: a pipe, which the spec allows, fills up. The
 * device must not block on it (interrupts may be dropped: the driver
 * asked for them in a way it does not listen to). */
START_TEST(unread_call_pipe)
{
	struct vhf_vq *vq;
	uint16_t id;
	uint32_t len;
	int p[2];

	start(BASE | LAYOUT(_i));
	vq = ts_start_queue(&s, 0, 16);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	/* The smallest pipe: a page, 512 interrupts. */
	fcntl(p[1], F_SETPIPE_SZ, 4096);
	ck_assert_int_eq(vhf_set_vring_call(s.c, 0, p[1]), 0);
	for (unsigned int i = 0; i < 700; i++) {
		ck_assert_int_ge(ts_post(&s, vq, i % 256, 8, 1, 1, false), 0);
		vhf_vq_kick(vq);
		ck_assert_msg(ts_poll_used(vq, &id, &len),
			      "round %u not served", i);
	}
	ck_assert_int_eq(vhf_sync(s.c), 0);
	close(p[0]);
	close(p[1]);
	finish();
}
END_TEST

/* A call pipe whose reader is gone: writing to it raises SIGPIPE, which
 * would kill this whole process (the device runs in it). The library
 * must swallow it and go on serving. */
START_TEST(closed_call_pipe)
{
	struct vhf_vq *vq;
	uint16_t id;
	uint32_t len;
	int p[2];

	start(BASE | LAYOUT(_i));
	vq = ts_start_queue(&s, 0, 16);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	close(p[0]);
	ck_assert_int_eq(vhf_set_vring_call(s.c, 0, p[1]), 0);
	close(p[1]);
	for (unsigned int i = 0; i < 20; i++) {
		ck_assert_int_ge(ts_post(&s, vq, i, 8, 1, 1, false), 0);
		vhf_vq_kick(vq);
		ck_assert_msg(ts_poll_used(vq, &id, &len),
			      "round %u not served", i);
	}
	ck_assert_int_eq(vhf_sync(s.c), 0);
	ts_close(&s);
	tdev_stop(td);
}
END_TEST

/* A driver that corrupts its own ring, through the raw accessors: the
 * device refuses the chain (the ring is broken, the device NEEDS_RESET),
 * keeps its connection, and serves its other queue. _i picks the
 * corruption; even ones are split rings, odd ones packed. */
enum corruption {
	SPLIT_LOOP,            /* last descriptor links back to the head */
	PACKED_BAD_ID,         /* buffer id beyond the ring */
	SPLIT_HEAD_RANGE,      /* avail entry past the descriptor table */
	PACKED_INDIRECT_LEN,   /* indirect table length not a multiple of 16 */
	SPLIT_AVAIL_JUMP,      /* avail->idx more than a ring ahead */
	PACKED_INDIRECT_NEXT,  /* an indirect descriptor with NEXT */
	SPLIT_WRITE_THEN_READ, /* device-readable after device-writable */
	NCORRUPTIONS
};

START_TEST(hostile_driver)
{
	const uint64_t want = BASE | LAYOUT(_i & 1) |
			      VHF_BIT(VHF_F_INDIRECT_DESC);
	struct vhf_vq *vq, *other;
	uint8_t status = 0;
	int head;

	td = tdev_start(NULL);
	ts_open(&s, td, want, VHF_BIT(VHF_PF_REPLY_ACK) |
		VHF_BIT(VHF_PF_STATUS));
	vq = ts_start_queue(&s, 0, 16);
	other = ts_start_queue(&s, 1, 16);
	ts_echo(&s, vq, 32, 1, 1, false);

	head = ts_post(&s, vq, 1, 64, 2, 1,
		       _i == PACKED_INDIRECT_LEN || _i == PACKED_INDIRECT_NEXT);
	ck_assert_int_ge(head, 0);
	switch (_i) {
	case SPLIT_LOOP: {
		struct vhf_desc *d = vhf_vq_desc(vq);
		unsigned int last = d[d[head].next].next;

		d[last].flags |= VHF_DESC_F_NEXT;
		d[last].next = (uint16_t)head;
		break;
	}
	case PACKED_BAD_ID:
		/* The chain is in slots 2..4; the id belongs in its last
		 * descriptor, but spoil every copy. */
		for (unsigned int k = 2; k <= 4; k++)
			vhf_vq_pdesc(vq)[k].id = 0x7fff;
		break;
	case SPLIT_HEAD_RANGE:
		vhf_vq_publish_raw(vq, 16 + 3);
		break;
	case PACKED_INDIRECT_LEN:
		vhf_vq_pdesc(vq)[2].len = 40;
		break;
	case SPLIT_AVAIL_JUMP:
		__atomic_store_n(&vhf_vq_avail(vq)->idx,
				 (uint16_t)(vhf_vq_avail(vq)->idx + 17),
				 __ATOMIC_RELEASE);
		break;
	case PACKED_INDIRECT_NEXT:
		vhf_vq_pdesc(vq)[2].flags |= VHF_DESC_F_NEXT;
		break;
	case SPLIT_WRITE_THEN_READ: {
		struct vhf_desc *d = vhf_vq_desc(vq);

		d[head].flags |= VHF_DESC_F_WRITE;
		break;
	}
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vhf_vq_kick(vq);
	for (int i = 0; i < 1000 && tdev_pop_errors(td) == 0; i++)
		poll(NULL, 0, 5);
	ck_assert_msg(tdev_pop_errors(td) >= 1, "corruption %d not noticed",
		      _i);
	ck_assert_uint_ge(tdev_errors(td), 1);
	ck_assert_int_eq(vhf_get_status(s.c, &status), 0);
	ck_assert_msg(status & 0x40, "status 0x%x", status);
	ck_assert_int_eq(tdev_queue_ready(td, 0), 0);
	ts_echo(&s, other, 100, 1, 1, false);
	ts_close(&s);
	tdev_stop(td);
}
END_TEST

Suite *proto_suite(void)
{
	Suite *su = suite_create("rings");
	TCase *tc;

	tc = t_tcase(su, "echo");
	tcase_add_loop_test(tc, echo_direct, 0, 2);
	tcase_add_loop_test(tc, echo_indirect, 0, 2);
	tcase_add_loop_test(tc, echo_wrap, 0, 8);
	tcase_add_loop_test(tc, two_queues, 0, 2);
	tcase_add_loop_test(tc, foreign_kick_fds, 0, 2);
	tcase_add_loop_test(tc, unread_call_pipe, 0, 2);
	tcase_add_loop_test(tc, closed_call_pipe, 0, 2);
	tc = t_tcase(su, "notifications");
	tcase_add_loop_test(tc, interrupt_flags, 0, 2);
	tcase_add_loop_test(tc, interrupt_event_idx, 0, 2);
	tcase_add_test(tc, kick_event_idx);
	tcase_add_test(tc, notify_on_empty);
	tc = t_tcase(su, "hostile");
	tcase_add_loop_test(tc, hostile_driver, 0, NCORRUPTIONS);
	tc = t_tcase(su, "stop");
	tcase_add_loop_test(tc, get_vring_base_waits, 0, 2);
	tcase_add_loop_test(tc, stop_restart, 0, 2);
	tcase_add_loop_test(tc, notification_choice_survives_start, 0, 2);
	return su;
}
