/* SPDX-License-Identifier: MIT */
/* The daemon object, shared by the files of examples/common that build and
 * run it; daemons themselves only see daemon.h. */
#ifndef VHOSTDEV_EXAMPLES_DAEMON_INTERNAL_H
#define VHOSTDEV_EXAMPLES_DAEMON_INTERNAL_H

#include <poll.h>
#include <stdbool.h>

#include "daemon.h"

/* Extra fds a daemon may add; the rng daemon uses two. */
#define DAEMON_MAX_EXTRA_FDS 8

/* Client mode retries: the first retry after 100 ms, doubling up to 5 s. */
#define DAEMON_RETRY_FIRST_MS 100
#define DAEMON_RETRY_MAX_MS 5000

struct daemon_extra_fd {
	int fd;
	short events;
	daemon_fd_fn fn;
	void *data;
};

struct daemon {
	const struct daemon_desc *desc;
	struct vhostdev *dev;
	int signal_fd;

	/* How the socket was set up. */
	const char *socket_path;
	bool client;
	bool single_connection;  /* adopted a connected --fd */
	bool was_connected;

	/* Client mode: connect attempts paced by a timerfd. */
	int retry_fd;
	unsigned int retry_ms;
	bool retry_armed;

	int stop_error;  /* set by daemon_stop() */

	struct daemon_extra_fd extra[DAEMON_MAX_EXTRA_FDS];
	unsigned int nextra;
};

/* connection.c */
int daemon_open_socket(struct daemon *d, const struct daemon_args *args);
/* Called after every vhostdev_process(): notices connects and disconnects,
 * and in client mode schedules the next attempt. Returns 1 when a single
 * connection ended and the daemon should stop. */
int daemon_connection_changed(struct daemon *d);
/* The retry timer fired: try to connect again. */
int daemon_retry_connect(struct daemon *d);

/* log.c */
void daemon_install_log(struct daemon *d, int priority);

#endif
