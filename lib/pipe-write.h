/* SPDX-License-Identifier: MIT */
/* Writing to a file descriptor the front end gave us, which may be a pipe
 * whose reader is gone: a library must not let that kill the program
 * with SIGPIPE. */
#ifndef VHD_PIPE_WRITE_H
#define VHD_PIPE_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Whether writing to fd could raise SIGPIPE (a pipe, FIFO or socket). */
bool vhd_fd_can_sigpipe(int fd);
/* write(2) with SIGPIPE blocked in this thread and any one it raised
 * consumed: EPIPE is returned as an error, nothing is delivered. */
ssize_t vhd_write_no_sigpipe(int fd, const void *buf, size_t len);

#endif
