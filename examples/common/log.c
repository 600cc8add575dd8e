/* SPDX-License-Identifier: MIT */
/*
 * The daemons log to stderr (the conventions leave stderr to the
 * management layer's log handler), one whole line per write so that lines
 * from the library and from the daemon never interleave. The library's
 * messages and the daemon's own share one priority: --verbose raises it,
 * VHOSTDEV_LOG sets it when no option does, warnings are the default.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "daemon-internal.h"

static const char *priority_name(int priority)
{
	switch (priority) {
	case VHOSTDEV_LOG_ERR:
		return "error";
	case VHOSTDEV_LOG_WARNING:
		return "warning";
	case VHOSTDEV_LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

static void emit(struct daemon *d, int priority, const char *where,
		 const char *format, va_list args)
{
	char line[1024];
	int n;

	n = snprintf(line, sizeof(line), "%s: %s: ", d->desc->program,
		     priority_name(priority));
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	vsnprintf(line + n, sizeof(line) - (size_t)n, format, args);
	fprintf(stderr, "%s%s\n", line, where ? where : "");
}

static void library_log(struct vhostdev *dev, int priority, const char *file,
			int line, const char *fn, const char *format,
			va_list args, void *userdata)
{
	char where[256];

	/* Source locations help a developer, and only clutter the log of
	 * someone who did not ask for debug messages. */
	if (vhostdev_get_log_priority(dev) >= VHOSTDEV_LOG_DEBUG) {
		snprintf(where, sizeof(where), " (%s:%d %s)", file, line, fn);
		emit(userdata, priority, where, format, args);
	} else {
		emit(userdata, priority, NULL, format, args);
	}
}

void daemon_install_log(struct daemon *d, int priority)
{
	vhostdev_set_log_fn(d->dev, library_log, d);
	if (priority >= 0)
		vhostdev_set_log_priority(d->dev, priority);
	else if (!getenv("VHOSTDEV_LOG"))
		vhostdev_set_log_priority(d->dev, VHOSTDEV_LOG_WARNING);
}

void daemon_log(struct daemon *d, int priority, const char *format, ...)
{
	va_list args;

	if (priority > vhostdev_get_log_priority(d->dev))
		return;
	va_start(args, format);
	emit(d, priority, NULL, format, args);
	va_end(args);
}
