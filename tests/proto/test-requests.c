/* SPDX-License-Identifier: MIT */
/* Every front-end request, 1 to 43 and a few unknown ids, sent once with
 * REPLY_ACK negotiated and NEED_REPLY set, and once without REPLY_ACK:
 * implemented requests succeed, the others (or those whose protocol
 * feature is not offered) fail, exactly one reply comes back where one is
 * owed, none where none is, and the connection survives every time. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

enum expect {
	ACK_OK,         /* no reply of its own: ack 0 */
	ACK_ERR,        /* no reply of its own: ack != 0 */
	REPLY_OK,       /* its own reply, checked by `check` */
	REPLY_ERR       /* its own reply, saying it failed */
};

struct rctx {
	struct tsession *s;
	uint8_t p[1024];
	uint32_t size;
	int fds[4];
	unsigned int nfds;
};

struct rcase {
	uint32_t request;
	void (*build)(struct rctx *x);
	enum expect expect;
	/* For REPLY_*: is this reply right? (NULL: the default test) */
	bool (*check)(struct rctx *x, const struct vhf_msg *m);
};

static const uint8_t config[16] = "vhostdev-config";

static void put(struct rctx *x, const void *p, uint32_t size)
{
	memcpy(x->p, p, size);
	x->size = size;
}

static void put_u64(struct rctx *x, uint64_t v)
{
	put(x, &v, sizeof(v));
}

static void put_state(struct rctx *x, uint32_t index, uint32_t num)
{
	struct vhf_vring_state st = { index, num };

	put(x, &st, sizeof(st));
}

static int new_eventfd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	return fd;
}

static void add_fd(struct rctx *x, int fd)
{
	ck_assert_int_ge(fd, 0);
	x->fds[x->nfds++] = fd;
}

static int new_memfd(size_t size)
{
	int fd = memfd_create("vhd-test", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, size), 0);
	return fd;
}

static void b_none(struct rctx *x)
{
	x->size = 0;
}

static void b_features(struct rctx *x)
{
	put_u64(x, x->s->features);
}

static void b_protocol(struct rctx *x)
{
	put_u64(x, x->s->protocol);
}

static void b_mem_table(struct rctx *x)
{
	struct vhf_mem_table_msg t = { .nregions = 2 };

	for (unsigned int i = 0; i < 2; i++) {
		vhf_mem_region_desc(x->s->mem, i, &t.regions[i]);
		add_fd(x, dup(vhf_mem_region(x->s->mem, i)->fd));
	}
	put(x, &t, 8 + 2 * sizeof(t.regions[0]));
}

static void b_log_base(struct rctx *x)
{
	struct vhf_log_msg l = { .size = 4096, .offset = 0 };

	put(x, &l, sizeof(l));
	add_fd(x, new_memfd(4096));
}

static void b_eventfd(struct rctx *x)
{
	x->size = 0;
	add_fd(x, new_eventfd());
}

static void b_vring_num(struct rctx *x)
{
	put_state(x, 0, 16);
}

static void b_vring_addr(struct rctx *x)
{
	struct vhf_vring_addr a = { .index = 0 };
	uint64_t d, av, u;

	vhf_vq_addrs(x->s->vq[0], &d, &av, &u);
	a.desc = vhf_mem_uva(x->s->mem, d);
	a.avail = vhf_mem_uva(x->s->mem, av);
	a.used = vhf_mem_uva(x->s->mem, u);
	put(x, &a, sizeof(a));
}

static void b_state0(struct rctx *x)
{
	put_state(x, 0, 0);
}

static void b_state_enable(struct rctx *x)
{
	put_state(x, 0, 1);
}

static void b_vring_fd(struct rctx *x)
{
	put_u64(x, 0);
	add_fd(x, new_eventfd());
}

static void b_rarp(struct rctx *x)
{
	put_u64(x, 0x563412005452ull);
}

static void b_mtu(struct rctx *x)
{
	put_u64(x, 1500);
}

static void b_socket(struct rctx *x)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sv), 0);
	close(sv[0]);
	x->size = 0;
	add_fd(x, sv[1]);
}

static void b_iotlb(struct rctx *x)
{
	struct vhf_iotlb_msg m;

	/* Zeroed padding: valgrind (check-valgrind) sees what is sent. */
	memset(&m, 0, sizeof(m));
	m.iova = m.size = m.uaddr = 0x1000;
	m.perm = 3;
	m.type = 2;
	put(x, &m, sizeof(m));
}

static void b_get_config(struct rctx *x)
{
	struct vhf_config_msg c = { .offset = 0, .size = sizeof(config) };

	put(x, &c, VHF_CONFIG_HEADER + sizeof(config));
}

