/* SPDX-License-Identifier: MIT */
/*
 * vhostdev-fs's file-system side: the passthrough of one host directory,
 * served to the guest as FUSE requests. The guest names files by FUSE node
 * ids and open files by handles; both are indexes into tables kept here,
 * shared by every worker thread (one per virtqueue).
 */
#ifndef VHOSTDEV_FS_H
#define VHOSTDEV_FS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

enum fs_cache {
	FS_CACHE_NEVER,
	FS_CACHE_AUTO,
	FS_CACHE_ALWAYS,
};

enum fs_sandbox {
	FS_SANDBOX_NAMESPACE,
	FS_SANDBOX_CHROOT,
	FS_SANDBOX_NONE,
};

/* FUSE opcodes counted one by one; higher ones count as "other". */
#define FS_OP_COUNTED 64

/* A file or directory the guest looked up: held as an O_PATH descriptor so
 * that renames and removals on either side never make it name something
 * else. One inode per (st_dev, st_ino). */
struct fs_inode {
	int fd;
	dev_t dev;
	ino_t ino;
	mode_t type;           /* S_IFMT bits */
	uint64_t nodeid;
	uint64_t generation;   /* node ids are reused; this tells them apart */
	uint64_t nlookup;      /* the guest's references (LOOKUP - FORGET) */
	unsigned int refs;     /* requests using it right now */
	struct fs_inode *hnext;
};

/* An open file or directory (FUSE file handle). */
struct fs_handle {
	int fd;
	unsigned int refs;
	bool is_dir;
	/* READDIR seeks the one directory fd: one reader at a time. */
	pthread_mutex_t dir_lock;
};

struct fs {
	/* Options. */
	bool readonly;
	bool xattr;
	enum fs_cache cache;
	int verbose;

	int root_fd;           /* O_PATH, the shared directory */
	dev_t root_dev;        /* and its identity, read without the lock */
	ino_t root_ino;
	int proc_self_fd;      /* /proc/self/fd, to reopen O_PATH fds */
	bool as_root;          /* euid 0: requests run with the guest's ids */

	/* Requests taken, by opcode ([0]: any other), atomic: what a guest
	 * workload costs in requests, logged on SIGUSR1 and at disconnect. */
	uint64_t op_count[FS_OP_COUNTED];

	/* Negotiated in FUSE_INIT (0: not yet); workers read it at once. */
	uint32_t proto_minor;

	pthread_mutex_t lock;  /* guards everything below */
	struct fs_inode **inodes;  /* by nodeid; [1] is the root */
	uint64_t inodes_cap;
	uint64_t inodes_used;
	uint64_t inode_free_hint;
	uint64_t next_generation;
	struct fs_inode **hash;
	unsigned int hash_size;
	struct fs_handle **handles;  /* by fh */
	uint64_t handles_cap;
	uint64_t handle_free_hint;
};

/* The first node id FUSE uses for the mount's root. */
#define FS_ROOT_ID 1

/* Opens the shared directory (path is "/" once a sandbox pivoted or
 * chrooted into it); proc_self_fd (consumed) is /proc/self/fd, opened
 * before the sandbox hid /proc. Prints what failed. */
int fs_init(struct fs *fs, const char *path, int proc_self_fd,
	    const char *program);
void fs_fini(struct fs *fs);
/* Forgets every inode but the root and closes every handle: the guest
 * unmounted, or the front end left. */
void fs_reset(struct fs *fs);

/* The inode table (inode.c). _get takes a reference for one request. */
struct fs_inode *fs_inode_get(struct fs *fs, uint64_t nodeid);
void fs_inode_put(struct fs *fs, struct fs_inode *inode);
/* Adds one guest lookup of the file fd is an O_PATH descriptor for (fd is
 * consumed). Returns the node id, or a negative errno. */
struct stat;
int fs_inode_lookup_fd(struct fs *fs, int fd, const struct stat *st,
		       uint64_t *nodeid, uint64_t *generation);
void fs_inode_forget(struct fs *fs, uint64_t nodeid, uint64_t nlookup);
uint64_t fs_inode_count(struct fs *fs);

int fs_handle_new(struct fs *fs, int fd, bool is_dir, uint64_t *fh);
struct fs_handle *fs_handle_get(struct fs *fs, uint64_t fh);
void fs_handle_put(struct fs *fs, struct fs_handle *h);
/* RELEASE: drops the guest's reference. */
int fs_handle_release(struct fs *fs, uint64_t fh);

/* Per-thread scratch space for one request at a time. */
struct fs_scratch {
	char *in;          /* the request's device-readable part */
	size_t in_cap;
	char *out;         /* the reply */
	size_t out_cap;
	char *dents;       /* getdents64 buffer */
	size_t dents_cap;
	struct iovec *iov;
	unsigned int iov_cap;
};

int fs_scratch_init(struct fs_scratch *s);
void fs_scratch_fini(struct fs_scratch *s);

/* One FUSE request between the queue's worker, which takes it from the
 * ring and puts the reply back (the only thread calling vhostdev_req_*),
 * and whichever thread runs it. The iovecs point into guest memory and
 * stay valid until the worker completes the request. */
struct fs_request {
	struct fs_scratch s;
	const struct iovec *out_iov;  /* device-readable: the request */
	unsigned int out_n;
	size_t out_size;
	const struct iovec *in_iov;   /* device-writable: the reply */
	unsigned int in_n;
	size_t in_size;
	size_t copied;                /* request bytes in s.in */
	uint64_t unique;
	uint32_t opcode;
	int result;                   /* reply size in s.out, or -errno */
	bool no_reply;
	bool payload_written;         /* READ wrote straight to the guest */
};

struct vhostdev_req;
/* Worker: reads req into r. False: nothing to run, the reply (or none) is
 * decided already. */
bool fs_request_take(struct fs *fs, struct fs_request *r,
		     struct vhostdev_req *req);
/* Any thread: serves the request taken into r. */
void fs_request_run(struct fs *fs, struct fs_request *r);
/* Worker: writes r's reply into req; returns the bytes written. */
uint32_t fs_request_give(struct fs *fs, struct fs_request *r,
			 struct vhostdev_req *req);
/* All three at once, on the worker. */
uint32_t fs_serve(struct fs *fs, struct fs_request *r,
		  struct vhostdev_req *req);

/* Writes "NAME=count ..." for every opcode seen since start into buf. */
void fs_format_counts(struct fs *fs, char *buf, size_t size);

/* sandbox.c: confines the process to dir (namespace or chroot) and drops
 * the capabilities a passthrough server does not need. Prints errors. */
int fs_sandbox_enter(enum fs_sandbox mode, const char *dir,
		     const char *program);

#endif
