/* SPDX-License-Identifier: MIT */
/* An LD_PRELOAD heap-allocation counter for the "no allocation per
 * request" test. It counts malloc, calloc and realloc calls only when
 * MALLOC_COUNT_FILE is set (otherwise it only passes calls through), and
 * appends one line "pid P malloc N calloc N realloc N" with the totals so
 * far to that file on SIGUSR2 and at exit (the pid, because a libtool
 * wrapper script runs other programs that inherit the preload). The real allocator is glibc's, reached
 * through its __libc_ entry points so that no dlsym() (which itself
 * allocates) is needed. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern char *secure_getenv(const char *name);

static int enabled;
static unsigned long n_malloc, n_calloc, n_realloc;
static char path[4096];

static void count(unsigned long *n)
{
	if (__atomic_load_n(&enabled, __ATOMIC_RELAXED))
		__atomic_fetch_add(n, 1, __ATOMIC_RELAXED);
}

void *malloc(size_t size)
{
	count(&n_malloc);
	return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	count(&n_calloc);
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
	count(&n_realloc);
	return __libc_realloc(p, size);
}

/* Async-signal-safe decimal formatting; returns the end of the text. */
static char *put_number(char *p, unsigned long v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_text(char *p, const char *s)
{
	while (*s)
		*p++ = *s++;
	return p;
}

static void dump(void)
{
	char line[128], *p = line;
	int fd;

	p = put_text(p, "pid ");
	p = put_number(p, (unsigned long)getpid());
	p = put_text(p, " malloc ");
	p = put_number(p, __atomic_load_n(&n_malloc, __ATOMIC_RELAXED));
	p = put_text(p, " calloc ");
	p = put_number(p, __atomic_load_n(&n_calloc, __ATOMIC_RELAXED));
	p = put_text(p, " realloc ");
	p = put_number(p, __atomic_load_n(&n_realloc, __ATOMIC_RELAXED));
	*p++ = '\n';
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	/* One write, so a reader never sees half a line. */
	if (write(fd, line, (size_t)(p - line)) < 0) {
		/* nothing better to do in a signal handler */
	}
	close(fd);
}

static void on_signal(int sig)
{
	int saved = errno;

	(void)sig;
	dump();
	errno = saved;
}

__attribute__((constructor)) static void malloc_count_init(void)
{
	struct sigaction sa;
	const char *p = secure_getenv("MALLOC_COUNT_FILE");

	if (!p || !*p || strlen(p) >= sizeof(path))
		return;
	strcpy(path, p);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR2, &sa, NULL) < 0)
		return;
	__atomic_store_n(&enabled, 1, __ATOMIC_RELAXED);
}

__attribute__((destructor)) static void malloc_count_fini(void)
{
	if (__atomic_load_n(&enabled, __ATOMIC_RELAXED))
		dump();
}