static void b_set_config(struct rctx *x)
{
	struct vhf_config_msg c = { .offset = 4, .size = 4 };

	memcpy(c.data, "abcd", 4);
	put(x, &c, VHF_CONFIG_HEADER + 4);
}

static void b_crypto(struct rctx *x)
{
	memset(x->p, 0, 64);
	x->size = 64;
}

static void b_u64_one(struct rctx *x)
{
	put_u64(x, 1);
}

static void b_get_inflight(struct rctx *x)
{
	struct vhf_inflight_msg m;

	memset(&m, 0, sizeof(m));
	m.num_queues = 2;
	m.queue_size = 16;
	put(x, &m, sizeof(m));
}

static void b_set_inflight(struct rctx *x)
{
	struct vhf_inflight_msg m;

	memset(&m, 0, sizeof(m));
	m.mmap_size = 4096;
	m.num_queues = 2;
	m.queue_size = 16;
	put(x, &m, sizeof(m));
	add_fd(x, new_memfd(4096));
}

static void b_add_mem_reg(struct rctx *x)
{
	struct vhf_single_region_msg m = { .padding = 0 };
	int idx = vhf_mem_add(x->s->mem, 0x80000000ull, 1 << 20, 0);

	ck_assert_int_ge(idx, 0);
	vhf_mem_region_desc(x->s->mem, idx, &m.region);
	put(x, &m, sizeof(m));
	add_fd(x, dup(vhf_mem_region(x->s->mem, idx)->fd));
}

static void b_rem_mem_reg(struct rctx *x)
{
	struct vhf_single_region_msg m = { .padding = 0 };

	vhf_mem_region_desc(x->s->mem, 1, &m.region);
	put(x, &m, sizeof(m));
}

static void b_status(struct rctx *x)
{
	put_u64(x, 0x0f);
}

static void b_uuid(struct rctx *x)
{
	memcpy(x->p, "0123456789abcdef", 16);
	x->size = 16;
}

static void b_device_state(struct rctx *x)
{
	struct vhf_device_state_msg m = { .direction = 0, .phase = 0 };
	int p[2];

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	close(p[0]);
	put(x, &m, sizeof(m));
	add_fd(x, p[1]);
}

static bool c_features(struct rctx *x, const struct vhf_msg *m)
{
	return m->size == 8 && (m->payload.u64 & VHF_BIT(VHF_F_VERSION_1));
}

static bool c_protocol(struct rctx *x, const struct vhf_msg *m)
{
	return m->size == 8 &&
	       (m->payload.u64 & VHF_BIT(VHF_PF_REPLY_ACK)) &&
	       (m->payload.u64 & VHF_BIT(VHF_PF_CONFIG));
}

static bool c_vring_base(struct rctx *x, const struct vhf_msg *m)
{
	return m->size == 8 && m->payload.state.index == 0 &&
	       m->payload.state.num == 0;
}

static bool c_queue_num(struct rctx *x, const struct vhf_msg *m)
{
	return m->size == 8 && m->payload.u64 == 2;
}

static bool c_config(struct rctx *x, const struct vhf_msg *m)
{
	return m->size == VHF_CONFIG_HEADER + sizeof(config) &&
	       m->payload.config.size == sizeof(config) &&
	       !memcmp(m->payload.config.data, config, sizeof(config));
}

static bool c_slots(struct rctx *x, const struct vhf_msg *m)
{
	return m->size == 8 && m->payload.u64 >= 8;
}

static bool c_status(struct rctx *x, const struct vhf_msg *m)
{
	return m->size == 8 && m->payload.u64 <= 0xff;
}

/* Errors in the shapes the spec gives them. */
static bool c_u64_error(struct rctx *x, const struct vhf_msg *m)
{
	return m->size == 8 && m->payload.u64 != 0 && m->nfds == 0;
}

/* The u64 0 that SET_LOG_BASE owes whatever the flags say. */
static bool c_u64_zero(struct rctx *x, const struct vhf_msg *m)
{
	return m->size == 8 && m->payload.u64 == 0 && m->nfds == 0;
}

/* A region for 2 queues of 16, with its fd. */
static bool c_inflight(struct rctx *x, const struct vhf_msg *m)
{
	return m->size == 24 && m->nfds == 1 &&
	       m->payload.inflight.num_queues == 2 &&
	       m->payload.inflight.queue_size == 16 &&
	       m->payload.inflight.mmap_size >= 2 * 16 * 16;
}

static bool c_no_fd(struct rctx *x, const struct vhf_msg *m)
{
	return m->nfds == 0;
}

