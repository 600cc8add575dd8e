/* SPDX-License-Identifier: MIT */
/*
 * vhostdev-fs: serves a host directory to a guest as a virtio file system
 * (QEMU's vhost-user-fs-pci, the guest's "mount -t virtiofs TAG DIR").
 * This file is the command line and the order of start-up: open
 * /proc/self/fd, listen, enter the sandbox, open the shared directory,
 * start the workers, serve.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "fs-device.h"

struct fs_options {
	const char *shared_dir;
	const char *tag;
	enum fs_sandbox sandbox;
	enum fs_cache cache;
	bool readonly;
	bool xattr;
	unsigned int thread_pool_size;
	unsigned int poll_us;
};

/* --poll-us: polling after a wake-up, as vhostdev-blk's. */
#define DEFAULT_POLL_US 50

static struct fs_options options = {
	.tag = "vhostdev-fs",
	.sandbox = FS_SANDBOX_NAMESPACE,
	.cache = FS_CACHE_AUTO,
	.poll_us = DEFAULT_POLL_US,
};

static int set_shared_dir(void *ctx, const char *value)
{
	struct fs_options *o = ctx;

	if (!value[0])
		return -EINVAL;
	o->shared_dir = value;
	return 0;
}

static int set_tag(void *ctx, const char *value)
{
	struct fs_options *o = ctx;

	if (!value[0] || strlen(value) > FS_TAG_SIZE)
		return -EINVAL;
	o->tag = value;
	return 0;
}

static int set_sandbox(void *ctx, const char *value)
{
	struct fs_options *o = ctx;

	if (!strcmp(value, "namespace"))
		o->sandbox = FS_SANDBOX_NAMESPACE;
	else if (!strcmp(value, "chroot"))
		o->sandbox = FS_SANDBOX_CHROOT;
	else if (!strcmp(value, "none"))
		o->sandbox = FS_SANDBOX_NONE;
	else
		return -EINVAL;
	return 0;
}

static int set_cache(void *ctx, const char *value)
{
	struct fs_options *o = ctx;

	if (!strcmp(value, "never"))
		o->cache = FS_CACHE_NEVER;
	else if (!strcmp(value, "auto"))
		o->cache = FS_CACHE_AUTO;
	else if (!strcmp(value, "always"))
		o->cache = FS_CACHE_ALWAYS;
	else
		return -EINVAL;
	return 0;
}

static int set_readonly(void *ctx, const char *value)
{
	((struct fs_options *)ctx)->readonly = true;
	return 0;
}

static int set_xattr(void *ctx, const char *value)
{
	((struct fs_options *)ctx)->xattr = true;
	return 0;
}

static int set_thread_pool_size(void *ctx, const char *value)
{
	return daemon_parse_uint(value, 0, FS_MAX_POOL_THREADS,
				 &((struct fs_options *)ctx)->thread_pool_size);
}

static int set_poll_us(void *ctx, const char *value)
{
	return daemon_parse_uint(value, 0, SPIN_MAX_US,
				 &((struct fs_options *)ctx)->poll_us);
}

static const struct daemon_option fs_option_table[] = {
	{ "shared-dir", "DIR", "the host directory to share (required)",
	  set_shared_dir },
	{ "tag", "TAG", "file-system tag, at most 36 bytes (default "
	  "vhostdev-fs; QEMU's tag= is what the guest sees)", set_tag },
	{ "sandbox", "MODE", "namespace (default), chroot or none",
	  set_sandbox },
	{ "cache", "MODE", "guest caching: never, auto (default) or always",
	  set_cache },
	{ "readonly", NULL, "refuse every change to the shared directory",
	  set_readonly },
	{ "xattr", NULL, "serve extended attributes", set_xattr },
	{ "thread-pool-size", "N", "run requests on N threads shared by "
	  "the request queues, 0 to 64 (default 0: each queue's own thread)",
	  set_thread_pool_size },
	{ "poll-us", "N", "after a wake-up, keep polling a request queue for "
	  "up to N us, adapting to the gaps between requests (0 to 100000, "
	  "default 50, 0: never)", set_poll_us },
	{ 0 }
};

