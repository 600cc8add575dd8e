/* SPDX-License-Identifier: MIT */
/*
 * FUSE-level test of vhostdev-fs without a guest: our own front end
 * (frontend/) sets up the hiprio queue and one request queue, then sends
 * FUSE requests (INIT, LOOKUP, GETATTR, CREATE, WRITE, READ, READDIR,
 * READLINK, FORGET, ...) as a guest driver would and checks each reply,
 * including escape attempts: ".." at the root, names holding '/', a
 * planted symlink pointing outside, unknown node ids and opcodes, short
 * requests.
 *
 *   fuse-proto SOCKET SHARED-DIR [DAEMON-PID]
 *   fuse-proto --latency SOCKET N
 *   fuse-proto --quiesce SOCKET N
 *   fuse-proto --idle SOCKET SECONDS
 *   fuse-proto --readonly-never SOCKET
 *   fuse-proto --concurrent SOCKET SHARED-DIR
 *   fuse-proto --init SOCKET
 *
 * --readonly-never checks a daemon started with --readonly --cache=never:
 * every change refused with EROFS, reads allowed, FOPEN_DIRECT_IO and no
 * entry or attribute caching.
 * --latency times N round trips of GETATTR and of LOOKUP (hello.txt), N
 * rounds of what a guest's touch and rm send (CREATE, FLUSH, RELEASE,
 * UNLINK, FORGET) and N 60 KiB WRITEs, on any virtio-fs back end, so
 * daemons can be compared without a guest; it also prints the share of
 * the GETATTRs and LOOKUPs that needed a kick (a polling back end
 * suppresses them).
 *
 * --quiesce sends N GETATTRs, each followed by a SET_VRING_CALL, which
 * the back end handles with its workers stopped (a polling worker must
 * stop polling, then serve again).
 * --idle sends a burst of GETATTRs, then keeps the rings set up and empty
 * for SECONDS (the caller measures the back end's CPU meanwhile).
 * --init offers every FUSE_INIT flag and prints what the back end (ours
 * or another) answers, so that two daemons' negotiations can be compared.
 * --concurrent keeps two request queues full at once (a daemon with a
 * thread pool serves them out of order): LOOKUP, GETATTR, READ, UNLINK of
 * many files in SHARED-DIR (it creates them), and FORGETs on the
 * high-priority queue racing GETATTRs of the same nodes; every reply is
 * matched to its request and checked. Last, GET_VRING_BASE of both request
 * queues while READs are in flight: the used index must equal the base
 * (the daemon answered everything it took), and the rest are served after
 * the queues restart.
 *
 * With DAEMON-PID, also checks that FORGET releases what LOOKUP and
 * CREATE took: the daemon's open descriptors grow with each new node and
 * fall back once the nodes are forgotten.
 *
 * SHARED-DIR must hold hello.txt ("hello from the host\n") and a symlink
 * "out" to "../canary.txt". Exit status 0 when every check held.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vhostfront.h"

#define RING_SIZE 64
#define BUF_SIZE (64 * 1024)
#define WAIT_MS 5000

static int failures;
static struct vhf_conn *conn;
static struct vhf_mem *mem;
static struct vhf_vq *vqs[3];
/* Queues set up: hiprio and two request queues, or one for --latency
 * (QEMU 7.2's virtiofsd serves one request queue only). */
static unsigned int nvqs = 3;
static uint64_t out_gpa, in_gpa;
static uint64_t unique = 1;
/* call_q(): requests sent, and kicks the back end did not suppress. */
static unsigned long requests_sent, kicks_sent;

#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		if (cond) {                                                   \
			printf("ok: " __VA_ARGS__);                           \
			printf("\n");                                         \
		} else {                                                      \
			printf("FAIL: " __VA_ARGS__);                         \
			printf(" (line %d)\n", __LINE__);                     \
			failures++;                                           \
		}                                                             \
	} while (0)

/* Sends one FUSE request on queue q: header, then arg (args[0..n)),
 * concatenated. Returns the reply's error (0 or -errno) and copies its
 * payload to reply (at most reply_size); -ETIMEDOUT if none came, 1 when
 * the request was completed without a reply (FORGET). *reply_len gets
 * the payload length. */
