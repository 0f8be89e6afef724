/* SPDX-License-Identifier: MIT */
#include "ratelimit.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

#define NSEC_PER_SEC 1000000000ull
#define HASH_HEADS 1024u /* a power of two */
/* Full buckets are swept at most this often (and whenever the table is full). */
#define SWEEP_INTERVAL_NS (60ull * NSEC_PER_SEC)

typedef struct Bucket {
	struct Bucket *next;
	uint64_t credit_ns; /* earned, at most cap_ns */
	uint64_t cap_ns;    /* burst x cost of the last spec used */
	uint64_t last_ns;   /* when credit_ns was last brought up to date */
	uid_t uid;
	char unit[]; /* "" outside a unit */
} Bucket;

struct RateLimiter {
	Bucket *heads[HASH_HEADS];
	size_t n, max;
	uint64_t last_sweep_ns;
};

int rate_spec_parse(const char *s, RateSpec *ret)
{
	static const struct {
		const char *unit;
		uint32_t seconds;
	} periods[] = { { "s", 1 }, { "min", 60 }, { "h", 3600 } };
	unsigned long v;
	char *end;

	if (!s || *s < '1' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno == ERANGE || *end != '/')
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(periods); i++) {
		if (strcmp(end + 1, periods[i].unit) != 0)
			continue;
		if (v > (uint64_t)RATE_MAX_PER_SECOND * periods[i].seconds)
			return -ERANGE;
		*ret = (RateSpec){
			.cost_ns = periods[i].seconds * NSEC_PER_SEC / v,
			.burst = v < RATE_MAX_BURST ? (uint32_t)v : RATE_MAX_BURST,
			.n = (uint32_t)v,
			.period_s = periods[i].seconds,
		};
		return 0;
	}
	return -EINVAL;
}

void rate_spec_format(const RateSpec *r, char *buf, size_t size)
{
	if (r->cost_ns == 0)
		snprintf(buf, size, "unlimited");
	else
		snprintf(buf, size, "%" PRIu32 "/%s burst %" PRIu32, r->n,
			 r->period_s == 1 ? "s" : r->period_s == 60 ? "min" : "h", r->burst);
}

RateLimiter *ratelimit_new(size_t max_buckets)
{
	RateLimiter *rl = calloc(1, sizeof(*rl));

	if (rl)
		rl->max = max_buckets ? max_buckets : 1;
	return rl;
}

RateLimiter *ratelimit_free(RateLimiter *rl)
{
	if (!rl)
		return NULL;
	for (size_t h = 0; h < HASH_HEADS; h++)
		while (rl->heads[h]) {
			Bucket *b = rl->heads[h];

			rl->heads[h] = b->next;
			free(b);
		}
	free(rl);
	return NULL;
}

size_t ratelimit_buckets(const RateLimiter *rl)
{
	return rl->n;
}

static size_t hash(uid_t uid, const char *unit)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (size_t i = 0; i < sizeof(uid); i++)
		h = (h ^ ((uid >> (8 * i)) & 0xff)) * 1099511628211ull;
	for (; *unit; unit++)
		h = (h ^ (unsigned char)*unit) * 1099511628211ull;
	return (size_t)(h & (HASH_HEADS - 1));
}

/* What the bucket holds at now; a clock that went backwards earns nothing. */
static uint64_t credit_at(const Bucket *b, uint64_t now_ns)
{
	uint64_t earned = now_ns > b->last_ns ? now_ns - b->last_ns : 0;

	return earned >= b->cap_ns - b->credit_ns ? b->cap_ns : b->credit_ns + earned;
}

/* Drops every full bucket; with want_room and none full, the one owing least. */
static void sweep(RateLimiter *rl, uint64_t now_ns, bool want_room)
{
	Bucket **victim = NULL;
	uint64_t least_debt = UINT64_MAX;

	rl->last_sweep_ns = now_ns;
	for (size_t h = 0; h < HASH_HEADS; h++) {
		for (Bucket **p = &rl->heads[h]; *p;) {
			Bucket *b = *p;
			uint64_t debt = b->cap_ns - credit_at(b, now_ns);

			if (debt == 0) {
				*p = b->next;
				free(b);
				rl->n--;
				continue;
			}
			if (debt < least_debt) {
				least_debt = debt;
				victim = p;
			}
			p = &b->next;
		}
	}
	if (want_room && rl->n >= rl->max && victim) {
		/* Forgetting it hands that peer back the least it could have earned anyway. */
		Bucket *b = *victim;

		*victim = b->next;
		free(b);
		rl->n--;
	}
}

static Bucket *bucket_get(RateLimiter *rl, uid_t uid, const char *unit, uint64_t cap_ns,
			  uint64_t now_ns)
{
	size_t h = hash(uid, unit), len = strlen(unit);
	Bucket *b;

	for (b = rl->heads[h]; b; b = b->next)
		if (b->uid == uid && strcmp(b->unit, unit) == 0)
			return b;
	if (rl->n >= rl->max)
		sweep(rl, now_ns, true);
	b = malloc(sizeof(*b) + len + 1);
	if (!b)
		return NULL;
	/* A new identity starts with its whole burst. */
	*b = (Bucket){ .credit_ns = cap_ns, .cap_ns = cap_ns, .last_ns = now_ns, .uid = uid };
	memcpy(b->unit, unit, len + 1);
	b->next = rl->heads[h];
	rl->heads[h] = b;
	rl->n++;
	return b;
}

int ratelimit_take(RateLimiter *rl, uid_t uid, const char *unit, const RateSpec *spec,
		   uint64_t now_ns, uint64_t *ret_retry_ns)
{
	uint64_t cap_ns;
	Bucket *b;

	if (spec->cost_ns == 0)
		return 0;
	cap_ns = spec->cost_ns * (spec->burst ? spec->burst : 1);
	if (now_ns > rl->last_sweep_ns && now_ns - rl->last_sweep_ns > SWEEP_INTERVAL_NS)
		sweep(rl, now_ns, false);
	b = bucket_get(rl, uid, unit ? unit : "", cap_ns, now_ns);
	if (!b)
		return -ENOMEM;
	/* A reload may have changed the rate: the new burst bounds what was saved. */
	b->credit_ns = credit_at(b, now_ns);
	b->cap_ns = cap_ns;
	if (b->credit_ns > cap_ns)
		b->credit_ns = cap_ns;
	if (now_ns > b->last_ns)
		b->last_ns = now_ns;
	if (b->credit_ns < spec->cost_ns) {
		*ret_retry_ns = spec->cost_ns - b->credit_ns;
		return -EAGAIN;
	}
	b->credit_ns -= spec->cost_ns;
	return 0;
}
