/* SPDX-License-Identifier: MIT */
/*
 * What every vhostdev daemon shares: the command line of QEMU's "Backend
 * program conventions" (--socket-path, --fd, --print-capabilities, plus
 * --client, --verbose, --help), logging to stderr, and a poll() main loop
 * around vhostdev_get_fd() that ends cleanly on SIGTERM or SIGINT.
 *
 * A daemon describes itself and its own options in a struct daemon_desc,
 * calls daemon_parse(), creates its struct vhostdev, then daemon_new() and
 * daemon_run(). Everything here runs on the one control thread.
 */
#ifndef VHOSTDEV_EXAMPLES_DAEMON_H
#define VHOSTDEV_EXAMPLES_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "vhostdev.h"

/* A device-specific long option. */
struct daemon_option {
	const char *name;  /* without the leading "--" */
	const char *arg;   /* argument name shown by --help; NULL: none */
	const char *help;
	/* Stores the value (NULL for an option without argument): 0, or
	 * -EINVAL / -ERANGE, and the caller prints a message naming the
	 * option and the value. */
	int (*set)(void *ctx, const char *value);
};

struct daemon_desc {
	const char *program;          /* "vhostdev-rng" */
	const char *summary;          /* one line for --help */
	const char *type;             /* vhost-user.json backend type */
	const char *const *features;  /* capability features, NULL-ended */
	const struct daemon_option *options; /* ended by a zeroed entry */
	void *ctx;                    /* passed to each option's set() */
	/* Checks the options together once all are parsed: 0, or -EINVAL
	 * with a message already printed by daemon_usage_error(). May be
	 * NULL. */
	int (*check)(void *ctx);
};

/* The common options, as parsed. */
struct daemon_args {
	const char *socket_path; /* NULL unless --socket-path */
	int fd;                  /* -1 unless --fd */
	bool client;             /* connect to socket_path, retry */
	int log_priority;        /* -1 unless --verbose was given */
};

/* Parses argv. Returns 0 when the daemon should run, 1 when it printed
 * what was asked (--help, --print-capabilities) and should exit with
 * status 0, or -EINVAL after printing why the command line is wrong (exit
 * with status 1). */
int daemon_parse(const struct daemon_desc *desc, int argc, char *argv[],
		 struct daemon_args *args);

/* Prints "PROGRAM: message" and a hint to try --help, for checks made
 * after daemon_parse() (in desc->check). */
void daemon_usage_error(const struct daemon_desc *desc, const char *format,
			...) __attribute__((format(printf, 2, 3)));

/* Parses an unsigned decimal number in [min, max]: 0, -EINVAL or -ERANGE. */
int daemon_parse_u64(const char *text, uint64_t min, uint64_t max,
		     uint64_t *value);
/* The same, for an unsigned int. */
int daemon_parse_uint(const char *text, unsigned int min, unsigned int max,
		      unsigned int *value);

struct daemon;

/* Takes a reference on dev, sends its log and the daemon's to stderr,
 * blocks SIGTERM and SIGINT into a signalfd, ignores SIGPIPE, and opens
 * the vhost-user socket: listens on --socket-path, adopts --fd, or (with
 * --client) starts connecting to --socket-path. */
int daemon_new(const struct daemon_desc *desc, const struct daemon_args *args,
	       struct vhostdev *dev, struct daemon **out);
struct daemon *daemon_free(struct daemon *d);

/* An extra fd for the loop (a timerfd, a data source): fn runs when poll()
 * reports one of events (POLLIN, ...); events == 0 leaves the fd in the
 * loop but unwatched. fn returns 0, or -errno to stop the loop with that
 * error. */
typedef int (*daemon_fd_fn)(struct daemon *d, int fd, short revents,
			    void *data);
int daemon_add_fd(struct daemon *d, int fd, short events, daemon_fd_fn fn,
		  void *data);
int daemon_set_fd_events(struct daemon *d, int fd, short events);

/* Serves until SIGTERM or SIGINT (returns 0), until the front end of an
 * adopted connected --fd leaves (0), or until something fails (-errno,
 * already logged). */
int daemon_run(struct daemon *d);

/* Makes daemon_run() return error (a negative errno, already logged) as
 * soon as the current callback returns: a library callback cannot return a
 * failure to the loop itself. */
void daemon_stop(struct daemon *d, int error);

/* Logs through the same stderr sink as the library, at the device's log
 * priority. */
void daemon_log(struct daemon *d, int priority, const char *format, ...)
	__attribute__((format(printf, 3, 4)));

#endif