static int call_q(int q, uint32_t opcode, uint64_t nodeid, const void *arg,
		  size_t arg_size, void *reply, size_t reply_size,
		  size_t *reply_len)
{
	struct fuse_in_header *ih = vhf_mem_ptr(mem, out_gpa, BUF_SIZE);
	struct fuse_out_header *oh = vhf_mem_ptr(mem, in_gpa, BUF_SIZE);
	struct vhf_buf bufs[2] = {
		{ out_gpa, (uint32_t)(sizeof(*ih) + arg_size) },
		{ in_gpa, BUF_SIZE },
	};
	unsigned int nin = opcode == FUSE_FORGET ||
				   opcode == FUSE_BATCH_FORGET ? 0 : 1;
	uint16_t id;
	uint32_t len;
	int r;

	memset(ih, 0, sizeof(*ih));
	memset(oh, 0xff, sizeof(*oh));
	ih->len = bufs[0].len;
	ih->opcode = opcode;
	ih->unique = unique++;
	ih->nodeid = nodeid;
	if (arg_size)
		memcpy(ih + 1, arg, arg_size);
	if (vhf_vq_add(vqs[q], bufs, 1, nin, false) < 0)
		return -ENOSPC;
	requests_sent++;
	if (vhf_vq_kick(vqs[q]) > 0)
		kicks_sent++;
	while ((r = vhf_vq_get_used(vqs[q], &id, &len)) == 0) {
		r = vhf_vq_wait_call(vqs[q], WAIT_MS);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	if (reply_len)
		*reply_len = 0;
	if (!nin || len == 0)
		return 1;
	if (len < sizeof(*oh) || oh->len != len || oh->unique != ih->unique)
		return -EPROTO;
	if (reply_len)
		*reply_len = len - sizeof(*oh);
	if (reply)
		memcpy(reply, oh + 1, len - sizeof(*oh) < reply_size
				      ? len - sizeof(*oh) : reply_size);
	return oh->error;
}

static int call(uint32_t opcode, uint64_t nodeid, const void *arg,
		size_t arg_size, void *reply, size_t reply_size)
{
	return call_q(1, opcode, nodeid, arg, arg_size, reply, reply_size,
		      NULL);
}

static int lookup(uint64_t dir, const char *name, struct fuse_entry_out *e)
{
	memset(e, 0, sizeof(*e));
	return call(FUSE_LOOKUP, dir, name, strlen(name) + 1, e, sizeof(*e));
}

static int setup(const char *path)
{
	struct vhf_conn *c;
	uint64_t features;
	int r;

	r = vhf_connect(path, WAIT_MS, &c);
	if (r < 0)
		return r;
	if ((r = vhf_negotiate(c, VHF_BIT(VHF_F_VERSION_1) |
			       VHF_BIT(VHF_F_EVENT_IDX) |
			       VHF_BIT(VHF_F_PROTOCOL_FEATURES),
			       VHF_BIT(VHF_PF_REPLY_ACK) | VHF_BIT(VHF_PF_MQ),
			       &features, NULL)) < 0 ||
	    (r = vhf_mem_new(&mem)) < 0 ||
	    (r = vhf_mem_add(mem, 0x100000, 4 << 20, 0)) < 0 ||
	    (r = vhf_set_mem_table(c, mem)) < 0 ||
	    (r = vhf_mem_alloc(mem, BUF_SIZE, 4096, -1, &out_gpa)) < 0 ||
	    (r = vhf_mem_alloc(mem, BUF_SIZE, 4096, -1, &in_gpa)) < 0)
		return r;
	for (unsigned int q = 0; q < nvqs; q++) {
		if ((r = vhf_vq_new(mem, q, RING_SIZE,
				    vhf_vq_flags_for(features), -1,
				    &vqs[q])) < 0 ||
		    (r = vhf_vq_setup(c, vqs[q])) < 0 ||
		    (r = vhf_vq_enable(c, vqs[q], true)) < 0)
			return r;
	}
	/* The connection stays open until teardown(). */
	conn = c;
	return 0;
}

static void teardown(void)
{
	for (unsigned int q = 0; q < nvqs; q++)
		vhf_vq_free(vqs[q]);
	vhf_conn_free(conn);
	vhf_mem_free(mem);
}

/* The end of a checking mode: teardown and the verdict (exit status). */
static int finish(void)
{
	teardown();
	if (failures) {
		printf("%d check(s) failed\n", failures);
		return 1;
	}
	printf("all checks passed\n");
	return 0;
}

static void test_init(void)
{
	struct fuse_init_in in = {
		.major = 7, .minor = 31, .max_readahead = 65536,
		.flags = FUSE_DO_READDIRPLUS | FUSE_MAX_PAGES |
			 FUSE_POSIX_LOCKS | FUSE_WRITEBACK_CACHE,
	};
	struct fuse_init_out out;
	struct fuse_entry_out e;
	int r;

	r = lookup(FUSE_ROOT_ID, "hello.txt", &e);
	CHECK(r == -EIO, "LOOKUP before INIT fails with EIO (%d)", r);

	memset(&out, 0, sizeof(out));
	r = call(FUSE_INIT, 0, &in, sizeof(in), &out, sizeof(out));
	CHECK(r == 0 && out.major == 7 && out.minor == 31,
	      "INIT 7.31 answered with 7.%u (%d)", out.minor, r);
	CHECK((out.flags & FUSE_DO_READDIRPLUS) &&
	      (out.flags & FUSE_MAX_PAGES) && out.max_pages > 0,
	      "INIT agrees to READDIRPLUS and MAX_PAGES (flags %#x)",
	      out.flags);
	CHECK(!(out.flags & (FUSE_POSIX_LOCKS | FUSE_WRITEBACK_CACHE)),
	      "INIT refuses what it does not implement (flags %#x)",
	      out.flags);
	CHECK(!(out.flags & FUSE_ASYNC_READ),
	      "INIT offers nothing the guest did not (flags %#x)", out.flags);

	in.minor = 99;
	in.flags = FUSE_ASYNC_READ;
	r = call(FUSE_INIT, 0, &in, sizeof(in), &out, sizeof(out));
	CHECK(r == 0 && out.minor == FUSE_KERNEL_MINOR_VERSION,
	      "INIT 7.99 answered with our 7.%u", out.minor);
	in.minor = 10;
	r = call(FUSE_INIT, 0, &in, sizeof(in), &out, sizeof(out));
	CHECK(r == -EPROTO, "INIT 7.10 refused (%d)", r);
	in.minor = FUSE_KERNEL_MINOR_VERSION;
	r = call(FUSE_INIT, 0, &in, sizeof(in), &out, sizeof(out));
	CHECK(r == 0, "INIT again");
}

static void test_files(const char *share)
{
	struct fuse_entry_out e, root;
	struct fuse_attr_out a;
	char buf[4096];
	char path[4096];
	int r;

	r = call(FUSE_GETATTR, FUSE_ROOT_ID,
		 &(struct fuse_getattr_in){ 0 },
		 sizeof(struct fuse_getattr_in), &a, sizeof(a));
	CHECK(r == 0 && S_ISDIR(a.attr.mode), "GETATTR of the root");

	r = lookup(FUSE_ROOT_ID, "hello.txt", &e);
	CHECK(r == 0 && e.nodeid > FUSE_ROOT_ID && e.attr.size == 20 &&
	      S_ISREG(e.attr.mode), "LOOKUP hello.txt (%d, size %llu)", r,
	      (unsigned long long)e.attr.size);
	{
		struct fuse_entry_out e2;

		r = lookup(FUSE_ROOT_ID, "hello.txt", &e2);
		CHECK(r == 0 && e2.nodeid == e.nodeid &&
		      e2.generation == e.generation,
		      "the same file is the same node");
	}
	{
		struct {
			struct fuse_open_in o;
		} oin = { { .flags = O_RDONLY } };
		struct fuse_open_out oo;
		struct fuse_read_in rin = { 0 };

		r = call(FUSE_OPEN, e.nodeid, &oin, sizeof(oin), &oo,
			 sizeof(oo));
		CHECK(r == 0 && oo.fh, "OPEN hello.txt");
		rin.fh = oo.fh;
		rin.size = 100;
		memset(buf, 0, sizeof(buf));
		r = call(FUSE_READ, 0, &rin, sizeof(rin), buf, sizeof(buf));
		CHECK(r == 0 && !strcmp(buf, "hello from the host\n"),
		      "READ hello.txt: '%.20s'", buf);
		r = call(FUSE_RELEASE, 0,
			 &(struct fuse_release_in){ .fh = oo.fh },
			 sizeof(struct fuse_release_in), NULL, 0);
		CHECK(r == 0, "RELEASE");
		r = call(FUSE_READ, 0, &rin, sizeof(rin), buf, sizeof(buf));
		CHECK(r == -EBADF, "READ after RELEASE: EBADF (%d)", r);
	}

	/* CREATE, WRITE, READ back, and the host sees the bytes. */
	{
		struct {
			struct fuse_create_in c;
			char name[8];
		} cin = { { .flags = O_RDWR, .mode = S_IFREG | 0644 },
			  "new.txt" };
		struct {
			struct fuse_entry_out e;
			struct fuse_open_out o;
		} cout;
		struct {
			struct fuse_write_in w;
			char data[7];
		} win = { { .size = 7 }, { 'p', 'a', 'y', 'l', 'o', 'a', 'd' } };
		struct fuse_write_out wout;
		struct fuse_read_in rin = { .size = 64 };
		FILE *f;

		r = call(FUSE_CREATE, FUSE_ROOT_ID, &cin, sizeof(cin), &cout,
			 sizeof(cout));
		CHECK(r == 0 && cout.e.nodeid && cout.o.fh, "CREATE new.txt");
		win.w.fh = cout.o.fh;
		r = call(FUSE_WRITE, 0, &win, sizeof(win), &wout,
			 sizeof(wout));
		CHECK(r == 0 && wout.size == 7, "WRITE 7 bytes (%d, %u)", r,
		      wout.size);
		rin.fh = cout.o.fh;
		memset(buf, 0, sizeof(buf));
		r = call(FUSE_READ, 0, &rin, sizeof(rin), buf, sizeof(buf));
		CHECK(r == 0 && !strcmp(buf, "payload"), "READ back '%s'",
		      buf);
		snprintf(path, sizeof(path), "%s/new.txt", share);
		memset(buf, 0, sizeof(buf));
		f = fopen(path, "r");
		if (f) {
			if (!fgets(buf, sizeof(buf), f))
				buf[0] = '\0';
			fclose(f);
		}
		CHECK(!strcmp(buf, "payload"), "the host reads '%s'", buf);
		win.w.size = 1000; /* more than was sent */
		r = call(FUSE_WRITE, 0, &win, sizeof(win), &wout,
			 sizeof(wout));
		CHECK(r == -EINVAL, "WRITE longer than its data: EINVAL (%d)",
		      r);
		call(FUSE_RELEASE, 0,
		     &(struct fuse_release_in){ .fh = cout.o.fh },
		     sizeof(struct fuse_release_in), NULL, 0);
	}

	/* READDIR lists what is there. */
	{
		struct fuse_open_out oo;
		struct fuse_read_in rin = { .size = 4096 };
		size_t len = 0;
		bool hello = false, created = false;

		r = call(FUSE_OPENDIR, FUSE_ROOT_ID,
			 &(struct fuse_open_in){ 0 },
			 sizeof(struct fuse_open_in), &oo, sizeof(oo));
		CHECK(r == 0, "OPENDIR the root");
		rin.fh = oo.fh;
		r = call_q(1, FUSE_READDIR, FUSE_ROOT_ID, &rin, sizeof(rin),
			   buf, sizeof(buf), &len);
		for (size_t off = 0; r == 0 && off + FUSE_NAME_OFFSET <= len;) {
			struct fuse_dirent *d = (void *)(buf + off);

			if (d->namelen == 9 && !memcmp(d->name, "hello.txt", 9))
				hello = true;
			if (d->namelen == 7 && !memcmp(d->name, "new.txt", 7))
				created = true;
			off += FUSE_DIRENT_SIZE(d);
		}
		CHECK(r == 0 && hello && created,
		      "READDIR lists hello.txt and new.txt (%zu bytes)", len);
		r = call(FUSE_RELEASEDIR, 0,
			 &(struct fuse_release_in){ .fh = oo.fh },
			 sizeof(struct fuse_release_in), NULL, 0);
		CHECK(r == 0, "RELEASEDIR");
	}

	/* ".." of the root is the root. */
	r = lookup(FUSE_ROOT_ID, ".", &root);
	CHECK(r == 0, "LOOKUP . at the root");
	r = lookup(FUSE_ROOT_ID, "..", &e);
	CHECK(r == 0 && e.attr.ino == root.attr.ino,
	      "LOOKUP .. at the root is the root (ino %llu vs %llu)",
	      (unsigned long long)e.attr.ino,
	      (unsigned long long)root.attr.ino);
}

/* ".." inside the share is the parent; once the host moves a directory
 * the guest holds out of the share, its ".." is refused. */
static void test_dotdot(const char *share)
{
	struct fuse_entry_out sub, inner, up;
	char path[4096], moved[4096];
	int r;

	snprintf(path, sizeof(path), "%s/sub", share);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/sub/inner", share);
	mkdir(path, 0755);
	r = lookup(FUSE_ROOT_ID, "sub", &sub);
	if (r == 0)
		r = lookup(sub.nodeid, "inner", &inner);
	CHECK(r == 0, "LOOKUP sub and sub/inner");
	r = lookup(inner.nodeid, "..", &up);
	CHECK(r == 0 && up.attr.ino == sub.attr.ino,
	      "LOOKUP .. in sub/inner is sub (%d)", r);

	snprintf(path, sizeof(path), "%s/sub", share);
	snprintf(moved, sizeof(moved), "%s/../moved-out", share);
	if (rename(path, moved) < 0) {
		CHECK(0, "host: moving sub out of the share: %s",
		      strerror(errno));
		return;
	}
	r = lookup(sub.nodeid, "..", &up);
	CHECK(r == -EACCES, "LOOKUP .. of a directory moved out: EACCES (%d)",
	      r);
	r = lookup(inner.nodeid, "..", &up);
	CHECK(r == -EACCES,
	      "LOOKUP .. below a directory moved out: EACCES (%d)", r);
	rename(moved, path);
	r = lookup(sub.nodeid, "..", &up);
	CHECK(r == 0 && up.attr.ino != sub.attr.ino,
	      "LOOKUP .. once it is back: the root (%d)", r);
}

/* The second request queue has its own worker: requests on both queues,
 * in flight together, are all answered. */
static void test_two_queues(void)
{
	static const char name[] = "hello.txt";
	struct fuse_in_header *ih[2];
	uint64_t gpa[4];
	int r = 0, answered = 0;

	for (int i = 0; i < 4 && r == 0; i++)
		r = vhf_mem_alloc(mem, 4096, 4096, -1, &gpa[i]);
	if (r < 0) {
		CHECK(0, "allocating buffers: %s", strerror(-r));
		return;
	}
	for (int q = 0; q < 2; q++) {
		struct vhf_buf bufs[2] = {
			{ gpa[2 * q], (uint32_t)(sizeof(**ih) + sizeof(name)) },
			{ gpa[2 * q + 1], 4096 },
		};

		ih[q] = vhf_mem_ptr(mem, gpa[2 * q], 4096);
		memset(ih[q], 0, sizeof(**ih));
		ih[q]->len = bufs[0].len;
		ih[q]->opcode = FUSE_LOOKUP;
		ih[q]->unique = unique++;
		ih[q]->nodeid = FUSE_ROOT_ID;
		memcpy(ih[q] + 1, name, sizeof(name));
		vhf_vq_add(vqs[1 + q], bufs, 1, 1, false);
	}
	vhf_vq_kick(vqs[1]);
	vhf_vq_kick(vqs[2]);
	for (int q = 0; q < 2; q++) {
		struct fuse_out_header *oh =
			vhf_mem_ptr(mem, gpa[2 * q + 1], 4096);
		uint16_t id;
		uint32_t len;

		while ((r = vhf_vq_get_used(vqs[1 + q], &id, &len)) == 0)
			if (vhf_vq_wait_call(vqs[1 + q], WAIT_MS) < 0)
				break;
		if (r == 1 && oh->unique == ih[q]->unique && oh->error == 0 &&
		    len == sizeof(*oh) + sizeof(struct fuse_entry_out))
			answered++;
	}
	CHECK(answered == 2, "LOOKUP on request queues 1 and 2 at once: "
	      "%d answered", answered);
}

static void test_escapes(void)
{
	struct fuse_entry_out e;
	char buf[4096];
	int r;

	r = lookup(FUSE_ROOT_ID, "../canary.txt", &e);
	CHECK(r == -EINVAL, "LOOKUP ../canary.txt: EINVAL (%d)", r);
	r = lookup(FUSE_ROOT_ID, "/etc/passwd", &e);
	CHECK(r == -EINVAL, "LOOKUP /etc/passwd: EINVAL (%d)", r);
	r = lookup(FUSE_ROOT_ID, "out/x", &e);
	CHECK(r == -EINVAL, "LOOKUP out/x: EINVAL (%d)", r);
	r = lookup(FUSE_ROOT_ID, "", &e);
	CHECK(r == -EINVAL, "LOOKUP of an empty name: EINVAL (%d)", r);
	r = call(FUSE_LOOKUP, FUSE_ROOT_ID, "no-nul", 6, &e, sizeof(e));
	CHECK(r == -EINVAL, "LOOKUP of a name without NUL: EINVAL (%d)", r);
	r = lookup(123456789, "hello.txt", &e);
	CHECK(r == -ENOENT, "LOOKUP in an unknown node: ENOENT (%d)", r);

	/* The planted symlink is a symlink, never its target. */
	r = lookup(FUSE_ROOT_ID, "out", &e);
	CHECK(r == 0 && S_ISLNK(e.attr.mode), "LOOKUP out is a symlink");
	memset(buf, 0, sizeof(buf));
	r = call(FUSE_READLINK, e.nodeid, NULL, 0, buf, sizeof(buf));
	CHECK(r == 0 && !strcmp(buf, "../canary.txt"), "READLINK out: '%s'",
	      buf);
	r = call(FUSE_OPEN, e.nodeid, &(struct fuse_open_in){ O_RDONLY, 0 },
		 sizeof(struct fuse_open_in), buf, sizeof(buf));
	CHECK(r < 0, "OPEN of the symlink refused (%d)", r);
	r = call(FUSE_OPENDIR, e.nodeid, &(struct fuse_open_in){ 0 },
		 sizeof(struct fuse_open_in), buf, sizeof(buf));
	CHECK(r == -ENOTDIR, "OPENDIR of the symlink: ENOTDIR (%d)", r);
	{
		struct fuse_entry_out e2;

		r = lookup(e.nodeid, "canary.txt", &e2);
		CHECK(r == -ENOTDIR, "LOOKUP through the symlink: ENOTDIR (%d)",
		      r);
	}

	/* New names are single components. */
	{
		struct {
			struct fuse_mkdir_in m;
			char name[8];
		} min = { { .mode = 0755 }, "../esc" };
		struct {
			struct fuse_create_in c;
			char name[16];
		} cin = { { .flags = O_RDWR, .mode = S_IFREG | 0644 },
			  "../tripwire" };
		char sym[] = "evil\0../../tripwire";
		char sym2[] = "../tripwire\0target";
		struct {
			struct fuse_rename_in rn;
			char names[32];
		} rin = { { .newdir = FUSE_ROOT_ID },
			  "new.txt\0../tripwire" };

		r = call(FUSE_MKDIR, FUSE_ROOT_ID, &min, sizeof(min), buf,
			 sizeof(buf));
		CHECK(r == -EINVAL, "MKDIR ../esc: EINVAL (%d)", r);
		memcpy(min.name, "..", 3);
		r = call(FUSE_MKDIR, FUSE_ROOT_ID, &min, sizeof(min), buf,
			 sizeof(buf));
		CHECK(r == -EEXIST, "MKDIR ..: EEXIST (%d)", r);
		r = call(FUSE_CREATE, FUSE_ROOT_ID, &cin, sizeof(cin), buf,
			 sizeof(buf));
		CHECK(r == -EINVAL, "CREATE ../tripwire: EINVAL (%d)", r);
		memcpy(cin.name, "inside", 7);
		r = call(FUSE_CREATE, e.nodeid, &cin, sizeof(cin), buf,
			 sizeof(buf));
		CHECK(r == -ENOTDIR, "CREATE in a symlink: ENOTDIR (%d)", r);
		r = call(FUSE_SYMLINK, FUSE_ROOT_ID, sym, sizeof(sym), buf,
			 sizeof(buf));
		CHECK(r == 0, "SYMLINK evil -> ../../tripwire is stored (%d)",
		      r);
		r = call(FUSE_SYMLINK, FUSE_ROOT_ID, sym2, sizeof(sym2), buf,
			 sizeof(buf));
		CHECK(r == -EINVAL, "SYMLINK named ../tripwire: EINVAL (%d)",
		      r);
		r = call(FUSE_RENAME, FUSE_ROOT_ID, &rin,
			 sizeof(rin.rn) + 8 + 12, buf, sizeof(buf));
		CHECK(r == -EINVAL, "RENAME to ../tripwire: EINVAL (%d)", r);
	}
	{
		struct fuse_entry_out evil;
		struct {
			struct fuse_create_in c;
			char name[8];
		} cin = { { .flags = O_RDWR | O_CREAT, .mode = 0644 }, "evil" };

		r = lookup(FUSE_ROOT_ID, "evil", &evil);
		CHECK(r == 0 && S_ISLNK(evil.attr.mode),
		      "the stored symlink is a symlink");
		/* CREATE on an existing symlink must not follow it. */
		r = call(FUSE_CREATE, FUSE_ROOT_ID, &cin, sizeof(cin), buf,
			 sizeof(buf));
		CHECK(r < 0, "CREATE over the symlink refused (%d)", r);
	}

	/* Broken requests get an error, the daemon keeps serving. */
	r = call(9999, FUSE_ROOT_ID, NULL, 0, buf, sizeof(buf));
	CHECK(r == -ENOSYS, "unknown opcode: ENOSYS (%d)", r);
	r = call(FUSE_SETUPMAPPING, FUSE_ROOT_ID, NULL, 0, buf, sizeof(buf));
	CHECK(r == -ENOSYS, "SETUPMAPPING: ENOSYS (%d)", r);
	r = call(FUSE_CREATE, FUSE_ROOT_ID, NULL, 0, buf, sizeof(buf));
	CHECK(r == -EINVAL, "CREATE without arguments: EINVAL (%d)", r);
	r = call(FUSE_GETXATTR, FUSE_ROOT_ID,
		 "\0\0\0\0\0\0\0\0user.x", 15, buf, sizeof(buf));
	CHECK(r == -ENOSYS, "GETXATTR without --xattr: ENOSYS (%d)", r);
	r = call_q(0, FUSE_FORGET, 987654321,
		   &(struct fuse_forget_in){ .nlookup = 5 },
		   sizeof(struct fuse_forget_in), NULL, 0, NULL);
	CHECK(r == 1, "FORGET of an unknown node on hiprio: no reply (%d)",
	      r);
	r = lookup(FUSE_ROOT_ID, "hello.txt", &e);
	CHECK(r == 0, "still serving after all that");
}

static int count_fds(const char *pid)
{
	char path[64];
	struct dirent *d;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

/* Nodes cost one descriptor each until the guest forgets them. */
static void test_forget(const char *pid)
{
	enum { N = 200 };
	static struct {
		struct fuse_batch_forget_in b;
		struct fuse_forget_one one[N];
	} batch;
	int before = count_fds(pid), during, after, r = 0;

	for (int i = 0; i < N && r == 0; i++) {
		struct {
			struct fuse_create_in c;
			char name[16];
		} cin = { { .flags = O_RDWR, .mode = S_IFREG | 0644 }, "" };
		struct {
			struct fuse_entry_out e;
			struct fuse_open_out o;
		} cout;

		snprintf(cin.name, sizeof(cin.name), "many-%d", i);
		r = call(FUSE_CREATE, FUSE_ROOT_ID, &cin, sizeof(cin), &cout,
			 sizeof(cout));
		batch.one[i].nodeid = cout.e.nodeid;
		batch.one[i].nlookup = 1;
		if (r == 0)
			r = call(FUSE_RELEASE, 0,
				 &(struct fuse_release_in){ .fh = cout.o.fh },
				 sizeof(struct fuse_release_in), NULL, 0);
	}
	CHECK(r == 0, "CREATE and RELEASE %d files", N);
	during = count_fds(pid);
	CHECK(during >= before + N, "each node holds a descriptor (%d -> %d)",
	      before, during);
	batch.b.count = N;
	r = call_q(0, FUSE_BATCH_FORGET, 0, &batch, sizeof(batch), NULL, 0,
		   NULL);
	CHECK(r == 1, "BATCH_FORGET on hiprio: no reply (%d)", r);
	/* The hiprio worker runs on its own thread: give it a moment. */
	for (int i = 0; i < 50 && (after = count_fds(pid)) > before; i++)
		usleep(20000);
	CHECK(after <= before, "forgotten nodes are closed (%d -> %d -> %d)",
	      before, during, after);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* n rounds of what "touch NAME; rm NAME" costs a guest with cache=auto:
 * CREATE, FLUSH, RELEASE, UNLINK, FORGET. Returns 0 or -errno. */
static int create_unlink(long n)
{
	struct {
		struct fuse_create_in c;
		char name[16];
	} cin = { { .flags = O_WRONLY | O_CREAT, .mode = S_IFREG | 0644 },
		  "" };
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} co;
	int r = 0;

	for (long i = 0; i < n && r == 0; i++) {
		size_t len = (size_t)snprintf(cin.name, sizeof(cin.name),
					      "lat%ld", i) + 1;
		struct fuse_forget_in fi = { .nlookup = 1 };

		r = call(FUSE_CREATE, FUSE_ROOT_ID, &cin, sizeof(cin.c) + len,
			 &co, sizeof(co));
		if (r == 0)
			r = call(FUSE_FLUSH, co.e.nodeid,
				 &(struct fuse_flush_in){ .fh = co.o.fh },
				 sizeof(struct fuse_flush_in), NULL, 0);
		if (r == 0)
			r = call(FUSE_RELEASE, co.e.nodeid,
				 &(struct fuse_release_in){ .fh = co.o.fh },
				 sizeof(struct fuse_release_in), NULL, 0);
		if (r == 0)
			r = call(FUSE_UNLINK, FUSE_ROOT_ID, cin.name, len,
				 NULL, 0);
		if (r == 0)
			r = call_q(0, FUSE_FORGET, co.e.nodeid, &fi,
				   sizeof(fi), NULL, 0, NULL) == 1 ? 0 : -EPROTO;
	}
	return r;
}

/* n WRITEs of 60 KiB to one new file. */
static int write_file(long n)
{
	struct {
		struct fuse_create_in c;
		char name[8];
	} cin = { { .flags = O_WRONLY | O_CREAT, .mode = S_IFREG | 0644 },
		  "latw" };
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} co;
	static struct {
		struct fuse_write_in w;
		char data[60 * 1024];
	} win;
	struct fuse_write_out wo;
	int r;

	r = call(FUSE_CREATE, FUSE_ROOT_ID, &cin, sizeof(cin), &co,
		 sizeof(co));
	for (long i = 0; i < n && r == 0; i++) {
		win.w = (struct fuse_write_in){
			.fh = co.o.fh, .offset = (uint64_t)i * sizeof(win.data),
			.size = sizeof(win.data),
		};
		r = call(FUSE_WRITE, co.e.nodeid, &win, sizeof(win), &wo,
			 sizeof(wo));
		if (r == 0 && wo.size != sizeof(win.data))
			r = -EIO;
	}
	if (r == 0)
		r = call(FUSE_RELEASE, co.e.nodeid,
			 &(struct fuse_release_in){ .fh = co.o.fh },
			 sizeof(struct fuse_release_in), NULL, 0);
	if (r == 0)
		r = call(FUSE_UNLINK, FUSE_ROOT_ID, "latw", 5, NULL, 0);
	return r;
}

/* Set-up and INIT with in (NULL: 7.31), the answer in out (may be NULL).
 * Prints what failed. */
static int setup_init(const char *sock, const struct fuse_init_in *in,
		      struct fuse_init_out *out)
{
	static const struct fuse_init_in plain = {
		.major = 7, .minor = 31, .max_readahead = 65536,
	};
	struct fuse_init_out ignored;
	int r = setup(sock);

	if (!in)
		in = &plain;
	if (!out)
		out = &ignored;
	if (r == 0)
		r = call(FUSE_INIT, 0, in, sizeof(*in), out, sizeof(*out));
	if (r < 0)
		printf("FAIL: set-up and INIT: %s\n", strerror(-r));
	return r;
}

static int getattr_root(void)
{
	struct fuse_attr_out a;

	return call(FUSE_GETATTR, FUSE_ROOT_ID, &(struct fuse_getattr_in){ 0 },
		    sizeof(struct fuse_getattr_in), &a, sizeof(a));
}

static int latency(const char *sock, long n)
{
	struct fuse_entry_out e;
	double t[5], kicks;
	int r = setup_init(sock, NULL, NULL);

	if (r < 0)
		return 1;
	requests_sent = kicks_sent = 0;
	t[0] = now_s();
	for (long i = 0; i < n && r == 0; i++)
		r = getattr_root();
	t[1] = now_s();
	for (long i = 0; i < n && r == 0; i++)
		r = lookup(FUSE_ROOT_ID, "hello.txt", &e);
	t[2] = now_s();
	kicks = requests_sent ? (double)kicks_sent / requests_sent : 0;
	if (r == 0)
		r = create_unlink(n);
	t[3] = now_s();
	if (r == 0)
		r = write_file(n);
	t[4] = now_s();
	if (r < 0) {
		printf("FAIL: %s\n", strerror(-r));
		return 1;
	}
	printf("getattr/s %.0f\nlookup/s %.0f\ncreate+unlink/s %.0f\n"
	       "write-60KiB/s %.0f\nkicks/request %.3f\n",
	       (double)n / (t[1] - t[0]), (double)n / (t[2] - t[1]),
	       (double)n / (t[3] - t[2]), (double)n / (t[4] - t[3]), kicks);
	teardown();
	return 0;
}

/* ---- --quiesce ---------------------------------------------------------- */

/* GETATTRs, each followed by a SET_VRING_CALL of the request queue (with
 * its own call fd): a message that makes the back end stop its workers,
 * so a worker polling its ring must let go and carry on afterwards. */
static int quiesce_rounds(const char *sock, long n)
{
	long i;
	int r = setup_init(sock, NULL, NULL);

	if (r < 0)
		return 1;
	for (i = 0; i < n && r == 0; i++) {
		r = getattr_root();
		if (r == 0)
			r = vhf_set_vring_call(conn, 1, vhf_vq_call_fd(vqs[1]));
	}
	CHECK(r == 0, "%ld GETATTRs, each followed by SET_VRING_CALL (%s)",
	      i, strerror(-r));
	teardown();
	return failures ? 1 : 0;
}

/* ---- --idle ------------------------------------------------------------- */

/* A burst of GETATTRs, then the rings stay set up and empty for the given
 * seconds: a polling back end must stop spinning on its own. */
static int idle(const char *sock, long seconds)
{
	int r = setup_init(sock, NULL, NULL);

	if (r < 0)
		return 1;
	for (int i = 0; i < 1000 && r == 0; i++)
		r = getattr_root();
	CHECK(r == 0, "1000 GETATTRs before the idle time (%d)", r);
	sleep((unsigned int)seconds);
	teardown();
	return failures ? 1 : 0;
}

/* ---- --init ------------------------------------------------------------- */

static int init_probe(const char *sock)
{
	static const struct {
		uint64_t bit;
		const char *name;
	} flags[] = {
#define F(x) { x, #x }
		F(FUSE_ASYNC_READ), F(FUSE_POSIX_LOCKS), F(FUSE_FILE_OPS),
		F(FUSE_ATOMIC_O_TRUNC), F(FUSE_EXPORT_SUPPORT),
		F(FUSE_BIG_WRITES), F(FUSE_DONT_MASK), F(FUSE_SPLICE_WRITE),
		F(FUSE_SPLICE_MOVE), F(FUSE_SPLICE_READ), F(FUSE_FLOCK_LOCKS),
		F(FUSE_HAS_IOCTL_DIR), F(FUSE_AUTO_INVAL_DATA),
		F(FUSE_DO_READDIRPLUS), F(FUSE_READDIRPLUS_AUTO),
		F(FUSE_ASYNC_DIO), F(FUSE_WRITEBACK_CACHE),
		F(FUSE_NO_OPEN_SUPPORT), F(FUSE_PARALLEL_DIROPS),
		F(FUSE_HANDLE_KILLPRIV), F(FUSE_POSIX_ACL),
		F(FUSE_ABORT_ERROR), F(FUSE_MAX_PAGES), F(FUSE_CACHE_SYMLINKS),
		F(FUSE_NO_OPENDIR_SUPPORT), F(FUSE_EXPLICIT_INVAL_DATA),
		F(FUSE_MAP_ALIGNMENT), F(FUSE_SUBMOUNTS),
		F(FUSE_HANDLE_KILLPRIV_V2), F(FUSE_SETXATTR_EXT),
		F(FUSE_INIT_EXT),
#undef F
	};
	struct fuse_init_in in = {
		.major = FUSE_KERNEL_VERSION, .minor = FUSE_KERNEL_MINOR_VERSION,
		.max_readahead = 128 * 1024, .flags = 0xffffffffu,
		.flags2 = 0xffffffffu,
	};
	struct fuse_init_out out = { 0 };
	uint64_t got;

	if (setup_init(sock, &in, &out) < 0)
		return 1;
	got = out.flags | (uint64_t)out.flags2 << 32;
	printf("protocol 7.%u\nmax_readahead %u\nmax_write %u\n"
	       "max_pages %u\nmax_background %u\ncongestion_threshold %u\n"
	       "time_gran %u\nflags %#llx\n", out.minor, out.max_readahead,
	       out.max_write, out.max_pages, out.max_background,
	       out.congestion_threshold, out.time_gran,
	       (unsigned long long)got);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if (got & flags[i].bit)
			printf("  %s\n", flags[i].name);
		got &= ~flags[i].bit;
	}
	if (got)
		printf("  other bits %#llx\n", (unsigned long long)got);
	teardown();
	return 0;
}

