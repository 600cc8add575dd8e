/* SPDX-License-Identifier: MIT */
/*
 * The FUSE requests of vhostdev-fs: each virtio-fs request carries a FUSE
 * message (struct fuse_in_header and the operation's arguments, from
 * <linux/fuse.h>) in its device-readable part and gets the reply (struct
 * fuse_out_header and the result) in its device-writable part.
 *
 * Every host path is resolved relative to a held O_PATH descriptor, one
 * component at a time: a name from the guest must be a single component
 * (no '/', not empty), "." and ".." are handled here, and openat2() with
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS makes the
 * kernel refuse anything that would leave the directory. Descriptors are
 * reopened through /proc/self/fd (opened before any sandbox), never by
 * name, so a rename on either side cannot redirect an operation.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fuse.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs.h"
#include "vhostdev.h"

/* The oldest protocol we speak: virtio-fs itself needs 7.31 from the
 * guest, and 7.27 is the last layout change we rely on. */
#define FS_MIN_MINOR 27
/* Largest WRITE and READ we accept, and the matching page count. */
#define FS_MAX_WRITE (1024 * 1024)
#define FS_MAX_PAGES (FS_MAX_WRITE / 4096)

struct ctx {
	struct fs *fs;
	struct fs_scratch *s;
	struct fs_request *r;  /* the iovecs and sizes the worker took */
	const struct fuse_in_header *hdr;
	const char *arg;       /* after the header */
	size_t arg_size;
	size_t in_space;       /* device-writable bytes after the out header */
	bool no_reply;
	bool payload_written;  /* READ put its data straight into the guest */
};

/* ---- helpers ------------------------------------------------------------ */

static void fill_attr(struct fuse_attr *a, const struct stat *st)
{
	memset(a, 0, sizeof(*a));
	a->ino = st->st_ino;
	a->size = st->st_size;
	a->blocks = st->st_blocks;
	a->atime = st->st_atim.tv_sec;
	a->mtime = st->st_mtim.tv_sec;
	a->ctime = st->st_ctim.tv_sec;
	a->atimensec = st->st_atim.tv_nsec;
	a->mtimensec = st->st_mtim.tv_nsec;
	a->ctimensec = st->st_ctim.tv_nsec;
	a->mode = st->st_mode;
	a->nlink = st->st_nlink;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->rdev = st->st_rdev;
	a->blksize = st->st_blksize;
}

static uint64_t timeout_s(const struct fs *fs)
{
	switch (fs->cache) {
	case FS_CACHE_NEVER:
		return 0;
	case FS_CACHE_AUTO:
		return 1;
	default:
		return 86400;
	}
}

static int stat_fd(int fd, struct stat *st)
{
	if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

/* "/proc/self/fd/N" relative to fs->proc_self_fd. */
static void fd_name(char buf[16], int fd)
{
	snprintf(buf, 16, "%d", fd);
}

static int reopen(struct fs *fs, int fd, int flags)
{
	char name[16];
	int r;

	fd_name(name, fd);
	r = openat(fs->proc_self_fd, name, flags | O_CLOEXEC);
	return r < 0 ? -errno : r;
}

/* A name the guest sent as one path component: NUL-terminated inside the
 * arguments, not empty, no '/'. Returns it and advances *off past it. */
static const char *take_name(struct ctx *c, size_t *off)
{
	const char *p = c->arg + *off;
	const char *end;

	if (*off >= c->arg_size)
		return NULL;
	end = memchr(p, '\0', c->arg_size - *off);
	if (!end)
		return NULL;
	*off += (size_t)(end - p) + 1;
	return p;
}

static int check_component(const char *name)
{
	if (!name || !name[0] || strchr(name, '/'))
		return -EINVAL;
	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* A new entry's name: a plain component, never "." or "..". */
static int check_new_name(const char *name)
{
	int r = check_component(name);

	if (r < 0)
		return r;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return -EEXIST;
	return 0;
}

/* Opens name inside the directory dirfd without following anything and
 * without leaving it. */
static int open_beneath(int dirfd, const char *name, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
			   RESOLVE_NO_MAGICLINKS,
	};
	long r = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));

	/* Kernels before 5.6: a single component opened with O_NOFOLLOW
	 * cannot leave dirfd either. */
	if (r < 0 && errno == ENOSYS)
		r = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	return r < 0 ? -errno : (int)r;
}

/* 0 when the directory dirfd is the shared directory or below it: walks
 * ".." up to the share's root (inside) or to the file system's root
 * (outside: -EACCES). Only LOOKUP of ".." needs it, which Linux guests do
 * not send without EXPORT_SUPPORT. */
static int check_inside(struct fs *fs, int dirfd)
{
	int cur = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	struct stat st, up_st;
	int r = -EACCES;

	for (int depth = 0; cur >= 0 && depth < 4096; depth++) {
		int up;

		if (stat_fd(cur, &st) < 0)
			break;
		if (st.st_dev == fs->root_dev && st.st_ino == fs->root_ino) {
			r = 0;
			break;
		}
		up = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (up < 0)
			break;
		/* The top of the tree (its ".." is itself) and not the
		 * share: outside. */
		if (stat_fd(up, &up_st) < 0 ||
		    (up_st.st_dev == st.st_dev && up_st.st_ino == st.st_ino)) {
			close(up);
			break;
		}
		close(cur);
		cur = up;
	}
	if (cur >= 0)
		close(cur);
	return r;
}

/* Looks name up in parent and adds one guest reference to the result. */
static int do_lookup(struct fs *fs, struct fs_inode *parent,
		     const char *name, struct fuse_entry_out *e)
{
	struct stat st;
	int fd, r;

	memset(e, 0, sizeof(*e));
	r = check_component(name);
	if (r < 0)
		return r;
	if (parent->type != S_IFDIR)
		return -ENOTDIR;
	if (!strcmp(name, ".") ||
	    (!strcmp(name, "..") && parent->nodeid == FS_ROOT_ID)) {
		/* ".." of the shared directory is itself, as in a chroot. */
		fd = fcntl(parent->fd, F_DUPFD_CLOEXEC, 0);
	} else if (!strcmp(name, "..")) {
		fd = openat(parent->fd, "..", O_PATH | O_DIRECTORY |
			    O_CLOEXEC);
	} else {
		fd = open_beneath(parent->fd, name, O_PATH, 0);
		if (fd < 0) {
			errno = -fd;
			fd = -1;
		}
	}
	if (fd < 0)
		return -errno;
	r = stat_fd(fd, &st);
	if (r < 0) {
		close(fd);
		return r;
	}
	/* A directory reached through ".." must still be inside: the
	 * share's own ".." was answered above, but the host may have moved
	 * a directory the guest holds out of the share. */
	if (!strcmp(name, "..") && parent->nodeid != FS_ROOT_ID) {
		r = check_inside(fs, fd);
		if (r < 0) {
			close(fd);
			return r;
		}
	}
	r = fs_inode_lookup_fd(fs, fd, &st, &e->nodeid, &e->generation);
	if (r < 0)
		return r;
	e->entry_valid = e->attr_valid = timeout_s(fs);
	fill_attr(&e->attr, &st);
	return 0;
}

