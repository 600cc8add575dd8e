/* SPDX-License-Identifier: MIT */
/* vhostdev-bench: drives a vhost-user-blk back end over its socket with
 * random 4 KiB requests, no VM needed, and reports IOPS, latency,
 * notifications per request and the back end's CPU time per request. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "bench.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

enum { EXIT_USAGE = 1, EXIT_BACKEND = 2 };

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vhostdev-bench SOCKET [options]\n"
		"  --rw=randread|randwrite|randrw  request mix (randread)\n"
		"  --iodepth=N        requests in flight per queue (32)\n"
		"  --queues=N         queues, one thread each (1)\n"
		"  --queue-size=N     ring size (smallest that fits)\n"
		"  --runtime=SECONDS  how long to run (5 unless --requests)\n"
		"  --requests=N[,N..] requests in total; a list runs phases\n"
		"  --between=COMMAND  shell command run after each phase\n"
		"  --mode=interrupt|poll  wait on the call eventfd or spin\n"
		"  --event-idx=on|off     negotiate EVENT_IDX (on)\n"
		"  --indirect         indirect descriptor tables\n"
		"  --packed           packed rings\n"
		"  --backend-pid=PID  report the back end's CPU per request\n"
		"  --cpu=N[,N..]      pin queue i's thread to the i-th CPU\n"
		"  --timeout=MS       longest wait for a completion (5000)\n"
		"  --wait=MS          wait for SOCKET to appear (0)\n"
		"  --seed=N  --json  --help  --version\n");
}

static int bad(const char *what, const char *s)
{
	fprintf(stderr, "vhostdev-bench: bad %s '%s'\n", what, s);
	return -EINVAL;
}

static int parse_u64(const char *s, uint64_t min, uint64_t max,
		     const char *what, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-' || *v < min || *v > max) {
		fprintf(stderr, "vhostdev-bench: bad %s '%s' (%llu..%llu)\n",
			what, s, (unsigned long long)min,
			(unsigned long long)max);
		return -EINVAL;
	}
	return 0;
}

static int parse_uint(const char *s, unsigned int min, unsigned int max,
		      const char *what, unsigned int *v)
{
	uint64_t x;
	int r = parse_u64(s, min, max, what, &x);

	*v = (unsigned int)x;
	return r;
}

/* "N,N,...": up to max numbers, each min..hi. */
static int parse_list(const char *s, uint64_t min, uint64_t hi,
		      const char *what, uint64_t *out, unsigned int max,
		      unsigned int *count)
{
	char buf[256], *save = NULL, *tok;
	unsigned int n = 0;

	if (strlen(s) >= sizeof(buf))
		return bad(what, s);
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (n == max)
			return bad(what, s);
		if (parse_u64(tok, min, hi, what, &out[n]) < 0)
			return -EINVAL;
		n++;
	}
	if (!n)
		return bad(what, s);
	*count = n;
	return 0;
}

enum {
	OPT_RW = 256, OPT_IODEPTH, OPT_QUEUES, OPT_QUEUE_SIZE, OPT_RUNTIME,
	OPT_REQUESTS, OPT_BETWEEN, OPT_MODE, OPT_EVENT_IDX, OPT_INDIRECT,
	OPT_PACKED, OPT_JSON, OPT_PID, OPT_CPU, OPT_TIMEOUT, OPT_WAIT,
	OPT_SEED, OPT_HELP, OPT_VERSION
};

static const struct option long_options[] = {
	{ "rw", required_argument, NULL, OPT_RW },
	{ "iodepth", required_argument, NULL, OPT_IODEPTH },
	{ "queues", required_argument, NULL, OPT_QUEUES },
	{ "queue-size", required_argument, NULL, OPT_QUEUE_SIZE },
	{ "runtime", required_argument, NULL, OPT_RUNTIME },
	{ "requests", required_argument, NULL, OPT_REQUESTS },
	{ "between", required_argument, NULL, OPT_BETWEEN },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "event-idx", required_argument, NULL, OPT_EVENT_IDX },
	{ "indirect", no_argument, NULL, OPT_INDIRECT },
	{ "packed", no_argument, NULL, OPT_PACKED },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "backend-pid", required_argument, NULL, OPT_PID },
	{ "cpu", required_argument, NULL, OPT_CPU },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "wait", required_argument, NULL, OPT_WAIT },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 }
};

