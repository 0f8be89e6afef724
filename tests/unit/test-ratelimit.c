/* SPDX-License-Identifier: MIT */
/* Token buckets on an injected clock: nothing here sleeps or reads the time. */
#include <errno.h>
#include <stdint.h>

#include "ratelimit.h"
#include "tests.h"

#define SEC 1000000000ull

static RateSpec spec(const char *text, uint32_t burst)
{
	RateSpec r;

	check_int(rate_spec_parse(text, &r), 0);
	if (burst)
		r.burst = burst;
	return r;
}

static void parsing(void)
{
	RateSpec r;
	char buf[64];

	r = spec("10/s", 0);
	check_int(r.cost_ns, SEC / 10);
	check_int(r.burst, 10);
	r = spec("30/min", 0);
	check_int(r.cost_ns, 2 * SEC);
	r = spec("1/h", 3);
	check_int(r.cost_ns, 3600 * SEC);
	rate_spec_format(&r, buf, sizeof(buf));
	check(strcmp(buf, "1/h burst 3") == 0);
	r = spec("1000000/s", 0);
	check_int(r.cost_ns, 1000);
	check_int(rate_spec_parse("1000001/s", &r), -ERANGE);
	check_int(rate_spec_parse("0/s", &r), -EINVAL);
	check_int(rate_spec_parse("-1/s", &r), -EINVAL);
	check_int(rate_spec_parse("10", &r), -EINVAL);
	check_int(rate_spec_parse("10/d", &r), -EINVAL);
	check_int(rate_spec_parse("10/s ", &r), -EINVAL);
	check_int(rate_spec_parse(" 10/s", &r), -EINVAL);
	r = (RateSpec){};
	rate_spec_format(&r, buf, sizeof(buf));
	check(strcmp(buf, "unlimited") == 0);
}

static void burst_then_rate(void)
{
	RateLimiter *rl = ratelimit_new(16);
	RateSpec r = spec("1/s", 3);
	uint64_t retry = 0, t = 5 * SEC;

	for (int i = 0; i < 3; i++)
		check_int(ratelimit_take(rl, 1000, "a.service", &r, t, &retry), 0);
	check_int(ratelimit_take(rl, 1000, "a.service", &r, t, &retry), -EAGAIN);
	check_int(retry, SEC);
	/* Refused requests spend nothing: half a second later half a token is missing. */
	check_int(ratelimit_take(rl, 1000, "a.service", &r, t + SEC / 2, &retry), -EAGAIN);
	check_int(retry, SEC / 2);
	check_int(ratelimit_take(rl, 1000, "a.service", &r, t + SEC, &retry), 0);
	check_int(ratelimit_take(rl, 1000, "a.service", &r, t + SEC, &retry), -EAGAIN);

	/* Other identities have their own buckets; NULL unit and "" are one identity. */
	check_int(ratelimit_take(rl, 1000, "b.service", &r, t, &retry), 0);
	check_int(ratelimit_take(rl, 1001, "a.service", &r, t, &retry), 0);
	for (int i = 0; i < 3; i++)
		check_int(ratelimit_take(rl, 1000, NULL, &r, t, &retry), 0);
	check_int(ratelimit_take(rl, 1000, "", &r, t, &retry), -EAGAIN);

	/* A long idle spell earns back the burst, never more. */
	t += 1000 * SEC;
	for (int i = 0; i < 3; i++)
		check_int(ratelimit_take(rl, 1000, "a.service", &r, t, &retry), 0);
	check_int(ratelimit_take(rl, 1000, "a.service", &r, t, &retry), -EAGAIN);

	/* A clock that goes backwards earns nothing and breaks nothing. */
	check_int(ratelimit_take(rl, 1000, "a.service", &r, t - 500 * SEC, &retry), -EAGAIN);
	check_int(ratelimit_take(rl, 1000, "a.service", &r, t + SEC, &retry), 0);

	/* A smaller burst after a reload caps what was saved. */
	check_int(ratelimit_take(rl, 1001, "c.service", &r, t, &retry), 0);
	r = spec("1/s", 1);
	check_int(ratelimit_take(rl, 1001, "c.service", &r, t, &retry), 0);
	check_int(ratelimit_take(rl, 1001, "c.service", &r, t, &retry), -EAGAIN);

	/* Unlimited costs nothing and creates no bucket. */
	r = (RateSpec){};
	size_t before = ratelimit_buckets(rl);
	check_int(ratelimit_take(rl, 7, "x", &r, t, &retry), 0);
	check_int(ratelimit_buckets(rl), before);
	ratelimit_free(rl);
}

static void bounded_table(void)
{
	RateLimiter *rl = ratelimit_new(4);
	RateSpec r = spec("1/s", 3);
	uint64_t retry, t = SEC;
	char unit[32];

	/* uid 1 owes its whole burst; everyone after owes one token. */
	for (int i = 0; i < 3; i++)
		check_int(ratelimit_take(rl, 1, "debtor", &r, t, &retry), 0);
	for (unsigned u = 2; u < 1000; u++) {
		snprintf(unit, sizeof(unit), "flood-%u.scope", u);
		check_int(ratelimit_take(rl, u, unit, &r, t, &retry), 0);
		check(ratelimit_buckets(rl) <= 4);
	}
	/* The flood evicted the least indebted, never the one that owes most. */
	check_int(ratelimit_take(rl, 1, "debtor", &r, t, &retry), -EAGAIN);

	/* Idle expiry: once every bucket has earned back its burst, a sweep frees them all. */
	t += 10 * 60 * SEC;
	check_int(ratelimit_take(rl, 5000, "late", &r, t, &retry), 0);
	check_int(ratelimit_buckets(rl), 1);
	ratelimit_free(rl);
}

int main(void)
{
	parsing();
	burst_then_rate();
	bounded_table();
	return 0;
}
