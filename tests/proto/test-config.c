/* SPDX-License-Identifier: MIT */
/* Config space, device status and the back-end channel: GET/SET_CONFIG,
 * CONFIG_CHANGE_MSG from vhostdev_notify_config_change() and
 * vhostdev_set_needs_reset(), SET/GET_STATUS, and in-band kicks and
 * interrupts over the channel. */
#include <errno.h>
#include <string.h>

#include "harness.h"

#define WANT (VHF_BIT(VHF_F_VERSION_1) | VHF_BIT(VHF_F_PROTOCOL_FEATURES))
#define PROTOCOL (VHF_BIT(VHF_PF_REPLY_ACK) | VHF_BIT(VHF_PF_CONFIG) | \
		  VHF_BIT(VHF_PF_BACKEND_REQ) | VHF_BIT(VHF_PF_STATUS))

static struct tdev *td;
static struct tsession s;
static uint8_t config[64];

static void start(bool writable, uint64_t protocol)
{
	struct tdev_opts o = {
		.config = config,
		.config_size = sizeof(config),
		.config_writable = writable,
	};

	for (unsigned int i = 0; i < sizeof(config); i++)
		config[i] = (uint8_t)(i * 3 + 1);
	td = tdev_start(&o);
	ts_open(&s, td, WANT, protocol);
}

static void finish(void)
{
	char buf[256];

	ck_assert_msg(tdev_errors(td) == 0, "library error: %s",
		      tdev_last_error(td, buf, sizeof(buf)));
	ts_close(&s);
	tdev_stop(td);
}

START_TEST(config_read)
{
	uint8_t buf[64];

	start(false, PROTOCOL);
	ck_assert_int_eq(vhf_get_config(s.c, 0, buf, 64, 0), 64);
	ck_assert(!memcmp(buf, config, 64));
	ck_assert_int_eq(vhf_get_config(s.c, 10, buf, 20, 0), 20);
	ck_assert(!memcmp(buf, config + 10, 20));
	ck_assert_int_eq(vhf_get_config(s.c, 63, buf, 1, 0), 1);
	ck_assert_uint_eq(buf[0], config[63]);
	/* The migration flag reads the same. */
	ck_assert_int_eq(vhf_get_config(s.c, 0, buf, 8, VHF_CONFIG_F_MIGRATION),
			 8);
	ck_assert(!memcmp(buf, config, 8));
	/* Without a write callback SET_CONFIG is refused. */
	ck_assert_int_ne(vhf_set_config(s.c, 0, "x", 1, 0), 0);
	tdev_reset_errors(td);
	finish();
}
END_TEST

START_TEST(config_write)
{
	uint8_t buf[VHF_CONFIG_MAX];
	uint32_t off, size;

	start(true, PROTOCOL);
	ck_assert_int_eq(vhf_set_config(s.c, 8, "hello", 5, 0), 0);
	ck_assert_uint_eq(tdev_config_writes(td, &off, buf, &size), 1);
	ck_assert_uint_eq(off, 8);
	ck_assert_uint_eq(size, 5);
	ck_assert(!memcmp(buf, "hello", 5));
	finish();
}
END_TEST

static void notify(struct tdev *t, void *arg)
{
	int *r = arg;
	uint8_t next[64];

	memset(next, 0x5a, sizeof(next));
	*r = vhostdev_notify_config_change(tdev_dev(t), next, sizeof(next));
}

static void needs_reset(struct tdev *t, void *arg)
{
	*(int *)arg = vhostdev_set_needs_reset(tdev_dev(t));
}

/* A back-end request with this id arrives on the channel (and is
 * acknowledged if it asks). */
static void expect_backend(struct vhf_conn *chan, uint32_t request,
			   struct vhf_msg *m)
{
	int r = vhf_recv(chan, m);

	ck_assert_msg(r == 0, "back-end channel: %s", strerror(-r));
	ck_assert_msg(m->request == request, "got back-end request %u (%s)",
		      m->request, vhf_backend_request_name(m->request));
	ck_assert_uint_eq(m->flags & VHF_FLAG_REPLY, 0);
	ck_assert_int_eq(vhf_backend_ack(chan, m, 0), 0);
}