/* The caller's file-system ids for a new file: per thread (setfsuid is a
 * per-thread call), only when running as root. */
struct creds {
	bool changed;
};

static void creds_enter(struct ctx *c, struct creds *cr)
{
	cr->changed = false;
	if (!c->fs->as_root || (c->hdr->uid == 0 && c->hdr->gid == 0))
		return;
	setfsgid(c->hdr->gid);
	setfsuid(c->hdr->uid);
	cr->changed = true;
}

static void creds_leave(struct creds *cr)
{
	if (!cr->changed)
		return;
	setfsuid(0);
	setfsgid(0);
}

#define ARG(c, type) ((const type *)(c)->arg)

static void *reply(struct ctx *c)
{
	return c->s->out;
}

/* ---- requests ------------------------------------------------------------ */

static int op_init(struct ctx *c)
{
	const struct fuse_init_in *in = ARG(c, struct fuse_init_in);
	struct fuse_init_out *out = reply(c);
	uint64_t want, offered;

	memset(out, 0, sizeof(*out));
	out->major = FUSE_KERNEL_VERSION;
	out->minor = FUSE_KERNEL_MINOR_VERSION;
	/* A newer major: answer ours alone, the kernel retries or gives up
	 * (the FUSE handshake). */
	if (in->major > FUSE_KERNEL_VERSION)
		return 8;
	if (in->major < FUSE_KERNEL_VERSION || in->minor < FS_MIN_MINOR)
		return -EPROTO;
	if (in->minor < out->minor)
		out->minor = in->minor;
	offered = in->flags;
	if ((in->flags & FUSE_INIT_EXT) &&
	    c->arg_size >= offsetof(struct fuse_init_in, flags2) + 4)
		offered |= (uint64_t)in->flags2 << 32;
	want = FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES |
	       FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO |
	       FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES | FUSE_CACHE_SYMLINKS |
	       FUSE_ASYNC_DIO;
	if (c->fs->cache != FS_CACHE_NEVER)
		want |= FUSE_AUTO_INVAL_DATA;
	want &= offered;
	out->flags = (uint32_t)want;
	out->max_readahead = in->max_readahead;
	out->max_background = 64;
	out->congestion_threshold = 48;
	out->max_write = FS_MAX_WRITE;
	out->time_gran = 1;
	out->max_pages = FS_MAX_PAGES;
	__atomic_store_n(&c->fs->proto_minor, out->minor, __ATOMIC_RELEASE);
	/* A new mount starts from nothing. */
	fs_reset(c->fs);
	if (out->minor < 23)
		return FUSE_COMPAT_22_INIT_OUT_SIZE;
	return sizeof(*out);
}

static int op_destroy(struct ctx *c)
{
	fs_reset(c->fs);
	__atomic_store_n(&c->fs->proto_minor, 0, __ATOMIC_RELEASE);
	return 0;
}

static int op_lookup(struct ctx *c, struct fs_inode *dir)
{
	size_t off = 0;
	const char *name = take_name(c, &off);
	struct fuse_entry_out *e = reply(c);
	int r = do_lookup(c->fs, dir, name, e);

	/* A name that does not exist is an entry too (node id 0): the
	 * guest may remember its absence as long as it may remember a file
	 * (cache=auto: one second), and "touch NEW" then goes straight to
	 * CREATE instead of looking NEW up twice. */
	if (r == -ENOENT && timeout_s(c->fs)) {
		memset(e, 0, sizeof(*e));
		e->entry_valid = timeout_s(c->fs);
		return sizeof(*e);
	}
	return r < 0 ? r : (int)sizeof(struct fuse_entry_out);
}

static int op_forget(struct ctx *c)
{
	const struct fuse_forget_in *in = ARG(c, struct fuse_forget_in);

	fs_inode_forget(c->fs, c->hdr->nodeid, in->nlookup);
	c->no_reply = true;
	return 0;
}

static int op_batch_forget(struct ctx *c)
{
	const struct fuse_batch_forget_in *in =
		ARG(c, struct fuse_batch_forget_in);
	size_t room = (c->arg_size - sizeof(*in)) /
		      sizeof(struct fuse_forget_one);
	const struct fuse_forget_one *one =
		(const void *)(c->arg + sizeof(*in));

	c->no_reply = true;
	for (uint32_t i = 0; i < in->count && i < room; i++)
		fs_inode_forget(c->fs, one[i].nodeid, one[i].nlookup);
	return 0;
}

static int attr_reply(struct ctx *c, int fd)
{
	struct fuse_attr_out *out = reply(c);
	struct stat st;
	int r = stat_fd(fd, &st);

	if (r < 0)
		return r;
	memset(out, 0, sizeof(*out));
	out->attr_valid = timeout_s(c->fs);
	fill_attr(&out->attr, &st);
	return sizeof(*out);
}

static int op_getattr(struct ctx *c, struct fs_inode *inode)
{
	return attr_reply(c, inode->fd);
}