/* SET_DEVICE_STATE_FD accepted: no error, and no fd of the back end's
 * own (bit 8 says so). */
static bool c_state_accepted(struct rctx *x, const struct vhf_msg *m)
{
	return m->size == 8 && (m->payload.u64 & 0xff) == 0 &&
	       (m->payload.u64 & 0x100) && m->nfds == 0;
}

static bool c_any(struct rctx *x, const struct vhf_msg *m)
{
	return m->nfds == 0;
}

static const struct rcase cases[] = {
	{ VHF_GET_FEATURES, b_none, REPLY_OK, c_features },
	{ VHF_SET_FEATURES, b_features, ACK_OK, NULL },
	{ VHF_SET_OWNER, b_none, ACK_OK, NULL },
	{ VHF_RESET_OWNER, b_none, ACK_OK, NULL },
	{ VHF_SET_MEM_TABLE, b_mem_table, ACK_OK, NULL },
	{ VHF_SET_LOG_BASE, b_log_base, REPLY_OK, c_u64_zero },
	{ VHF_SET_LOG_FD, b_eventfd, ACK_OK, NULL },
	{ VHF_SET_VRING_NUM, b_vring_num, ACK_OK, NULL },
	{ VHF_SET_VRING_ADDR, b_vring_addr, ACK_OK, NULL },
	{ VHF_SET_VRING_BASE, b_state0, ACK_OK, NULL },
	{ VHF_GET_VRING_BASE, b_state0, REPLY_OK, c_vring_base },
	{ VHF_SET_VRING_KICK, b_vring_fd, ACK_OK, NULL },
	{ VHF_SET_VRING_CALL, b_vring_fd, ACK_OK, NULL },
	{ VHF_SET_VRING_ERR, b_vring_fd, ACK_OK, NULL },
	{ VHF_GET_PROTOCOL_FEATURES, b_none, REPLY_OK, c_protocol },
	{ VHF_SET_PROTOCOL_FEATURES, b_protocol, ACK_OK, NULL },
	{ VHF_GET_QUEUE_NUM, b_none, REPLY_OK, c_queue_num },
	{ VHF_SET_VRING_ENABLE, b_state_enable, ACK_OK, NULL },
	{ VHF_SEND_RARP, b_rarp, ACK_ERR, NULL },
	{ VHF_NET_SET_MTU, b_mtu, ACK_ERR, NULL },
	{ VHF_SET_BACKEND_REQ_FD, b_socket, ACK_OK, NULL },
	/* QEMU always sets NEED_REPLY on IOTLB messages. */
	{ VHF_IOTLB_MSG, b_iotlb, REPLY_ERR, c_u64_error },
	{ VHF_SET_VRING_ENDIAN, b_state0, ACK_ERR, NULL },
	{ VHF_GET_CONFIG, b_get_config, REPLY_OK, c_config },
	{ VHF_SET_CONFIG, b_set_config, ACK_OK, NULL },
	{ VHF_CREATE_CRYPTO_SESSION, b_crypto, REPLY_ERR, c_any },
	{ VHF_CLOSE_CRYPTO_SESSION, b_u64_one, ACK_ERR, NULL },
	{ VHF_POSTCOPY_ADVISE, b_none, REPLY_ERR, c_no_fd },
	{ VHF_POSTCOPY_LISTEN, b_none, ACK_ERR, NULL },
	{ VHF_POSTCOPY_END, b_none, REPLY_ERR, c_u64_error },
	{ VHF_GET_INFLIGHT_FD, b_get_inflight, REPLY_OK, c_inflight },
	{ VHF_SET_INFLIGHT_FD, b_set_inflight, ACK_OK, NULL },
	{ VHF_GPU_SET_SOCKET, b_socket, ACK_ERR, NULL },
	{ VHF_RESET_DEVICE, b_none, ACK_OK, NULL },
	{ VHF_VRING_KICK, b_state0, ACK_OK, NULL },
	{ VHF_GET_MAX_MEM_SLOTS, b_none, REPLY_OK, c_slots },
	{ VHF_ADD_MEM_REG, b_add_mem_reg, ACK_OK, NULL },
	{ VHF_REM_MEM_REG, b_rem_mem_reg, ACK_OK, NULL },
	{ VHF_SET_STATUS, b_status, ACK_OK, NULL },
	{ VHF_GET_STATUS, b_none, REPLY_OK, c_status },
	{ VHF_GET_SHARED_OBJECT, b_uuid, REPLY_ERR, c_no_fd },
	{ VHF_SET_DEVICE_STATE_FD, b_device_state, REPLY_OK, c_state_accepted },
	{ VHF_CHECK_DEVICE_STATE, b_none, REPLY_ERR, c_u64_error },
	/* Ids nobody defined: a device-specific request the device does not
	 * know. */
	{ 0, b_none, ACK_ERR, NULL },
	{ 44, b_none, ACK_ERR, NULL },
	{ 1000, b_u64_one, ACK_ERR, NULL },
	{ 0x7fffffff, b_none, ACK_ERR, NULL },
};

