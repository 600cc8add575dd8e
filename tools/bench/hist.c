/* SPDX-License-Identifier: MIT */
/* The latency histogram: fixed buckets, so recording never allocates and
 * threads merge their own histograms at the end. */
#include "bench.h"

void hist_add(struct bench_hist *h, uint64_t ns)
{
	uint64_t b;

	if (ns < HIST_FINE * 100ull)
		b = ns / 100;
	else if (ns < HIST_FINE * 100ull + HIST_COARSE * 10000ull)
		b = HIST_FINE + (ns - HIST_FINE * 100ull) / 10000;
	else
		b = HIST_BUCKETS - 1;
	h->bucket[b]++;
	h->count++;
	h->sum_ns += ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

void hist_merge(struct bench_hist *into, const struct bench_hist *h)
{
	for (unsigned int i = 0; i < HIST_BUCKETS; i++)
		into->bucket[i] += h->bucket[i];
	into->count += h->count;
	into->sum_ns += h->sum_ns;
	if (h->max_ns > into->max_ns)
		into->max_ns = h->max_ns;
}

static uint64_t at_most(uint64_t v, uint64_t max)
{
	return v < max ? v : max;
}

/* The middle of the bucket that holds the sample of rank q * count (never
 * more than the largest sample, which is known exactly). */
uint64_t hist_quantile(const struct bench_hist *h, double q)
{
	uint64_t rank, seen = 0;

	if (!h->count)
		return 0;
	rank = (uint64_t)(q * (double)(h->count - 1)) + 1;
	for (unsigned int i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen < rank)
			continue;
		if (i < HIST_FINE)
			return at_most(i * 100ull + 50, h->max_ns);
		if (i < HIST_FINE + HIST_COARSE)
			return at_most(HIST_FINE * 100ull +
				       (i - HIST_FINE) * 10000ull + 5000,
				       h->max_ns);
		return h->max_ns;
	}
	return h->max_ns;
}
