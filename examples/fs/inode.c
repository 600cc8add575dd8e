/* SPDX-License-Identifier: MIT */
/*
 * The inode and file-handle tables of vhostdev-fs. Node ids and handles are
 * indexes, never pointers: they come back from a guest that may lie, so
 * each is checked against the table before use. An inode lives while the
 * guest holds lookups on it or a request uses it; a FORGET of its last
 * lookup closes its O_PATH descriptor, so memory stays bounded by what the
 * guest's dentry cache holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"

#define FS_HASH_SIZE 65536u

static unsigned int hash_of(dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev;

	return (unsigned int)(h >> 32) & (FS_HASH_SIZE - 1);
}

static void hash_remove(struct fs *fs, struct fs_inode *inode)
{
	struct fs_inode **p = &fs->hash[hash_of(inode->dev, inode->ino)];

	while (*p && *p != inode)
		p = &(*p)->hnext;
	if (*p)
		*p = inode->hnext;
}

/* Under fs->lock: no lookup and no request holds it any more. */
static void inode_free(struct fs *fs, struct fs_inode *inode)
{
	hash_remove(fs, inode);
	fs->inodes[inode->nodeid] = NULL;
	fs->inodes_used--;
	if (inode->nodeid < fs->inode_free_hint)
		fs->inode_free_hint = inode->nodeid;
	close(inode->fd);
	free(inode);
}

static int grow(void *ptable, uint64_t *cap, size_t elem)
{
	void **table = ptable;
	uint64_t ncap = *cap ? *cap * 2 : 1024;
	void *p = realloc(*table, ncap * elem);

	if (!p)
		return -ENOMEM;
	memset((char *)p + *cap * elem, 0, (ncap - *cap) * elem);
	*table = p;
	*cap = ncap;
	return 0;
}

int fs_init(struct fs *fs, const char *path, int proc_self_fd,
	    const char *program)
{
	struct fs_inode *root;
	struct stat st;
	int r;

	fs->proc_self_fd = proc_self_fd;
	/* Once here, not a syscall for every request that creates. */
	fs->as_root = geteuid() == 0;
	fs->root_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fs->root_fd < 0 || fstat(fs->root_fd, &st) < 0) {
		r = -errno;
		fprintf(stderr, "%s: shared directory %s: %s\n", program, path,
			strerror(-r));
		return r;
	}
	fs->root_dev = st.st_dev;
	fs->root_ino = st.st_ino;
	pthread_mutex_init(&fs->lock, NULL);
	fs->hash = calloc(FS_HASH_SIZE, sizeof(*fs->hash));
	root = calloc(1, sizeof(*root));
	if (!fs->hash || !root || grow(&fs->inodes, &fs->inodes_cap,
				       sizeof(*fs->inodes)) < 0) {
		free(root);
		fprintf(stderr, "%s: out of memory\n", program);
		return -ENOMEM;
	}
	/* The root never goes: the guest may look it up and forget it
	 * any number of times. */
	root->fd = fs->root_fd;
	root->dev = st.st_dev;
	root->ino = st.st_ino;
	root->type = S_IFDIR;
	root->nodeid = FS_ROOT_ID;
	root->nlookup = 1;
	root->refs = 1;
	fs->inodes[FS_ROOT_ID] = root;
	fs->inodes_used = 1;
	fs->inode_free_hint = FS_ROOT_ID + 1;
	fs->hash[hash_of(root->dev, root->ino)] = root;
	fs->handle_free_hint = 1;
	return 0;
}

void fs_reset(struct fs *fs)
{
	pthread_mutex_lock(&fs->lock);
	for (uint64_t i = FS_ROOT_ID + 1; i < fs->inodes_cap; i++) {
		struct fs_inode *inode = fs->inodes[i];

		if (!inode)
			continue;
		/* A request still using it frees it when done. */
		inode->nlookup = 0;
		if (!inode->refs)
			inode_free(fs, inode);
	}
	for (uint64_t i = 1; i < fs->handles_cap; i++) {
		struct fs_handle *h = fs->handles[i];

		if (!h)
			continue;
		fs->handles[i] = NULL;
		if (--h->refs == 0) {
			close(h->fd);
			pthread_mutex_destroy(&h->dir_lock);
			free(h);
		}
	}
	fs->handle_free_hint = 1;
	pthread_mutex_unlock(&fs->lock);
}

void fs_fini(struct fs *fs)
{
	if (!fs->hash)
		return;
	fs_reset(fs);
	free(fs->inodes[FS_ROOT_ID]);
	free(fs->inodes);
	free(fs->hash);
	free(fs->handles);
	close(fs->root_fd);
	if (fs->proc_self_fd >= 0)
		close(fs->proc_self_fd);
	pthread_mutex_destroy(&fs->lock);
	fs->hash = NULL;
}

struct fs_inode *fs_inode_get(struct fs *fs, uint64_t nodeid)
{
	struct fs_inode *inode = NULL;

	pthread_mutex_lock(&fs->lock);
	if (nodeid < fs->inodes_cap && fs->inodes[nodeid]) {
		inode = fs->inodes[nodeid];
		inode->refs++;
	}
	pthread_mutex_unlock(&fs->lock);
	return inode;
}

void fs_inode_put(struct fs *fs, struct fs_inode *inode)
{
	if (!inode)
		return;
	pthread_mutex_lock(&fs->lock);
	if (--inode->refs == 0 && inode->nlookup == 0)
		inode_free(fs, inode);
	pthread_mutex_unlock(&fs->lock);
}

