/* SPDX-License-Identifier: MIT */
/* Hostile front ends: messages no front end should send. The documented
 * answers: a failed REPLY_ACK (the errno in the ack) for a request that is
 * malformed or not allowed, the connection kept and still answering; a
 * dropped connection only when the stream itself is lost (a peer that
 * leaves mid-message, or one that never reads its replies). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "adversarial.h"

/* Sends a raw message asking for an ack and returns the ack as -errno. */
static int raw_ack(struct adv_session *s, uint32_t request, uint32_t flags,
		   const void *payload, uint32_t size, const int *fds,
		   unsigned int nfds)
{
	uint8_t buf[VHF_HEADER_SIZE + 512];
	uint32_t hdr[3] = { request, flags, size };
	struct vhf_msg reply;
	int r;

	if (size > 512)
		return -E2BIG;
	memcpy(buf, hdr, sizeof(hdr));
	if (size)
		memcpy(buf + sizeof(hdr), payload, size);
	r = vhf_send_raw(s->c, buf, sizeof(hdr) + size, fds, nfds);
	if (r < 0)
		return r;
	r = vhf_wait_reply(s->c, request, &reply);
	if (r < 0)
		return r;
	vhf_msg_close_fds(&reply);
	if (reply.size != 8)
		return -EPROTO;
	return vhf_ack_to_errno(reply.payload.u64);
}

/* The connection still answers. */
static bool alive(struct adv_session *s)
{
	return vhf_sync(s->c) == 0;
}