static int set_times(struct ctx *c, struct fs_inode *inode, int fh_fd,
		     const struct fuse_setattr_in *in)
{
	struct timespec ts[2] = {
		{ .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT },
	};
	char name[16];
	int r;

	if (in->valid & FATTR_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	else if (in->valid & FATTR_ATIME)
		ts[0] = (struct timespec){ (time_t)in->atime, in->atimensec };
	if (in->valid & FATTR_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	else if (in->valid & FATTR_MTIME)
		ts[1] = (struct timespec){ (time_t)in->mtime, in->mtimensec };
	if (fh_fd >= 0)
		return futimens(fh_fd, ts) < 0 ? -errno : 0;
	/* Only a name reaches a symlink's own times, and inodes have none. */
	if (inode->type == S_IFLNK)
		return -EOPNOTSUPP;
	fd_name(name, inode->fd);
	r = utimensat(c->fs->proc_self_fd, name, ts, 0);
	return r < 0 ? -errno : 0;
}

static int op_setattr(struct ctx *c, struct fs_inode *inode)
{
	const struct fuse_setattr_in *in = ARG(c, struct fuse_setattr_in);
	struct fs_handle *h = NULL;
	int fd = -1, r = 0;
	char name[16];

	if (c->fs->readonly)
		return -EROFS;
	if (in->valid & FATTR_FH) {
		h = fs_handle_get(c->fs, in->fh);
		if (!h)
			return -EBADF;
		fd = h->fd;
	}
	fd_name(name, inode->fd);
	if (in->valid & FATTR_MODE) {
		if (fd >= 0)
			r = fchmod(fd, in->mode);
		else if (inode->type == S_IFLNK)
			r = (errno = EOPNOTSUPP, -1);
		else
			r = fchmodat(c->fs->proc_self_fd, name, in->mode, 0);
		if (r < 0)
			goto fail;
	}
	if (in->valid & (FATTR_UID | FATTR_GID)) {
		uid_t uid = (in->valid & FATTR_UID) ? in->uid : (uid_t)-1;
		gid_t gid = (in->valid & FATTR_GID) ? in->gid : (gid_t)-1;

		r = fchownat(inode->fd, "", uid, gid,
			     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
		if (r < 0)
			goto fail;
	}
	if (in->valid & FATTR_SIZE) {
		if (fd >= 0) {
			r = ftruncate(fd, (off_t)in->size);
		} else if (inode->type != S_IFREG) {
			r = (errno = inode->type == S_IFDIR ? EISDIR : EINVAL,
			     -1);
		} else {
			int wfd = reopen(c->fs, inode->fd, O_WRONLY);

			if (wfd < 0) {
				r = (errno = -wfd, -1);
			} else {
				r = ftruncate(wfd, (off_t)in->size);
				if (r < 0)
					r = -1;
				close(wfd);
			}
		}
		if (r < 0)
			goto fail;
	}
	if (in->valid & (FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW |
			 FATTR_MTIME_NOW)) {
		r = set_times(c, inode, fd, in);
		if (r < 0) {
			fs_handle_put(c->fs, h);
			return r;
		}
	}
	fs_handle_put(c->fs, h);
	return attr_reply(c, inode->fd);
fail:
	r = -errno;
	fs_handle_put(c->fs, h);
	return r;
}

static int op_readlink(struct ctx *c, struct fs_inode *inode)
{
	size_t room = c->in_space < PATH_MAX ? c->in_space : PATH_MAX;
	ssize_t n;

	if (inode->type != S_IFLNK)
		return -EINVAL;
	n = readlinkat(inode->fd, "", reply(c), room);
	return n < 0 ? -errno : (int)n;
}

/* After a successful create of name in dir: the entry reply. */
static int entry_reply(struct ctx *c, struct fs_inode *dir, const char *name)
{
	int r = do_lookup(c->fs, dir, name, reply(c));

	return r < 0 ? r : (int)sizeof(struct fuse_entry_out);
}

static int op_mknod(struct ctx *c, struct fs_inode *dir)
{
	const struct fuse_mknod_in *in = ARG(c, struct fuse_mknod_in);
	size_t off = sizeof(*in);
	const char *name = take_name(c, &off);
	struct creds cr;
	int r = check_new_name(name);

	if (r < 0)
		return r;
	if (c->fs->readonly)
		return -EROFS;
	creds_enter(c, &cr);
	r = mknodat(dir->fd, name, in->mode, in->rdev);
	if (r < 0)
		r = -errno;
	creds_leave(&cr);
	return r < 0 ? r : entry_reply(c, dir, name);
}

static int op_mkdir(struct ctx *c, struct fs_inode *dir)
{
	const struct fuse_mkdir_in *in = ARG(c, struct fuse_mkdir_in);
	size_t off = sizeof(*in);
	const char *name = take_name(c, &off);
	struct creds cr;
	int r = check_new_name(name);

	if (r < 0)
		return r;
	if (c->fs->readonly)
		return -EROFS;
	creds_enter(c, &cr);
	r = mkdirat(dir->fd, name, in->mode);
	if (r < 0)
		r = -errno;
	creds_leave(&cr);
	return r < 0 ? r : entry_reply(c, dir, name);
}

static int op_symlink(struct ctx *c, struct fs_inode *dir)
{
	size_t off = 0;
	const char *name = take_name(c, &off);
	const char *target = take_name(c, &off);
	struct creds cr;
	int r = check_new_name(name);

	if (r < 0)
		return r;
	/* The target is only stored: nothing here ever follows it. */
	if (!target || !target[0])
		return -EINVAL;
	if (c->fs->readonly)
		return -EROFS;
	creds_enter(c, &cr);
	r = symlinkat(target, dir->fd, name);
	if (r < 0)
		r = -errno;
	creds_leave(&cr);
	return r < 0 ? r : entry_reply(c, dir, name);
}

static int op_unlink(struct ctx *c, struct fs_inode *dir, int flags)
{
	size_t off = 0;
	const char *name = take_name(c, &off);
	int r = check_new_name(name);

	if (r < 0)
		return r == -EEXIST ? -EINVAL : r;
	if (c->fs->readonly)
		return -EROFS;
	return unlinkat(dir->fd, name, flags) < 0 ? -errno : 0;
}

static int do_rename(struct ctx *c, struct fs_inode *dir, uint64_t newdir_id,
		     uint32_t flags, size_t off)
{
	const char *oldname = take_name(c, &off);
	const char *newname = take_name(c, &off);
	struct fs_inode *newdir;
	int r;

	r = check_new_name(oldname);
	if (r == 0)
		r = check_new_name(newname);
	if (r < 0)
		return r == -EEXIST ? -EINVAL : r;
	if (c->fs->readonly)
		return -EROFS;
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT))
		return -EINVAL;
	newdir = fs_inode_get(c->fs, newdir_id);
	if (!newdir)
		return -ENOENT;
	r = renameat2(dir->fd, oldname, newdir->fd, newname, flags);
	if (r < 0)
		r = -errno;
	fs_inode_put(c->fs, newdir);
	return r;
}

static int op_rename(struct ctx *c, struct fs_inode *dir)
{
	const struct fuse_rename_in *in = ARG(c, struct fuse_rename_in);

	return do_rename(c, dir, in->newdir, 0, sizeof(*in));
}

static int op_rename2(struct ctx *c, struct fs_inode *dir)
{
	const struct fuse_rename2_in *in = ARG(c, struct fuse_rename2_in);

	return do_rename(c, dir, in->newdir, in->flags, sizeof(*in));
}

static int op_link(struct ctx *c, struct fs_inode *dir)
{
	const struct fuse_link_in *in = ARG(c, struct fuse_link_in);
	size_t off = sizeof(*in);
	const char *name = take_name(c, &off);
	struct fs_inode *old;
	char oldname[16];
	int r = check_new_name(name);

	if (r < 0)
		return r;
	if (c->fs->readonly)
		return -EROFS;
	old = fs_inode_get(c->fs, in->oldnodeid);
	if (!old)
		return -ENOENT;
	if (old->type == S_IFDIR) {
		fs_inode_put(c->fs, old);
		return -EPERM;
	}
	r = linkat(old->fd, "", dir->fd, name, AT_EMPTY_PATH);
	if (r < 0 && (errno == ENOENT || errno == EPERM)) {
		/* Without CAP_DAC_READ_SEARCH AT_EMPTY_PATH is refused; the
		 * /proc link of our own descriptor says the same. */
		fd_name(oldname, old->fd);
		r = linkat(c->fs->proc_self_fd, oldname, dir->fd, name,
			   AT_SYMLINK_FOLLOW);
	}
	r = r < 0 ? -errno : 0;
	fs_inode_put(c->fs, old);
	return r < 0 ? r : entry_reply(c, dir, name);
}

/* The guest's open flags, minus what must not reach the host. */
static int host_open_flags(struct ctx *c, uint32_t flags, int *out)
{
	int f = (int)flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW |
			       O_DIRECT | O_PATH | O_TMPFILE);

	if (c->fs->readonly &&
	    ((f & O_ACCMODE) != O_RDONLY || (f & O_TRUNC)))
		return -EROFS;
	*out = f;
	return 0;
}