#define NCASES (int)(sizeof(cases) / sizeof(cases[0]))

static struct tdev *start_device(void)
{
	struct tdev_opts o = {
		.config = config,
		.config_size = sizeof(config),
		.config_writable = true,
	};

	return tdev_start(&o);
}

/* Rings 0 has its size, base and addresses, so a kick fd starts it. */
static void prepare_ring(struct tsession *s)
{
	int r = vhf_vq_new(s->mem, 0, 16, 0, 0, &s->vq[0]);
	struct vhf_vring_addr a = { .index = 0 };
	uint64_t d, av, u;

	ck_assert_int_eq(r, 0);
	vhf_vq_addrs(s->vq[0], &d, &av, &u);
	a.desc = vhf_mem_uva(s->mem, d);
	a.avail = vhf_mem_uva(s->mem, av);
	a.used = vhf_mem_uva(s->mem, u);
	ck_assert_int_eq(vhf_set_vring_num(s->c, 0, 16), 0);
	ck_assert_int_eq(vhf_set_vring_base(s->c, 0, 0), 0);
	ck_assert_int_eq(vhf_set_vring_addr(s->c, &a), 0);
}

/* Nothing more arrives: exactly one reply, or none. */
static void assert_quiet(struct vhf_conn *c, const char *name)
{
	struct vhf_msg m;
	int r;

	vhf_conn_set_timeout(c, T_QUIET_MS);
	r = vhf_recv(c, &m);
	vhf_conn_set_timeout(c, T_TIMEOUT_MS);
	if (r == 0)
		vhf_msg_close_fds(&m);
	ck_assert_msg(r == -ETIMEDOUT, "%s: unexpected message %u (%d)",
		      name, r == 0 ? m.request : 0, r);
}

static void run_case(int i, bool reply_ack)
{
	struct rcase rcv = cases[i];
	const struct rcase *rc = &rcv;
	uint64_t protocol = T_ALL_PROTOCOL;
	const char *name = vhf_request_name(rc->request);
	struct tsession s;
	struct rctx x = { .s = &s };
	struct vhf_msg m;
	struct tdev *td;
	char label[64];
	int r;

	snprintf(label, sizeof(label), "%s (%u)", name ? name : "unknown",
		 rc->request);
	if (!reply_ack)
		protocol &= ~(VHF_BIT(VHF_PF_REPLY_ACK) |
			      VHF_BIT(VHF_PF_INBAND_NOTIFICATIONS));
	td = start_device();
	ts_open(&s, td, T_ALL_FEATURES & ~VHF_BIT(VHF_F_RING_PACKED),
		protocol);
	ck_assert_uint_eq(!!(s.protocol & VHF_BIT(VHF_PF_REPLY_ACK)),
			  reply_ack);
	prepare_ring(&s);
	/* With no in-band notifications the in-band kick is refused. */
	if (!reply_ack && rc->request == VHF_VRING_KICK)
		rcv.expect = ACK_ERR;

	rc->build(&x);
	r = vhf_send(s.c, rc->request, reply_ack ? VHF_FLAG_NEED_REPLY : 0,
		     x.size ? x.p : NULL, x.size, x.fds, x.nfds);
	ck_assert_msg(r == 0, "%s: send: %s", label, strerror(-r));
	for (unsigned int k = 0; k < x.nfds; k++)
		close(x.fds[k]);

	if (rc->expect == REPLY_OK || rc->expect == REPLY_ERR || reply_ack) {
		r = vhf_wait_reply(s.c, rc->request, &m);
		ck_assert_msg(r == 0, "%s: no reply: %s", label, strerror(-r));
		switch (rc->expect) {
		case ACK_OK:
			ck_assert_msg(m.size == 8 && m.payload.u64 == 0,
				      "%s: ack size %u value %llu", label,
				      m.size,
				      (unsigned long long)m.payload.u64);
			break;
		case ACK_ERR:
			ck_assert_msg(m.size == 8 && m.payload.u64 != 0,
				      "%s: ack size %u value %llu", label,
				      m.size,
				      (unsigned long long)m.payload.u64);
			break;
		case REPLY_OK:
		case REPLY_ERR:
			ck_assert_msg(rc->check(&x, &m),
				      "%s: wrong reply: size %u, u64 0x%llx,"
				      " %u fds", label, m.size,
				      (unsigned long long)m.payload.u64,
				      m.nfds);
			break;
		}
		vhf_msg_close_fds(&m);
	}
	assert_quiet(s.c, label);
	/* Still talking. */
	r = vhf_sync(s.c);
	ck_assert_msg(r == 0, "%s: connection lost: %s", label, strerror(-r));
	ck_assert_int_eq(tdev_connected(td), 1);
	ts_close(&s);
	tdev_stop(td);
}

