/* SPDX-License-Identifier: MIT */
/*
 * How a daemon gets its vhost-user connection: it listens on --socket-path
 * (QEMU connects, and reconnects after a restart), adopts the socket given
 * as --fd (listening, or already connected by a management layer), or with
 * --client connects to a front end that listens, retrying with a growing
 * delay until the front end is there and again after each disconnect.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "daemon-internal.h"

/* Checks that an inherited fd is something the library can serve before
 * handing it over, so a wrong --fd gets a clear message. */
static int adopt_fd(struct daemon *d, int fd)
{
	struct stat st;
	int domain, listening, flags, r;
	socklen_t len;

	flags = fcntl(fd, F_GETFD);
	if (flags < 0) {
		daemon_log(d, VHOSTDEV_LOG_ERR, "--fd=%d: not an open file "
			   "descriptor", fd);
		return -EBADF;
	}
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		daemon_log(d, VHOSTDEV_LOG_ERR, "--fd=%d: not a socket", fd);
		return -ENOTSOCK;
	}
	len = sizeof(domain);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 ||
	    domain != AF_UNIX) {
		daemon_log(d, VHOSTDEV_LOG_ERR, "--fd=%d: not a UNIX socket",
			   fd);
		return -EAFNOSUPPORT;
	}
	len = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0)
		listening = 0;
	/* Inherited without close-on-exec; no fd of ours may leak. */
	fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
	r = vhostdev_adopt_fd(d->dev, fd);
	if (r < 0) {
		daemon_log(d, VHOSTDEV_LOG_ERR, "--fd=%d: %s", fd,
			   strerror(-r));
		return r;
	}
	/* Nobody can reconnect to a connection that was handed over. */
	d->single_connection = !listening;
	d->was_connected = vhostdev_is_connected(d->dev) > 0;
	daemon_log(d, VHOSTDEV_LOG_INFO, "serving %s socket fd %d",
		   listening ? "listening" : "connected", fd);
	return 0;
}

static int arm_retry(struct daemon *d)
{
	struct itimerspec when = {
		.it_value.tv_sec = d->retry_ms / 1000,
		.it_value.tv_nsec = (long)(d->retry_ms % 1000) * 1000000,
	};

	if (timerfd_settime(d->retry_fd, 0, &when, NULL) < 0)
		return -errno;
	d->retry_armed = true;
	return 0;
}

static int try_connect(struct daemon *d)
{
	int r = vhostdev_connect(d->dev, d->socket_path);

	if (r == 0) {
		d->retry_ms = DAEMON_RETRY_FIRST_MS;
		d->was_connected = true;
		daemon_log(d, VHOSTDEV_LOG_INFO, "connected to %s",
			   d->socket_path);
		return 0;
	}
	/* A front end that is not up yet is the normal case; anything else
	 * (a permission problem, say) deserves to be seen. */
	daemon_log(d, r == -ENOENT || r == -ECONNREFUSED ?
		   VHOSTDEV_LOG_INFO : VHOSTDEV_LOG_WARNING,
		   "cannot connect to %s: %s; next try in %u ms",
		   d->socket_path, strerror(-r), d->retry_ms);
	r = arm_retry(d);
	if (d->retry_ms < DAEMON_RETRY_MAX_MS) {
		d->retry_ms *= 2;
		if (d->retry_ms > DAEMON_RETRY_MAX_MS)
			d->retry_ms = DAEMON_RETRY_MAX_MS;
	}
	return r;
}

int daemon_retry_connect(struct daemon *d)
{
	uint64_t expirations;

	if (read(d->retry_fd, &expirations, sizeof(expirations)) < 0 &&
	    errno != EAGAIN)
		return -errno;
	d->retry_armed = false;
	if (vhostdev_is_connected(d->dev) > 0)
		return 0;
	return try_connect(d);
}

int daemon_open_socket(struct daemon *d, const struct daemon_args *args)
{
	int r;

	if (args->fd >= 0)
		return adopt_fd(d, args->fd);
	d->socket_path = args->socket_path;
	if (args->client) {
		d->client = true;
		d->retry_ms = DAEMON_RETRY_FIRST_MS;
		d->retry_fd = timerfd_create(CLOCK_MONOTONIC,
					     TFD_NONBLOCK | TFD_CLOEXEC);
		if (d->retry_fd < 0)
			return -errno;
		return try_connect(d);
	}
	r = vhostdev_listen(d->dev, args->socket_path);
	if (r < 0) {
		daemon_log(d, VHOSTDEV_LOG_ERR, "cannot listen on %s: %s",
			   args->socket_path, strerror(-r));
		return r;
	}
	daemon_log(d, VHOSTDEV_LOG_INFO, "listening on %s", args->socket_path);
	return 0;
}

int daemon_connection_changed(struct daemon *d)
{
	bool connected = vhostdev_is_connected(d->dev) > 0;

	if (connected == d->was_connected)
		return 0;
	d->was_connected = connected;
	/* The library logs connects and disconnects itself. */
	if (connected)
		return 0;
	if (d->single_connection) {
		daemon_log(d, VHOSTDEV_LOG_INFO, "the front end of the "
			   "adopted connection left; exiting");
		return 1;
	}
	if (d->client && !d->retry_armed) {
		daemon_log(d, VHOSTDEV_LOG_INFO, "front end left; reconnecting "
			   "to %s", d->socket_path);
		d->retry_ms = DAEMON_RETRY_FIRST_MS;
		return arm_retry(d);
	}
	return 0;
}