static uint32_t fopen_flags(struct fs *fs, bool dir)
{
	/* FLUSH only closes a duplicate here (no POSIX locks are served):
	 * from 7.35 on the guest can be told to skip it on close(). */
	uint32_t noflush = !dir && __atomic_load_n(&fs->proto_minor,
						   __ATOMIC_RELAXED) >= 35
			   ? FOPEN_NOFLUSH : 0;

	switch (fs->cache) {
	case FS_CACHE_NEVER:
		return dir ? 0 : FOPEN_DIRECT_IO | noflush;
	case FS_CACHE_ALWAYS:
		return dir ? FOPEN_CACHE_DIR | FOPEN_KEEP_CACHE
			   : FOPEN_KEEP_CACHE | noflush;
	default:
		return noflush;
	}
}

static int op_open(struct ctx *c, struct fs_inode *inode, bool dir)
{
	const struct fuse_open_in *in = ARG(c, struct fuse_open_in);
	struct fuse_open_out *out = reply(c);
	int flags, fd, r;

	if (dir && inode->type != S_IFDIR)
		return -ENOTDIR;
	/* Device nodes and FIFOs are opened by the guest kernel itself;
	 * opening them here would reach host devices. */
	if (!dir && inode->type != S_IFREG)
		return inode->type == S_IFDIR ? -EISDIR : -EACCES;
	if (dir) {
		flags = O_RDONLY | O_DIRECTORY;
	} else {
		r = host_open_flags(c, in->flags, &flags);
		if (r < 0)
			return r;
	}
	fd = reopen(c->fs, inode->fd, flags);
	if (fd < 0)
		return fd;
	memset(out, 0, sizeof(*out));
	r = fs_handle_new(c->fs, fd, dir, &out->fh);
	if (r < 0)
		return r;
	out->open_flags = fopen_flags(c->fs, dir);
	return sizeof(*out);
}

/* CREATE of a name that exists (the guest's lookup raced with a change on
 * the host, or a hostile guest): opens it only if it is a regular file. A
 * plain open with O_CREAT would open whatever is there, and the guest can
 * make FIFOs and device nodes with MKNOD: opening a FIFO blocks this thread
 * until a writer comes, opening a device node reaches host hardware. The
 * name is pinned with O_PATH first, then checked, then that same inode is
 * opened, so a rename in between cannot swap something else in. */
static int open_existing(struct ctx *c, struct fs_inode *dir,
			 const char *name, int flags)
{
	int pfd = open_beneath(dir->fd, name, O_PATH, 0);
	struct stat st;
	int r;

	if (pfd < 0)
		return pfd;
	r = stat_fd(pfd, &st);
	if (r == 0 && S_ISREG(st.st_mode))
		r = reopen(c->fs, pfd, flags);
	else if (r == 0)
		r = S_ISDIR(st.st_mode) ? -EISDIR :
		    S_ISLNK(st.st_mode) ? -ELOOP : -EACCES;
	close(pfd);
	return r;
}

static int op_create(struct ctx *c, struct fs_inode *dir)
{
	const struct fuse_create_in *in = ARG(c, struct fuse_create_in);
	size_t off = sizeof(*in);
	const char *name = take_name(c, &off);
	struct fuse_entry_out *e = reply(c);
	struct fuse_open_out *o = (void *)(e + 1);
	struct creds cr;
	struct stat st;
	int flags, fd, pfd, r;

	r = check_new_name(name);
	if (r < 0)
		return r;
	if (c->fs->readonly)
		return -EROFS;
	r = host_open_flags(c, in->flags, &flags);
	if (r < 0)
		return r;
	creds_enter(c, &cr);
	fd = open_beneath(dir->fd, name, flags | O_CREAT | O_EXCL,
			  in->mode & 07777);
	if (fd == -EEXIST && !(in->flags & O_EXCL))
		fd = open_existing(c, dir, name, flags);
	creds_leave(&cr);
	if (fd < 0)
		return fd;
	/* The entry is what was opened, even if the name moved since. */
	pfd = reopen(c->fs, fd, O_PATH);
	r = pfd < 0 ? pfd : stat_fd(pfd, &st);
	if (r < 0) {
		if (pfd >= 0)
			close(pfd);
		close(fd);
		return r;
	}
	memset(e, 0, sizeof(*e) + sizeof(*o));
	r = fs_inode_lookup_fd(c->fs, pfd, &st, &e->nodeid, &e->generation);
	if (r < 0) {
		close(fd);
		return r;
	}
	e->entry_valid = e->attr_valid = timeout_s(c->fs);
	fill_attr(&e->attr, &st);
	r = fs_handle_new(c->fs, fd, false, &o->fh);
	if (r < 0) {
		fs_inode_forget(c->fs, e->nodeid, 1);
		return r;
	}
	o->open_flags = fopen_flags(c->fs, false);
	return sizeof(*e) + sizeof(*o);
}

/* Builds in s->iov the part of iov[0..n) from skip, at most len bytes. */
static unsigned int iov_slice(struct fs_scratch *s, const struct iovec *iov,
			      unsigned int n, size_t skip, size_t len)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < n && len && k < s->iov_cap; i++) {
		size_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > len)
			l = len;
		s->iov[k].iov_base = (char *)iov[i].iov_base + skip;
		s->iov[k].iov_len = l;
		k++;
		len -= l;
		skip = 0;
	}
	return k;
}

static int op_read(struct ctx *c)
{
	const struct fuse_read_in *in = ARG(c, struct fuse_read_in);
	const struct iovec *iov;
	unsigned int n, k;
	size_t size = in->size;
	struct fs_handle *h;
	ssize_t got;

	h = fs_handle_get(c->fs, in->fh);
	if (!h || h->is_dir) {
		fs_handle_put(c->fs, h);
		return -EBADF;
	}
	if (size > c->in_space)
		size = c->in_space;
	iov = c->r->in_iov;
	n = c->r->in_n;
	k = iov_slice(c->s, iov, n, sizeof(struct fuse_out_header), size);
	got = k ? preadv(h->fd, c->s->iov, (int)k, (off_t)in->offset) : 0;
	fs_handle_put(c->fs, h);
	if (got < 0)
		return -errno;
	c->payload_written = true;
	return (int)got;
}

