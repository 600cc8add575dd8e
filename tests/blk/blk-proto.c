/* SPDX-License-Identifier: MIT */
/*
 * vhostdev-blk driven at the protocol level by our own front end
 * (frontend/), no guest needed: the daemon runs as a child process on a
 * temporary image file or a null backing, and each test sends virtio-blk
 * requests through real rings (split and packed: the _i of the loop tests)
 * and checks the status byte, the bytes written back, and the image file.
 * Covers read/write/flush/discard/write-zeroes/get-id, the read-only
 * refusal, out-of-range, overflowing, malformed and unknown requests,
 * several queues at once, a full ring, the config space, the writeback
 * byte, resize (SIGHUP, or the periodic size check -> CONFIG_CHANGE_MSG on
 * the back-end channel), stopping rings under load, and --client.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vhostfront.h"

#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_GET_ID 8
#define T_DISCARD 11
#define T_WRITE_ZEROES 13
#define S_OK 0
#define S_IOERR 1
#define S_UNSUPP 2
#define F_RO 5
#define F_DISCARD 13
#define F_WRITE_ZEROES 14
#define WZ_UNMAP 1u

#define IMAGE_SIZE (4u << 20)
#define IMAGE_SECTORS (IMAGE_SIZE / 512)
#define MEM_SIZE (64u << 20)
#define RING_SIZE 128
#define MAX_QUEUES 4
#define SERIAL20 "0123456789abcdefghij"

struct hdr {
	uint32_t type;
	uint32_t ioprio;
	uint64_t sector;
} __attribute__((packed));

struct seg {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
} __attribute__((packed));

/* One daemon and one front-end session. */
static struct {
	char dir[64];
	char sock[96];
	char img[96];
	/* What pread_img()/pwrite_img() use: img, or the block device. */
	const char *data_path;
	pid_t pid;
	struct vhf_conn *c;
	struct vhf_conn *chan;
	struct vhf_mem *m;
	struct vhf_vq *vq[MAX_QUEUES];
	unsigned int nq;
	uint64_t features;
} t;

static const char *daemon_path(void)
{
	static char path[512];
	const char *top = getenv("abs_top_builddir");

	snprintf(path, sizeof(path), "%s/examples/blk/vhostdev-blk",
		 top ? top : ".");
	return path;
}

/* Starts the daemon with backing (NULL: the temp image) and more
 * arguments, NULL-ended. */
