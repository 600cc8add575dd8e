/* SPDX-License-Identifier: MIT */
/* SIGPIPE-free writes. The signal is blocked for the calling thread only,
 * and a SIGPIPE our write raised is taken off the pending set before the
 * mask is restored, so the program never sees it; one that was already
 * pending for another reason is left alone. */
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pipe-write.h"

bool vhd_fd_can_sigpipe(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return true;
	return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode);
}

ssize_t vhd_write_no_sigpipe(int fd, const void *buf, size_t len)
{
	static const struct timespec now = { 0, 0 };
	sigset_t pipe_only, old, pending;
	bool was_pending;
	ssize_t n;
	int err;

	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
	n = write(fd, buf, len);
	err = errno;
	if (n < 0 && err == EPIPE && !was_pending)
		while (sigtimedwait(&pipe_only, NULL, &now) < 0 &&
		       errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = err;
	return n;
}
