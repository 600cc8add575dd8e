/* SPDX-License-Identifier: MIT */
/* What a run measured, as text for people and JSON for scripts; and the
 * back end's CPU time from /proc. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

/* utime + stime of a whole process (all its threads), in seconds. */
int proc_cpu_seconds(pid_t pid, double *seconds)
{
	unsigned long long utime, stime;
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	/* The command name may hold spaces and parentheses: the fields
	 * start after the last ')'. utime and stime are fields 14 and 15,
	 * i.e. the 12th and 13th after the state field. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u"
			 " %llu %llu", &utime, &stime) != 2)
		return -EIO;
	*seconds = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
	return 0;
}

static const char *rw_name(enum bench_rw rw)
{
	return rw == RW_READ ? "randread" : rw == RW_WRITE ? "randwrite" :
	       "randrw";
}

static double per_request(uint64_t v, uint64_t n)
{
	return n ? (double)v / (double)n : 0.0;
}

void report_text(FILE *f, const struct bench_run *run,
		 const struct bench_result *r)
{
	const struct bench_options *o = run->o;
	uint64_t n = r->total.completed;

	fprintf(f, "vhostdev-bench: %s rw=%s iodepth=%u queues=%u mode=%s"
		" event_idx=%s ring=%s/%u indirect=%s\n", o->socket,
		rw_name(o->rw), o->iodepth, o->queues,
		o->mode == MODE_POLL ? "poll" : "interrupt",
		(run->features & VHF_BIT(VHF_F_EVENT_IDX)) ? "on" : "off",
		o->packed ? "packed" : "split", run->ring_size,
		o->indirect ? "on" : "off");
	fprintf(f, "requests: %llu in %.3f s, errors: %llu\n",
		(unsigned long long)n, r->seconds,
		(unsigned long long)r->total.bad_status);
	fprintf(f, "IOPS: %.0f\n", r->seconds > 0 ? n / r->seconds : 0.0);
	fprintf(f, "latency (us): mean %.2f p50 %.2f p99 %.2f max %.2f\n",
		per_request(r->hist->sum_ns, n) / 1000.0,
		hist_quantile(r->hist, 0.50) / 1000.0,
		hist_quantile(r->hist, 0.99) / 1000.0,
		r->hist->max_ns / 1000.0);
	fprintf(f, "kicks/request: %.4f calls/request: %.4f"
		" (kicks %llu, calls %llu)\n",
		per_request(r->total.kicks, n), per_request(r->total.calls, n),
		(unsigned long long)r->total.kicks,
		(unsigned long long)r->total.calls);
	if (r->have_cpu)
		fprintf(f, "backend CPU (us/request): %.3f\n",
			n ? r->backend_cpu_s * 1e6 / n : 0.0);
	fprintf(f, "bench CPU (us/request): %.3f\n",
		n ? r->bench_cpu_s * 1e6 / n : 0.0);
	if (r->total.bad_len)
		fprintf(f, "note: %llu completions reported a used length"
			" other than the bytes written\n",
			(unsigned long long)r->total.bad_len);
}

void report_json(FILE *f, const struct bench_run *run,
		 const struct bench_result *r)
{
	const struct bench_options *o = run->o;
	uint64_t n = r->total.completed;

	fprintf(f, "{\n");
	fprintf(f, "  \"rw\": \"%s\",\n  \"iodepth\": %u,\n  \"queues\": %u,\n",
		rw_name(o->rw), o->iodepth, o->queues);
	fprintf(f, "  \"mode\": \"%s\",\n  \"event_idx\": %s,\n",
		o->mode == MODE_POLL ? "poll" : "interrupt",
		(run->features & VHF_BIT(VHF_F_EVENT_IDX)) ? "true" : "false");
	fprintf(f, "  \"ring\": \"%s\",\n  \"ring_size\": %u,\n"
		"  \"indirect\": %s,\n", o->packed ? "packed" : "split",
		run->ring_size, o->indirect ? "true" : "false");
	fprintf(f, "  \"requests\": %llu,\n  \"submitted\": %llu,\n",
		(unsigned long long)n,
		(unsigned long long)r->total.submitted);
	fprintf(f, "  \"errors\": %llu,\n  \"bad_len\": %llu,\n",
		(unsigned long long)r->total.bad_status,
		(unsigned long long)r->total.bad_len);
	fprintf(f, "  \"seconds\": %.6f,\n  \"iops\": %.1f,\n", r->seconds,
		r->seconds > 0 ? n / r->seconds : 0.0);
	fprintf(f, "  \"lat_mean_us\": %.3f,\n  \"lat_p50_us\": %.3f,\n"
		"  \"lat_p99_us\": %.3f,\n  \"lat_max_us\": %.3f,\n",
		per_request(r->hist->sum_ns, n) / 1000.0,
		hist_quantile(r->hist, 0.50) / 1000.0,
		hist_quantile(r->hist, 0.99) / 1000.0,
		r->hist->max_ns / 1000.0);
	fprintf(f, "  \"kicks\": %llu,\n  \"calls\": %llu,\n",
		(unsigned long long)r->total.kicks,
		(unsigned long long)r->total.calls);
	fprintf(f, "  \"kicks_per_request\": %.6f,\n"
		"  \"calls_per_request\": %.6f,\n",
		per_request(r->total.kicks, n), per_request(r->total.calls, n));
	if (r->have_cpu)
		fprintf(f, "  \"backend_cpu_us_per_request\": %.4f,\n",
			n ? r->backend_cpu_s * 1e6 / n : 0.0);
	else
		fprintf(f, "  \"backend_cpu_us_per_request\": null,\n");
	fprintf(f, "  \"bench_cpu_us_per_request\": %.4f\n}\n",
		n ? r->bench_cpu_s * 1e6 / n : 0.0);
}