static int check_options(void *ctx);

/* QEMU's vhost-user.json schema defines no features for "fs". */
static const char *const fs_features[] = { NULL };

static const struct daemon_desc fs_desc = {
	.program = "vhostdev-fs",
	.summary = "Serve a host directory as a virtio file system "
		   "(virtio-fs) to a vhost-user front end.",
	.type = "fs",
	.features = fs_features,
	.options = fs_option_table,
	.ctx = &options,
	.check = check_options,
};

static int check_options(void *ctx)
{
	struct fs_options *o = ctx;
	struct stat st;

	if (!o->shared_dir) {
		daemon_usage_error(&fs_desc, "--shared-dir is required");
		return -EINVAL;
	}
	if (stat(o->shared_dir, &st) < 0) {
		daemon_usage_error(&fs_desc, "--shared-dir=%s: %s",
				   o->shared_dir, strerror(errno));
		return -EINVAL;
	}
	if (!S_ISDIR(st.st_mode)) {
		daemon_usage_error(&fs_desc, "--shared-dir=%s: not a directory",
				   o->shared_dir);
		return -EINVAL;
	}
	return 0;
}

/* Every file the guest has looked up is an open descriptor here, and a
 * guest's dentry cache holds far more than the usual 1024: raise the limit
 * to what the kernel allows (root) or to the hard limit. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	unsigned long long nr_open = 0;
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");

	if (f) {
		if (fscanf(f, "%llu", &nr_open) != 1)
			nr_open = 0;
		fclose(f);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (nr_open > rl.rlim_max) {
		struct rlimit more = { nr_open, nr_open };

		if (setrlimit(RLIMIT_NOFILE, &more) == 0)
			return;
	}
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

/* The listening socket of a sandboxed daemon. The library would remove
 * its socket file by path at exit, and after pivot_root or chroot that
 * path names something inside the shared directory: so the daemon makes
 * the socket itself, hands the library the fd, and removes the file
 * through a descriptor of its directory taken before the sandbox. */
struct own_socket {
	int dirfd;
	char *name;
};

