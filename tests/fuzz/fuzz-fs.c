/* SPDX-License-Identifier: MIT */
/*
 * vhostdev-fs's FUSE request parser and file-system operations
 * (examples/fs/fuse-ops.c, inode.c) fed by a fake guest, on a real
 * directory: <tmp>/share is shared, and next to it <tmp>/outside is a file
 * nothing may touch. The input picks the options (read-only, xattrs,
 * cache mode) and then describes FUSE requests: any opcode, a node id
 * (the root, one a reply handed out, or any), the fixed part as raw bytes
 * with its handles, node ids and sizes often patched to live ones, names
 * from a vocabulary of traps ("..", "/", "a/b", absolute paths of the
 * parent directory and of the outside file, 300 bytes, no NUL) or raw
 * bytes, write data, and how much room the reply gets.
 *
 * Whatever the input: every reply fits the room it was given, its header
 * says its length, its error is 0 or a negative errno, and an error reply
 * carries nothing; only FORGET, BATCH_FORGET and INTERRUPT (and requests
 * without a header) go unanswered; after the guest is gone (fs_reset) only
 * the root inode is left; and the directory holding the share still holds
 * exactly the share and the outside file, which is unchanged.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "fuzz-common.h"
#include "fuzz-guest.h"
#include "queue.h"

#define REGION 0x100000ull
#define REGION_SIZE 0x100000ull
#define OUT_AREA (REGION + 0x4000)
#define IN_AREA (REGION + 0x10000)
#define IN_MAX (0x40000u)
#define RING_SIZE 16u
#define MAX_REQUESTS 48
#define MAX_OUT 0x3000u
#define MAX_IDS 16

static const char outside_text[] = "not the guest's business\n";

/* What the process shares, set up on the first run. */
static struct {
	bool ready;
	char parent[64];
	char share[80];
	char outside[80];
	struct stat outside_st;
	struct fs fs;
	struct fs_request r;
} world;

struct harness {
	struct vhostdev *dev;
	struct vhostdev_queue *vq;
	struct fuzz_guest g;
	struct fuzz_input in;
	int call_fd;
	uint16_t avail_idx;
	uint64_t unique;
	uint64_t nodeids[MAX_IDS];
	unsigned int nnodeids;
	uint64_t fhs[MAX_IDS];
	unsigned int nfhs;
	uint8_t out[MAX_OUT];
	size_t out_size;
};

/* ---- the world ----------------------------------------------------------- */

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw);

