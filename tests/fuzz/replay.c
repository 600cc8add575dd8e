/* SPDX-License-Identifier: MIT */
/* A main() for the harnesses without libFuzzer: feeds every file named on
 * the command line (directories: every file in them) to the harness once.
 * This is how the committed corpora and crash inputs run in make check,
 * with any compiler; a crash or failed invariant aborts the run. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz-common.h"

#define REPLAY_SECONDS_PER_INPUT 120

static unsigned int replayed;

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rbe");
	uint8_t *data = NULL;
	size_t size = 0, cap = 0, n;

	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	do {
		if (size == cap) {
			uint8_t *bigger;

			cap = cap ? 2 * cap : 4096;
			bigger = realloc(data, cap);
			if (!bigger) {
				free(data);
				fclose(f);
				return -1;
			}
			data = bigger;
		}
		n = fread(data + size, 1, cap - size, f);
		size += n;
	} while (n);
	fclose(f);
	/* An input that makes a harness block (a daemon waiting for
	 * something that never comes) ends the run with SIGALRM instead
	 * of hanging it; valgrind runs need the generous bound. */
	alarm(REPLAY_SECONDS_PER_INPUT);
	LLVMFuzzerTestOneInput(data, size);
	alarm(0);
	free(data);
	replayed++;
	return 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_dir(const char *path)
{
	struct dirent **list;
	int n = scandir(path, &list, NULL, NULL), r = 0;

	if (n < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	/* A fixed order, so a failure names the same file every time. */
	qsort(list, (size_t)n, sizeof(*list), compare_names);
	for (int i = 0; i < n; i++) {
		char *child;

		if (list[i]->d_name[0] != '.' && r == 0 &&
		    asprintf(&child, "%s/%s", path, list[i]->d_name) >= 0) {
			fprintf(stderr, "replaying %s\n", child);
			r = replay_file(child);
			free(child);
		}
		free(list[i]);
	}
	free(list);
	return r;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		struct stat st;
		int r;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		r = S_ISDIR(st.st_mode) ? replay_dir(argv[i]) :
					  replay_file(argv[i]);
		if (r < 0)
			return 1;
	}
	printf("%u inputs replayed\n", replayed);
	return 0;
}