static int listen_own(const char *path, struct own_socket *os)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *dir_copy = strdup(path), *name_copy = strdup(path);
	struct stat st;
	int fd = -1, r = -ENOMEM;

	if (!dir_copy || !name_copy)
		goto out;
	/* daemon_parse() checked that the path fits. */
	memcpy(sa.sun_path, path, strlen(path) + 1);
	os->dirfd = open(dirname(dir_copy), O_PATH | O_DIRECTORY | O_CLOEXEC);
	os->name = strdup(basename(name_copy));
	if (os->dirfd < 0 || !os->name) {
		r = os->dirfd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	/* Replace a stale socket, never any other kind of file. */
	if (fstatat(os->dirfd, os->name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			r = -EEXIST;
			goto out;
		}
		unlinkat(os->dirfd, os->name, 0);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	/* The mode is right before anyone can connect. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    fchmodat(os->dirfd, os->name, 0600, 0) < 0 || listen(fd, 1) < 0) {
		r = -errno;
		unlinkat(os->dirfd, os->name, 0);
		close(fd);
		fd = -1;
		goto out;
	}
	r = fd;
out:
	free(dir_copy);
	free(name_copy);
	if (r < 0)
		fprintf(stderr, "vhostdev-fs: cannot listen on %s: %s\n", path,
			strerror(-r));
	return r;
}

static void unlink_own(struct own_socket *os)
{
	struct stat st;

	if (os->dirfd >= 0 && os->name &&
	    fstatat(os->dirfd, os->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISSOCK(st.st_mode))
		unlinkat(os->dirfd, os->name, 0);
	if (os->dirfd >= 0)
		close(os->dirfd);
	free(os->name);
	os->dirfd = -1;
	os->name = NULL;
}

/* SIGUSR1: the requests served so far, by opcode, into the log (the
 * benchmark reads them between phases of its guest workload). */
static int on_usr1(struct daemon *d, int fd, short revents, void *data)
{
	struct signalfd_siginfo info;

	while (read(fd, &info, sizeof(info)) == sizeof(info))
		;
	fs_device_log_counts(data);
	return 0;
}

static int watch_usr1(struct daemon *d, struct fs_device *fsd)
{
	sigset_t usr1;
	int fd, r;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	/* Before the workers start, so they inherit the mask and only the
	 * signalfd sees the signal. */
	r = -pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	if (r < 0)
		return r;
	fd = signalfd(-1, &usr1, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	r = daemon_add_fd(d, fd, POLLIN, on_usr1, fsd);
	if (r < 0)
		close(fd);
	return r;
}

static int flush_stdout(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("vhostdev-fs: writing to stdout");
		return 1;
	}
	return 0;
}

int main(int argc, char *argv[])
{
	static struct fs_device fsd;
	struct own_socket own = { .dirfd = -1 };
	struct daemon_args args;
	struct daemon *d = NULL;
	const char *root;
	int proc_fd, r;

	r = daemon_parse(&fs_desc, argc, argv, &args);
	if (r > 0)
		return flush_stdout();
	if (r < 0)
		return 1;
	if (args.client && options.sandbox != FS_SANDBOX_NONE) {
		/* Reconnecting by path from inside the sandbox would look
		 * for the socket in the shared directory. */
		daemon_usage_error(&fs_desc, "--client needs --sandbox=none");
		return 1;
	}
	if (args.socket_path && options.sandbox != FS_SANDBOX_NONE) {
		args.fd = listen_own(args.socket_path, &own);
		if (args.fd < 0)
			return 1;
		args.socket_path = NULL;
	}
	raise_fd_limit();
	r = fs_device_init(&fsd, fs_desc.program, options.tag);
	if (r < 0)
		goto out;
	fsd.fs.readonly = options.readonly;
	fsd.fs.xattr = options.xattr;
	fsd.fs.cache = options.cache;
	fsd.fs.verbose = args.log_priority == VHOSTDEV_LOG_DEBUG ? 2 : 0;
	fsd.fs.root_fd = fsd.fs.proc_self_fd = -1;
	/* After the sandbox there is no /proc; its fd directory is what
	 * reopens the O_PATH descriptors. */
	proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (proc_fd < 0) {
		fprintf(stderr, "%s: /proc/self/fd: %s\n", fs_desc.program,
			strerror(errno));
		r = -errno;
		goto out;
	}
	r = daemon_new(&fs_desc, &args, fsd.dev, &d);
	if (r < 0) {
		close(proc_fd);
		goto out;
	}
	root = options.shared_dir;
	if (options.sandbox != FS_SANDBOX_NONE) {
		r = fs_sandbox_enter(options.sandbox, options.shared_dir,
				     fs_desc.program);
		if (r < 0) {
			close(proc_fd);
			goto out;
		}
		root = "/";
	}
	r = fs_init(&fsd.fs, root, proc_fd, fs_desc.program);
	if (r < 0)
		goto out;
	daemon_log(d, VHOSTDEV_LOG_INFO,
		   "sharing %s%s, thread pool %u, polling up to %u us",
		   options.shared_dir, options.readonly ? " read-only" : "",
		   options.thread_pool_size, options.poll_us);
	r = watch_usr1(d, &fsd);
	if (r < 0)
		daemon_log(d, VHOSTDEV_LOG_WARNING, "SIGUSR1: %s",
			   strerror(-r));
	r = fs_device_start(&fsd, d, options.thread_pool_size,
			    options.poll_us);
	if (r == 0)
		r = daemon_run(d);
out:
	/* Workers first: they use the device. */
	fs_device_stop(&fsd);
	daemon_free(d);
	fs_device_fini(&fsd);
	unlink_own(&own);
	return r < 0 ? 1 : 0;
}