static int op_write(struct ctx *c)
{
	const struct fuse_write_in *in = ARG(c, struct fuse_write_in);
	struct fuse_write_out *out = reply(c);
	size_t skip = sizeof(struct fuse_in_header) + sizeof(*in);
	size_t total = c->r->out_size;
	const struct iovec *iov;
	struct fs_handle *h;
	unsigned int n, k;
	ssize_t put;

	if (c->fs->readonly)
		return -EROFS;
	if (in->size > FS_MAX_WRITE || total < skip ||
	    in->size > total - skip)
		return -EINVAL;
	h = fs_handle_get(c->fs, in->fh);
	if (!h || h->is_dir) {
		fs_handle_put(c->fs, h);
		return -EBADF;
	}
	iov = c->r->out_iov;
	n = c->r->out_n;
	k = iov_slice(c->s, iov, n, skip, in->size);
	put = k ? pwritev(h->fd, c->s->iov, (int)k, (off_t)in->offset) : 0;
	fs_handle_put(c->fs, h);
	if (put < 0)
		return -errno;
	memset(out, 0, sizeof(*out));
	out->size = (uint32_t)put;
	return sizeof(*out);
}

static int op_statfs(struct ctx *c, struct fs_inode *inode)
{
	struct fuse_statfs_out *out = reply(c);
	struct statfs st;

	if (fstatfs(inode->fd, &st) < 0)
		return -errno;
	memset(out, 0, sizeof(*out));
	out->st.blocks = st.f_blocks;
	out->st.bfree = st.f_bfree;
	out->st.bavail = st.f_bavail;
	out->st.files = st.f_files;
	out->st.ffree = st.f_ffree;
	out->st.bsize = (uint32_t)st.f_bsize;
	out->st.namelen = (uint32_t)st.f_namelen;
	out->st.frsize = (uint32_t)st.f_frsize;
	return sizeof(*out);
}

static int op_release(struct ctx *c)
{
	const struct fuse_release_in *in = ARG(c, struct fuse_release_in);

	return fs_handle_release(c->fs, in->fh);
}

/* Runs fn on the handle's descriptor. */
static int with_handle(struct ctx *c, uint64_t fh, int (*fn)(int fd, int arg),
		       int arg)
{
	struct fs_handle *h = fs_handle_get(c->fs, fh);
	int r;

	if (!h)
		return -EBADF;
	r = fn(h->fd, arg);
	fs_handle_put(c->fs, h);
	return r;
}

static int sync_fd(int fd, int datasync)
{
	int r = datasync ? fdatasync(fd) : fsync(fd);

	return r < 0 ? -errno : 0;
}

/* FLUSH is the guest's close(): closing a duplicate gives the host file
 * system the same moment to report delayed errors. */
static int flush_fd(int fd, int unused)
{
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	if (dup_fd < 0)
		return -errno;
	return close(dup_fd) < 0 ? -errno : 0;
}

static int op_fsync(struct ctx *c)
{
	const struct fuse_fsync_in *in = ARG(c, struct fuse_fsync_in);

	return with_handle(c, in->fh, sync_fd,
			   !!(in->fsync_flags & FUSE_FSYNC_FDATASYNC));
}

static int op_flush(struct ctx *c)
{
	const struct fuse_flush_in *in = ARG(c, struct fuse_flush_in);

	return with_handle(c, in->fh, flush_fd, 0);
}

static bool xattr_name_allowed(const char *name)
{
	/* trusted.* attributes carry meaning for the host's own tools. */
	return strncmp(name, "trusted.", 8) != 0;
}

/* A readable descriptor for f*xattr(): only files and directories. */
static int xattr_fd(struct ctx *c, struct fs_inode *inode)
{
	if (!c->fs->xattr)
		return -ENOSYS;
	if (inode->type != S_IFREG && inode->type != S_IFDIR)
		return -ENOTSUP;
	return reopen(c->fs, inode->fd, O_RDONLY | O_NONBLOCK);
}

static int op_getxattr(struct ctx *c, struct fs_inode *inode, bool list)
{
	const struct fuse_getxattr_in *in = ARG(c, struct fuse_getxattr_in);
	size_t off = sizeof(*in);
	const char *name = list ? "" : take_name(c, &off);
	size_t size = in->size;
	ssize_t n;
	int fd;

	if (!name)
		return -EINVAL;
	fd = xattr_fd(c, inode);
	if (fd < 0)
		return fd;
	if (size > c->s->out_cap)
		size = c->s->out_cap;
	if (size > c->in_space)
		size = c->in_space;
	if (list)
		n = flistxattr(fd, in->size ? reply(c) : NULL,
			       in->size ? size : 0);
	else
		n = fgetxattr(fd, name, in->size ? reply(c) : NULL,
			      in->size ? size : 0);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return (int)n;
	if (!in->size) {
		struct fuse_getxattr_out *out = reply(c);

		memset(out, 0, sizeof(*out));
		out->size = (uint32_t)n;
		return sizeof(*out);
	}
	return (int)n;
}

static int op_setxattr(struct ctx *c, struct fs_inode *inode)
{
	const struct fuse_setxattr_in *in = ARG(c, struct fuse_setxattr_in);
	/* The layout the guest uses depends on what INIT agreed. */
	size_t off = FUSE_COMPAT_SETXATTR_IN_SIZE;
	const char *name = take_name(c, &off);
	int fd, r;

	if (!name || in->size > c->arg_size - off)
		return -EINVAL;
	if (!xattr_name_allowed(name))
		return -EPERM;
	if (c->fs->readonly)
		return c->fs->xattr ? -EROFS : -ENOSYS;
	fd = xattr_fd(c, inode);
	if (fd < 0)
		return fd;
	r = fsetxattr(fd, name, c->arg + off, in->size, (int)in->flags);
	r = r < 0 ? -errno : 0;
	close(fd);
	return r;
}