START_TEST(config_change_message)
{
	struct vhf_conn *chan;
	uint8_t buf[64];
	struct vhf_msg m;
	int r = 0;

	start(false, PROTOCOL);
	/* No channel yet: nobody to tell. */
	tdev_call(td, notify, &r);
	ck_assert_int_eq(r, -ENOTCONN);
	/* The config still changed. */
	ck_assert_int_eq(vhf_get_config(s.c, 0, buf, 64, 0), 64);
	ck_assert_uint_eq(buf[0], 0x5a);

	ck_assert_int_eq(vhf_backend_channel_open(s.c, &chan), 0);
	tdev_call(td, notify, &r);
	ck_assert_int_eq(r, 0);
	expect_backend(chan, VHF_BE_CONFIG_CHANGE_MSG, &m);
	ck_assert_uint_eq(m.size, 0);
	ck_assert_int_eq(vhf_get_config(s.c, 0, buf, 64, 0), 64);
	ck_assert_uint_eq(buf[63], 0x5a);
	vhf_conn_free(chan);
	finish();
}
END_TEST

START_TEST(status)
{
	struct vhf_conn *chan;
	struct vhf_msg m;
	uint8_t st;
	int r = -1;

	start(false, PROTOCOL);
	ck_assert_int_eq(vhf_get_status(s.c, &st), 0);
	ck_assert_uint_eq(st, 0);
	ck_assert_int_eq(vhf_set_status(s.c, 0x0f), 0);
	ck_assert_int_eq(vhf_get_status(s.c, &st), 0);
	ck_assert_uint_eq(st, 0x0f);
	ck_assert_uint_eq(tdev_status(td), 0x0f);

	/* The device asks for a reset: the driver hears of it through a
	 * config change and finds NEEDS_RESET in the status. */
	ck_assert_int_eq(vhf_backend_channel_open(s.c, &chan), 0);
	tdev_call(td, needs_reset, &r);
	ck_assert_int_eq(r, 0);
	expect_backend(chan, VHF_BE_CONFIG_CHANGE_MSG, &m);
	ck_assert_int_eq(vhf_get_status(s.c, &st), 0);
	ck_assert_uint_eq(st, 0x0f | 0x40);
	vhf_conn_free(chan);
	finish();
}
END_TEST

/* In-band notifications: kicks as VRING_KICK messages, interrupts as
 * VRING_CALL requests on the back-end channel. */
START_TEST(inband)
{
	struct vhf_conn *chan;
	struct vhf_msg m;
	struct vhf_vq *vq;
	uint16_t id;
	uint32_t len;
	int head;

	start(false, PROTOCOL | VHF_BIT(VHF_PF_INBAND_NOTIFICATIONS));
	ck_assert_int_eq(vhf_backend_channel_open(s.c, &chan), 0);
	ck_assert_int_eq(vhf_vq_new(s.mem, 0, 16, 0, 0, &s.vq[0]), 0);
	vq = s.vq[0];
	ck_assert_int_eq(vhf_set_vring_num(s.c, 0, 16), 0);
	ck_assert_int_eq(vhf_set_vring_base(s.c, 0, 0), 0);
	{
		struct vhf_vring_addr a = { .index = 0 };
		uint64_t d, av, u;

		vhf_vq_addrs(vq, &d, &av, &u);
		a.desc = vhf_mem_uva(s.mem, d);
		a.avail = vhf_mem_uva(s.mem, av);
		a.used = vhf_mem_uva(s.mem, u);
		ck_assert_int_eq(vhf_set_vring_addr(s.c, &a), 0);
	}
	ck_assert_int_eq(vhf_set_vring_kick(s.c, 0, -1), 0);
	ck_assert_int_eq(vhf_set_vring_call(s.c, 0, -1), 0);
	ck_assert_int_eq(vhf_set_vring_enable(s.c, 0, true), 0);

	head = ts_post(&s, vq, 1, 100, 1, 1, false);
	ck_assert_int_ge(head, 0);
	ck_assert_int_eq(vhf_vring_kick_inband(s.c, 0), 0);
	expect_backend(chan, VHF_BE_VRING_CALL, &m);
	ck_assert_uint_eq(m.size, 8);
	ck_assert_uint_eq(m.payload.state.index, 0);
	ck_assert_int_eq(vhf_vq_get_used(vq, &id, &len), 1);
	ck_assert_int_eq(id, head);
	ts_check_echo(&s, 1, 100, len);
	vhf_conn_free(chan);
	finish();
}
END_TEST

Suite *proto_suite(void)
{
	Suite *su = suite_create("config");
	TCase *tc;

	tc = t_tcase(su, "config");
	tcase_add_test(tc, config_read);
	tcase_add_test(tc, config_write);
	tcase_add_test(tc, config_change_message);
	tc = t_tcase(su, "channel");
	tcase_add_test(tc, status);
	tcase_add_test(tc, inband);
	return su;
}
