/* SPDX-License-Identifier: MIT */
/* Clocks and the latency histogram. */
#include <errno.h>
#include <sys/resource.h>
#include <time.h>

#include "bench.h"

uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

void sleep_ns(uint64_t ns)
{
	struct timespec t = { .tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u) };

	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

double self_cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Below 128 ns: one bucket per ns. Above: the top 7 bits of the value pick the bucket. */
static unsigned bucket_of(uint64_t v)
{
	unsigned e;

	if (v < 128)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v); /* 2^e <= v, e >= 7 */
	if (e - 7 >= (HIST_BUCKETS - 128) / 64)
		return HIST_BUCKETS - 1;
	return 128 + (e - 7) * 64 + (unsigned)((v >> (e - 6)) & 63);
}

/* The middle of bucket i: what a sample in it is reported as. */
static uint64_t bucket_value(unsigned i)
{
	unsigned e, m;
	uint64_t low, width;

	if (i < 128)
		return i;
	e = (i - 128) / 64 + 7;
	m = (i - 128) % 64 + 64;
	width = 1ull << (e - 6);
	low = (uint64_t)m * width;
	return low + width / 2;
}

void hist_add(Histogram *h, uint64_t ns)
{
	h->bucket[bucket_of(ns)]++;
	h->count++;
	if (ns > h->max)
		h->max = ns;
}

void hist_merge(Histogram *into, const Histogram *from)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		into->bucket[i] += from->bucket[i];
	into->count += from->count;
	if (from->max > into->max)
		into->max = from->max;
}

uint64_t hist_quantile(const Histogram *h, double q)
{
	uint64_t want, seen = 0;

	if (h->count == 0)
		return 0;
	want = (uint64_t)(q * (double)h->count);
	if (want >= h->count)
		want = h->count - 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen > want) {
			uint64_t v = bucket_value(i);
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}