/* ---- --concurrent -------------------------------------------------------- */

#define CONC_FILES 120
/* Two descriptors a request, 64 in a ring: 30 in flight per queue. */
#define CONC_PER_QUEUE 30
#define CONC_SLOT 4096

struct conc_req {
	int q;
	int id;                /* the chain's id in its ring */
	bool answered;
	uint32_t used_len;
	uint64_t unique;
	uint64_t out_gpa, in_gpa;
};

static struct conc_req conc[2 * CONC_PER_QUEUE];

/* The name and the size of test file i: sizes differ, so a reply for the
 * wrong file shows. */
static void conc_name(char name[16], unsigned int i)
{
	snprintf(name, 16, "c%03u", i);
}

static size_t conc_size(unsigned int i)
{
	return 100 + 7 * i;
}

/* Queues request k (on queue 1 or 2 by parity) without kicking. */
static int conc_add(unsigned int k, int q, uint32_t opcode, uint64_t nodeid,
		    const void *arg, size_t arg_size)
{
	struct conc_req *c = &conc[k];
	struct fuse_in_header *ih = vhf_mem_ptr(mem, c->out_gpa, CONC_SLOT);
	struct fuse_out_header *oh = vhf_mem_ptr(mem, c->in_gpa, CONC_SLOT);
	bool reply = opcode != FUSE_FORGET;
	struct vhf_buf bufs[2] = {
		{ c->out_gpa, (uint32_t)(sizeof(*ih) + arg_size) },
		{ c->in_gpa, CONC_SLOT },
	};

	memset(ih, 0, sizeof(*ih));
	memset(oh, 0xff, sizeof(*oh));
	ih->len = bufs[0].len;
	ih->opcode = opcode;
	ih->unique = c->unique = unique++;
	ih->nodeid = nodeid;
	memcpy(ih + 1, arg, arg_size);
	c->q = q;
	c->answered = false;
	c->id = vhf_vq_add(vqs[q], bufs, 1, reply ? 1 : 0, false);
	return c->id < 0 ? c->id : 0;
}

