/* SPDX-License-Identifier: MIT */
/* Establishing a connection to a back end: connecting to its socket,
 * listening for one in client mode, or adopting a connected fd. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"

int vhf_conn_new(int fd, struct vhf_conn **out)
{
	struct vhf_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->fd = fd;
	c->timeout_ms = VHF_DEFAULT_TIMEOUT_MS;
	c->auto_ack = true;
	*out = c;
	return 0;
}

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (!path || strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

int vhf_connect(const char *path, int retry_ms, struct vhf_conn **out)
{
	int64_t deadline = vhf_now_ms() + (retry_ms > 0 ? retry_ms : 0);
	struct sockaddr_un sa;
	int fd, r;

	r = fill_addr(&sa, path);
	if (r < 0)
		return r;
	for (;;) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		r = -errno;
		close(fd);
		/* A daemon that is still starting has no socket yet or is
		 * not listening yet: worth another try. */
		if ((r != -ENOENT && r != -ECONNREFUSED) ||
		    vhf_left_ms(deadline) == 0)
			return r;
		poll(NULL, 0, 20);
	}
	r = vhf_conn_new(fd, out);
	if (r < 0)
		close(fd);
	return r;
}

int vhf_listen(const char *path, int *listen_fd)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, r;

	r = fill_addr(&sa, path);
	if (r < 0)
		return r;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 4) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*listen_fd = fd;
	return 0;
}

int vhf_accept(int listen_fd, int timeout_ms, struct vhf_conn **out)
{
	struct pollfd p = { .fd = listen_fd, .events = POLLIN };
	int fd, r;

	do {
		r = poll(&p, 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = vhf_conn_new(fd, out);
	if (r < 0)
		close(fd);
	return r;
}

int vhf_conn_from_fd(int fd, struct vhf_conn **out)
{
	if (fd < 0)
		return -EBADF;
	return vhf_conn_new(fd, out);
}

void vhf_conn_free(struct vhf_conn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

int vhf_conn_get_fd(const struct vhf_conn *c)
{
	return c->fd;
}

void vhf_conn_set_timeout(struct vhf_conn *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms;
}

int vhf_conn_get_timeout(const struct vhf_conn *c)
{
	return c->timeout_ms;
}

uint64_t vhf_conn_get_features(const struct vhf_conn *c)
{
	return c->features;
}

uint64_t vhf_conn_get_protocol_features(const struct vhf_conn *c)
{
	return c->protocol_features;
}

void vhf_conn_set_auto_ack(struct vhf_conn *c, bool on)
{
	c->auto_ack = on;
}

bool vhf_conn_reply_ack(const struct vhf_conn *c)
{
	return c->auto_ack &&
	       (c->protocol_features & VHF_BIT(VHF_PF_REPLY_ACK));
}