int fs_inode_lookup_fd(struct fs *fs, int fd, const struct stat *st,
		       uint64_t *nodeid, uint64_t *generation)
{
	unsigned int h = hash_of(st->st_dev, st->st_ino);
	struct fs_inode *inode;
	uint64_t id;

	pthread_mutex_lock(&fs->lock);
	for (inode = fs->hash[h]; inode; inode = inode->hnext) {
		if (inode->dev == st->st_dev && inode->ino == st->st_ino) {
			inode->nlookup++;
			*nodeid = inode->nodeid;
			*generation = inode->generation;
			pthread_mutex_unlock(&fs->lock);
			close(fd);
			return 0;
		}
	}
	for (id = fs->inode_free_hint; id < fs->inodes_cap; id++)
		if (!fs->inodes[id])
			break;
	if (id >= fs->inodes_cap &&
	    grow(&fs->inodes, &fs->inodes_cap, sizeof(*fs->inodes)) < 0)
		goto nomem;
	inode = calloc(1, sizeof(*inode));
	if (!inode)
		goto nomem;
	inode->fd = fd;
	inode->dev = st->st_dev;
	inode->ino = st->st_ino;
	inode->type = st->st_mode & S_IFMT;
	inode->nodeid = id;
	inode->generation = ++fs->next_generation;
	inode->nlookup = 1;
	inode->hnext = fs->hash[h];
	fs->hash[h] = inode;
	fs->inodes[id] = inode;
	fs->inodes_used++;
	fs->inode_free_hint = id + 1;
	*nodeid = id;
	*generation = inode->generation;
	pthread_mutex_unlock(&fs->lock);
	return 0;
nomem:
	pthread_mutex_unlock(&fs->lock);
	close(fd);
	return -ENOMEM;
}

void fs_inode_forget(struct fs *fs, uint64_t nodeid, uint64_t nlookup)
{
	struct fs_inode *inode;

	if (nodeid == FS_ROOT_ID)
		return;
	pthread_mutex_lock(&fs->lock);
	if (nodeid < fs->inodes_cap && (inode = fs->inodes[nodeid])) {
		inode->nlookup -= nlookup < inode->nlookup ? nlookup
							    : inode->nlookup;
		if (!inode->nlookup && !inode->refs)
			inode_free(fs, inode);
	}
	pthread_mutex_unlock(&fs->lock);
}

uint64_t fs_inode_count(struct fs *fs)
{
	uint64_t n;

	pthread_mutex_lock(&fs->lock);
	n = fs->inodes_used;
	pthread_mutex_unlock(&fs->lock);
	return n;
}

int fs_handle_new(struct fs *fs, int fd, bool is_dir, uint64_t *fh)
{
	struct fs_handle *h = calloc(1, sizeof(*h));
	uint64_t id;

	if (!h) {
		close(fd);
		return -ENOMEM;
	}
	h->fd = fd;
	h->is_dir = is_dir;
	h->refs = 1;
	pthread_mutex_init(&h->dir_lock, NULL);
	pthread_mutex_lock(&fs->lock);
	for (id = fs->handle_free_hint; id < fs->handles_cap; id++)
		if (!fs->handles[id])
			break;
	if (id >= fs->handles_cap &&
	    grow(&fs->handles, &fs->handles_cap, sizeof(*fs->handles)) < 0) {
		pthread_mutex_unlock(&fs->lock);
		pthread_mutex_destroy(&h->dir_lock);
		free(h);
		close(fd);
		return -ENOMEM;
	}
	fs->handles[id] = h;
	fs->handle_free_hint = id + 1;
	pthread_mutex_unlock(&fs->lock);
	*fh = id;
	return 0;
}

struct fs_handle *fs_handle_get(struct fs *fs, uint64_t fh)
{
	struct fs_handle *h = NULL;

	pthread_mutex_lock(&fs->lock);
	if (fh && fh < fs->handles_cap && fs->handles[fh]) {
		h = fs->handles[fh];
		h->refs++;
	}
	pthread_mutex_unlock(&fs->lock);
	return h;
}

void fs_handle_put(struct fs *fs, struct fs_handle *h)
{
	bool last;

	if (!h)
		return;
	pthread_mutex_lock(&fs->lock);
	last = --h->refs == 0;
	pthread_mutex_unlock(&fs->lock);
	if (last) {
		close(h->fd);
		pthread_mutex_destroy(&h->dir_lock);
		free(h);
	}
}

int fs_handle_release(struct fs *fs, uint64_t fh)
{
	struct fs_handle *h = NULL;

	pthread_mutex_lock(&fs->lock);
	if (fh && fh < fs->handles_cap && fs->handles[fh]) {
		h = fs->handles[fh];
		fs->handles[fh] = NULL;
		if (fh < fs->handle_free_hint)
			fs->handle_free_hint = fh;
	}
	pthread_mutex_unlock(&fs->lock);
	if (!h)
		return -EBADF;
	fs_handle_put(fs, h);
	return 0;
}

int fs_scratch_init(struct fs_scratch *s)
{
	/* The largest request body is SETXATTR (64 KiB value plus name);
	 * WRITE data is never copied. The largest reply copied is a 64 KiB
	 * xattr value or list, or a READDIR buffer. */
	s->in_cap = 80 * 1024;
	s->out_cap = 132 * 1024;
	s->iov_cap = 1100;
	s->dents_cap = 64 * 1024;
	s->in = malloc(s->in_cap);
	s->out = malloc(s->out_cap);
	s->dents = malloc(s->dents_cap);
	s->iov = calloc(s->iov_cap, sizeof(*s->iov));
	if (!s->in || !s->out || !s->dents || !s->iov) {
		fs_scratch_fini(s);
		return -ENOMEM;
	}
	return 0;
}

void fs_scratch_fini(struct fs_scratch *s)
{
	free(s->in);
	free(s->out);
	free(s->iov);
	free(s->dents);
	s->in = s->out = s->dents = NULL;
	s->iov = NULL;
}