/* Kicks every queue and waits for the n requests queued; checks that each
 * used entry is a request in flight, answered once, with a header that
 * matches it. Returns the number of well-formed answers. */
static unsigned int conc_run(unsigned int n)
{
	unsigned int got = 0, good = 0;

	for (int q = 0; q < 3; q++)
		vhf_vq_kick(vqs[q]);
	while (got < n) {
		bool any = false;

		for (int q = 0; q < 3; q++) {
			uint16_t id;
			uint32_t len;
			unsigned int k;

			while (vhf_vq_get_used(vqs[q], &id, &len) == 1) {
				any = true;
				for (k = 0; k < n; k++)
					if (conc[k].q == q && conc[k].id == id &&
					    !conc[k].answered)
						break;
				if (k == n) {
					CHECK(0, "used id %u on queue %d was "
					      "not in flight", id, q);
					return good;
				}
				conc[k].answered = true;
				conc[k].used_len = len;
				got++;
			}
		}
		if (!any && vhf_vq_wait_call(vqs[1], 20) < 0 &&
		    vhf_vq_wait_call(vqs[2], 20) < 0 &&
		    vhf_vq_wait_call(vqs[0], WAIT_MS) < 0) {
			CHECK(0, "%u of %u concurrent requests answered", got,
			      n);
			return good;
		}
	}
	for (unsigned int k = 0; k < n; k++) {
		struct fuse_out_header *oh =
			vhf_mem_ptr(mem, conc[k].in_gpa, CONC_SLOT);

		if (conc[k].q == 0)
			good += conc[k].used_len == 0;
		else if (oh->unique == conc[k].unique &&
			 oh->len == conc[k].used_len)
			good++;
	}
	return good;
}

