/* SPDX-License-Identifier: MIT */
/* The daemon under test as a child process: started listening on a
 * socket in a private directory (optionally under a wrapper such as
 * valgrind), watched through /proc, stopped with SIGTERM. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "adversarial.h"

extern char **environ;

struct adv_daemon {
	pid_t pid;
	int status;
	bool exited;
	char dir[64];
	char socket[96];
	char image[96];          /* the disk image, when the kind has one */
};

/* A disk image for daemons that serve one, filled with a known byte. */
static int make_image(struct adv_daemon *d, const struct adv_kind *kind)
{
	uint8_t block[4096];
	int fd, r = 0;

	snprintf(d->image, sizeof(d->image), "%s/image", d->dir);
	fd = open(d->image, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	memset(block, ADV_IMAGE_BYTE, sizeof(block));
	for (uint64_t at = 0; at < kind->image_size && r == 0;
	     at += sizeof(block))
		if (pwrite(fd, block, sizeof(block), (off_t)at) !=
		    (ssize_t)sizeof(block))
			r = -EIO;
	close(fd);
	return r;
}

/* Splits the wrapper command on blanks into argv (no quoting needed for
 * the valgrind options we pass). */
static int build_argv(const char *wrapper, const char *program,
		      const char *socket_arg, const char *const extra[3],
		      char ***out, char **buf)
{
	size_t n = 0, cap = 8;
	char **argv = malloc(cap * sizeof(*argv));
	char *save = NULL, *word;

	*buf = strdup(wrapper ? wrapper : "");
	if (!argv || !*buf)
		return -ENOMEM;
	for (word = strtok_r(*buf, " \t", &save); word;
	     word = strtok_r(NULL, " \t", &save)) {
		if (n + 6 > cap) {
			char **bigger = realloc(argv, (cap *= 2) * sizeof(*argv));

			if (!bigger)
				return -ENOMEM;
			argv = bigger;
		}
		argv[n++] = word;
	}
	argv[n++] = (char *)program;
	argv[n++] = (char *)socket_arg;
	for (int i = 0; i < 3; i++)
		if (extra[i])
			argv[n++] = (char *)extra[i];
	argv[n] = NULL;
	*out = argv;
	return 0;
}

int adv_daemon_start(const struct adv_kind *kind, struct adv_daemon **out)
{
	const char *top = getenv("abs_top_builddir");
	struct adv_daemon *d = calloc(1, sizeof(*d));
	char program[4096], socket_arg[128], image_arg[160], dir_arg[160];
	const char *extra[3] = { NULL, NULL, NULL };
	char **argv = NULL, *buf = NULL;
	struct stat st;
	int r;

	if (!d || !top)
		return -EINVAL;
	snprintf(d->dir, sizeof(d->dir), "/tmp/vhostdev-adv-XXXXXX");
	if (!mkdtemp(d->dir))
		return -errno;
	snprintf(d->socket, sizeof(d->socket), "%s/sock", d->dir);
	snprintf(program, sizeof(program), "%s/%s", top, kind->program);
	snprintf(socket_arg, sizeof(socket_arg), "--socket-path=%s",
		 d->socket);
	if (stat(program, &st) < 0)
		return -ENOENT;
	if (kind->image_option) {
		r = make_image(d, kind);
		if (r < 0)
			return r;
		snprintf(image_arg, sizeof(image_arg), "%s=%s",
			 kind->image_option, d->image);
		extra[0] = image_arg;
	}
	if (kind->dir_option) {
		snprintf(dir_arg, sizeof(dir_arg), "%s=%s/share",
			 kind->dir_option, d->dir);
		if (mkdir(dir_arg + strlen(kind->dir_option) + 1, 0700) < 0)
			return -errno;
		extra[1] = dir_arg;
	}
	extra[2] = kind->extra_option;
	r = build_argv(getenv("ADVERSARIAL_WRAPPER"), program, socket_arg,
		       extra, &argv, &buf);
	if (r == 0)
		r = -posix_spawnp(&d->pid, argv[0], NULL, NULL, argv, environ);
	free(argv);
	free(buf);
	if (r < 0)
		return r;
	/* Listening once the socket file exists (valgrind is slow). */
	for (int i = 0; i < 3000 && stat(d->socket, &st) < 0; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		if (!adv_daemon_alive(d))
			return -ECHILD;
		nanosleep(&ts, NULL);
	}
	*out = d;
	return 0;
}

bool adv_daemon_alive(struct adv_daemon *d)
{
	if (!d->exited && waitpid(d->pid, &d->status, WNOHANG) == d->pid)
		d->exited = true;
	return !d->exited;
}

int adv_daemon_stop(struct adv_daemon *d)
{
	int r;

	if (adv_daemon_alive(d)) {
		kill(d->pid, SIGTERM);
		for (int i = 0; i < 3000 && adv_daemon_alive(d); i++) {
			struct timespec ts = { 0, 10 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
		if (adv_daemon_alive(d)) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &d->status, 0);
			d->exited = true;
		}
	}
	r = WIFEXITED(d->status) && WEXITSTATUS(d->status) == 0 ? 0 : -1;
	if (r < 0)
		adv_note("daemon ended with %s %d",
			 WIFEXITED(d->status) ? "status" : "signal",
			 WIFEXITED(d->status) ? WEXITSTATUS(d->status) :
						WTERMSIG(d->status));
	unlink(d->socket);
	if (d->image[0])
		unlink(d->image);
	{
		char share[96];

		snprintf(share, sizeof(share), "%s/share", d->dir);
		rmdir(share);
	}
	rmdir(d->dir);
	free(d);
	return r;
}

const char *adv_daemon_socket(const struct adv_daemon *d)
{
	return d->socket;
}

int adv_daemon_fds(const struct adv_daemon *d)
{
	char path[64];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)d->pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

long adv_daemon_rss_kb(const struct adv_daemon *d)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)d->pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}