static void start_daemon(const char *backing, ...)
{
	char blk_file[160], sock_opt[128];
	const char *argv[24];
	unsigned int n = 0;
	va_list ap;
	int fd;

	/* BLK_PROTO_DIR: blk-shm.test puts the image on tmpfs, which
	 * vhostdev-blk reads and writes without io_uring. */
	snprintf(t.dir, sizeof(t.dir), "%s/blk-proto.XXXXXX",
		 getenv("BLK_PROTO_DIR") ? getenv("BLK_PROTO_DIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(t.dir));
	snprintf(t.sock, sizeof(t.sock), "%s/sock", t.dir);
	snprintf(t.img, sizeof(t.img), "%s/img", t.dir);
	fd = open(t.img, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, IMAGE_SIZE), 0);
	close(fd);
	snprintf(blk_file, sizeof(blk_file), "--blk-file=%s",
		 backing ? backing : t.img);
	t.data_path = backing ? backing : t.img;
	snprintf(sock_opt, sizeof(sock_opt), "--socket-path=%s", t.sock);
	argv[n++] = daemon_path();
	argv[n++] = sock_opt;
	argv[n++] = blk_file;
	va_start(ap, backing);
	for (const char *a; (a = va_arg(ap, const char *)) && n < 22;)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	t.pid = fork();
	ck_assert_int_ge(t.pid, 0);
	if (t.pid == 0) {
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
}

/* Negotiates everything offered (packed rings or not), sets up memory,
 * the back-end channel and nq queues on the connection t.c. */
static void setup_device(bool packed, unsigned int nq)
{
	/* Everything but ACCESS_PLATFORM: no IOMMU here. */
	uint64_t want = ~VHF_BIT(VHF_F_ACCESS_PLATFORM), proto;
	int r;

	if (!packed)
		want &= ~VHF_BIT(VHF_F_RING_PACKED);
	r = vhf_negotiate(t.c, want, VHF_BIT(VHF_PF_MQ) |
			  VHF_BIT(VHF_PF_REPLY_ACK) | VHF_BIT(VHF_PF_CONFIG) |
			  VHF_BIT(VHF_PF_BACKEND_REQ), &t.features, &proto);
	ck_assert_msg(r == 0, "negotiate: %s", strerror(-r));
	ck_assert(!!(t.features & VHF_BIT(VHF_F_RING_PACKED)) == packed);
	ck_assert(proto & VHF_BIT(VHF_PF_CONFIG));
	ck_assert_int_eq(vhf_mem_new(&t.m), 0);
	ck_assert_int_ge(vhf_mem_add(t.m, 0, MEM_SIZE, 0), 0);
	ck_assert_int_eq(vhf_set_mem_table(t.c, t.m), 0);
	ck_assert_int_eq(vhf_backend_channel_open(t.c, &t.chan), 0);
	t.nq = nq;
	for (unsigned int i = 0; i < nq; i++) {
		r = vhf_vq_new(t.m, i, RING_SIZE,
			       vhf_vq_flags_for(t.features), -1, &t.vq[i]);
		ck_assert_int_eq(r, 0);
		ck_assert_int_eq(vhf_vq_setup(t.c, t.vq[i]), 0);
		ck_assert_int_eq(vhf_vq_enable(t.c, t.vq[i], true), 0);
	}
}

static void connect_device(bool packed, unsigned int nq)
{
	int r = vhf_connect(t.sock, 5000, &t.c);

	ck_assert_msg(r == 0, "connect: %s", strerror(-r));
	setup_device(packed, nq);
}

static void start(bool packed, unsigned int nq, const char *backing, ...)
{
	/* Up to four extra arguments are enough here. */
	va_list ap;
	const char *a[5] = { 0 };

	va_start(ap, backing);
	for (unsigned int i = 0; i < 4; i++)
		if (!(a[i] = va_arg(ap, const char *)))
			break;
	va_end(ap);
	start_daemon(backing, a[0], a[1], a[2], a[3], NULL);
	connect_device(packed, nq);
}

/* Ends the session and the daemon, which must exit with status 0. */
static void stop(void)
{
	int status;

	for (unsigned int i = 0; i < t.nq; i++)
		vhf_vq_free(t.vq[i]);
	vhf_conn_free(t.chan);
	vhf_conn_free(t.c);
	vhf_mem_free(t.m);
	kill(t.pid, SIGTERM);
	ck_assert_int_eq(waitpid(t.pid, &status, 0), t.pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "daemon status %d", status);
	unlink(t.img);
	unlink(t.sock);
	rmdir(t.dir);
	memset(&t, 0, sizeof(t));
}

static uint64_t galloc(uint64_t size)
{
	uint64_t gpa;

	ck_assert_int_eq(vhf_mem_alloc(t.m, size ? size : 1, 64, -1, &gpa),
			 0);
	return gpa;
}

static void *gptr(uint64_t gpa, uint64_t len)
{
	void *p = vhf_mem_ptr(t.m, gpa, len ? len : 1);

	ck_assert_ptr_nonnull(p);
	return p;
}

/* A request being built: device-readable buffers then device-writable. */
struct req {
	struct vhf_buf buf[8];
	unsigned int nout, nin;
	uint64_t status_gpa;
	uint64_t in_gpa;       /* first device-writable data buffer */
	int id;
};

static void req_out(struct req *r, const void *data, uint32_t len)
{
	uint64_t gpa = galloc(len);

	memcpy(gptr(gpa, len), data, len);
	r->buf[r->nout++] = (struct vhf_buf){ gpa, len };
}

static void req_in(struct req *r, uint32_t len)
{
	uint64_t gpa = galloc(len);

	memset(gptr(gpa, len), 0xee, len);
	if (!r->nin)
		r->in_gpa = gpa;
	r->buf[r->nout + r->nin++] = (struct vhf_buf){ gpa, len };
}

/* Header, optional out data, in data, status byte. */
static void req_make(struct req *r, uint32_t type, uint64_t sector,
		     const void *out, uint32_t out_len, uint32_t in_len)
{
	struct hdr h = { .type = type, .sector = sector };

	memset(r, 0, sizeof(*r));
	req_out(r, &h, sizeof(h));
	if (out_len)
		req_out(r, out, out_len);
	if (in_len)
		req_in(r, in_len);
	req_in(r, 1);
	r->status_gpa = r->buf[r->nout + r->nin - 1].gpa;
}

static void req_post(struct vhf_vq *vq, struct req *r, bool indirect)
{
	r->id = vhf_vq_add(vq, r->buf, r->nout, r->nin, indirect);
	ck_assert_msg(r->id >= 0, "add: %s", strerror(-r->id));
}

/* Waits for one used entry on vq: its id and length. */
static void wait_used(struct vhf_vq *vq, uint16_t *id, uint32_t *len)
{
	for (int tries = 0; tries < 100; tries++) {
		int r = vhf_vq_get_used(vq, id, len);

		ck_assert_int_ge(r, 0);
		if (r == 1)
			return;
		vhf_vq_set_interrupts(vq, true);
		r = vhf_vq_get_used(vq, id, len);
		ck_assert_int_ge(r, 0);
		if (r == 1)
			return;
		vhf_vq_wait_call(vq, 50);
	}
	ck_abort_msg("no completion within 5 s");
}

/* Posts r on queue 0, waits for it; returns its status byte, the used
 * length in *written. */
static uint8_t run(struct req *r, uint32_t *written, bool indirect)
{
	uint16_t id;
	uint32_t len;

	req_post(t.vq[0], r, indirect);
	vhf_vq_kick(t.vq[0]);
	wait_used(t.vq[0], &id, &len);
	ck_assert_int_eq(id, r->id);
	if (written)
		*written = len;
	return *(uint8_t *)gptr(r->status_gpa, 1);
}

static uint8_t simple(uint32_t type, uint64_t sector, const void *out,
		      uint32_t out_len, uint32_t in_len, uint32_t *written)
{
	struct req r;

	req_make(&r, type, sector, out, out_len, in_len);
	return run(&r, written, false);
}

static uint8_t segments(uint32_t type, const struct seg *s, unsigned int n)
{
	return simple(type, 0, s, (uint32_t)(n * sizeof(*s)), 0, NULL);
}

static void fill(uint8_t *buf, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + seed * 13 + (i >> 9));
}

static void pread_img(void *buf, size_t len, off_t off)
{
	int fd = open(t.data_path, O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

static void pwrite_img(const void *buf, size_t len, off_t off)
{
	int fd = open(t.data_path, O_WRONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, buf, len, off), (ssize_t)len);
	ck_assert_int_eq(fsync(fd), 0);
	close(fd);
}

static bool is_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* ---- data path -------------------------------------------------------- */

START_TEST(write_read_flush)
{
	uint8_t data[8192], back[8192];
	uint32_t written;
	struct req r;

	start(_i, 1, NULL, NULL);
	fill(data, sizeof(data), 1);
	ck_assert_int_eq(simple(T_OUT, 8, data, sizeof(data), 0, &written),
			 S_OK);
	ck_assert_int_eq(written, 1);
	pread_img(back, sizeof(back), 8 * 512);
	ck_assert_mem_eq(back, data, sizeof(data));

	/* Read it back through an indirect table, into two buffers. */
	memset(&r, 0, sizeof(r));
	{
		struct hdr h = { .type = T_IN, .sector = 8 };

		req_out(&r, &h, sizeof(h));
	}
	req_in(&r, 4096);
	req_in(&r, 4096);
	req_in(&r, 1);
	r.status_gpa = r.buf[3].gpa;
	ck_assert_int_eq(run(&r, &written, true), S_OK);
	ck_assert_int_eq(written, 8192 + 1);
	ck_assert_mem_eq(gptr(r.buf[1].gpa, 4096), data, 4096);
	ck_assert_mem_eq(gptr(r.buf[2].gpa, 4096), data + 4096, 4096);

	ck_assert_int_eq(simple(T_FLUSH, 0, NULL, 0, 0, &written), S_OK);
	ck_assert_int_eq(written, 1);
	/* The last sector, exactly. */
	ck_assert_int_eq(simple(T_IN, IMAGE_SECTORS - 1, NULL, 0, 512, NULL),
			 S_OK);
	stop();
}
END_TEST

START_TEST(get_id)
{
	uint32_t written;
	struct req r;

	start(_i, 1, NULL, "--serial=" SERIAL20, NULL);
	req_make(&r, T_GET_ID, 0, NULL, 0, 32);
	ck_assert_int_eq(run(&r, &written, false), S_OK);
	ck_assert_int_eq(written, 20 + 1);
	ck_assert_mem_eq(gptr(r.in_gpa, 20), SERIAL20, 20);
	/* Not NUL-padded beyond the 20 bytes. */
	ck_assert_int_eq(((uint8_t *)gptr(r.in_gpa, 32))[20], 0xee);
	stop();

	start(_i, 1, NULL, "--serial=abc", NULL);
	req_make(&r, T_GET_ID, 0, NULL, 0, 20);
	ck_assert_int_eq(run(&r, &written, false), S_OK);
	/* Zero-padded to 20 bytes. */
	ck_assert_mem_eq(gptr(r.in_gpa, 20), "abc", 4);
	ck_assert(is_zero((uint8_t *)gptr(r.in_gpa, 20) + 3, 17));
	stop();
}
END_TEST

START_TEST(discard_write_zeroes)
{
	uint8_t data[65536], back[65536];
	struct seg s[2];

	start(_i, 1, NULL, NULL);
	ck_assert(t.features & VHF_BIT(F_DISCARD));
	ck_assert(t.features & VHF_BIT(F_WRITE_ZEROES));
	fill(data, sizeof(data), 2);

	/* Discard: the range reads as zeroes in the image. */
	pwrite_img(data, sizeof(data), 0);
	s[0] = (struct seg){ .sector = 0, .num_sectors = 64 };
	ck_assert_int_eq(segments(T_DISCARD, s, 1), S_OK);
	pread_img(back, sizeof(back), 0);
	ck_assert(is_zero(back, 32768));
	ck_assert_mem_eq(back + 32768, data + 32768, 32768);

	/* Write-zeroes, two segments, one with unmap. */
	pwrite_img(data, sizeof(data), 0);
	s[0] = (struct seg){ .sector = 0, .num_sectors = 8 };
	s[1] = (struct seg){ .sector = 64, .num_sectors = 8,
			     .flags = WZ_UNMAP };
	ck_assert_int_eq(segments(T_WRITE_ZEROES, s, 2), S_OK);
	pread_img(back, sizeof(back), 0);
	ck_assert(is_zero(back, 4096));
	ck_assert_mem_eq(back + 4096, data + 4096, 32768 - 4096);
	ck_assert(is_zero(back + 32768, 4096));
	ck_assert_mem_eq(back + 36864, data + 36864, 65536 - 36864);

	/* A bad segment after a good one: nothing at all is done. */
	pwrite_img(data, sizeof(data), 0);
	s[0] = (struct seg){ .sector = 0, .num_sectors = 8 };
	s[1] = (struct seg){ .sector = IMAGE_SECTORS - 4, .num_sectors = 8 };
	ck_assert_int_eq(segments(T_WRITE_ZEROES, s, 2), S_IOERR);
	s[1] = (struct seg){ .sector = UINT64_MAX - 2, .num_sectors = 8 };
	ck_assert_int_eq(segments(T_DISCARD, s, 2), S_IOERR);
	/* Unmap on a discard and unknown flags are unsupported. */
	s[1] = (struct seg){ .sector = 64, .num_sectors = 8,
			     .flags = WZ_UNMAP };
	ck_assert_int_eq(segments(T_DISCARD, s, 2), S_UNSUPP);
	s[1].flags = 2;
	ck_assert_int_eq(segments(T_WRITE_ZEROES, s, 2), S_UNSUPP);
	/* A payload that is not whole segments, and none at all. */
	ck_assert_int_eq(simple(T_DISCARD, 0, s, 20, 0, NULL), S_IOERR);
	ck_assert_int_eq(simple(T_DISCARD, 0, NULL, 0, 0, NULL), S_IOERR);
	pread_img(back, sizeof(back), 0);
	ck_assert_mem_eq(back, data, sizeof(data));
	stop();
}
END_TEST

START_TEST(read_only)
{
	uint8_t data[4096], back[4096];
	struct seg s = { .sector = 0, .num_sectors = 8 };

	start(_i, 1, NULL, "--read-only", NULL);
	ck_assert(t.features & VHF_BIT(F_RO));
	fill(data, sizeof(data), 3);
	pwrite_img(data, sizeof(data), 0);
	memset(back, 0x55, sizeof(back));
	ck_assert_int_eq(simple(T_OUT, 0, back, sizeof(back), 0, NULL),
			 S_IOERR);
	ck_assert_int_eq(segments(T_DISCARD, &s, 1), S_IOERR);
	ck_assert_int_eq(segments(T_WRITE_ZEROES, &s, 1), S_IOERR);
	pread_img(back, sizeof(back), 0);
	ck_assert_mem_eq(back, data, sizeof(data));
	/* Reads and flushes still work. */
	ck_assert_int_eq(simple(T_IN, 0, NULL, 0, 4096, NULL), S_OK);
	ck_assert_int_eq(simple(T_FLUSH, 0, NULL, 0, 0, NULL), S_OK);
	stop();
}
END_TEST

/* ---- bad requests ------------------------------------------------------ */

START_TEST(bad_requests)
{
	uint8_t data[1024] = { 1 }, before[4096], after[4096];
	uint32_t written;
	uint16_t id;
	struct req r;

	start(_i, 1, NULL, NULL);
	fill(before, sizeof(before), 4);
	pwrite_img(before, sizeof(before), IMAGE_SIZE - sizeof(before));
	/* Past the end, straddling the end, and an overflowing sector. */
	ck_assert_int_eq(simple(T_IN, IMAGE_SECTORS, NULL, 0, 512, NULL),
			 S_IOERR);
	ck_assert_int_eq(simple(T_OUT, IMAGE_SECTORS - 1, data, 1024, 0,
				NULL), S_IOERR);
	ck_assert_int_eq(simple(T_OUT, UINT64_MAX >> 9, data, 1024, 0, NULL),
			 S_IOERR);
	ck_assert_int_eq(simple(T_OUT, UINT64_MAX, data, 1024, 0, NULL),
			 S_IOERR);
	/* Data that is not whole sectors. */
	ck_assert_int_eq(simple(T_OUT, 0, data, 100, 0, NULL), S_IOERR);
	ck_assert_int_eq(simple(T_IN, 0, NULL, 0, 700, NULL), S_IOERR);
	/* Unknown type. */
	ck_assert_int_eq(simple(99, 0, NULL, 0, 0, &written), S_UNSUPP);
	ck_assert_int_eq(written, 1);
	/* A header of 8 bytes. */
	memset(&r, 0, sizeof(r));
	req_out(&r, data, 8);
	req_in(&r, 1);
	r.status_gpa = r.buf[1].gpa;
	ck_assert_int_eq(run(&r, &written, false), S_IOERR);
	/* No status byte at all: the chain comes back with nothing
	 * written, and the device goes on. */
	memset(&r, 0, sizeof(r));
	{
		struct hdr h = { .type = T_OUT, .sector = 0 };

		req_out(&r, &h, sizeof(h));
		req_out(&r, data, 512);
	}
	req_post(t.vq[0], &r, false);
	vhf_vq_kick(t.vq[0]);
	wait_used(t.vq[0], &id, &written);
	ck_assert_int_eq(id, r.id);
	ck_assert_int_eq(written, 0);
	pread_img(after, 512, 0);
	ck_assert(is_zero(after, 512));

	pread_img(after, sizeof(after), IMAGE_SIZE - sizeof(after));
	ck_assert_mem_eq(after, before, sizeof(after));
	ck_assert_int_eq(simple(T_IN, 0, NULL, 0, 512, NULL), S_OK);
	stop();
}
END_TEST

/* ---- null backing, queues, full rings ------------------------------------ */

START_TEST(null_backing)
{
	uint8_t data[4096] = { 0 };
	struct seg s = { .sector = 0, .num_sectors = 8 };

	start(_i, 1, "null:1G", NULL);
	ck_assert_int_eq(simple(T_OUT, 0, data, sizeof(data), 0, NULL), S_OK);
	ck_assert_int_eq(simple(T_IN, (1u << 21) - 8, NULL, 0, 4096, NULL),
			 S_OK);
	ck_assert_int_eq(simple(T_IN, 1u << 21, NULL, 0, 512, NULL),
			 S_IOERR);
	ck_assert_int_eq(simple(T_FLUSH, 0, NULL, 0, 0, NULL), S_OK);
	ck_assert_int_eq(segments(T_DISCARD, &s, 1), S_OK);
	ck_assert_int_eq(segments(T_WRITE_ZEROES, &s, 1), S_OK);
	stop();
}
END_TEST

/* Every queue gets a full ring of reads at once, with the daemon's slots
 * exactly as many as the ring's entries; each must come back with the
 * image's bytes. _i % 2: packed; _i / 2: null backing. Two workers serve
 * the four queues. */
START_TEST(queues_full_rings)
{
	static struct req r[MAX_QUEUES][RING_SIZE];
	uint8_t img[4096];
	bool null = _i >= 2;

	start(_i % 2, MAX_QUEUES, null ? "null:64M" : NULL,
	      "--num-queues=4", "--threads=2", "--queue-size=128", NULL);
	fill(img, sizeof(img), 5);
	if (!null)
		pwrite_img(img, sizeof(img), 0);
	for (unsigned int q = 0; q < MAX_QUEUES; q++) {
		for (unsigned int k = 0; k < RING_SIZE; k++) {
			req_make(&r[q][k], T_IN, 0, NULL, 0, 4096);
			/* Indirect: one descriptor per chain fills the
			 * ring with RING_SIZE requests. */
			req_post(t.vq[q], &r[q][k], true);
		}
		vhf_vq_kick(t.vq[q]);
	}
	for (unsigned int q = 0; q < MAX_QUEUES; q++) {
		for (unsigned int k = 0; k < RING_SIZE; k++) {
			uint16_t id;
			uint32_t len;
			struct req *done = NULL;

			wait_used(t.vq[q], &id, &len);
			for (unsigned int j = 0; j < RING_SIZE; j++)
				if (r[q][j].id == id)
					done = &r[q][j];
			ck_assert_ptr_nonnull(done);
			ck_assert_int_eq(len, 4097);
			ck_assert_int_eq(*(uint8_t *)gptr(done->status_gpa, 1),
					 S_OK);
			if (!null)
				ck_assert_mem_eq(gptr(done->in_gpa, 4096),
						 img, 4096);
			done->id = -1;
		}
	}
	stop();
}
END_TEST

/* ---- config space and resize ------------------------------------------ */

static uint64_t config_u64(unsigned int offset)
{
	uint64_t v = 0;

	ck_assert_int_eq(vhf_get_config(t.c, offset, &v, 8, 0), 8);
	return v;
}

static uint32_t config_u32(unsigned int offset)
{
	uint32_t v = 0;

	ck_assert_int_eq(vhf_get_config(t.c, offset, &v, 4, 0), 4);
	return v;
}

START_TEST(config_and_resize)
{
	uint8_t cfg[96], wb = 0;
	struct vhf_msg msg;
	int r;

	start(_i, 2, NULL, "--num-queues=2", NULL);
	/* QEMU reads its whole struct, zoned fields included. */
	ck_assert_int_eq(vhf_get_config(t.c, 0, cfg, sizeof(cfg), 0),
			 sizeof(cfg));
	ck_assert_int_eq(config_u64(0), IMAGE_SECTORS);
	ck_assert_int_eq(config_u32(12), 126);            /* seg_max */
	ck_assert_int_eq(config_u32(20), 512);            /* blk_size */
	ck_assert_int_eq(cfg[34] | cfg[35] << 8, 2);      /* num_queues */
	ck_assert_int_eq(config_u32(40), 32);             /* max_discard_seg */
	ck_assert_int_eq(cfg[56], 1);                     /* may unmap */
	ck_assert_int_eq(cfg[32], 1);                     /* writeback */

	/* The guest turns the write cache off. */
	ck_assert_int_eq(vhf_set_config(t.c, 32, &wb, 1, 0), 0);
	ck_assert_int_eq(vhf_get_config(t.c, 32, &wb, 1, 0), 1);
	ck_assert_int_eq(wb, 0);
	/* Other bytes are not writable. */
	ck_assert_int_lt(vhf_set_config(t.c, 0, cfg, 8, 0), 0);
	ck_assert_int_eq(simple(T_OUT, 0, cfg, 0, 0, NULL), S_OK);

	/* Resize: the image grows, SIGHUP, a config change message. */
	ck_assert_int_eq(truncate(t.img, 2 * IMAGE_SIZE), 0);
	kill(t.pid, SIGHUP);
	vhf_conn_set_timeout(t.chan, 5000);
	vhf_msg_init(&msg);
	r = vhf_recv(t.chan, &msg);
	ck_assert_msg(r >= 0, "back-end channel: %s", strerror(-r));
	ck_assert_int_eq(msg.request, VHF_BE_CONFIG_CHANGE_MSG);
	vhf_backend_ack(t.chan, &msg, 0);
	vhf_msg_close_fds(&msg);
	ck_assert_int_eq(config_u64(0), 2 * IMAGE_SECTORS);
	/* The new sectors are served. */
	ck_assert_int_eq(simple(T_IN, 2 * IMAGE_SECTORS - 1, NULL, 0, 512,
				NULL), S_OK);

	/* Shrinking, noticed by the once-a-second check alone. */
	ck_assert_int_eq(truncate(t.img, IMAGE_SIZE / 2), 0);
	vhf_msg_init(&msg);
	r = vhf_recv(t.chan, &msg);
	ck_assert_msg(r >= 0, "back-end channel: %s", strerror(-r));
	ck_assert_int_eq(msg.request, VHF_BE_CONFIG_CHANGE_MSG);
	vhf_backend_ack(t.chan, &msg, 0);
	vhf_msg_close_fds(&msg);
	ck_assert_int_eq(config_u64(0), IMAGE_SECTORS / 2);
	ck_assert_int_eq(simple(T_IN, IMAGE_SECTORS / 2, NULL, 0, 512, NULL),
			 S_IOERR);
	ck_assert_int_eq(simple(T_IN, IMAGE_SECTORS / 2 - 1, NULL, 0, 512,
				NULL), S_OK);
	stop();
}
END_TEST

/* --client: the daemon connects to a front end that listens, retrying
 * until it does, and connects again after the front end left. */
START_TEST(client_mode)
{
	uint8_t data[4096];
	int lfd, r;

	start_daemon(NULL, "--client", NULL);
	/* Nobody listens yet: the daemon keeps trying. */
	usleep(300 * 1000);
	ck_assert_int_eq(waitpid(t.pid, &r, WNOHANG), 0);
	ck_assert_int_eq(vhf_listen(t.sock, &lfd), 0);
	for (unsigned int round = 0; round < 2; round++) {
		r = vhf_accept(lfd, 10000, &t.c);
		ck_assert_msg(r == 0, "accept: %s", strerror(-r));
		setup_device(_i, 1);
		fill(data, sizeof(data), 7 + round);
		ck_assert_int_eq(simple(T_OUT, 16, data, sizeof(data), 0,
					NULL), S_OK);
		ck_assert_int_eq(simple(T_IN, 16, NULL, 0, 4096, NULL), S_OK);
		if (round == 0) {
			/* The front end leaves; the daemon comes back. */
			vhf_vq_free(t.vq[0]);
			vhf_conn_free(t.chan);
			vhf_conn_free(t.c);
			vhf_mem_free(t.m);
			t.vq[0] = NULL;
			t.chan = t.c = NULL;
			t.m = NULL;
		}
	}
	close(lfd);
	stop();
}
END_TEST

/* The front end stops a ring while reads are in flight (GET_VRING_BASE)
 * and changes the memory table while the workers run: the daemon must
 * finish every popped request before the stop is answered, then serve the
 * restarted ring. _i % 2: packed; _i / 2: --poll. */
START_TEST(stop_while_busy)
{
	static struct req r[RING_SIZE];
	bool poll = _i >= 2;
	uint32_t base;

	start(_i % 2, 1, NULL, poll ? "--poll" : NULL, NULL);
	for (unsigned int round = 0; round < 3; round++) {
		unsigned int used = 0;
		uint16_t id;
		uint32_t len;

		for (unsigned int k = 0; k < RING_SIZE; k++) {
			req_make(&r[k], T_IN, k * 8, NULL, 0, 4096);
			req_post(t.vq[0], &r[k], true);
		}
		vhf_vq_kick(t.vq[0]);
		/* Memory table again: every worker quiesces and resumes. */
		ck_assert_int_eq(vhf_set_mem_table(t.c, t.m), 0);
		ck_assert_int_eq(vhf_vq_stop(t.c, t.vq[0], &base), 0);
		/* What the daemon took is all done by now; what it did not
		 * take is still in the ring for the restarted one. */
		while (vhf_vq_get_used(t.vq[0], &id, &len) == 1) {
			ck_assert_int_eq(len, 4097);
			used++;
		}
		ck_assert_int_eq(vhf_vq_inflight(t.vq[0]), RING_SIZE - used);
		ck_assert_int_eq(vhf_vq_setup(t.c, t.vq[0]), 0);
		ck_assert_int_eq(vhf_vq_enable(t.c, t.vq[0], true), 0);
		vhf_vq_kick(t.vq[0]);
		while (used < RING_SIZE) {
			wait_used(t.vq[0], &id, &len);
			ck_assert_int_eq(len, 4097);
			used++;
		}
	}
	ck_assert_int_eq(simple(T_IN, 0, NULL, 0, 512, NULL), S_OK);
	stop();
}
END_TEST

/* SIGTERM while the front end is still connected and the queue runs, with
 * debug logging: the device outlives the daemon object and logs as its
 * queues stop, which once went through the freed daemon (a crash on
 * exit). The daemon must still exit with status 0. _i: packed. */
START_TEST(sigterm_while_connected)
{
	int status;

	start(_i, 1, NULL, "--verbose", "--verbose", NULL);
	ck_assert_int_eq(simple(T_IN, 0, NULL, 0, 512, NULL), S_OK);
	kill(t.pid, SIGTERM);
	ck_assert_int_eq(waitpid(t.pid, &status, 0), t.pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "daemon status %d", status);
	for (unsigned int i = 0; i < t.nq; i++)
		vhf_vq_free(t.vq[i]);
	vhf_conn_free(t.chan);
	vhf_conn_free(t.c);
	vhf_mem_free(t.m);
	unlink(t.img);
	unlink(t.sock);
	rmdir(t.dir);
	memset(&t, 0, sizeof(t));
}
END_TEST

/* A host block device (BLK_PROTO_DEVICE, a loop device of IMAGE_SIZE set
 * up by blk-loop.test): reads and writes, discard through the helper
 * thread's BLKDISCARD, write-zeroes with and without unmap through
 * fallocate(), and the refusals. _i: packed. */
START_TEST(block_device)
{
	const char *dev = getenv("BLK_PROTO_DEVICE");
	uint8_t data[65536], back[65536];
	struct seg s[2];

	start(_i, 1, dev, "--cache=none", NULL);
	fill(data, sizeof(data), 6);
	ck_assert_int_eq(simple(T_OUT, 0, data, sizeof(data), 0, NULL), S_OK);
	ck_assert_int_eq(simple(T_FLUSH, 0, NULL, 0, 0, NULL), S_OK);
	pread_img(back, sizeof(back), 0);
	ck_assert_mem_eq(back, data, sizeof(data));

	s[0] = (struct seg){ .sector = 0, .num_sectors = 16 };
	s[1] = (struct seg){ .sector = 64, .num_sectors = 16 };
	ck_assert_int_eq(segments(T_DISCARD, s, 2), S_OK);
	/* A loop device discards by punching holes: zeroes. */
	pread_img(back, sizeof(back), 0);
	ck_assert(is_zero(back, 8192));
	ck_assert_mem_eq(back + 8192, data + 8192, 32768 - 8192);
	ck_assert(is_zero(back + 32768, 8192));

	pwrite_img(data, sizeof(data), 0);
	s[0] = (struct seg){ .sector = 16, .num_sectors = 8 };
	s[1] = (struct seg){ .sector = 80, .num_sectors = 8,
			     .flags = WZ_UNMAP };
	ck_assert_int_eq(segments(T_WRITE_ZEROES, s, 2), S_OK);
	pread_img(back, sizeof(back), 0);
	ck_assert_mem_eq(back, data, 8192);
	ck_assert(is_zero(back + 8192, 4096));
	ck_assert(is_zero(back + 40960, 4096));
	ck_assert_mem_eq(back + 45056, data + 45056, 65536 - 45056);

	s[1] = (struct seg){ .sector = IMAGE_SECTORS, .num_sectors = 8 };
	ck_assert_int_eq(segments(T_DISCARD, s, 2), S_IOERR);
	ck_assert_int_eq(simple(T_IN, IMAGE_SECTORS, NULL, 0, 512, NULL),
			 S_IOERR);
	stop();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vhostdev-blk protocol");
	TCase *tc = tcase_create("blk");
	SRunner *sr;
	int failed;

	if (access(daemon_path(), X_OK) != 0) {
		fprintf(stderr, "%s is not built\n", daemon_path());
		return 1;
	}
	tcase_set_timeout(tc, 60);
	if (getenv("BLK_PROTO_DEVICE")) {
		/* Only that: blk-loop.test runs it on its loop device. */
		tcase_add_loop_test(tc, block_device, 0, 2);
	} else {
		tcase_add_loop_test(tc, write_read_flush, 0, 2);
		tcase_add_loop_test(tc, get_id, 0, 2);
		tcase_add_loop_test(tc, discard_write_zeroes, 0, 2);
		tcase_add_loop_test(tc, read_only, 0, 2);
		tcase_add_loop_test(tc, bad_requests, 0, 2);
		tcase_add_loop_test(tc, null_backing, 0, 2);
		tcase_add_loop_test(tc, queues_full_rings, 0, 4);
		tcase_add_loop_test(tc, config_and_resize, 0, 2);
		tcase_add_loop_test(tc, stop_while_busy, 0, 4);
		tcase_add_loop_test(tc, client_mode, 0, 2);
		tcase_add_loop_test(tc, sigterm_while_connected, 0, 2);
	}
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