START_TEST(each_request_acked)
{
	run_case(_i, true);
}
END_TEST

START_TEST(each_request_plain)
{
	run_case(_i, false);
}
END_TEST

/* ---- malformed and refused messages -------------------------------------- */

static struct tdev *td;
static struct tsession s;

static void open_default(void)
{
	td = start_device();
	ts_open(&s, td, T_ALL_FEATURES & ~VHF_BIT(VHF_F_RING_PACKED),
		T_ALL_PROTOCOL);
}

static void close_default(void)
{
	ck_assert_int_eq(vhf_sync(s.c), 0);
	ts_close(&s);
	tdev_stop(td);
}

/* Sends a request with NEED_REPLY and returns the ack as -errno. */
static int acked(uint32_t request, uint32_t flags, const void *p,
		 uint32_t size, const int *fds, unsigned int nfds)
{
	struct vhf_msg m;
	int r;

	r = vhf_send(s.c, request, flags | VHF_FLAG_NEED_REPLY, p, size, fds,
		     nfds);
	ck_assert_int_eq(r, 0);
	r = vhf_wait_reply(s.c, request, &m);
	ck_assert_msg(r == 0, "no ack: %s", strerror(-r));
	vhf_msg_close_fds(&m);
	ck_assert_uint_eq(m.size, 8);
	return vhf_ack_to_errno(m.payload.u64);
}

/* A pipe's write end handed to the back end must be closed by it: after
 * we close ours, the read end sees EOF. */
static void assert_closed_by_backend(int read_end)
{
	char b;

	ck_assert_int_eq(fcntl(read_end, F_SETFL, O_NONBLOCK), 0);
	for (int i = 0; i < T_TIMEOUT_MS / 5; i++) {
		ssize_t n = read(read_end, &b, 1);

		if (n == 0) {
			close(read_end);
			return;
		}
		usleep(5000);
	}
	ck_abort_msg("the back end kept a file descriptor it refused");
}

START_TEST(wrong_sizes)
{
	uint32_t four = 16;
	uint64_t v = 0;
	uint8_t big[64] = { 0 };

	open_default();
	ck_assert_int_ne(acked(VHF_SET_VRING_NUM, 0, &four, 4, NULL, 0), 0);
	ck_assert_int_ne(acked(VHF_SET_OWNER, 0, &v, 8, NULL, 0), 0);
	ck_assert_int_ne(acked(VHF_SET_FEATURES, 0, big, 16, NULL, 0), 0);
	ck_assert_int_ne(acked(VHF_SET_VRING_ADDR, 0, big, 36, NULL, 0), 0);
	ck_assert_int_ne(acked(VHF_REM_MEM_REG, 0, big, 32, NULL, 0), 0);
	close_default();
}
END_TEST

START_TEST(wrong_fds)
{
	int p[2], q[2], fds[32];
	uint64_t v = 0;

	open_default();
	/* An fd where none belongs. */
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_ne(acked(VHF_SET_OWNER, 0, NULL, 0, &p[1], 1), 0);
	close(p[1]);
	assert_closed_by_backend(p[0]);
	/* No fd where one is needed. */
	ck_assert_int_ne(acked(VHF_SET_VRING_KICK, 0, &v, 8, NULL, 0), 0);
	ck_assert_int_ne(acked(VHF_SET_BACKEND_REQ_FD, 0, NULL, 0, NULL, 0),
			 0);
	/* Far more fds than any request takes. */
	ck_assert_int_eq(pipe2(q, O_CLOEXEC), 0);
	for (int i = 0; i < 32; i++)
		fds[i] = q[1];
	ck_assert_int_ne(acked(VHF_SET_VRING_CALL, 0, &v, 8, fds, 32), 0);
	close(q[1]);
	assert_closed_by_backend(q[0]);
	close_default();
}
END_TEST

