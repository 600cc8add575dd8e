/* SPDX-License-Identifier: MIT */
/*
 * Test helper for the daemons' --fd option (QEMU's backend conventions:
 * the management layer hands the daemon its vhost-user socket). It makes
 * the socket, starts the daemon on it as fd 3, and talks to it just enough
 * to know it is served: one GET_FEATURES, whose answer must carry
 * VIRTIO_F_VERSION_1.
 *
 *   fd-check connected DAEMON [ARGS...]
 *     a connected socket; after the front end closes it, the daemon must
 *     exit with status 0 by itself.
 *   fd-check listening DAEMON [ARGS...]
 *     a listening socket; two front ends in turn must be served, then
 *     SIGTERM must end the daemon with status 0.
 *
 * Exit status: 0 when all that held, 1 otherwise (with a message).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GET_FEATURES 1
#define FLAG_VERSION 0x1
#define FLAG_REPLY 0x4
#define F_VERSION_1 (1ull << 32)
#define TIMEOUT_MS 5000

struct header {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));

static int fail(const char *format, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *format, ...)
{
	va_list args;

	fprintf(stderr, "fd-check: ");
	va_start(args, format);
	vfprintf(stderr, format, args);
	va_end(args);
	fputc('\n', stderr);
	return -1;
}

/* Reads exactly size bytes, giving up after TIMEOUT_MS of silence. */
static int read_all(int fd, void *buf, size_t size)
{
	size_t done = 0;

	while (done < size) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, TIMEOUT_MS) <= 0)
			return fail("no answer within %d ms", TIMEOUT_MS);
		n = read(fd, (char *)buf + done, size - done);
		if (n <= 0)
			return fail("the daemon closed the connection");
		done += (size_t)n;
	}
	return 0;
}

static int get_features(int fd)
{
	struct header h = { GET_FEATURES, FLAG_VERSION, 0 };
	uint64_t features;

	if (write(fd, &h, sizeof(h)) != sizeof(h))
		return fail("sending GET_FEATURES: %s", strerror(errno));
	if (read_all(fd, &h, sizeof(h)) < 0)
		return -1;
	if (h.request != GET_FEATURES || !(h.flags & FLAG_REPLY) ||
	    h.size != sizeof(features))
		return fail("bad reply header: request %u flags 0x%x size %u",
			    h.request, h.flags, h.size);
	if (read_all(fd, &features, sizeof(features)) < 0)
		return -1;
	if (!(features & F_VERSION_1))
		return fail("features 0x%llx lack VERSION_1",
			    (unsigned long long)features);
	printf("fd-check: features 0x%llx\n", (unsigned long long)features);
	return 0;
}

/* Starts the daemon with sock as fd 3 and --fd=3 after its arguments. */
static pid_t spawn(int sock, char *argv[], int argc)
{
	pid_t pid = fork();

	if (pid == 0) {
		char **args = calloc((size_t)argc + 2, sizeof(*args));

		if (!args || dup2(sock, 3) < 0)
			_exit(127);
		for (int i = 0; i < argc; i++)
			args[i] = argv[i];
		args[argc] = "--fd=3";
		execv(args[0], args);
		fprintf(stderr, "fd-check: exec %s: %s\n", args[0],
			strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Waits up to TIMEOUT_MS for the daemon to exit with status 0. */
static int expect_exit_0(pid_t pid, const char *why)
{
	for (int waited = 0; waited < TIMEOUT_MS; waited += 10) {
		struct timespec tick = { 0, 10 * 1000 * 1000 };
		int status;
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid) {
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
				return 0;
			return fail("after %s the daemon ended with %s %d", why,
				    WIFEXITED(status) ? "status" : "signal",
				    WIFEXITED(status) ? WEXITSTATUS(status)
						      : WTERMSIG(status));
		}
		nanosleep(&tick, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return fail("the daemon was still running %d ms after %s", TIMEOUT_MS,
		    why);
}

static int check_connected(char *argv[], int argc)
{
	int sv[2];
	pid_t pid;
	int r;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return fail("socketpair: %s", strerror(errno));
	pid = spawn(sv[1], argv, argc);
	close(sv[1]);
	if (pid < 0)
		return fail("fork: %s", strerror(errno));
	r = get_features(sv[0]);
	close(sv[0]);
	if (r < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return expect_exit_0(pid, "its front end closed the connection");
}

static int connect_to(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (const struct sockaddr *)sun,
			      sizeof(*sun)) < 0) {
		fail("connect: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int check_listening(char *argv[], int argc)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/fd-check.XXXXXX";
	int lfd, r = 0;
	pid_t pid;

	if (!mkdtemp(dir))
		return fail("mkdtemp: %s", strerror(errno));
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/sock", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(lfd, 1) < 0) {
		r = fail("listening socket: %s", strerror(errno));
		goto out;
	}
	pid = spawn(lfd, argv, argc);
	close(lfd);
	if (pid < 0) {
		r = fail("fork: %s", strerror(errno));
		goto out;
	}
	/* One front end after the other, as after a QEMU restart. */
	for (int round = 0; round < 2 && r == 0; round++) {
		int fd = connect_to(&sun);

		r = fd < 0 ? -1 : get_features(fd);
		if (fd >= 0)
			close(fd);
	}
	kill(pid, SIGTERM);
	if (expect_exit_0(pid, "SIGTERM") < 0)
		r = -1;
out:
	unlink(sun.sun_path);
	rmdir(dir);
	return r;
}

int main(int argc, char *argv[])
{
	int r;

	if (argc < 3) {
		fprintf(stderr, "usage: fd-check connected|listening DAEMON "
			"[ARGS...]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(argv[1], "connected") == 0)
		r = check_connected(argv + 2, argc - 2);
	else if (strcmp(argv[1], "listening") == 0)
		r = check_listening(argv + 2, argc - 2);
	else
		r = fail("unknown mode '%s'", argv[1]);
	return r < 0 ? 1 : 0;
}
