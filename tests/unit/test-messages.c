/* SPDX-License-Identifier: MIT */
/* Message parsing and feature negotiation, driven byte by byte through a
 * socketpair: the library must refuse every malformed message with a clear
 * error (a failed ack where one is owed) and keep serving. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <vhostdev.h>

#include "../../lib/protocol.h"

struct fixture {
	struct vhostdev *dev;
	int fe; /* our end: the "front end" */
};

static struct fixture fx;

static void setup(void)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(vhostdev_new(4, 2, &fx.dev), 0);
	ck_assert_int_eq(vhostdev_adopt_fd(fx.dev, sv[0]), 0);
	fx.fe = sv[1];
}

static void teardown(void)
{
	close(fx.fe);
	ck_assert_ptr_null(vhostdev_unref(fx.dev));
}

/* Lets the library handle everything that arrived. */
static void pump(void)
{
	for (int i = 0; i < 8; i++)
		if (vhostdev_process(fx.dev) <= 0)
			break;
}

static void send_raw(const void *buf, size_t len, const int *fds, int nfds)
{
	union {
		char buf[CMSG_SPACE(32 * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds) {
		struct cmsghdr *c;

		/* The padding after the fds goes to the kernel too. */
		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	ck_assert_int_eq(sendmsg(fx.fe, &mh, 0), (ssize_t)len);
}

static void send_msg(uint32_t request, uint32_t flags, const void *payload,
		     uint32_t size, const int *fds, int nfds)
{
	uint8_t buf[sizeof(struct vhu_header) + 512];
	struct vhu_header hdr = { request, flags, size };

	ck_assert_uint_le(size, 512);
	memcpy(buf, &hdr, sizeof(hdr));
	if (size)
		memcpy(buf + sizeof(hdr), payload, size);
	send_raw(buf, sizeof(hdr) + size, fds, nfds);
}

/* Reads one reply; returns its size (payload in out). -1 if none. */
static int recv_reply(uint32_t request, void *out, size_t max)
{
	struct vhu_header hdr;
	struct pollfd pfd = { .fd = fx.fe, .events = POLLIN };

	pump();
	if (poll(&pfd, 1, 0) != 1)
		return -1;
	ck_assert_int_eq(recv(fx.fe, &hdr, sizeof(hdr), MSG_WAITALL),
			 (ssize_t)sizeof(hdr));
	ck_assert_uint_eq(hdr.request, request);
	ck_assert_uint_eq(hdr.flags, VHU_VERSION | VHU_FLAG_REPLY);
	ck_assert_uint_le(hdr.size, max);
	ck_assert_int_eq(recv(fx.fe, out, hdr.size, MSG_WAITALL),
			 (ssize_t)hdr.size);
	return (int)hdr.size;
}

static uint64_t ask_u64(uint32_t request)
{
	uint64_t v = 0;

	send_msg(request, VHU_VERSION, NULL, 0, NULL, 0);
	ck_assert_int_eq(recv_reply(request, &v, sizeof(v)), 8);
	return v;
}

/* Sends a request with NEED_REPLY and returns the ack value. */
static uint64_t acked(uint32_t request, const void *payload, uint32_t size,
		      const int *fds, int nfds)
{
	uint64_t v = 12345;

	send_msg(request, VHU_VERSION | VHU_FLAG_NEED_REPLY, payload, size,
		 fds, nfds);
	ck_assert_int_eq(recv_reply(request, &v, sizeof(v)), 8);
	return v;
}

static void no_reply(void)
{
	char c;

	pump();
	ck_assert_int_eq(recv(fx.fe, &c, 1, MSG_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
}

static void negotiate(void)
{
	uint64_t f = ask_u64(VHU_GET_FEATURES);
	uint64_t pf;

	ck_assert(f & (1ull << VHOSTDEV_F_VERSION_1));
	ck_assert(f & (1ull << VHOSTDEV_F_PROTOCOL_FEATURES));
	pf = ask_u64(VHU_GET_PROTOCOL_FEATURES);
	ck_assert(pf & (1ull << VHOSTDEV_PF_REPLY_ACK));
	send_msg(VHU_SET_PROTOCOL_FEATURES, VHU_VERSION, &pf, 8, NULL, 0);
	no_reply();
	ck_assert_uint_eq(vhostdev_get_acked_protocol_features(fx.dev), pf);
}

START_TEST(get_features_replies)
{
	uint64_t f = ask_u64(VHU_GET_FEATURES);

	ck_assert_uint_eq(f, vhostdev_get_features(fx.dev));
	ck_assert(vhostdev_is_connected(fx.dev));
}
END_TEST

START_TEST(split_header_is_reassembled)
{
	struct vhu_header hdr = { VHU_GET_FEATURES, VHU_VERSION, 0 };
	uint64_t f;

	/* A header in three pieces, each followed by a process() call that
	 * must not block or misparse. */
	send_raw(&hdr, 5, NULL, 0);
	pump();
	send_raw((uint8_t *)&hdr + 5, 4, NULL, 0);
	pump();
	send_raw((uint8_t *)&hdr + 9, 3, NULL, 0);
	ck_assert_int_eq(recv_reply(VHU_GET_FEATURES, &f, 8), 8);
	ck_assert_uint_eq(f, vhostdev_get_features(fx.dev));
}
END_TEST

START_TEST(oversized_payload_is_refused_and_skipped)
{
	static uint8_t big[sizeof(struct vhu_header) + 70000];
	struct vhu_header hdr = { VHU_SET_OWNER,
				  VHU_VERSION | VHU_FLAG_NEED_REPLY, 70000 };
	uint64_t v = 0, f;

	negotiate();
	memcpy(big, &hdr, sizeof(hdr));
	memset(big + sizeof(hdr), 0xab, 70000);
	/* The socket buffer is smaller than the message: feed it while
	 * letting the library read. */
	for (size_t off = 0; off < sizeof(big);) {
		ssize_t n = send(fx.fe, big + off, sizeof(big) - off,
				 MSG_DONTWAIT);
		if (n > 0)
			off += (size_t)n;
		pump();
	}
	ck_assert_int_eq(recv_reply(VHU_SET_OWNER, &v, 8), 8);
	ck_assert_uint_eq(v, EMSGSIZE);
	/* The stream is still in step. */
	f = ask_u64(VHU_GET_FEATURES);
	ck_assert_uint_eq(f, vhostdev_get_features(fx.dev));
}
END_TEST

START_TEST(bad_version_and_reply_flag_are_refused)
{
	negotiate();
	send_msg(VHU_SET_OWNER, 2 | VHU_FLAG_NEED_REPLY, NULL, 0, NULL, 0);
	{
		uint64_t v = 0;

		ck_assert_int_eq(recv_reply(VHU_SET_OWNER, &v, 8), 8);
		ck_assert_uint_eq(v, EPROTO);
	}
	ck_assert_uint_eq(acked(VHU_SET_OWNER, NULL, 0, NULL, 0), 0);
	send_msg(VHU_SET_OWNER, VHU_VERSION | VHU_FLAG_REPLY | VHU_FLAG_NEED_REPLY,
		 NULL, 0, NULL, 0);
	{
		uint64_t v = 0;

		ck_assert_int_eq(recv_reply(VHU_SET_OWNER, &v, 8), 8);
		ck_assert_uint_eq(v, EPROTO);
	}
}
END_TEST

START_TEST(wrong_payload_size_is_refused)
{
	uint32_t four = 1;

	negotiate();
	ck_assert_uint_eq(acked(VHU_SET_FEATURES, &four, 4, NULL, 0), EINVAL);
	ck_assert_uint_eq(acked(VHU_SET_OWNER, &four, 4, NULL, 0), EINVAL);
	ck_assert_uint_eq(vhostdev_get_acked_features(fx.dev), 0);
}
END_TEST

START_TEST(fd_where_none_belongs_is_refused_and_closed)
{
	int efd = eventfd(0, EFD_CLOEXEC);
	uint64_t probe;

	negotiate();
	ck_assert_uint_eq(acked(VHU_SET_OWNER, NULL, 0, &efd, 1), EINVAL);
	/* The library closed its copy: ours is the last one, so a write
	 * still works and nothing leaked. */
	ck_assert_int_eq(eventfd_write(efd, 1), 0);
	ck_assert_int_eq(eventfd_read(efd, &probe), 0);
	close(efd);
}
END_TEST

START_TEST(too_many_fds_are_refused)
{
	int fds[20];
	struct vhu_mem_table t = { .count = 1 };

	negotiate();
	for (int i = 0; i < 20; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	ck_assert_uint_eq(acked(VHU_SET_MEM_TABLE, &t, 8 + 32, fds, 20), EINVAL);
	for (int i = 0; i < 20; i++)
		close(fds[i]);
	ck_assert(vhostdev_is_connected(fx.dev));
}
END_TEST

START_TEST(unknown_request_gets_failed_ack)
{
	negotiate();
	ck_assert_uint_eq(acked(99, NULL, 0, NULL, 0), ENOTSUP);
	ck_assert_uint_eq(acked(0, NULL, 0, NULL, 0), ENOTSUP);
	/* Not offered: no postcopy, so its request owes a reply that says
	 * no. */
	ck_assert_uint_eq(ask_u64(VHU_POSTCOPY_END), ENOTSUP);
	ck_assert_uint_eq(ask_u64(VHU_GET_QUEUE_NUM), 2);
}
END_TEST

START_TEST(legacy_front_end_is_refused)
{
	uint64_t legacy = 0;
	uint64_t unknown = (1ull << VHOSTDEV_F_VERSION_1) | (1ull << 5);

	negotiate();
	ck_assert_uint_eq(acked(VHU_SET_FEATURES, &legacy, 8, NULL, 0),
			  EPROTONOSUPPORT);
	ck_assert_uint_eq(acked(VHU_SET_FEATURES, &unknown, 8, NULL, 0), EINVAL);
	ck_assert_uint_eq(vhostdev_get_acked_features(fx.dev), 0);
}
END_TEST

static int refuse_event_idx(struct vhostdev *dev, uint64_t acked, void *ud)
{
	return (acked & (1ull << VHOSTDEV_F_RING_EVENT_IDX)) ? -EINVAL : 0;
}

START_TEST(features_callback_can_refuse)
{
	uint64_t with = (1ull << VHOSTDEV_F_VERSION_1) |
			(1ull << VHOSTDEV_F_RING_EVENT_IDX);
	uint64_t without = 1ull << VHOSTDEV_F_VERSION_1;

	vhostdev_set_features_fn(fx.dev, refuse_event_idx);
	negotiate();
	ck_assert_uint_eq(acked(VHU_SET_FEATURES, &with, 8, NULL, 0), EINVAL);
	ck_assert_uint_eq(acked(VHU_SET_FEATURES, &without, 8, NULL, 0), 0);
	ck_assert_uint_eq(vhostdev_get_acked_features(fx.dev), without);
}
END_TEST

START_TEST(inband_needs_backend_and_ack)
{
	uint64_t only_inband = 1ull << VHOSTDEV_PF_INBAND_NOTIFICATIONS;
	uint64_t pf;

	send_msg(VHU_SET_PROTOCOL_FEATURES, VHU_VERSION, &only_inband, 8,
		 NULL, 0);
	no_reply();
	ck_assert_uint_eq(vhostdev_get_acked_protocol_features(fx.dev), 0);
	pf = only_inband | (1ull << VHOSTDEV_PF_BACKEND_REQ) |
	     (1ull << VHOSTDEV_PF_REPLY_ACK);
	send_msg(VHU_SET_PROTOCOL_FEATURES, VHU_VERSION, &pf, 8, NULL, 0);
	no_reply();
	ck_assert_uint_eq(vhostdev_get_acked_protocol_features(fx.dev), pf);
}
END_TEST

START_TEST(queue_index_out_of_range_is_refused)
{
	struct vhu_vring_state s = { .index = 2, .num = 64 };

	negotiate();
	ck_assert_uint_eq(acked(VHU_SET_VRING_NUM, &s, 8, NULL, 0), EINVAL);
	s.index = 1;
	ck_assert_uint_eq(acked(VHU_SET_VRING_NUM, &s, 8, NULL, 0), 0);
	s.num = 65536;
	ck_assert_uint_eq(acked(VHU_SET_VRING_NUM, &s, 8, NULL, 0), EINVAL);
	ck_assert_uint_eq(vhostdev_queue_get_size(vhostdev_get_queue(fx.dev, 1)), 64);
}
END_TEST

START_TEST(config_space_reads_and_bounds)
{
	uint8_t cfg[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct vhu_config c = { .offset = 2, .size = 4 };
	struct vhu_config reply;

	ck_assert_int_eq(vhostdev_set_config(fx.dev, cfg, sizeof(cfg)), 0);
	negotiate();
	send_msg(VHU_GET_CONFIG, VHU_VERSION, &c, VHU_CONFIG_HEADER + 4, NULL, 0);
	ck_assert_int_eq(recv_reply(VHU_GET_CONFIG, &reply, sizeof(reply)),
			 VHU_CONFIG_HEADER + 4);
	ck_assert_mem_eq(reply.data, cfg + 2, 4);
	c.offset = 6;
	send_msg(VHU_GET_CONFIG, VHU_VERSION, &c, VHU_CONFIG_HEADER + 4, NULL, 0);
	ck_assert_int_eq(recv_reply(VHU_GET_CONFIG, &reply, sizeof(reply)),
			 VHU_CONFIG_HEADER);
	ck_assert_uint_eq(reply.size, 0);
	/* Declared size disagrees with the message size. */
	c.size = 200;
	ck_assert_uint_eq(acked(VHU_SET_CONFIG, &c, VHU_CONFIG_HEADER + 4, NULL, 0),
			  EINVAL);
}
END_TEST

START_TEST(peer_leaving_mid_message_resets)
{
	struct vhu_header hdr = { VHU_SET_FEATURES, VHU_VERSION, 8 };

	send_raw(&hdr, sizeof(hdr), NULL, 0);
	pump();
	close(fx.fe);
	pump();
	ck_assert(!vhostdev_is_connected(fx.dev));
	fx.fe = -1;
}
END_TEST

/* A refused fd stays the caller's: still open, not half taken over. */
START_TEST(refused_adopt_leaves_fd_to_caller)
{
	struct vhostdev *dev;
	int pipefd[2], sv[2];

	ck_assert_int_eq(vhostdev_new(4, 1, &dev), 0);
	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	ck_assert_int_eq(vhostdev_adopt_fd(dev, pipefd[0]), -ENOTSOCK);
	ck_assert_int_ge(fcntl(pipefd[0], F_GETFD), 0);
	/* The device already has a connection: -EBUSY, fd untouched. */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sv), 0);
	ck_assert_int_eq(vhostdev_adopt_fd(dev, sv[0]), 0);
	ck_assert_int_eq(vhostdev_adopt_fd(dev, sv[1]), -EBUSY);
	ck_assert_int_ge(fcntl(sv[1], F_GETFD), 0);
	ck_assert_ptr_null(vhostdev_unref(dev));
	/* The adopted one was the device's, and closed with it. */
	ck_assert_int_eq(fcntl(sv[0], F_GETFD), -1);
	close(sv[1]);
	close(pipefd[0]);
	close(pipefd[1]);
}
END_TEST

static Suite *messages_suite(void)
{
	Suite *s = suite_create("messages");
	TCase *t = tcase_create("parsing");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, get_features_replies);
	tcase_add_test(t, split_header_is_reassembled);
	tcase_add_test(t, oversized_payload_is_refused_and_skipped);
	tcase_add_test(t, bad_version_and_reply_flag_are_refused);
	tcase_add_test(t, wrong_payload_size_is_refused);
	tcase_add_test(t, fd_where_none_belongs_is_refused_and_closed);
	tcase_add_test(t, too_many_fds_are_refused);
	tcase_add_test(t, unknown_request_gets_failed_ack);
	tcase_add_test(t, queue_index_out_of_range_is_refused);
	tcase_add_test(t, config_space_reads_and_bounds);
	tcase_add_test(t, peer_leaving_mid_message_resets);
	tcase_add_test(t, refused_adopt_leaves_fd_to_caller);
	suite_add_tcase(s, t);

	t = tcase_create("negotiation");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, legacy_front_end_is_refused);
	tcase_add_test(t, features_callback_can_refuse);
	tcase_add_test(t, inband_needs_backend_and_ack);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(messages_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
