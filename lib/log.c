/* SPDX-License-Identifier: MIT */
/* Logging through the application's callback; silent without one. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "device.h"
#include "export.h"

void vhd_log(struct vhostdev *dev, int priority, const char *file, int line,
	     const char *fn, const char *format, ...)
{
	va_list args;

	va_start(args, format);
	dev->log_fn(dev, priority, file, line, fn, format, args,
		    dev->log_data);
	va_end(args);
}

int vhd_log_priority_from_env(void)
{
	static const struct {
		const char *name;
		int priority;
	} names[] = {
		{ "err", VHOSTDEV_LOG_ERR },
		{ "warning", VHOSTDEV_LOG_WARNING },
		{ "info", VHOSTDEV_LOG_INFO },
		{ "debug", VHOSTDEV_LOG_DEBUG },
	};
	const char *value = secure_getenv("VHOSTDEV_LOG");
	char *end;
	long n;

	if (!value || !*value)
		return VHOSTDEV_LOG_ERR;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(value, names[i].name))
			return names[i].priority;
	n = strtol(value, &end, 10);
	if (*end == '\0' && n >= 0 && n <= 7)
		return (int)n;
	return VHOSTDEV_LOG_ERR;
}

VHD_EXPORT void vhostdev_set_log_fn(struct vhostdev *dev, vhostdev_log_fn fn,
				    void *userdata)
{
	dev->log_fn = fn;
	dev->log_data = userdata;
}

VHD_EXPORT int vhostdev_set_log_priority(struct vhostdev *dev, int priority)
{
	if (priority < 0 || priority > 7)
		return -EINVAL;
	dev->log_priority = priority;
	return 0;
}

VHD_EXPORT int vhostdev_get_log_priority(struct vhostdev *dev)
{
	return dev->log_priority;
}
