/* SPDX-License-Identifier: MIT */
/* Connection lifetime and what hangs off it: front ends leaving (with
 * and without requests in flight) and the next one being served, a
 * second front end while one is attached, the device hanging up, a
 * back end in client mode, and virtio shared objects over the back-end
 * channel. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define WANT (VHF_BIT(VHF_F_VERSION_1) | VHF_BIT(VHF_F_PROTOCOL_FEATURES))
#define PROTOCOL (VHF_BIT(VHF_PF_REPLY_ACK) | VHF_BIT(VHF_PF_BACKEND_REQ) | \
		  VHF_BIT(VHF_PF_SHARED_OBJECT))

static struct tdev *td;
static struct tsession s;

static bool disconnected(struct tdev *t)
{
	return tdev_count(t, "disconnect") > 0;
}

static bool one_disconnect(struct tdev *t)
{
	return tdev_count(t, "disconnect") == 1;
}

START_TEST(next_front_end)
{
	struct vhf_vq *vq;

	td = tdev_start(NULL);
	for (unsigned int round = 0; round < 3; round++) {
		uint64_t want = WANT | (round == 1 ? VHF_BIT(VHF_F_RING_PACKED)
						   : 0);

		ts_open(&s, td, want, PROTOCOL);
		ck_assert_int_eq(tdev_connected(td), 1);
		ck_assert_uint_eq(tdev_acked_features(td), want);
		vq = ts_start_queue(&s, 0, 16);
		ts_echo(&s, vq, 100 + round, 1, 1, false);
		ts_close(&s);
		for (int i = 0; i < 1000; i++) {
			if (tdev_count(td, "disconnect") == round + 1)
				break;
			poll(NULL, 0, 5);
		}
		ck_assert_uint_eq(tdev_count(td, "disconnect"), round + 1);
		ck_assert_int_eq(tdev_connected(td), 0);
		/* Nothing of the old session is left. */
		ck_assert_uint_eq(tdev_acked_features(td), 0);
		ck_assert_uint_eq(tdev_acked_protocol_features(td), 0);
	}
	ck_assert_uint_eq(tdev_errors(td), 0);
	tdev_stop(td);
}
END_TEST

/* A front end leaving with requests in flight: the device waits for
 * them before it forgets the rings, then serves the next one. */
START_TEST(leave_with_inflight)
{
	struct vhf_vq *vq;

	td = tdev_start(NULL);
	ts_open(&s, td, WANT, PROTOCOL);
	vq = ts_start_queue(&s, 0, 16);
	tdev_hold(td, true);
	ck_assert_int_ge(ts_post(&s, vq, 1, 64, 1, 1, false), 0);
	ck_assert_int_ge(ts_post(&s, vq, 2, 64, 1, 1, false), 0);
	vhf_vq_kick(vq);
	for (int i = 0; i < 1000 && tdev_popped(td) < 2; i++)
		poll(NULL, 0, 5);
	ck_assert_uint_eq(tdev_popped(td), 2);
	ts_close(&s);
	poll(NULL, 0, T_QUIET_MS);
	ck_assert_uint_eq(tdev_count(td, "disconnect"), 0);
	tdev_hold(td, false);
	ck_assert_uint_eq(tdev_release(td), 2);
	ck_assert(tdev_wait(td, disconnected));

	ts_open(&s, td, WANT, PROTOCOL);
	ts_echo(&s, ts_start_queue(&s, 0, 16), 64, 1, 1, false);
	ts_close(&s);
	tdev_stop(td);
}
END_TEST

/* A second front end while one is attached is not served (and does not
 * disturb the first); once the first leaves it is served or told to go
 * away, never left hanging. */
START_TEST(second_front_end)
{
	struct vhf_conn *c2;
	struct vhf_vq *vq;
	struct vhf_msg m;
	int r;

	td = tdev_start(NULL);
	ts_open(&s, td, WANT, PROTOCOL);
	vq = ts_start_queue(&s, 0, 16);
	r = vhf_connect(tdev_path(td), 0, &c2);
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(vhf_send(c2, VHF_GET_FEATURES, 0, NULL, 0, NULL, 0),
			 0);
	vhf_conn_set_timeout(c2, T_QUIET_MS);
	r = vhf_recv(c2, &m);
	ck_assert_msg(r == -ETIMEDOUT || r == -ECONNRESET,
		      "second front end answered while the first is attached"
		      " (%d)", r);
	ts_echo(&s, vq, 100, 1, 1, false);
	ck_assert_uint_eq(tdev_count(td, "disconnect"), 0);
	ts_close(&s);

	if (r == -ETIMEDOUT) {
		vhf_conn_set_timeout(c2, T_TIMEOUT_MS);
		r = vhf_recv(c2, &m);
	}
	ck_assert_msg(r == 0 || r == -ECONNRESET, "second front end: %s",
		      strerror(-r));
	if (r == 0) {
		ck_assert_uint_eq(m.request, VHF_GET_FEATURES);
		ck_assert_uint_eq(m.size, 8);
	}
	vhf_conn_free(c2);
	tdev_stop(td);
}
END_TEST