static struct fuse_out_header *conc_reply(unsigned int k)
{
	return vhf_mem_ptr(mem, conc[k].in_gpa, CONC_SLOT);
}

/* The used index of a split ring, as the device last wrote it. */
static uint16_t used_idx(struct vhf_vq *vq)
{
	uint64_t desc, avail, used;
	uint16_t *u;

	vhf_vq_addrs(vq, &desc, &avail, &used);
	u = vhf_mem_ptr(mem, used, 4);
	return __atomic_load_n(&u[1], __ATOMIC_ACQUIRE);
}

/* GET_VRING_BASE while READs are in flight (in a pool, maybe): the daemon
 * must finish and push every request it took before it answers, so the
 * used index equals the base; the rest are served after a restart. */
static void test_stop_in_flight(const char *share)
{
	char path[4096];
	struct fuse_open_out oo;
	struct fuse_entry_out e;
	uint32_t base[3] = { 0 };
	unsigned int bad = 0, got = 0, n = 2 * CONC_PER_QUEUE;
	static char data[1 << 20];
	FILE *f;
	int r;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)('a' + i % 23);
	snprintf(path, sizeof(path), "%s/big", share);
	f = fopen(path, "we");
	if (!f || fwrite(data, 1, sizeof(data), f) != sizeof(data)) {
		CHECK(0, "writing %s", path);
		if (f)
			fclose(f);
		return;
	}
	fclose(f);
	r = lookup(FUSE_ROOT_ID, "big", &e);
	if (r == 0)
		r = call(FUSE_OPEN, e.nodeid, &(struct fuse_open_in){
			 O_RDONLY, 0 }, sizeof(struct fuse_open_in), &oo,
			 sizeof(oo));
	CHECK(r == 0, "LOOKUP and OPEN big (%d)", r);
	if (r)
		return;
	for (unsigned int k = 0; k < n; k++) {
		struct fuse_read_in rd = {
			.fh = oo.fh, .offset = k * 16384, .size = 4000,
		};

		conc_add(k, 1 + (int)(k & 1), FUSE_READ, e.nodeid, &rd,
			 sizeof(rd));
	}
	vhf_vq_kick(vqs[1]);
	vhf_vq_kick(vqs[2]);
	for (int q = 1; q < 3; q++) {
		r = vhf_vq_stop(conn, vqs[q], &base[q]);
		CHECK(r == 0 && used_idx(vqs[q]) == (uint16_t)base[q],
		      "GET_VRING_BASE of queue %d with READs in flight: every "
		      "request taken was answered first (base %u, used %u)",
		      q, base[q], used_idx(vqs[q]));
	}
	for (int q = 1; q < 3; q++) {
		r = vhf_vq_setup(conn, vqs[q]);
		if (r == 0)
			r = vhf_vq_enable(conn, vqs[q], true);
		CHECK(r == 0, "queue %d restarted (%d)", q, r);
	}
	got = conc_run(n);
	for (unsigned int k = 0; k < n; k++) {
		struct fuse_out_header *oh = conc_reply(k);

		if (oh->error || oh->len != sizeof(*oh) + 4000 ||
		    memcmp(oh + 1, data + k * 16384, 4000))
			bad++;
	}
	bad += n - got;
	CHECK(!bad, "the %u READs, before and after the stop, all answered "
	      "with the right data (%u wrong)", n, bad);
	call(FUSE_RELEASE, 0, &(struct fuse_release_in){ .fh = oo.fh },
	     sizeof(struct fuse_release_in), NULL, 0);
}