#define EXPECT_ACK(expr, err)                                                 \
	do {                                                                  \
		int r_ = (expr);                                              \
		ADV_CHECK(r_ == (err), "%s: got %d (%s), expected %d",        \
			  #expr, r_, strerror(-r_), err);                     \
	} while (0)

static int queue_index_out_of_range(const struct adv_kind *kind,
				    struct adv_daemon *d)
{
	struct adv_session s;
	struct vhf_vring_addr a = { .index = 200 };
	struct vhf_vring_state st = { 9, 0 };
	uint64_t kick = 255;
	int efd = eventfd(0, EFD_CLOEXEC), r = 0;

	ADV_CHECK(adv_open(&s, kind, d, ADV_MEMORY) == 0, "session setup");
	/* Past any daemon's queues (vhostdev-fs has nine). */
	EXPECT_ACK(vhf_set_vring_num(s.c, 250, 16), -EINVAL);
	EXPECT_ACK(vhf_set_vring_addr(s.c, &a), -EINVAL);
	EXPECT_ACK(vhf_set_vring_base(s.c, 0x10000, 0), -EINVAL);
	EXPECT_ACK(vhf_request(s.c, VHF_SET_VRING_KICK, &kick, 8, &efd, 1,
			       NULL), -EINVAL);
	EXPECT_ACK(vhf_set_vring_enable(s.c, 1000, true), -EINVAL);
	/* GET_VRING_BASE owes a reply whatever happens: it comes. */
	EXPECT_ACK(vhf_request(s.c, VHF_GET_VRING_BASE, &st, sizeof(st), NULL,
			       0, &(struct vhf_msg){ 0 }), 0);
	ADV_CHECK(alive(&s), "no answer after the refusals");
	close(efd);
	r = adv_close(&s);
	return r;
}

/* SET_MEM_TABLE variants, each refused with the old table kept. */
static int mem_table(const struct adv_kind *kind, struct adv_daemon *d,
		     int variant)
{
	struct adv_session s;
	struct vhf_mem_table_msg t = { 0 };
	int fds[3], r, nfds = 1;
	size_t size;
	int expect = -EINVAL;

	ADV_CHECK(adv_open(&s, kind, d, ADV_MEMORY) == 0, "session setup");
	vhf_mem_region_desc(s.m, (unsigned int)s.ra, &t.regions[0]);
	vhf_mem_region_desc(s.m, (unsigned int)s.rb, &t.regions[1]);
	fds[0] = vhf_mem_region(s.m, (unsigned int)s.ra)->fd;
	fds[1] = vhf_mem_region(s.m, (unsigned int)s.rb)->fd;
	fds[2] = fds[0];
	t.nregions = 1;
	switch (variant) {
	case 0: /* too many fds */
		nfds = 3;
		break;
	case 1: /* too few */
		t.nregions = 2;
		break;
	case 2: /* overlapping regions (guest addresses) */
		t.nregions = 2;
		nfds = 2;
		t.regions[1].gpa = t.regions[0].gpa + 0x1000;
		break;
	case 3: /* past the end of the file */
		t.regions[0].mmap_offset += 0x100000;
		break;
	case 4: /* more regions than a table holds */
		t.nregions = 9;
		nfds = 3;
		break;
	case 5: /* size 0 */
		t.regions[0].size = 0;
		break;
	case 6: /* wraps around the address space */
		t.regions[0].gpa = ~0ull - 0x1000;
		break;
	}
	size = 8 + sizeof(t.regions[0]) * (t.nregions <= 8 ? t.nregions : 8);
	r = vhf_request(s.c, VHF_SET_MEM_TABLE, &t, (uint32_t)size, fds,
			(unsigned int)nfds, NULL);
	if (variant == 4)
		/* 9 regions in 8 slots: the size check refuses it. */
		expect = -EINVAL;
	ADV_CHECK(r == expect, "variant %d: ack %d (%s)", variant, r,
		  strerror(-r));
	ADV_CHECK(alive(&s), "no answer after the refusal");
	return adv_close(&s);
}

static int mem_too_many_fds(const struct adv_kind *k, struct adv_daemon *d)
{
	return mem_table(k, d, 0);
}

static int mem_too_few_fds(const struct adv_kind *k, struct adv_daemon *d)
{
	return mem_table(k, d, 1);
}

static int mem_overlap(const struct adv_kind *k, struct adv_daemon *d)
{
	return mem_table(k, d, 2);
}

static int mem_past_eof(const struct adv_kind *k, struct adv_daemon *d)
{
	return mem_table(k, d, 3);
}

static int mem_too_many_regions(const struct adv_kind *k, struct adv_daemon *d)
{
	return mem_table(k, d, 4);
}

static int mem_zero_size(const struct adv_kind *k, struct adv_daemon *d)
{
	return mem_table(k, d, 5);
}

static int mem_wraps(const struct adv_kind *k, struct adv_daemon *d)
{
	return mem_table(k, d, 6);
}

/* A payload larger than any request: read, thrown away, refused. */
static int oversized(const struct adv_kind *kind, struct adv_daemon *d)
{
	static uint8_t big[3 * 4096];
	uint32_t hdr[3] = { VHF_SET_OWNER, VHF_VERSION | VHF_FLAG_NEED_REPLY,
			    sizeof(big) };
	struct adv_session s;
	struct vhf_msg reply;
	int r;

	ADV_CHECK(adv_open(&s, kind, d, ADV_CONNECT) == 0, "session setup");
	r = vhf_send_raw(s.c, hdr, sizeof(hdr), NULL, 0);
	if (r == 0)
		r = vhf_send_raw(s.c, big, sizeof(big), NULL, 0);
	if (r == 0)
		r = vhf_wait_reply(s.c, VHF_SET_OWNER, &reply);
	if (r == 0)
		r = vhf_ack_to_errno(reply.payload.u64);
	ADV_CHECK(r == -EMSGSIZE, "ack %d (%s)", r, strerror(-r));
	ADV_CHECK(alive(&s), "no answer after the refusal");
	return adv_close(&s);
}

static int wrong_header(const struct adv_kind *kind, struct adv_daemon *d)
{
	struct adv_session s;

	ADV_CHECK(adv_open(&s, kind, d, ADV_CONNECT) == 0, "session setup");
	/* Versions 0, 2 and 3, and the REPLY flag on a request. */
	EXPECT_ACK(raw_ack(&s, VHF_SET_OWNER, VHF_FLAG_NEED_REPLY, NULL, 0,
			   NULL, 0), -EPROTO);
	EXPECT_ACK(raw_ack(&s, VHF_SET_OWNER, 2 | VHF_FLAG_NEED_REPLY, NULL, 0,
			   NULL, 0), -EPROTO);
	EXPECT_ACK(raw_ack(&s, VHF_SET_OWNER, 3 | VHF_FLAG_NEED_REPLY, NULL, 0,
			   NULL, 0), -EPROTO);
	EXPECT_ACK(raw_ack(&s, VHF_SET_OWNER, VHF_VERSION | VHF_FLAG_REPLY |
			   VHF_FLAG_NEED_REPLY, NULL, 0, NULL, 0), -EPROTO);
	/* A size that does not match the request. */
	EXPECT_ACK(raw_ack(&s, VHF_SET_FEATURES, VHF_VERSION |
			   VHF_FLAG_NEED_REPLY, "1234", 4, NULL, 0), -EINVAL);
	ADV_CHECK(alive(&s), "no answer after the refusals");
	return adv_close(&s);
}

/* fds where none belong, and more than any request takes: refused, and
 * every one of them closed by the daemon (the fd count checks that). */
static int stray_fds(const struct adv_kind *kind, struct adv_daemon *d)
{
	struct adv_session s;
	int fds[24];

	for (int i = 0; i < 24; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	ADV_CHECK(adv_open(&s, kind, d, ADV_CONNECT) == 0, "session setup");
	EXPECT_ACK(vhf_request_ack(s.c, VHF_SET_OWNER, NULL, 0, fds, 1),
		   -EINVAL);
	EXPECT_ACK(vhf_request_ack(s.c, VHF_SET_OWNER, NULL, 0, fds, 24),
		   -EINVAL);
	EXPECT_ACK(vhf_request_ack(s.c, VHF_SET_VRING_ENABLE,
				   &(struct vhf_vring_state){ 0, 1 }, 8, fds,
				   2), -EINVAL);
	ADV_CHECK(alive(&s), "no answer after the refusals");
	for (int i = 0; i < 24; i++)
		close(fds[i]);
	return adv_close(&s);
}

static int unknown_requests(const struct adv_kind *kind,
			    struct adv_daemon *d)
{
	struct adv_session s;
	uint64_t zero = 0;

	ADV_CHECK(adv_open(&s, kind, d, ADV_CONNECT) == 0, "session setup");
	EXPECT_ACK(vhf_request_ack(s.c, 1000, "x", 1, NULL, 0), -ENOTSUP);
	EXPECT_ACK(vhf_request_ack(s.c, 0, NULL, 0, NULL, 0), -ENOTSUP);
	/* A net request; RARP is not offered. */
	EXPECT_ACK(vhf_request_ack(s.c, VHF_SEND_RARP, &zero, 8, NULL, 0),
		   -ENOTSUP);
	EXPECT_ACK(vhf_request_ack(s.c, VHF_SET_FEATURES,
				   &(uint64_t){ VHF_BIT(VHF_F_VERSION_1) |
						(1ull << 63) }, 8, NULL, 0),
		   -EINVAL);
	ADV_CHECK(alive(&s), "no answer after the refusals");
	return adv_close(&s);
}

/* A kick "eventfd" that is a memfd (epoll refuses regular files). */
static int kick_fd_not_pollable(const struct adv_kind *kind,
				struct adv_daemon *d)
{
	struct adv_session s;
	int fd = memfd_create("not-an-eventfd", MFD_CLOEXEC), r;

	ADV_CHECK(adv_open(&s, kind, d, ADV_RING) == 0, "session setup");
	r = vhf_set_vring_kick(s.c, 0, fd);
	close(fd);
	ADV_CHECK(r < 0, "a memfd was accepted as a kick fd");
	ADV_CHECK(alive(&s), "no answer after the refusal");
	return adv_close(&s);
}

/* The front end leaves half way through a message (with fds). */
static int disconnect_mid_message(const struct adv_kind *kind,
				  struct adv_daemon *d, int variant)
{
	struct adv_session s;
	uint32_t hdr[3] = { VHF_SET_MEM_TABLE, VHF_VERSION, 40 };
	int fd = memfd_create("half", MFD_CLOEXEC), r;

	ADV_CHECK(adv_open(&s, kind, d, ADV_CONNECT) == 0, "session setup");
	if (variant == 0)
		r = vhf_send_raw(s.c, hdr, 6, NULL, 0);
	else if (variant == 1)
		r = vhf_send_raw(s.c, hdr, sizeof(hdr), &fd, 1);
	else
		r = vhf_send(s.c, VHF_GET_FEATURES, 0, NULL, 0, NULL, 0);
	close(fd);
	ADV_CHECK(r == 0, "send: %s", strerror(-r));
	return adv_close(&s);
}

static int disconnect_mid_header(const struct adv_kind *k, struct adv_daemon *d)
{
	return disconnect_mid_message(k, d, 0);
}

static int disconnect_mid_payload(const struct adv_kind *k,
				  struct adv_daemon *d)
{
	return disconnect_mid_message(k, d, 1);
}

static int disconnect_reply_owed(const struct adv_kind *k,
				 struct adv_daemon *d)
{
	return disconnect_mid_message(k, d, 2);
}

/* Many requests, every reply read: all answered, none lost. */
static int flood_answered(const struct adv_kind *kind, struct adv_daemon *d)
{
	struct adv_session s;
	int n = 0;

	ADV_CHECK(adv_open(&s, kind, d, ADV_CONNECT) == 0, "session setup");
	for (int i = 0; i < 5000; i++) {
		uint64_t f;

		if (vhf_get_features(s.c, &f) < 0)
			break;
		n++;
	}
	ADV_CHECK(n == 5000, "only %d of 5000 answered", n);
	return adv_close(&s);
}

/* Requests sent and no reply ever read: the daemon's replies back up,
 * and it drops the connection instead of blocking or queueing without
 * bound. */
static int flood_unread(const struct adv_kind *kind, struct adv_daemon *d)
{
	struct adv_session s;
	int sent = 0, r = 0;

	ADV_CHECK(adv_open(&s, kind, d, ADV_CONNECT) == 0, "session setup");
	vhf_conn_set_timeout(s.c, 1000);
	while (sent < 1000000) {
		r = vhf_send(s.c, VHF_GET_FEATURES, 0, NULL, 0, NULL, 0);
		if (r < 0)
			break;
		sent++;
	}
	adv_note("daemon dropped the connection after %d unread requests (%s)",
		 sent, strerror(-r));
	ADV_CHECK(r == -EPIPE || r == -ECONNRESET,
		  "sending stopped with %d (%s), not a dropped connection", r,
		  strerror(-r));
	return adv_close(&s);
}

#define ACK "failed REPLY_ACK, connection kept"
#define DROPPED "connection dropped, daemon serves the next"
const struct adv_case adv_message_cases[] = {
	{ "queue-index-out-of-range", ACK, queue_index_out_of_range },
	{ "mem-table-too-many-fds", ACK, mem_too_many_fds },
	{ "mem-table-too-few-fds", ACK, mem_too_few_fds },
	{ "mem-table-overlapping-regions", ACK, mem_overlap },
	{ "mem-region-past-end-of-file", ACK, mem_past_eof },
	{ "mem-table-too-many-regions", ACK, mem_too_many_regions },
	{ "mem-region-size-zero", ACK, mem_zero_size },
	{ "mem-region-wraps", ACK, mem_wraps },
	{ "message-larger-than-any-payload", ACK, oversized },
	{ "wrong-header-version-or-flags", ACK, wrong_header },
	{ "fds-where-none-belong", ACK, stray_fds },
	{ "unknown-and-unsupported-requests", ACK, unknown_requests },
	{ "kick-fd-not-pollable", ACK, kick_fd_not_pollable },
	{ "disconnect-mid-header", DROPPED, disconnect_mid_header },
	{ "disconnect-mid-payload-with-fd", DROPPED, disconnect_mid_payload },
	{ "disconnect-with-reply-owed", DROPPED, disconnect_reply_owed },
	{ "flood-all-answered", "5000 replies", flood_answered },
	{ "flood-replies-never-read", DROPPED, flood_unread },
	{ NULL, NULL, NULL }
};