START_TEST(wrong_header)
{
	uint32_t hdr[3];
	uint64_t v;
	struct vhf_msg m;

	open_default();
	/* The REPLY flag on a request. */
	ck_assert_int_ne(acked(VHF_GET_QUEUE_NUM, VHF_FLAG_REPLY, NULL, 0,
			       NULL, 0), 0);
	/* Version 2 (only version 1 exists). */
	hdr[0] = VHF_SET_OWNER;
	hdr[1] = 2 | VHF_FLAG_NEED_REPLY;
	hdr[2] = 0;
	ck_assert_int_eq(vhf_send_raw(s.c, hdr, sizeof(hdr), NULL, 0), 0);
	ck_assert_int_eq(vhf_wait_reply(s.c, VHF_SET_OWNER, &m), 0);
	ck_assert(m.size == 8 && m.payload.u64 != 0);
	ck_assert_int_eq(vhf_sync(s.c), 0);
	/* A payload larger than any request: read, dropped, refused. */
	{
		static uint8_t huge[8192];

		hdr[0] = VHF_SET_FEATURES;
		hdr[1] = VHF_VERSION | VHF_FLAG_NEED_REPLY;
		hdr[2] = sizeof(huge);
		ck_assert_int_eq(vhf_send_raw(s.c, hdr, sizeof(hdr), NULL, 0),
				 0);
		ck_assert_int_eq(vhf_send_raw(s.c, huge, sizeof(huge), NULL,
					      0), 0);
		ck_assert_int_eq(vhf_wait_reply(s.c, VHF_SET_FEATURES, &m), 0);
		ck_assert(m.size == 8 && m.payload.u64 != 0);
	}
	/* A header that arrives a byte at a time is still one message. */
	hdr[0] = VHF_GET_FEATURES;
	hdr[1] = VHF_VERSION;
	hdr[2] = 0;
	for (unsigned int i = 0; i < sizeof(hdr); i++) {
		ck_assert_int_eq(vhf_send_raw(s.c, (uint8_t *)hdr + i, 1, NULL,
					      0), 0);
		usleep(2000);
	}
	ck_assert_int_eq(vhf_wait_reply(s.c, VHF_GET_FEATURES, &m), 0);
	v = m.payload.u64;
	ck_assert(v & VHF_BIT(VHF_F_VERSION_1));
	close_default();
}
END_TEST

START_TEST(refused_values)
{
	struct vhf_vring_state st;
	uint8_t table[8 + 9 * sizeof(struct vhf_region_desc)] = { 9 };
	uint64_t v;
	int fds[2];

	open_default();
	/* Queue index out of range, sizes out of range. */
	st = (struct vhf_vring_state){ 99, 16 };
	ck_assert_int_ne(acked(VHF_SET_VRING_NUM, 0, &st, 8, NULL, 0), 0);
	st = (struct vhf_vring_state){ 0, 0 };
	ck_assert_int_ne(acked(VHF_SET_VRING_NUM, 0, &st, 8, NULL, 0), 0);
	st = (struct vhf_vring_state){ 0, 65536 };
	ck_assert_int_ne(acked(VHF_SET_VRING_NUM, 0, &st, 8, NULL, 0), 0);
	st = (struct vhf_vring_state){ 0, 2 };
	ck_assert_int_ne(acked(VHF_SET_VRING_ENABLE, 0, &st, 8, NULL, 0), 0);
	/* Unknown bits beside the ring index. */
	v = 0x10000;
	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	ck_assert_int_ne(acked(VHF_SET_VRING_CALL, 0, &v, 8, &fds[1], 1), 0);
	close(fds[1]);
	assert_closed_by_backend(fds[0]);
	v = 5 | VHF_VRING_NOFD;
	ck_assert_int_ne(acked(VHF_SET_VRING_KICK, 0, &v, 8, NULL, 0), 0);
	/* Features that were not offered, or without VERSION_1. */
	v = s.features | VHF_BIT(63);
	ck_assert_int_ne(acked(VHF_SET_FEATURES, 0, &v, 8, NULL, 0), 0);
	v = s.features & ~VHF_BIT(VHF_F_VERSION_1);
	ck_assert_int_ne(acked(VHF_SET_FEATURES, 0, &v, 8, NULL, 0), 0);
	v = s.protocol | VHF_BIT(40);
	ck_assert_int_ne(acked(VHF_SET_PROTOCOL_FEATURES, 0, &v, 8, NULL, 0),
			 0);
	/* In-band notifications without REPLY_ACK. */
	v = VHF_BIT(VHF_PF_INBAND_NOTIFICATIONS) |
	    VHF_BIT(VHF_PF_BACKEND_REQ);
	ck_assert_int_ne(acked(VHF_SET_PROTOCOL_FEATURES, 0, &v, 8, NULL, 0),
			 0);
	/* A status byte that is not a byte. */
	v = 0x100;
	ck_assert_int_ne(acked(VHF_SET_STATUS, 0, &v, 8, NULL, 0), 0);
	/* More regions than a table holds. */
	ck_assert_int_ne(acked(VHF_SET_MEM_TABLE, 0, table, sizeof(table), NULL,
			       0), 0);
	close_default();
}
END_TEST