static int concurrent(const char *sock, const char *share)
{
	struct fuse_init_in in = { .major = 7, .minor = 31 };
	struct fuse_init_out out;
	uint64_t node[CONC_FILES];
	unsigned int ok, n, bad;
	char name[16], path[4096];
	int r;

	for (unsigned int i = 0; i < CONC_FILES; i++) {
		FILE *f;

		conc_name(name, i);
		snprintf(path, sizeof(path), "%s/%s", share, name);
		f = fopen(path, "we");
		if (!f) {
			printf("FAIL: creating %s: %m\n", path);
			return 1;
		}
		for (size_t b = 0; b < conc_size(i); b++)
			fputc('a' + (int)(i % 26), f);
		fclose(f);
	}
	r = setup(sock);
	for (unsigned int k = 0; r == 0 && k < 2 * CONC_PER_QUEUE; k++) {
		r = vhf_mem_alloc(mem, CONC_SLOT, 4096, -1, &conc[k].out_gpa);
		if (r == 0)
			r = vhf_mem_alloc(mem, CONC_SLOT, 4096, -1,
					  &conc[k].in_gpa);
	}
	if (r == 0)
		r = call(FUSE_INIT, 0, &in, sizeof(in), &out, sizeof(out));
	if (r < 0) {
		printf("FAIL: set-up and INIT: %s\n", strerror(-r));
		return 1;
	}
	/* LOOKUP every file, 60 at a time over both queues. */
	bad = 0;
	for (unsigned int base = 0; base < CONC_FILES;
	     base += 2 * CONC_PER_QUEUE) {
		n = CONC_FILES - base < 2 * CONC_PER_QUEUE ?
		    CONC_FILES - base : 2 * CONC_PER_QUEUE;
		for (unsigned int k = 0; k < n; k++) {
			conc_name(name, base + k);
			conc_add(k, 1 + (int)(k & 1), FUSE_LOOKUP,
				 FUSE_ROOT_ID, name, strlen(name) + 1);
		}
		ok = conc_run(n);
		for (unsigned int k = 0; k < n; k++) {
			struct fuse_out_header *oh = conc_reply(k);
			struct fuse_entry_out *e = (void *)(oh + 1);

			if (oh->error || oh->len != sizeof(*oh) + sizeof(*e) ||
			    e->attr.size != conc_size(base + k)) {
				bad++;
				continue;
			}
			node[base + k] = e->nodeid;
		}
		bad += n - ok;
	}
	CHECK(!bad, "LOOKUP of %u files, %u in flight at once: every reply "
	      "matches its file (%u wrong)", CONC_FILES, 2 * CONC_PER_QUEUE,
	      bad);
	if (bad)
		goto out;
	bad = 0;
	for (unsigned int k = 0; k < 2 * CONC_PER_QUEUE; k++) {
		unsigned int i = k * CONC_FILES / (2 * CONC_PER_QUEUE);

		conc_add(k, 1 + (int)(k & 1), FUSE_GETATTR, node[i],
			 &(struct fuse_getattr_in){ 0 },
			 sizeof(struct fuse_getattr_in));
	}
	ok = conc_run(2 * CONC_PER_QUEUE);
	for (unsigned int k = 0; k < 2 * CONC_PER_QUEUE; k++) {
		unsigned int i = k * CONC_FILES / (2 * CONC_PER_QUEUE);
		struct fuse_out_header *oh = conc_reply(k);
		struct fuse_attr_out *a = (void *)(oh + 1);

		if (oh->error || a->attr.size != conc_size(i) ||
		    a->attr.ino == 0)
			bad++;
	}
	bad += 2 * CONC_PER_QUEUE - ok;
	CHECK(!bad, "GETATTR of 60 nodes at once: every size right (%u wrong)",
	      bad);
	{
		struct fuse_open_out oo;
		uint64_t fh;
		unsigned int last = CONC_FILES - 1;

		r = call(FUSE_OPEN, node[last], &(struct fuse_open_in){
			 O_RDONLY, 0 }, sizeof(struct fuse_open_in), &oo,
			 sizeof(oo));
		CHECK(r == 0, "OPEN %s (%d)", "c119", r);
		if (r)
			goto out;
		fh = oo.fh;
		bad = 0;
		for (unsigned int k = 0; k < 2 * CONC_PER_QUEUE; k++) {
			struct fuse_read_in rd = {
				.fh = fh, .offset = k * 10, .size = 10,
			};

			conc_add(k, 1 + (int)(k & 1), FUSE_READ, node[last],
				 &rd, sizeof(rd));
		}
		ok = conc_run(2 * CONC_PER_QUEUE);
		for (unsigned int k = 0; k < 2 * CONC_PER_QUEUE; k++) {
			struct fuse_out_header *oh = conc_reply(k);
			const char *data = (const char *)(oh + 1);
			size_t want = conc_size(last) > k * 10 ?
				      conc_size(last) - k * 10 : 0;

			if (want > 10)
				want = 10;
			if (oh->error || oh->len != sizeof(*oh) + want) {
				bad++;
				continue;
			}
			for (size_t b = 0; b < want; b++)
				if (data[b] != 'a' + (int)(last % 26))
					bad++;
		}
		bad += 2 * CONC_PER_QUEUE - ok;
		CHECK(!bad, "READ at 60 offsets at once: every length and byte "
		      "right (%u wrong)", bad);
		call(FUSE_RELEASE, 0, &(struct fuse_release_in){ .fh = fh },
		     sizeof(struct fuse_release_in), NULL, 0);
	}
	/* FORGETs on the high-priority queue while GETATTRs of the same
	 * nodes run: each GETATTR is answered, by its attributes or by
	 * ENOENT, never by another file's. */
	bad = 0;
	n = 0;
	for (unsigned int k = 0; k < 2 * CONC_PER_QUEUE - 10; k++)
		conc_add(n++, 1 + (int)(k & 1), FUSE_GETATTR, node[k],
			 &(struct fuse_getattr_in){ 0 },
			 sizeof(struct fuse_getattr_in));
	for (unsigned int k = 0; k < 10; k++) {
		struct fuse_forget_in fi = { .nlookup = 1 };

		conc_add(n++, 0, FUSE_FORGET, node[k], &fi, sizeof(fi));
	}
	ok = conc_run(n);
	for (unsigned int k = 0; k < 2 * CONC_PER_QUEUE - 10; k++) {
		struct fuse_out_header *oh = conc_reply(k);
		struct fuse_attr_out *a = (void *)(oh + 1);

		if (oh->error == -ENOENT && k < 10)
			continue;
		if (oh->error || a->attr.size != conc_size(k))
			bad++;
	}
	bad += n - ok;
	CHECK(!bad, "GETATTRs racing FORGETs of the same nodes: answered "
	      "right or ENOENT (%u wrong)", bad);
	/* UNLINK half the files and LOOKUP names that do not exist. */
	bad = 0;
	for (unsigned int k = 0; k < 2 * CONC_PER_QUEUE; k++) {
		char absent[16];

		if (k & 1) {
			snprintf(absent, sizeof(absent), "none%u", k);
			conc_add(k, 2, FUSE_LOOKUP, FUSE_ROOT_ID, absent,
				 strlen(absent) + 1);
		} else {
			conc_name(name, 20 + k);
			conc_add(k, 1, FUSE_UNLINK, FUSE_ROOT_ID, name,
				 strlen(name) + 1);
		}
	}
	ok = conc_run(2 * CONC_PER_QUEUE);
	for (unsigned int k = 0; k < 2 * CONC_PER_QUEUE; k++) {
		struct fuse_out_header *oh = conc_reply(k);

		conc_name(name, 20 + k);
		snprintf(path, sizeof(path), "%s/%s", share, name);
		struct fuse_entry_out *e = (void *)(oh + 1);

		/* cache=auto answers an absent name with a negative entry
		 * (node id 0) the guest may keep for a second. */
		if (k & 1 ? oh->error != 0 || e->nodeid != 0 ||
			    e->entry_valid != 1 :
		    oh->error != 0 || access(path, F_OK) == 0)
			bad++;
	}
	bad += 2 * CONC_PER_QUEUE - ok;
	CHECK(!bad, "UNLINK of 30 files and LOOKUP of 30 absent names at "
	      "once: each done and answered, absent names by negative "
	      "entries (%u wrong)", bad);
	test_stop_in_flight(share);
out:
	return finish();
}