static void hang_up(struct tdev *t, void *arg)
{
	*(int *)arg = vhostdev_disconnect(tdev_dev(t));
}

/* vhostdev_disconnect(): the front end sees the socket close; the next
 * one is served. */
START_TEST(device_hangs_up)
{
	int r = -1;

	td = tdev_start(NULL);
	ts_open(&s, td, WANT, PROTOCOL);
	ts_echo(&s, ts_start_queue(&s, 0, 16), 64, 1, 1, false);
	tdev_call(td, hang_up, &r);
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(vhf_wait_closed(s.c, T_TIMEOUT_MS), 1);
	ck_assert(tdev_wait(td, one_disconnect));
	ts_close(&s);
	ts_open(&s, td, WANT, PROTOCOL);
	ts_echo(&s, ts_start_queue(&s, 0, 16), 64, 1, 1, false);
	ts_close(&s);
	tdev_stop(td);
}
END_TEST

/* The back end connects to a listening front end (QEMU's server=on). */
START_TEST(client_mode)
{
	char dir[] = "/tmp/vhd-client.XXXXXX", path[64];
	struct tdev_opts o = { 0 };
	struct vhf_conn *c;
	int lfd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fe.sock", dir);
	ck_assert_int_eq(vhf_listen(path, &lfd), 0);
	o.connect_path = path;
	td = tdev_start(&o);
	ck_assert_int_eq(vhf_accept(lfd, T_TIMEOUT_MS, &c), 0);
	ts_attach(&s, td, c, WANT | VHF_BIT(VHF_F_RING_PACKED), PROTOCOL);
	ts_echo(&s, ts_start_queue(&s, 0, 32), 500, 2, 3, false);
	ck_assert_uint_eq(tdev_errors(td), 0);
	ts_close(&s);
	ck_assert(tdev_wait(td, one_disconnect));
	tdev_stop(td);
	close(lfd);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* ---- shared objects ------------------------------------------------------ */

struct object_call {
	int fd;
	uint8_t uuid[16];
	int r;
};

static void object_add(struct tdev *t, void *arg)
{
	struct object_call *o = arg;

	o->r = vhostdev_shared_object_add(tdev_dev(t), o->fd, o->uuid);
}

static void object_remove(struct tdev *t, void *arg)
{
	struct object_call *o = arg;

	o->r = vhostdev_shared_object_remove(tdev_dev(t), o->uuid);
}

static void object_lookup(struct tdev *t, void *arg)
{
	struct object_call *o = arg;

	o->fd = -1;
	o->r = vhostdev_shared_object_lookup(tdev_dev(t), o->uuid, &o->fd);
}

static int new_memfd(void)
{
	int fd = memfd_create("vhd-object", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	return fd;
}

static void assert_same_file(int a, int b)
{
	struct stat sa, sb;

	ck_assert_int_eq(fstat(a, &sa), 0);
	ck_assert_int_eq(fstat(b, &sb), 0);
	ck_assert(sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino);
}

static void expect(struct vhf_conn *chan, uint32_t request,
		   struct vhf_msg *m)
{
	int r = vhf_recv(chan, m);

	ck_assert_msg(r == 0, "back-end channel: %s", strerror(-r));
	ck_assert_msg(m->request == request, "got %u, expected %u",
		      m->request, request);
}

START_TEST(shared_objects)
{
	struct object_call o = { .fd = -1 };
	struct vhf_conn *chan;
	uint8_t zero[16] = { 0 };
	struct vhf_msg m;
	int fd, mine, theirs;

	td = tdev_start(NULL);
	ts_open(&s, td, WANT, PROTOCOL);
	ck_assert_int_eq(vhf_backend_channel_open(s.c, &chan), 0);

	/* Export: the front end learns the UUID, and can fetch the fd. */
	mine = new_memfd();
	o.fd = mine;
	tdev_call(td, object_add, &o);
	ck_assert_int_eq(o.r, 0);
	ck_assert(memcmp(o.uuid, zero, 16) != 0);
	expect(chan, VHF_BE_SHARED_OBJECT_ADD, &m);
	ck_assert_uint_eq(m.size, 16);
	ck_assert(!memcmp(m.payload.shared.uuid, o.uuid, 16));
	ck_assert_int_eq(vhf_backend_ack(chan, &m, 0), 0);
	ck_assert_int_eq(vhf_get_shared_object(s.c, o.uuid, &fd), 0);
	assert_same_file(fd, mine);
	close(fd);
	/* An unknown UUID gives no fd. */
	ck_assert_int_eq(vhf_get_shared_object(s.c, zero, &fd), -ENOENT);

	/* Import: the device asks, the front end answers with an fd. */
	theirs = new_memfd();
	memcpy(o.uuid, "0123456789abcdef", 16);
	tdev_call_start(td, object_lookup, &o);
	expect(chan, VHF_BE_SHARED_OBJECT_LOOKUP, &m);
	ck_assert(!memcmp(m.payload.shared.uuid, "0123456789abcdef", 16));
	ck_assert_int_eq(vhf_backend_lookup_reply(chan, &m, theirs, 0), 0);
	tdev_call_wait(td);
	ck_assert_int_eq(o.r, 0);
	ck_assert_int_ge(o.fd, 0);
	assert_same_file(o.fd, theirs);
	close(o.fd);
	/* ... or says it has none. */
	tdev_call_start(td, object_lookup, &o);
	expect(chan, VHF_BE_SHARED_OBJECT_LOOKUP, &m);
	ck_assert_int_eq(vhf_backend_lookup_reply(chan, &m, -1, 1), 0);
	tdev_call_wait(td);
	ck_assert_int_lt(o.r, 0);
	ck_assert_int_lt(o.fd, 0);

	/* No fd, no object. */
	{
		struct object_call bad = { .fd = -1 };

		tdev_call(td, object_add, &bad);
		ck_assert_int_eq(bad.r, -EINVAL);
	}

	/* Removal: the front end hears of it, the fd is gone. */
	o.fd = mine;
	tdev_call(td, object_add, &o);
	ck_assert_int_eq(o.r, 0);
	expect(chan, VHF_BE_SHARED_OBJECT_ADD, &m);
	vhf_backend_ack(chan, &m, 0);
	tdev_call(td, object_remove, &o);
	ck_assert_int_eq(o.r, 0);
	expect(chan, VHF_BE_SHARED_OBJECT_REMOVE, &m);
	ck_assert(!memcmp(m.payload.shared.uuid, o.uuid, 16));
	vhf_backend_ack(chan, &m, 0);
	ck_assert_int_eq(vhf_get_shared_object(s.c, o.uuid, &fd), -ENOENT);
	ck_assert_int_eq(vhf_sync(s.c), 0);

	close(mine);
	close(theirs);
	vhf_conn_free(chan);
	tdev_reset_errors(td);
	ts_close(&s);
	tdev_stop(td);
}
END_TEST

/* Without the SHARED_OBJECT protocol feature (or without a channel)
 * the device cannot export anything. */
START_TEST(shared_objects_not_negotiated)
{
	struct object_call o;

	td = tdev_start(NULL);
	ts_open(&s, td, WANT, VHF_BIT(VHF_PF_REPLY_ACK) |
		VHF_BIT(VHF_PF_BACKEND_REQ));
	o.fd = new_memfd();
	tdev_call(td, object_add, &o);
	ck_assert_int_eq(o.r, -ENOTSUP);
	close(o.fd);
	ts_close(&s);
	tdev_stop(td);

	td = tdev_start(NULL);
	ts_open(&s, td, WANT, PROTOCOL);
	o.fd = new_memfd();
	tdev_call(td, object_add, &o);
	ck_assert_int_eq(o.r, -ENOTCONN);
	close(o.fd);
	ts_close(&s);
	tdev_stop(td);
}
END_TEST

Suite *proto_suite(void)
{
	Suite *su = suite_create("session");
	TCase *tc;

	tc = t_tcase(su, "connection");
	tcase_add_test(tc, next_front_end);
	tcase_add_test(tc, leave_with_inflight);
	tcase_add_test(tc, second_front_end);
	tcase_add_test(tc, device_hangs_up);
	tcase_add_test(tc, client_mode);
	tc = t_tcase(su, "objects");
	tcase_add_test(tc, shared_objects);
	tcase_add_test(tc, shared_objects_not_negotiated);
	return su;
}