static int op_removexattr(struct ctx *c, struct fs_inode *inode)
{
	size_t off = 0;
	const char *name = take_name(c, &off);
	int fd, r;

	if (!name)
		return -EINVAL;
	if (!xattr_name_allowed(name))
		return -EPERM;
	if (c->fs->readonly)
		return c->fs->xattr ? -EROFS : -ENOSYS;
	fd = xattr_fd(c, inode);
	if (fd < 0)
		return fd;
	r = fremovexattr(fd, name) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* READDIR and READDIRPLUS: entries from the host directory, from the
 * guest's offset (a d_off we gave it), as many as fit. */
static int op_readdir(struct ctx *c, bool plus)
{
	const struct fuse_read_in *in = ARG(c, struct fuse_read_in);
	struct fs_handle *h;
	size_t size = in->size, pos = 0;
	char *out = reply(c);
	bool full = false;
	int r = 0;

	if (size > c->in_space)
		size = c->in_space;
	if (size > c->s->out_cap)
		size = c->s->out_cap;
	h = fs_handle_get(c->fs, in->fh);
	if (!h || !h->is_dir) {
		fs_handle_put(c->fs, h);
		return -EBADF;
	}
	pthread_mutex_lock(&h->dir_lock);
	if (lseek(h->fd, (off_t)in->offset, SEEK_SET) < 0) {
		r = -errno;
		goto out;
	}
	while (!full) {
		size_t want = size < c->s->dents_cap ? size : c->s->dents_cap;
		ssize_t n = getdents64(h->fd, c->s->dents, want < 512 ? 512
								     : want);

		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n;) {
			struct dirent64 *d = (void *)(c->s->dents + i);
			size_t namelen = strlen(d->d_name);
			size_t base = plus ? FUSE_NAME_OFFSET_DIRENTPLUS
					   : FUSE_NAME_OFFSET;
			size_t len = FUSE_DIRENT_ALIGN(base + namelen);
			struct fuse_dirent *fd;

			i += d->d_reclen;
			if (pos + len > size) {
				full = true;
				break;
			}
			memset(out + pos, 0, len);
			if (plus) {
				struct fuse_direntplus *dp =
					(void *)(out + pos);
				struct fs_inode *dir;

				fd = &dp->dirent;
				/* The guest keeps no reference for "." and
				 * "..": give them none. A name that vanished
				 * meanwhile gets an empty entry. */
				if (strcmp(d->d_name, ".") &&
				    strcmp(d->d_name, "..") &&
				    (dir = fs_inode_get(c->fs,
							c->hdr->nodeid))) {
					if (do_lookup(c->fs, dir, d->d_name,
						      &dp->entry_out) < 0)
						memset(&dp->entry_out, 0,
						       sizeof(dp->entry_out));
					fs_inode_put(c->fs, dir);
				}
			} else {
				fd = (void *)(out + pos);
			}
			fd->ino = d->d_ino;
			fd->off = (uint64_t)d->d_off;
			fd->namelen = (uint32_t)namelen;
			fd->type = d->d_type;
			memcpy(fd->name, d->d_name, namelen);
			pos += len;
		}
	}
out:
	pthread_mutex_unlock(&h->dir_lock);
	fs_handle_put(c->fs, h);
	if (r < 0 && pos == 0)
		return r;
	return (int)pos;
}

static int op_access(struct ctx *c, struct fs_inode *inode)
{
	const struct fuse_access_in *in = ARG(c, struct fuse_access_in);
	char name[16];

	if ((in->mask & W_OK) && c->fs->readonly)
		return -EROFS;
	if (inode->type == S_IFLNK)
		return 0;
	fd_name(name, inode->fd);
	return faccessat(c->fs->proc_self_fd, name, (int)in->mask, 0) < 0
		       ? -errno : 0;
}

static int op_fallocate(struct ctx *c)
{
	const struct fuse_fallocate_in *in = ARG(c, struct fuse_fallocate_in);
	struct fs_handle *h;
	int r;

	if (c->fs->readonly)
		return -EROFS;
	h = fs_handle_get(c->fs, in->fh);
	if (!h)
		return -EBADF;
	r = fallocate(h->fd, (int)in->mode, (off_t)in->offset,
		      (off_t)in->length);
	r = r < 0 ? -errno : 0;
	fs_handle_put(c->fs, h);
	return r;
}

static int op_lseek(struct ctx *c)
{
	const struct fuse_lseek_in *in = ARG(c, struct fuse_lseek_in);
	struct fuse_lseek_out *out = reply(c);
	struct fs_handle *h = fs_handle_get(c->fs, in->fh);
	off_t r;

	if (!h)
		return -EBADF;
	r = lseek(h->fd, (off_t)in->offset, (int)in->whence);
	fs_handle_put(c->fs, h);
	if (r < 0)
		return -errno;
	out->offset = (uint64_t)r;
	return sizeof(*out);
}

static int op_copy_file_range(struct ctx *c)
{
	const struct fuse_copy_file_range_in *in =
		ARG(c, struct fuse_copy_file_range_in);
	struct fuse_write_out *out = reply(c);
	struct fs_handle *hin, *hout;
	loff_t off_in = (loff_t)in->off_in, off_out = (loff_t)in->off_out;
	size_t len = in->len;
	ssize_t n;

	if (c->fs->readonly)
		return -EROFS;
	/* The reply counts in 32 bits. */
	if (len > 0x7ffff000)
		len = 0x7ffff000;
	hin = fs_handle_get(c->fs, in->fh_in);
	hout = fs_handle_get(c->fs, in->fh_out);
	if (!hin || !hout) {
		fs_handle_put(c->fs, hin);
		fs_handle_put(c->fs, hout);
		return -EBADF;
	}
	n = copy_file_range(hin->fd, &off_in, hout->fd, &off_out, len,
			    (unsigned int)in->flags);
	if (n < 0)
		n = -errno;
	fs_handle_put(c->fs, hin);
	fs_handle_put(c->fs, hout);
	if (n < 0)
		return (int)n;
	memset(out, 0, sizeof(*out));
	out->size = (uint32_t)n;
	return sizeof(*out);
}

