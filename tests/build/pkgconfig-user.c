/* SPDX-License-Identifier: MIT */
/*
 * A program built the way a user of the installed library builds one:
 * only with what `pkg-config --cflags --libs libvhostdev` says (see
 * pkgconfig.test). It creates a device, checks its fd is open and
 * close-on-exec, and that the last unref closes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include <vhostdev.h>

int main(void)
{
	struct vhostdev *dev = NULL;
	int ret, fd, flags;

	ret = vhostdev_new(4, 1, &dev);
	if (ret < 0 || !dev) {
		fprintf(stderr, "vhostdev_new: %s\n", strerror(-ret));
		return 1;
	}
	if (vhostdev_get_device_id(dev) != 4 ||
	    vhostdev_get_num_queues(dev) != 1) {
		fprintf(stderr, "device id or queue count not kept\n");
		return 1;
	}
	fd = vhostdev_get_fd(dev);
	flags = fcntl(fd, F_GETFD);
	if (fd < 0 || flags < 0 || !(flags & FD_CLOEXEC)) {
		fprintf(stderr, "device fd %d not open with O_CLOEXEC\n", fd);
		return 1;
	}
	/* Nothing is connected and nothing listens: no progress, no error. */
	ret = vhostdev_process(dev);
	if (ret != 0) {
		fprintf(stderr, "vhostdev_process on an idle device: %d\n",
			ret);
		return 1;
	}
	if (vhostdev_unref(dev) != NULL) {
		fprintf(stderr, "vhostdev_unref did not return NULL\n");
		return 1;
	}
	/* Single-threaded: nothing else can have reused the number. */
	if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) {
		fprintf(stderr, "device fd %d still open after unref\n", fd);
		return 1;
	}
	printf("pkgconfig-user: ok\n");
	return 0;
}