static int readonly_never(const char *sock)
{
	static const struct fuse_init_in in = { .major = 7, .minor = 31 };
	struct fuse_entry_out e, absent;
	struct fuse_open_out oo;
	char buf[4096];
	int r;

	if (setup_init(sock, &in, NULL) < 0)
		return 1;
	r = lookup(FUSE_ROOT_ID, "hello.txt", &e);
	CHECK(r == 0 && e.entry_valid == 0 && e.attr_valid == 0,
	      "cache=never: LOOKUP with no entry or attribute caching");
	r = lookup(FUSE_ROOT_ID, "absent.txt", &absent);
	CHECK(r == -ENOENT, "cache=never: LOOKUP of an absent name: ENOENT, "
	      "no negative entry (%d)", r);
	r = call(FUSE_OPEN, e.nodeid, &(struct fuse_open_in){ O_RDONLY, 0 },
		 sizeof(struct fuse_open_in), &oo, sizeof(oo));
	CHECK(r == 0 && (oo.open_flags & FOPEN_DIRECT_IO),
	      "cache=never: OPEN for reading with FOPEN_DIRECT_IO (%#x)",
	      oo.open_flags);
	r = call(FUSE_OPEN, e.nodeid, &(struct fuse_open_in){ O_RDWR, 0 },
		 sizeof(struct fuse_open_in), &oo, sizeof(oo));
	CHECK(r == -EROFS, "readonly: OPEN for writing: EROFS (%d)", r);
	r = call(FUSE_OPEN, e.nodeid,
		 &(struct fuse_open_in){ O_RDONLY | O_TRUNC, 0 },
		 sizeof(struct fuse_open_in), &oo, sizeof(oo));
	CHECK(r == -EROFS, "readonly: OPEN with O_TRUNC: EROFS (%d)", r);
	{
		struct {
			struct fuse_create_in c;
			char name[8];
		} cin = { { .flags = O_RDWR, .mode = S_IFREG | 0644 }, "nope" };
		struct {
			struct fuse_mkdir_in m;
			char name[8];
		} min = { { .mode = 0755 }, "nope" };
		struct fuse_setattr_in sa = { .valid = FATTR_MODE,
					      .mode = 0600 };

		r = call(FUSE_CREATE, FUSE_ROOT_ID, &cin, sizeof(cin), buf,
			 sizeof(buf));
		CHECK(r == -EROFS, "readonly: CREATE: EROFS (%d)", r);
		r = call(FUSE_MKDIR, FUSE_ROOT_ID, &min, sizeof(min), buf,
			 sizeof(buf));
		CHECK(r == -EROFS, "readonly: MKDIR: EROFS (%d)", r);
		r = call(FUSE_SETATTR, e.nodeid, &sa, sizeof(sa), buf,
			 sizeof(buf));
		CHECK(r == -EROFS, "readonly: SETATTR: EROFS (%d)", r);
		r = call(FUSE_UNLINK, FUSE_ROOT_ID, "hello.txt", 10, buf,
			 sizeof(buf));
		CHECK(r == -EROFS, "readonly: UNLINK: EROFS (%d)", r);
	}
	teardown();
	return failures ? 1 : 0;
}

