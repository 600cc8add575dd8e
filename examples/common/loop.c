/* SPDX-License-Identifier: MIT */
/*
 * The daemons' main loop: one poll() over the device fd (stable for the
 * device's whole life, so it is never re-registered), a signalfd for
 * SIGTERM and SIGINT, the client-mode retry timer and whatever fds the
 * daemon adds. Signals arrive as data in the loop, so the exit path is the
 * ordinary one: the device is unreferenced and its socket file removed.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "daemon-internal.h"

static int open_signal_fd(void)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int daemon_new(const struct daemon_desc *desc, const struct daemon_args *args,
	       struct vhostdev *dev, struct daemon **out)
{
	struct daemon *d;
	int r;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->desc = desc;
	d->dev = vhostdev_ref(dev);
	d->retry_fd = -1;
	daemon_install_log(d, args->log_priority);

	/* A front end that vanishes while we write to it must cost an
	 * EPIPE, not the process. */
	signal(SIGPIPE, SIG_IGN);
	d->signal_fd = open_signal_fd();
	if (d->signal_fd < 0) {
		r = d->signal_fd;
		daemon_log(d, VHOSTDEV_LOG_ERR, "signalfd: %s", strerror(-r));
		goto fail;
	}
	r = daemon_open_socket(d, args);
	if (r < 0)
		goto fail;
	*out = d;
	return 0;
fail:
	daemon_free(d);
	return r;
}

struct daemon *daemon_free(struct daemon *d)
{
	if (!d)
		return NULL;
	if (d->retry_fd >= 0)
		close(d->retry_fd);
	if (d->signal_fd >= 0)
		close(d->signal_fd);
	/* The device may outlive this daemon (its owner holds a reference
	 * and stops its queues later, which logs): it must not log through
	 * a daemon that is gone. */
	vhostdev_set_log_fn(d->dev, NULL, NULL);
	vhostdev_unref(d->dev);
	free(d);
	return NULL;
}

int daemon_add_fd(struct daemon *d, int fd, short events, daemon_fd_fn fn,
		  void *data)
{
	if (fd < 0 || !fn)
		return -EINVAL;
	if (d->nextra == DAEMON_MAX_EXTRA_FDS)
		return -ENOSPC;
	d->extra[d->nextra++] = (struct daemon_extra_fd){
		.fd = fd, .events = events, .fn = fn, .data = data,
	};
	return 0;
}

int daemon_set_fd_events(struct daemon *d, int fd, short events)
{
	for (unsigned int i = 0; i < d->nextra; i++) {
		if (d->extra[i].fd == fd) {
			d->extra[i].events = events;
			return 0;
		}
	}
	return -ENOENT;
}

void daemon_stop(struct daemon *d, int error)
{
	if (!d->stop_error)
		d->stop_error = error < 0 ? error : -EIO;
}

/* Returns 1 when the signal asks the daemon to stop. */
static int read_signal(struct daemon *d)
{
	struct signalfd_siginfo info;

	if (read(d->signal_fd, &info, sizeof(info)) != sizeof(info))
		return 0;
	daemon_log(d, VHOSTDEV_LOG_INFO, "%s received; exiting",
		   info.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
	return 1;
}

static struct pollfd watch(int fd, short events)
{
	/* A negative fd keeps an unwatched entry out of poll(), which would
	 * otherwise still report POLLHUP on it. */
	return (struct pollfd){ .fd = events ? fd : -1, .events = events };
}

int daemon_run(struct daemon *d)
{
	enum { DEVICE, SIGNALS, RETRY, EXTRA };
	struct pollfd p[EXTRA + DAEMON_MAX_EXTRA_FDS];
	int r;

	while (!d->stop_error) {
		unsigned int nextra = d->nextra;

		p[DEVICE] = watch(vhostdev_get_fd(d->dev), POLLIN);
		p[SIGNALS] = watch(d->signal_fd, POLLIN);
		p[RETRY] = watch(d->retry_fd, d->retry_armed ? POLLIN : 0);
		for (unsigned int i = 0; i < nextra; i++)
			p[EXTRA + i] = watch(d->extra[i].fd,
					     d->extra[i].events);

		if (poll(p, EXTRA + nextra, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			daemon_log(d, VHOSTDEV_LOG_ERR, "poll: %s",
				   strerror(-r));
			return r;
		}
		if (p[SIGNALS].revents && read_signal(d))
			return 0;
		if (p[DEVICE].revents) {
			r = vhostdev_process(d->dev);
			if (r < 0) {
				daemon_log(d, VHOSTDEV_LOG_ERR,
					   "vhostdev_process: %s",
					   strerror(-r));
				return r;
			}
			r = daemon_connection_changed(d);
			if (r != 0)
				return r < 0 ? r : 0;
		}
		if (p[RETRY].revents) {
			r = daemon_retry_connect(d);
			if (r < 0) {
				daemon_log(d, VHOSTDEV_LOG_ERR,
					   "connect retry timer: %s",
					   strerror(-r));
				return r;
			}
		}
		for (unsigned int i = 0; i < nextra && !d->stop_error; i++) {
			if (!p[EXTRA + i].revents)
				continue;
			r = d->extra[i].fn(d, d->extra[i].fd,
					   p[EXTRA + i].revents,
					   d->extra[i].data);
			if (r < 0)
				return r;
		}
	}
	return d->stop_error;
}