/* GET_CONFIG that cannot be served gets an empty config back (the spec's
 * way of saying no), whatever the reason. */
START_TEST(config_errors)
{
	struct vhf_config_msg c = { .offset = 8, .size = 16 };
	uint8_t buf[VHF_CONFIG_MAX];
	struct vhf_msg m;

	open_default();
	/* Beyond the 16 bytes of config space. */
	ck_assert_int_eq(vhf_get_config(s.c, 8, buf, 16, 0), -EIO);
	ck_assert_int_eq(vhf_get_config(s.c, 0xfffffff0u, buf, 32, 0), -EIO);
	/* A size field that does not match the payload. */
	ck_assert_int_eq(vhf_send(s.c, VHF_GET_CONFIG, 0, &c,
				  VHF_CONFIG_HEADER + 4, NULL, 0), 0);
	ck_assert_int_eq(vhf_wait_reply(s.c, VHF_GET_CONFIG, &m), 0);
	ck_assert_msg(m.size == 0 || (m.size >= VHF_CONFIG_HEADER &&
				      m.payload.config.size == 0),
		      "malformed GET_CONFIG answered with %u bytes", m.size);
	/* The good one still works. */
	ck_assert_int_eq(vhf_get_config(s.c, 0, buf, 16, 0), 16);
	ck_assert(!memcmp(buf, config, 16));
	close_default();
}
END_TEST

/* Requests whose protocol feature was not negotiated fail. */
START_TEST(not_negotiated)
{
	uint8_t buf[16];
	uint64_t v;
	int r;

	td = start_device();
	/* REPLY_ACK only. */
	ts_open(&s, td, T_ALL_FEATURES & ~VHF_BIT(VHF_F_RING_PACKED),
		VHF_BIT(VHF_PF_REPLY_ACK));
	r = vhf_get_config(s.c, 0, buf, 16, 0);
	ck_assert_msg(r == -EIO, "GET_CONFIG without CONFIG: %d (%s)", r,
		      strerror(-r));
	/* GET_STATUS owes a u64 reply either way: without STATUS it
	 * carries the errno (ENOTSUP) instead of a status byte. */
	v = 0;
	ck_assert_int_eq(vhf_get_status(s.c, (uint8_t *)&v), 0);
	ck_assert_uint_eq(v & 0xff, ENOTSUP);
	ck_assert_int_ne(vhf_set_status(s.c, 1), 0);
	ck_assert_int_ne(vhf_reset_device(s.c), 0);
	ck_assert_int_ne(vhf_add_mem_reg(s.c, s.mem, 0), 0);
	/* Also an owed u64 reply: it carries ENOTSUP, not a slot count. */
	v = 0;
	ck_assert_int_eq(vhf_get_max_mem_slots(s.c, &v), 0);
	ck_assert_uint_eq(v, ENOTSUP);
	ck_assert_int_ne(vhf_vring_kick_inband(s.c, 0), 0);
	{
		int sv[2];

		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		ck_assert_int_ne(vhf_set_backend_req_fd(s.c, sv[1]), 0);
		close(sv[0]);
		close(sv[1]);
	}
	close_default();
}
END_TEST

/* The typed helpers on requests this device refuses: each reports the
 * failure its own way, none loses the connection. */
