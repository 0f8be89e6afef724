/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Token buckets per peer identity, kept as time credit: a bucket holds up to
 * burst x cost nanoseconds, earns one nanosecond per nanosecond and each
 * request spends cost (= period / N for "N/period"). A bucket that has
 * earned back its whole burst carries no state at all, so it is dropped
 * ("idle expiry"); the table never holds more than its bound, so a flood of
 * distinct peers cannot grow memory. Time comes in as a parameter (the
 * daemon passes CLOCK_MONOTONIC) so tests can drive the clock.
 *
 * The identity is (uid, systemd unit): processes of one service share a
 * budget, two services that run as the same user do not, and a peer outside
 * any unit is keyed by its uid alone.
 */

/* Distinct identities tracked at once; past this the least indebted bucket is forgotten. */
#define RATELIMIT_MAX_BUCKETS 4096u
/* Largest N in "N/s" (a token then costs 1 µs) and largest burst. */
#define RATE_MAX_PER_SECOND 1000000u
#define RATE_MAX_BURST 1000000u

typedef struct RateSpec {
	uint64_t cost_ns; /* 0: unlimited */
	uint32_t burst;
	uint32_t n;	  /* as written, for messages: n per period_s */
	uint32_t period_s;
} RateSpec;

/*
 * "10/s", "30/min", "100/h" (at most RATE_MAX_PER_SECOND per second). burst
 * is set to N; the caller overrides it when the policy names one.
 */
int rate_spec_parse(const char *s, RateSpec *ret);
/* "10/s burst 20"; "unlimited" for cost_ns 0. */
void rate_spec_format(const RateSpec *r, char *buf, size_t size);

typedef struct RateLimiter RateLimiter;

RateLimiter *ratelimit_new(size_t max_buckets);
RateLimiter *ratelimit_free(RateLimiter *rl);

/*
 * Spends one token of (uid, unit)'s bucket under spec. 0: allowed.
 * -EAGAIN: limited, *ret_retry_ns says when one token will be there.
 * -ENOMEM: no memory for a new bucket (the caller refuses: fail closed).
 */
int ratelimit_take(RateLimiter *rl, uid_t uid, const char *unit, const RateSpec *spec,
		   uint64_t now_ns, uint64_t *ret_retry_ns);

size_t ratelimit_buckets(const RateLimiter *rl);