static int parse_one(struct bench_options *o, int c, const char *arg)
{
	uint64_t cpus[BENCH_MAX_CPUS], v;
	char *end;

	switch (c) {
	case OPT_RW:
		if (!strcmp(arg, "randread"))
			o->rw = RW_READ;
		else if (!strcmp(arg, "randwrite"))
			o->rw = RW_WRITE;
		else if (!strcmp(arg, "randrw"))
			o->rw = RW_MIXED;
		else
			return bad("--rw", arg);
		return 0;
	case OPT_IODEPTH:
		return parse_uint(arg, 1, 4096, "--iodepth", &o->iodepth);
	case OPT_QUEUES:
		return parse_uint(arg, 1, BENCH_MAX_QUEUES, "--queues",
				  &o->queues);
	case OPT_QUEUE_SIZE:
		return parse_uint(arg, 1, 32768, "--queue-size",
				  &o->queue_size);
	case OPT_RUNTIME:
		errno = 0;
		o->runtime = strtod(arg, &end);
		if (errno || end == arg || *end || !(o->runtime > 0) ||
		    o->runtime > 86400)
			return bad("--runtime", arg);
		return 0;
	case OPT_REQUESTS:
		return parse_list(arg, 1, UINT64_MAX / 2, "--requests",
				  o->phase_requests, BENCH_MAX_PHASES,
				  &o->nphases);
	case OPT_BETWEEN:
		o->between = arg;
		return 0;
	case OPT_MODE:
		if (!strcmp(arg, "interrupt"))
			o->mode = MODE_INTERRUPT;
		else if (!strcmp(arg, "poll"))
			o->mode = MODE_POLL;
		else
			return bad("--mode", arg);
		return 0;
	case OPT_EVENT_IDX:
		if (!strcmp(arg, "on"))
			o->event_idx = true;
		else if (!strcmp(arg, "off"))
			o->event_idx = false;
		else
			return bad("--event-idx", arg);
		return 0;
	case OPT_INDIRECT:
		o->indirect = true;
		return 0;
	case OPT_PACKED:
		o->packed = true;
		return 0;
	case OPT_JSON:
		o->json = true;
		return 0;
	case OPT_PID:
		if (parse_u64(arg, 1, 0x7fffffff, "--backend-pid", &v) < 0)
			return -EINVAL;
		o->backend_pid = (pid_t)v;
		return 0;
	case OPT_CPU:
		if (parse_list(arg, 0, 4095, "--cpu", cpus, BENCH_MAX_CPUS,
			       &o->ncpus) < 0)
			return -EINVAL;
		for (unsigned int i = 0; i < o->ncpus; i++)
			o->cpus[i] = (int)cpus[i];
		return 0;
	case OPT_TIMEOUT:
		if (parse_u64(arg, 1, 3600000, "--timeout", &v) < 0)
			return -EINVAL;
		o->timeout_ms = (int)v;
		return 0;
	case OPT_WAIT:
		if (parse_u64(arg, 0, 3600000, "--wait", &v) < 0)
			return -EINVAL;
		o->wait_ms = (int)v;
		return 0;
	case OPT_SEED:
		return parse_u64(arg, 0, UINT64_MAX, "--seed", &o->seed);
	}
	return -EINVAL;
}