/* At exit, nothing is left behind in the temporary directory. */
static void remove_world(void)
{
	chmod(world.share, 0755);
	nftw(world.parent, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	rmdir(world.parent);
}

static int make_world(void)
{
	const char *tmp = getenv("TMPDIR");
	int fd, proc;

	snprintf(world.parent, sizeof(world.parent), "%s/fuzz-fs.XXXXXX",
		 tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	if (!mkdtemp(world.parent))
		return -errno;
	atexit(remove_world);
	snprintf(world.share, sizeof(world.share), "%s/share", world.parent);
	snprintf(world.outside, sizeof(world.outside), "%s/outside",
		 world.parent);
	if (mkdir(world.share, 0755) < 0)
		return -errno;
	fd = open(world.outside, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, outside_text, sizeof(outside_text) - 1) !=
	    (ssize_t)sizeof(outside_text) - 1) {
		close(fd);
		return -EIO;
	}
	close(fd);
	if (stat(world.outside, &world.outside_st) < 0)
		return -errno;
	proc = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (proc < 0)
		return -errno;
	if (fs_init(&world.fs, world.share, proc, "fuzz-fs") < 0)
		return -EIO;
	if (fs_scratch_init(&world.r.s) < 0)
		return -ENOMEM;
	world.ready = true;
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	if (ftw->level == 0)
		return 0;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* The directory around the share holds the share and the outside file,
 * as they were; the share is emptied for the next run. */
static void check_world(void)
{
	struct stat st;
	struct dirent *e;
	unsigned int names = 0;
	char buf[64];
	DIR *d;
	int fd;

	d = opendir(world.parent);
	fuzz_check(d != NULL);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		fuzz_check(!strcmp(e->d_name, "share") ||
			   !strcmp(e->d_name, "outside"));
		names++;
	}
	closedir(d);
	fuzz_check(names == 2);
	fuzz_check(lstat(world.outside, &st) == 0);
	fuzz_check(S_ISREG(st.st_mode) && st.st_ino ==
		   world.outside_st.st_ino);
	fuzz_check(st.st_mode == world.outside_st.st_mode &&
		   st.st_uid == world.outside_st.st_uid &&
		   st.st_size == world.outside_st.st_size &&
		   st.st_mtim.tv_sec == world.outside_st.st_mtim.tv_sec &&
		   st.st_mtim.tv_nsec == world.outside_st.st_mtim.tv_nsec);
	fd = open(world.outside, O_RDONLY | O_CLOEXEC);
	fuzz_check(fd >= 0);
	fuzz_check(read(fd, buf, sizeof(buf)) ==
			   (ssize_t)sizeof(outside_text) - 1 &&
		   !memcmp(buf, outside_text, sizeof(outside_text) - 1));
	close(fd);
	fuzz_check(lstat(world.share, &st) == 0 && S_ISDIR(st.st_mode) &&
		   st.st_ino == world.fs.root_ino);
	/* The guest may have made the share unreadable. */
	chmod(world.share, 0755);
	nftw(world.share, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- the device ---------------------------------------------------------- */

static int setup(struct harness *h)
{
	static const uint64_t where[3] = {
		REGION, REGION + 0x1000, REGION + 0x2000
	};
	uint8_t cfg = fuzz_u8(&h->in);
	int r;

	if (!world.ready)
		fuzz_check(make_world() == 0);
	world.fs.readonly = cfg & 1;
	world.fs.xattr = cfg & 2;
	world.fs.cache = (cfg >> 2) % 3;
	r = vhostdev_new(1, 1, &h->dev);
	if (r < 0)
		return r;
	vhostdev_set_log_fn(h->dev, fuzz_quiet_log, h);
	fuzz_guest_init(&h->g, h->dev);
	r = fuzz_guest_add(&h->g, REGION, REGION_SIZE);
	if (r < 0)
		return r;
	h->vq = fuzz_queue_prepare(h->dev, 1ull << VHOSTDEV_F_VERSION_1,
				   RING_SIZE, where, &h->call_fd);
	if (!h->vq)
		return -errno;
	fuzz_check(vhd_queue_start(h->vq) == 0);
	h->nodeids[h->nnodeids++] = FUSE_ROOT_ID;
	return 0;
}

static void teardown(struct harness *h)
{
	if (h->dev)
		vhostdev_unref(h->dev);
	fuzz_guest_fini(&h->g);
	if (h->call_fd >= 0)
		close(h->call_fd);
}

/* ---- the request the input describes ------------------------------------ */

struct op {
	uint32_t opcode;
	uint32_t fixed;       /* size of the fixed part */
	uint8_t names;        /* NUL-terminated strings after it */
	bool data;            /* bytes after those */
};

static const struct op ops[] = {
	{ FUSE_INIT, sizeof(struct fuse_init_in), 0, false },
	{ FUSE_LOOKUP, 0, 1, false },
	{ FUSE_FORGET, sizeof(struct fuse_forget_in), 0, false },
	{ FUSE_BATCH_FORGET, sizeof(struct fuse_batch_forget_in), 0, true },
	{ FUSE_GETATTR, sizeof(struct fuse_getattr_in), 0, false },
	{ FUSE_SETATTR, sizeof(struct fuse_setattr_in), 0, false },
	{ FUSE_READLINK, 0, 0, false },
	{ FUSE_SYMLINK, 0, 2, false },
	{ FUSE_MKNOD, sizeof(struct fuse_mknod_in), 1, false },
	{ FUSE_MKDIR, sizeof(struct fuse_mkdir_in), 1, false },
	{ FUSE_UNLINK, 0, 1, false },
	{ FUSE_RMDIR, 0, 1, false },
	{ FUSE_RENAME, sizeof(struct fuse_rename_in), 2, false },
	{ FUSE_RENAME2, sizeof(struct fuse_rename2_in), 2, false },
	{ FUSE_LINK, sizeof(struct fuse_link_in), 1, false },
	{ FUSE_OPEN, sizeof(struct fuse_open_in), 0, false },
	{ FUSE_OPENDIR, sizeof(struct fuse_open_in), 0, false },
	{ FUSE_CREATE, sizeof(struct fuse_create_in), 1, false },
	{ FUSE_READ, sizeof(struct fuse_read_in), 0, false },
	{ FUSE_WRITE, sizeof(struct fuse_write_in), 0, true },
	{ FUSE_STATFS, 0, 0, false },
	{ FUSE_RELEASE, sizeof(struct fuse_release_in), 0, false },
	{ FUSE_RELEASEDIR, sizeof(struct fuse_release_in), 0, false },
	{ FUSE_FSYNC, sizeof(struct fuse_fsync_in), 0, false },
	{ FUSE_FSYNCDIR, sizeof(struct fuse_fsync_in), 0, false },
	{ FUSE_FLUSH, sizeof(struct fuse_flush_in), 0, false },
	{ FUSE_READDIR, sizeof(struct fuse_read_in), 0, false },
	{ FUSE_READDIRPLUS, sizeof(struct fuse_read_in), 0, false },
	{ FUSE_ACCESS, sizeof(struct fuse_access_in), 0, false },
	{ FUSE_SETXATTR, sizeof(struct fuse_setxattr_in), 1, true },
	{ FUSE_GETXATTR, sizeof(struct fuse_getxattr_in), 1, false },
	{ FUSE_LISTXATTR, sizeof(struct fuse_getxattr_in), 0, false },
	{ FUSE_REMOVEXATTR, 0, 1, false },
	{ FUSE_FALLOCATE, sizeof(struct fuse_fallocate_in), 0, false },
	{ FUSE_LSEEK, sizeof(struct fuse_lseek_in), 0, false },
	{ FUSE_COPY_FILE_RANGE, sizeof(struct fuse_copy_file_range_in), 0,
	  false },
	{ FUSE_SYNCFS, sizeof(struct fuse_syncfs_in), 0, false },
	{ FUSE_INTERRUPT, sizeof(struct fuse_interrupt_in), 0, false },
	{ FUSE_DESTROY, 0, 0, false },
};
#define NOPS (sizeof(ops) / sizeof(ops[0]))

static void append(struct harness *h, const void *p, size_t n)
{
	if (n > MAX_OUT - h->out_size)
		n = MAX_OUT - h->out_size;
	memcpy(h->out + h->out_size, p, n);
	h->out_size += n;
}

static uint64_t pick_id(struct harness *h, const uint64_t *ids, unsigned int n)
{
	uint8_t sel = fuzz_u8(&h->in);

	if (sel == 0xff || n == 0)
		return fuzz_u64(&h->in);
	return ids[sel % n];
}

/* Overwrites the 64-bit field at offset with a live node id or handle,
 * most of the time. */
static void patch(struct harness *h, size_t offset, bool handle)
{
	uint64_t v;

	if (fuzz_u8(&h->in) % 4 == 3)
		return;
	v = handle ? pick_id(h, h->fhs, h->nfhs) :
		     pick_id(h, h->nodeids, h->nnodeids);
	memcpy(h->out + sizeof(struct fuse_in_header) + offset, &v, sizeof(v));
}

/* Sizes asked for in READ, READDIR, GETXATTR, COPY_FILE_RANGE. */
static void patch_size(struct harness *h, size_t offset, size_t width)
{
	static const uint64_t sizes[] = { 0, 1, 100, 4096, 65536, 1u << 20 };
	uint8_t sel = fuzz_u8(&h->in);
	uint64_t v = sel < 200 ? sizes[sel % 6] : fuzz_u64(&h->in);

	memcpy(h->out + sizeof(struct fuse_in_header) + offset, &v, width);
}

static void add_name(struct harness *h)
{
	char buf[300];
	const char *name;
	uint8_t sel = fuzz_u8(&h->in);

	switch (sel % 16) {
	case 0: name = "a"; break;
	case 1: name = "b"; break;
	case 2: name = "dir"; break;
	case 3: name = "link"; break;
	case 4: name = "."; break;
	case 5: name = ".."; break;
	case 6: name = ""; break;
	case 7: name = "/"; break;
	case 8: name = "a/b"; break;
	case 9: name = "../outside"; break;
	case 10: name = world.outside; break;
	case 11: name = world.parent; break;
	case 12: name = "user.x"; break;
	case 13:
		memset(buf, 'x', sizeof(buf) - 1);
		buf[sizeof(buf) - 1] = 0;
		name = buf;
		break;
	case 14: {
		/* Raw bytes, maybe with no NUL at all. */
		size_t n = fuzz_u8(&h->in) % 32;

		fuzz_bytes(&h->in, buf, n);
		append(h, buf, n);
		return;
	}
	default: name = "c"; break;
	}
	append(h, name, strlen(name) + 1);
}

static void describe(struct harness *h)
{
	uint8_t sel = fuzz_u8(&h->in), shape = fuzz_u8(&h->in);
	const struct op *op = &ops[sel % NOPS];
	struct fuse_in_header hdr = { 0 };
	uint8_t fixed[128];
	uint32_t opcode = sel < 250 ? op->opcode : fuzz_u32(&h->in);

	h->out_size = sizeof(hdr);
	fuzz_bytes(&h->in, fixed, op->fixed);
	append(h, fixed, op->fixed);
	switch (opcode) {
	case FUSE_INIT: {
		struct fuse_init_in *in = (void *)(h->out + sizeof(hdr));

		/* Usually a real kernel's major version. */
		if (!(shape & 0x80))
			in->major = FUSE_KERNEL_VERSION;
		break;
	}
	case FUSE_READ: case FUSE_READDIR: case FUSE_READDIRPLUS:
		patch(h, offsetof(struct fuse_read_in, fh), true);
		patch_size(h, offsetof(struct fuse_read_in, size), 4);
		break;
	case FUSE_WRITE:
		patch(h, offsetof(struct fuse_write_in, fh), true);
		break;
	case FUSE_RELEASE: case FUSE_RELEASEDIR:
		patch(h, offsetof(struct fuse_release_in, fh), true);
		break;
	case FUSE_FSYNC: case FUSE_FSYNCDIR:
		patch(h, offsetof(struct fuse_fsync_in, fh), true);
		break;
	case FUSE_FLUSH:
		patch(h, offsetof(struct fuse_flush_in, fh), true);
		break;
	case FUSE_FALLOCATE:
		patch(h, offsetof(struct fuse_fallocate_in, fh), true);
		patch_size(h, offsetof(struct fuse_fallocate_in, length), 8);
		break;
	case FUSE_LSEEK:
		patch(h, offsetof(struct fuse_lseek_in, fh), true);
		break;
	case FUSE_GETATTR:
		patch(h, offsetof(struct fuse_getattr_in, fh), true);
		break;
	case FUSE_SETATTR:
		patch(h, offsetof(struct fuse_setattr_in, fh), true);
		patch_size(h, offsetof(struct fuse_setattr_in, size), 8);
		break;
	case FUSE_GETXATTR: case FUSE_LISTXATTR:
		patch_size(h, offsetof(struct fuse_getxattr_in, size), 4);
		break;
	case FUSE_COPY_FILE_RANGE:
		patch(h, offsetof(struct fuse_copy_file_range_in, fh_in), true);
		patch(h, offsetof(struct fuse_copy_file_range_in, fh_out),
		      true);
		patch(h, offsetof(struct fuse_copy_file_range_in, nodeid_out),
		      false);
		patch_size(h, offsetof(struct fuse_copy_file_range_in, len), 8);
		break;
	case FUSE_RENAME:
		patch(h, offsetof(struct fuse_rename_in, newdir), false);
		break;
	case FUSE_RENAME2:
		patch(h, offsetof(struct fuse_rename2_in, newdir), false);
		break;
	case FUSE_LINK:
		patch(h, offsetof(struct fuse_link_in, oldnodeid), false);
		break;
	}
	for (unsigned int i = 0; i < op->names; i++)
		add_name(h);
	if (op->data) {
		uint8_t data[64];
		size_t n = fuzz_u16(&h->in) % (MAX_OUT / 2);

		if (opcode == FUSE_BATCH_FORGET) {
			/* Entries for live node ids. */
			struct fuse_forget_one one;

			for (size_t i = 0; i < n % 8; i++) {
				one.nodeid = pick_id(h, h->nodeids,
						     h->nnodeids);
				one.nlookup = fuzz_u8(&h->in);
				append(h, &one, sizeof(one));
			}
		} else {
			fuzz_bytes(&h->in, data, sizeof(data));
			for (size_t i = 0; i < n; i += sizeof(data))
				append(h, data, n - i < sizeof(data) ?
					  n - i : sizeof(data));
		}
	}
	/* A fixed part cut short now and then. */
	if (shape % 16 == 1 && h->out_size > sizeof(hdr))
		h->out_size -= fuzz_u8(&h->in) % (h->out_size - sizeof(hdr)) + 1;

	hdr.len = (uint32_t)h->out_size;
	hdr.opcode = opcode;
	hdr.unique = ++h->unique;
	hdr.nodeid = pick_id(h, h->nodeids, h->nnodeids);
	hdr.uid = shape & 0x40 ? fuzz_u32(&h->in) : 0;
	hdr.gid = shape & 0x40 ? fuzz_u32(&h->in) : 0;
	memcpy(h->out, &hdr, sizeof(hdr));
	/* A header cut short, rarely. */
	if (shape % 32 == 2)
		h->out_size = fuzz_u8(&h->in) % sizeof(hdr);
}

static size_t pick_in_size(struct harness *h)
{
	uint8_t sel = fuzz_u8(&h->in);

	switch (sel % 8) {
	case 0:
		return fuzz_u8(&h->in);
	case 1:
		return sizeof(struct fuse_out_header);
	case 2:
		return fuzz_u16(&h->in);
	case 3:
		return 0;
	default:
		return IN_MAX;
	}
}

/* ---- one request through the daemon -------------------------------------- */

static void remember(uint64_t *ids, unsigned int *n, uint64_t v)
{
	if (*n < MAX_IDS)
		ids[(*n)++] = v;
	else
		ids[v % MAX_IDS] = v;
}

/* Learns the node ids and handles a successful reply hands out. */
static void learn(struct harness *h, uint32_t opcode, const uint8_t *payload,
		  size_t len)
{
	struct fuse_entry_out e;
	struct fuse_open_out o;

	switch (opcode) {
	case FUSE_LOOKUP: case FUSE_MKDIR: case FUSE_MKNOD:
	case FUSE_SYMLINK: case FUSE_LINK: case FUSE_CREATE:
		if (len < sizeof(e))
			return;
		memcpy(&e, payload, sizeof(e));
		remember(h->nodeids, &h->nnodeids, e.nodeid);
		if (opcode != FUSE_CREATE || len < sizeof(e) + sizeof(o))
			return;
		memcpy(&o, payload + sizeof(e), sizeof(o));
		remember(h->fhs, &h->nfhs, o.fh);
		return;
	case FUSE_OPEN: case FUSE_OPENDIR:
		if (len < sizeof(o))
			return;
		memcpy(&o, payload, sizeof(o));
		remember(h->fhs, &h->nfhs, o.fh);
		return;
	}
}

static void run_request(struct harness *h)
{
	struct fuse_in_header hdr;
	struct fuse_out_header oh;
	struct vhostdev_req *req;
	struct vring_desc d[2];
	struct vring_avail *avail;
	size_t in_size;
	uint16_t head = fuzz_u8(&h->in) % (RING_SIZE - 1);
	unsigned int n = 0;
	uint32_t used;
	uint8_t *reply;

	describe(h);
	in_size = pick_in_size(h);
	memcpy(&hdr, h->out, sizeof(hdr));
	if (h->out_size)
		d[n++] = (struct vring_desc){ OUT_AREA, (uint32_t)h->out_size,
					      0, 0 };
	if (in_size)
		d[n++] = (struct vring_desc){ IN_AREA, (uint32_t)in_size,
					      VRING_DESC_F_WRITE, 0 };
	if (n == 0)
		return;
	if (n == 2) {
		d[0].flags |= VRING_DESC_F_NEXT;
		d[0].next = head + 1;
	}
	memcpy(fuzz_guest_va(&h->g, OUT_AREA, MAX_OUT), h->out, h->out_size);
	reply = fuzz_guest_va(&h->g, IN_AREA, IN_MAX);
	memset(reply, 0xa5, in_size);
	memcpy(fuzz_guest_va(&h->g, REGION + 16ull * head, sizeof(d)), d,
	       n * sizeof(d[0]));
	avail = fuzz_guest_va(&h->g, REGION + 0x1000, 4 + 2 * RING_SIZE);
	avail->ring[h->avail_idx % RING_SIZE] = head;
	h->avail_idx++;
	__atomic_store_n(&avail->idx, h->avail_idx, __ATOMIC_RELEASE);

	fuzz_check(vhostdev_queue_pop(h->vq, &req) == 1);
	used = fs_serve(&world.fs, &world.r, req);
	fuzz_check(vhostdev_req_push(req, used) == 0);

	fuzz_check(used <= in_size);
	if (used == 0) {
		/* Unanswered: no header to answer, no room for one, or a
		 * request FUSE wants no reply to. */
		fuzz_check(h->out_size < sizeof(hdr) ||
			   in_size < sizeof(oh) ||
			   hdr.opcode == FUSE_FORGET ||
			   hdr.opcode == FUSE_BATCH_FORGET ||
			   hdr.opcode == FUSE_INTERRUPT);
		return;
	}
	fuzz_check(used >= sizeof(oh));
	memcpy(&oh, reply, sizeof(oh));
	fuzz_check(oh.len == used);
	fuzz_check(oh.unique == hdr.unique);
	fuzz_check(oh.error <= 0 && oh.error > -4096);
	if (oh.error) {
		fuzz_check(oh.len == sizeof(oh));
		return;
	}
	learn(h, hdr.opcode, reply + sizeof(oh), used - sizeof(oh));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness *h = calloc(1, sizeof(*h));

	if (!h)
		return 0;
	h->call_fd = -1;
	fuzz_input_init(&h->in, data, size);
	if (setup(h) == 0)
		for (unsigned int i = 0; i < MAX_REQUESTS && !fuzz_done(&h->in);
		     i++)
			run_request(h);
	teardown(h);
	free(h);
	/* The guest is gone (as on a disconnect): only the root is left,
	 * and the next one starts with FUSE_INIT. */
	fs_reset(&world.fs);
	__atomic_store_n(&world.fs.proto_minor, 0, __ATOMIC_RELEASE);
	fuzz_check(fs_inode_count(&world.fs) == 1);
	check_world();
	return 0;
}