START_TEST(typed_helpers_refused)
{
	const uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
	struct vhf_iotlb_msg io = { .iova = 0, .size = 4096, .type = 2 };
	int fd = 0, p[2], efd, mfd, sv[2];
	uint64_t v;

	open_default();
	ck_assert_int_lt(vhf_postcopy_advise(s.c, &fd), 0);
	ck_assert_int_eq(fd, -1);
	ck_assert_int_lt(vhf_postcopy_listen(s.c), 0);
	ck_assert_int_lt(vhf_postcopy_end(s.c), 0);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	/* Not a direction the spec defines; and nothing to check. */
	ck_assert_int_lt(vhf_set_device_state_fd(s.c, 7, 0, p[1], &fd), 0);
	ck_assert_int_eq(fd, -1);
	ck_assert_int_lt(vhf_check_device_state(s.c), 0);
	mfd = new_memfd(4096);
	efd = new_eventfd();
	ck_assert_int_lt(vhf_send_rarp(s.c, mac), 0);
	ck_assert_int_lt(vhf_net_set_mtu(s.c, 1500), 0);
	ck_assert_int_lt(vhf_iotlb_msg(s.c, &io), 0);
	ck_assert_int_lt(vhf_set_vring_endian(s.c, 0, 1), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sv), 0);
	ck_assert_int_lt(vhf_gpu_set_socket(s.c, sv[1]), 0);
	/* And the ones it takes. */
	ck_assert_int_eq(vhf_set_vring_err(s.c, 0, efd), 0);
	ck_assert_int_eq(vhf_set_vring_err(s.c, 0, -1), 0);
	ck_assert_int_eq(vhf_get_queue_num(s.c, &v), 0);
	ck_assert_uint_eq(v, 2);
	ck_assert_int_eq(vhf_reset_owner(s.c), 0);
	close(p[0]);
	close(p[1]);
	close(mfd);
	close(efd);
	close(sv[0]);
	close(sv[1]);
	tdev_reset_errors(td);
	close_default();
}
END_TEST

/* Requests the library does not know go to the device's message
 * callback, fds and all. */
START_TEST(device_specific)
{
	struct tdev_opts o = { .messages = true };
	uint8_t payload[24] = { 1, 2, 3 };
	uint32_t request;
	size_t size;
	char buf[2];
	int sv[2];

	td = tdev_start(&o);
	ts_open(&s, td, T_ALL_FEATURES, T_ALL_PROTOCOL);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sv), 0);
	ck_assert_int_eq(vhf_gpu_set_socket(s.c, sv[1]), 0);
	close(sv[1]);
	ck_assert_int_eq(read(sv[0], buf, 2), 2);
	ck_assert(!memcmp(buf, "ok", 2));
	ck_assert_uint_eq(tdev_messages(td, &request, &size), 1);
	ck_assert_uint_eq(request, VHF_GPU_SET_SOCKET);
	ck_assert_uint_eq(size, 0);
	/* The library closed its copy after the callback. */
	ck_assert_int_eq(read(sv[0], buf, 1), 0);
	close(sv[0]);

	ck_assert_int_eq(vhf_request(s.c, 1000, payload, sizeof(payload),
				     NULL, 0, NULL), 0);
	ck_assert_uint_eq(tdev_messages(td, &request, &size), 2);
	ck_assert_uint_eq(request, 1000);
	ck_assert_uint_eq(size, sizeof(payload));
	ck_assert_int_ne(vhf_request(s.c, 1001, NULL, 0, NULL, 0, NULL), 0);
	tdev_reset_errors(td);
	close_default();
}
END_TEST

/* A message cut short by the front end leaving: the device notices,
 * cleans up, and serves the next front end. */
START_TEST(truncated_then_gone)
{
	uint32_t hdr[3] = { VHF_SET_FEATURES, VHF_VERSION, 8 };

	open_default();
	ck_assert_int_eq(vhf_send_raw(s.c, hdr, sizeof(hdr), NULL, 0), 0);
	ck_assert_int_eq(vhf_send_raw(s.c, "abc", 3, NULL, 0), 0);
	ts_close(&s);
	for (int i = 0; i < 1000 && tdev_count(td, "disconnect") == 0; i++)
		usleep(5000);
	ck_assert_uint_eq(tdev_count(td, "disconnect"), 1);
	ts_open(&s, td, T_ALL_FEATURES & ~VHF_BIT(VHF_F_RING_PACKED),
		T_ALL_PROTOCOL);
	ts_echo(&s, ts_start_queue(&s, 0, 16), 64, 1, 1, false);
	close_default();
}
END_TEST

Suite *proto_suite(void)
{
	Suite *su = suite_create("requests");
	TCase *tc;

	tc = t_tcase(su, "each");
	tcase_add_loop_test(tc, each_request_acked, 0, NCASES);
	tcase_add_loop_test(tc, each_request_plain, 0, NCASES);
	tc = t_tcase(su, "malformed");
	tcase_add_test(tc, wrong_sizes);
	tcase_add_test(tc, wrong_fds);
	tcase_add_test(tc, wrong_header);
	tcase_add_test(tc, refused_values);
	tcase_add_test(tc, config_errors);
	tcase_add_test(tc, not_negotiated);
	tcase_add_test(tc, truncated_then_gone);
	tc = t_tcase(su, "helpers");
	tcase_add_test(tc, typed_helpers_refused);
	tcase_add_test(tc, device_specific);
	return su;
}