static int parse_options(int argc, char **argv, struct bench_options *o)
{
	int c;

	*o = (struct bench_options){
		.rw = RW_READ, .mode = MODE_INTERRUPT, .iodepth = 32,
		.queues = 1, .event_idx = true, .timeout_ms = 5000, .seed = 1,
	};
	while ((c = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		if (c == OPT_HELP) {
			usage(stdout);
			return 1;
		}
		if (c == OPT_VERSION) {
			printf("vhostdev-bench %s\n", PACKAGE_VERSION);
			return 1;
		}
		if (c == '?' || parse_one(o, c, optarg) < 0) {
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "vhostdev-bench: one SOCKET expected\n");
		usage(stderr);
		return -EINVAL;
	}
	o->socket = argv[optind];
	if (o->between && !o->nphases) {
		fprintf(stderr, "vhostdev-bench: --between needs --requests\n");
		return -EINVAL;
	}
	for (unsigned int i = 0; i < o->nphases; i++) {
		if (o->phase_requests[i] < o->queues) {
			fprintf(stderr, "vhostdev-bench: fewer requests than"
				" queues in a phase\n");
			return -EINVAL;
		}
	}
	if (!o->nphases && !o->runtime)
		o->runtime = 5;
	return 0;
}

static double cpu_seconds_self(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Sets every queue's share of this phase. */
static void prepare_phase(struct bench_run *run, unsigned int phase,
			  uint64_t start)
{
	const struct bench_options *o = run->o;

	for (unsigned int i = 0; i < o->queues; i++) {
		struct bench_queue *q = &run->q[i];
		uint64_t total = o->nphases ? o->phase_requests[phase] : 0;

		q->target = total ? q->counts.submitted + total / o->queues +
					    (i < total % o->queues) : 0;
		q->use_deadline = o->runtime > 0;
		q->deadline_ns = start + (uint64_t)(o->runtime * 1e9);
	}
}

static int run_between(const struct bench_options *o, unsigned int phase)
{
	char env[32];
	int r;

	fflush(NULL);
	snprintf(env, sizeof(env), "%u", phase + 1);
	setenv("VHOSTDEV_BENCH_PHASE", env, 1);
	r = system(o->between);
	if (r != 0) {
		fprintf(stderr, "vhostdev-bench: --between command failed"
			" after phase %u (%s %d)\n", phase + 1,
			r != -1 && WIFEXITED(r) ? "exit status" : "wait status",
			r != -1 && WIFEXITED(r) ? WEXITSTATUS(r) : r);
		return -ECHILD;
	}
	return 0;
}

static int run_phases(struct bench_run *run, struct bench_result *res)
{
	const struct bench_options *o = run->o;
	unsigned int nphases = o->nphases ? o->nphases : 1;
	double cpu0 = 0, cpu1 = 0, self0 = cpu_seconds_self();
	int r = 0;

	if (o->backend_pid)
		res->have_cpu = proc_cpu_seconds(o->backend_pid, &cpu0) == 0;
	for (unsigned int p = 0; p < nphases && r == 0; p++) {
		uint64_t start = bench_now_ns();

		prepare_phase(run, p, start);
		r = bench_run_phase(run);
		res->seconds += (bench_now_ns() - start) / 1e9;
		if (r == 0 && o->between)
			r = run_between(o, p);
	}
	if (res->have_cpu)
		res->have_cpu = proc_cpu_seconds(o->backend_pid, &cpu1) == 0;
	res->backend_cpu_s = cpu1 - cpu0;
	res->bench_cpu_s = cpu_seconds_self() - self0;
	return r;
}

static void add_counts(struct bench_counts *t, const struct bench_counts *c)
{
	t->submitted += c->submitted;
	t->completed += c->completed;
	t->kicks += c->kicks;
	t->calls += c->calls;
	t->bad_status += c->bad_status;
	t->bad_len += c->bad_len;
	t->bytes += c->bytes;
}

int main(int argc, char **argv)
{
	static struct bench_hist total_hist;
	struct bench_result res = { .hist = &total_hist };
	struct bench_options o;
	static struct bench_run run;
	int r, status = 0;

	r = parse_options(argc, argv, &o);
	if (r)
		return r > 0 ? 0 : EXIT_USAGE;
	run.o = &o;
	r = bench_setup(&run);
	if (r == 0)
		r = run_phases(&run, &res);
	for (unsigned int i = 0; i < o.queues; i++) {
		struct bench_queue *q = &run.q[i];

		if (!q->hist)
			continue;
		add_counts(&res.total, &q->counts);
		hist_merge(&total_hist, q->hist);
		if (q->why[0]) {
			fprintf(stderr, "vhostdev-bench: %s: %s\n", o.socket,
				q->why);
			res.errors++;
		}
	}
	if (r < 0 || res.total.bad_status)
		status = EXIT_BACKEND;
	if (run.conn && run.q[0].hist) {
		if (o.json)
			report_json(stdout, &run, &res);
		else
			report_text(stdout, &run, &res);
	}
	/* Every failure was explained where it happened. */
	bench_teardown(&run);
	return status;
}