int main(int argc, char *argv[])
{
	int r;

	if (argc == 3 && !strcmp(argv[1], "--readonly-never"))
		return readonly_never(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "--init")) {
		nvqs = 2;
		return init_probe(argv[2]);
	}
	if (argc == 4 && !strcmp(argv[1], "--concurrent"))
		return concurrent(argv[2], argv[3]);

	if (argc == 4 && !strcmp(argv[1], "--latency")) {
		nvqs = 2;
		return latency(argv[2], atol(argv[3]));
	}
	if (argc == 4 && !strcmp(argv[1], "--idle")) {
		nvqs = 2;
		return idle(argv[2], atol(argv[3]));
	}
	if (argc == 4 && !strcmp(argv[1], "--quiesce")) {
		nvqs = 2;
		return quiesce_rounds(argv[2], atol(argv[3]));
	}

	if (argc != 3 && argc != 4) {
		fprintf(stderr,
			"usage: fuse-proto SOCKET SHARED-DIR [DAEMON-PID]\n");
		return 2;
	}
	r = setup(argv[1]);
	if (r < 0) {
		printf("FAIL: setting up the device: %s\n", strerror(-r));
		return 1;
	}
	test_init();
	test_files(argv[2]);
	test_two_queues();
	test_escapes();
	test_dotdot(argv[2]);
	if (argc == 4)
		test_forget(argv[3]);
	return finish();
}