static int op_syncfs(struct ctx *c)
{
	int fd = reopen(c->fs, c->fs->root_fd, O_RDONLY | O_DIRECTORY);
	int r;

	if (fd < 0)
		return fd;
	r = syncfs(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* ---- dispatch ------------------------------------------------------------ */

/* Argument sizes the guest must send, by opcode; 0: no fixed part. */
static size_t min_arg_size(uint32_t opcode)
{
	switch (opcode) {
	case FUSE_INIT:
		return offsetof(struct fuse_init_in, flags2);
	case FUSE_FORGET:
		return sizeof(struct fuse_forget_in);
	case FUSE_BATCH_FORGET:
		return sizeof(struct fuse_batch_forget_in);
	case FUSE_GETATTR:
		return sizeof(struct fuse_getattr_in);
	case FUSE_SETATTR:
		return sizeof(struct fuse_setattr_in);
	case FUSE_MKNOD:
		return sizeof(struct fuse_mknod_in);
	case FUSE_MKDIR:
		return sizeof(struct fuse_mkdir_in);
	case FUSE_RENAME:
		return sizeof(struct fuse_rename_in);
	case FUSE_RENAME2:
		return sizeof(struct fuse_rename2_in);
	case FUSE_LINK:
		return sizeof(struct fuse_link_in);
	case FUSE_OPEN:
	case FUSE_OPENDIR:
		return sizeof(struct fuse_open_in);
	case FUSE_CREATE:
		return sizeof(struct fuse_create_in);
	case FUSE_READ:
	case FUSE_READDIR:
	case FUSE_READDIRPLUS:
		return sizeof(struct fuse_read_in);
	case FUSE_WRITE:
		return sizeof(struct fuse_write_in);
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:
		return sizeof(struct fuse_release_in);
	case FUSE_FSYNC:
	case FUSE_FSYNCDIR:
		return sizeof(struct fuse_fsync_in);
	case FUSE_FLUSH:
		return sizeof(struct fuse_flush_in);
	case FUSE_SETXATTR:
		return FUSE_COMPAT_SETXATTR_IN_SIZE;
	case FUSE_GETXATTR:
	case FUSE_LISTXATTR:
		return sizeof(struct fuse_getxattr_in);
	case FUSE_ACCESS:
		return sizeof(struct fuse_access_in);
	case FUSE_FALLOCATE:
		return sizeof(struct fuse_fallocate_in);
	case FUSE_LSEEK:
		return sizeof(struct fuse_lseek_in);
	case FUSE_COPY_FILE_RANGE:
		return sizeof(struct fuse_copy_file_range_in);
	case FUSE_INTERRUPT:
		return sizeof(struct fuse_interrupt_in);
	default:
		return 0;
	}
}

/* Requests about one inode (the header's nodeid). */
static int dispatch_inode(struct ctx *c, struct fs_inode *inode)
{
	switch (c->hdr->opcode) {
	case FUSE_LOOKUP:
		return op_lookup(c, inode);
	case FUSE_GETATTR:
		return op_getattr(c, inode);
	case FUSE_SETATTR:
		return op_setattr(c, inode);
	case FUSE_READLINK:
		return op_readlink(c, inode);
	case FUSE_SYMLINK:
		return op_symlink(c, inode);
	case FUSE_MKNOD:
		return op_mknod(c, inode);
	case FUSE_MKDIR:
		return op_mkdir(c, inode);
	case FUSE_UNLINK:
		return op_unlink(c, inode, 0);
	case FUSE_RMDIR:
		return op_unlink(c, inode, AT_REMOVEDIR);
	case FUSE_RENAME:
		return op_rename(c, inode);
	case FUSE_RENAME2:
		return op_rename2(c, inode);
	case FUSE_LINK:
		return op_link(c, inode);
	case FUSE_OPEN:
		return op_open(c, inode, false);
	case FUSE_OPENDIR:
		return op_open(c, inode, true);
	case FUSE_CREATE:
		return op_create(c, inode);
	case FUSE_STATFS:
		return op_statfs(c, inode);
	case FUSE_ACCESS:
		return op_access(c, inode);
	case FUSE_GETXATTR:
		return op_getxattr(c, inode, false);
	case FUSE_LISTXATTR:
		return op_getxattr(c, inode, true);
	case FUSE_SETXATTR:
		return op_setxattr(c, inode);
	case FUSE_REMOVEXATTR:
		return op_removexattr(c, inode);
	default:
		return -ENOSYS;
	}
}

static bool is_inode_request(uint32_t opcode)
{
	switch (opcode) {
	case FUSE_LOOKUP: case FUSE_GETATTR: case FUSE_SETATTR:
	case FUSE_READLINK: case FUSE_SYMLINK: case FUSE_MKNOD:
	case FUSE_MKDIR: case FUSE_UNLINK: case FUSE_RMDIR:
	case FUSE_RENAME: case FUSE_RENAME2: case FUSE_LINK:
	case FUSE_OPEN: case FUSE_OPENDIR: case FUSE_CREATE:
	case FUSE_STATFS: case FUSE_ACCESS: case FUSE_GETXATTR:
	case FUSE_LISTXATTR: case FUSE_SETXATTR: case FUSE_REMOVEXATTR:
		return true;
	default:
		return false;
	}
}

static int dispatch(struct ctx *c)
{
	uint32_t opcode = c->hdr->opcode;
	struct fs_inode *inode;
	int r;

	if (c->arg_size < min_arg_size(opcode))
		return -EINVAL;
	if (opcode == FUSE_INIT)
		return op_init(c);
	if (!__atomic_load_n(&c->fs->proto_minor, __ATOMIC_ACQUIRE)) {
		/* Before INIT only a FORGET is harmless. */
		if (opcode == FUSE_FORGET || opcode == FUSE_BATCH_FORGET)
			c->no_reply = true;
		return -EIO;
	}
	if (is_inode_request(opcode)) {
		inode = fs_inode_get(c->fs, c->hdr->nodeid);
		if (!inode)
			return -ENOENT;
		r = dispatch_inode(c, inode);
		fs_inode_put(c->fs, inode);
		return r;
	}
	switch (opcode) {
	case FUSE_DESTROY:
		return op_destroy(c);
	case FUSE_FORGET:
		return op_forget(c);
	case FUSE_BATCH_FORGET:
		return op_batch_forget(c);
	case FUSE_INTERRUPT:
		/* Requests here run to completion; there is nothing to
		 * interrupt and FUSE wants no reply. */
		c->no_reply = true;
		return 0;
	case FUSE_READ:
		return op_read(c);
	case FUSE_WRITE:
		return op_write(c);
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:
		return op_release(c);
	case FUSE_FSYNC:
	case FUSE_FSYNCDIR:
		return op_fsync(c);
	case FUSE_FLUSH:
		return op_flush(c);
	case FUSE_READDIR:
		return op_readdir(c, false);
	case FUSE_READDIRPLUS:
		return op_readdir(c, true);
	case FUSE_FALLOCATE:
		return op_fallocate(c);
	case FUSE_LSEEK:
		return op_lseek(c);
	case FUSE_COPY_FILE_RANGE:
		return op_copy_file_range(c);
	case FUSE_SYNCFS:
		return op_syncfs(c);
	default:
		return -ENOSYS;
	}
}

/* ---- counting ----------------------------------------------------------- */

static const char *const opcode_names[FS_OP_COUNTED] = {
	[0] = "other",
	[FUSE_LOOKUP] = "LOOKUP",
	[FUSE_FORGET] = "FORGET",
	[FUSE_GETATTR] = "GETATTR",
	[FUSE_SETATTR] = "SETATTR",
	[FUSE_READLINK] = "READLINK",
	[FUSE_SYMLINK] = "SYMLINK",
	[FUSE_MKNOD] = "MKNOD",
	[FUSE_MKDIR] = "MKDIR",
	[FUSE_UNLINK] = "UNLINK",
	[FUSE_RMDIR] = "RMDIR",
	[FUSE_RENAME] = "RENAME",
	[FUSE_LINK] = "LINK",
	[FUSE_OPEN] = "OPEN",
	[FUSE_READ] = "READ",
	[FUSE_WRITE] = "WRITE",
	[FUSE_STATFS] = "STATFS",
	[FUSE_RELEASE] = "RELEASE",
	[FUSE_FSYNC] = "FSYNC",
	[FUSE_SETXATTR] = "SETXATTR",
	[FUSE_GETXATTR] = "GETXATTR",
	[FUSE_LISTXATTR] = "LISTXATTR",
	[FUSE_REMOVEXATTR] = "REMOVEXATTR",
	[FUSE_FLUSH] = "FLUSH",
	[FUSE_INIT] = "INIT",
	[FUSE_OPENDIR] = "OPENDIR",
	[FUSE_READDIR] = "READDIR",
	[FUSE_RELEASEDIR] = "RELEASEDIR",
	[FUSE_FSYNCDIR] = "FSYNCDIR",
	[FUSE_GETLK] = "GETLK",
	[FUSE_SETLK] = "SETLK",
	[FUSE_SETLKW] = "SETLKW",
	[FUSE_ACCESS] = "ACCESS",
	[FUSE_CREATE] = "CREATE",
	[FUSE_INTERRUPT] = "INTERRUPT",
	[FUSE_BMAP] = "BMAP",
	[FUSE_DESTROY] = "DESTROY",
	[FUSE_IOCTL] = "IOCTL",
	[FUSE_POLL] = "POLL",
	[FUSE_BATCH_FORGET] = "BATCH_FORGET",
	[FUSE_FALLOCATE] = "FALLOCATE",
	[FUSE_READDIRPLUS] = "READDIRPLUS",
	[FUSE_RENAME2] = "RENAME2",
	[FUSE_LSEEK] = "LSEEK",
	[FUSE_COPY_FILE_RANGE] = "COPY_FILE_RANGE",
	[FUSE_SETUPMAPPING] = "SETUPMAPPING",
	[FUSE_REMOVEMAPPING] = "REMOVEMAPPING",
	[FUSE_SYNCFS] = "SYNCFS",
	[FUSE_TMPFILE] = "TMPFILE",
};

void fs_format_counts(struct fs *fs, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < FS_OP_COUNTED && len < size; i++) {
		uint64_t n = __atomic_load_n(&fs->op_count[i],
					     __ATOMIC_RELAXED);
		int w;

		if (!n)
			continue;
		if (opcode_names[i])
			w = snprintf(buf + len, size - len, "%s%s=%llu",
				     len ? " " : "", opcode_names[i],
				     (unsigned long long)n);
		else
			w = snprintf(buf + len, size - len, "%sop%u=%llu",
				     len ? " " : "", i, (unsigned long long)n);
		if (w < 0)
			break;
		len += (size_t)w;
	}
}

/* ---- the request's way through the daemon --------------------------------- */

/* Worker: copies the request into the record's buffer and takes its
 * iovecs, so that running it needs nothing from the library. */
bool fs_request_take(struct fs *fs, struct fs_request *r,
		     struct vhostdev_req *req)
{
	struct fs_scratch *s = &r->s;
	struct fuse_in_header hdr;
	size_t copy;

	r->out_size = vhostdev_req_get_out_size(req);
	r->in_size = vhostdev_req_get_in_size(req);
	r->out_iov = vhostdev_req_get_out(req, &r->out_n);
	r->in_iov = vhostdev_req_get_in(req, &r->in_n);
	r->result = 0;
	r->copied = 0;
	r->no_reply = false;
	r->payload_written = false;
	/* Without a header there is nobody to answer. */
	if (r->out_size < sizeof(hdr)) {
		r->no_reply = true;
		return false;
	}
	vhostdev_req_read(req, 0, &hdr, sizeof(hdr));
	r->unique = hdr.unique;
	r->opcode = hdr.opcode;
	__atomic_add_fetch(&fs->op_count[hdr.opcode < FS_OP_COUNTED ?
					 hdr.opcode : 0], 1, __ATOMIC_RELAXED);
	/* WRITE data goes from guest memory to the file directly; every
	 * other request is copied once, so the guest cannot change it
	 * while it is checked and used. */
	copy = r->out_size;
	if (hdr.opcode == FUSE_WRITE &&
	    copy > sizeof(hdr) + sizeof(struct fuse_write_in))
		copy = sizeof(hdr) + sizeof(struct fuse_write_in);
	if (copy > s->in_cap) {
		r->result = -EINVAL;
		return false;
	}
	vhostdev_req_read(req, 0, s->in, copy);
	r->copied = copy;
	/* Zero the rest so a short but accepted fixed part reads as 0. */
	memset(s->in + copy, 0, s->in_cap - copy < 64 ? s->in_cap - copy : 64);
	return true;
}

/* Any thread: runs the file-system operation into the record. */
void fs_request_run(struct fs *fs, struct fs_request *r)
{
	struct ctx c = {
		.fs = fs, .s = &r->s, .r = r, .hdr = (const void *)r->s.in,
		.arg = r->s.in + sizeof(struct fuse_in_header),
		.arg_size = r->copied - sizeof(struct fuse_in_header),
	};
	const struct fuse_in_header *hdr = c.hdr;

	c.in_space = r->in_size > sizeof(struct fuse_out_header) ?
		     r->in_size - sizeof(struct fuse_out_header) : 0;
	r->result = dispatch(&c);
	r->no_reply = c.no_reply;
	r->payload_written = c.payload_written;
	if (fs->verbose > 1)
		fprintf(stderr, "fuse: opcode %u unique %llu node %llu: %d\n",
			hdr->opcode, (unsigned long long)hdr->unique,
			(unsigned long long)hdr->nodeid, r->result);
}

/* Worker: writes the reply into the request; returns the bytes written. */
uint32_t fs_request_give(struct fs *fs, struct fs_request *r,
			 struct vhostdev_req *req)
{
	struct fuse_out_header oh = { .unique = r->unique };
	size_t space;
	int res = r->result;

	if (r->no_reply || r->in_size < sizeof(oh))
		return 0;
	space = r->in_size - sizeof(oh);
	if (res > 0 && (size_t)res > space)
		res = -ERANGE;
	if (res < 0) {
		oh.error = res;
		res = 0;
	}
	oh.len = (uint32_t)(sizeof(oh) + (size_t)res);
	vhostdev_req_write(req, 0, &oh, sizeof(oh));
	if (res > 0 && !r->payload_written)
		vhostdev_req_write(req, sizeof(oh), r->s.out, (size_t)res);
	return oh.len;
}

uint32_t fs_serve(struct fs *fs, struct fs_request *r,
		  struct vhostdev_req *req)
{
	if (fs_request_take(fs, r, req))
		fs_request_run(fs, r);
	return fs_request_give(fs, r, req);
}
