/* SPDX-License-Identifier: MIT */
#include "authorize.h"

#include <errno.h>
#include <stdio.h>

/* The first matching policy, and that peer's rate: shared by every request kind. */
static int match_and_take(const Config *c, RateLimiter *rl, const Peer *peer, uint64_t now_ns,
			  const Policy **ret_policy, Failure *fail)
{
	const Policy *p = policy_match(c->policies, c->n_policies, peer), *u;
	uint64_t retry_ns = 0, ms;
	char rate[64];
	int r;

	if (!p) {
		fail->code = SERVICE_PERMISSION_DENIED;
		u = policy_undecided(c->policies, c->n_policies, peer);
		if (u) {
			snprintf(fail->rule, sizeof(fail->rule), "identity-unknown");
			policy_undecided_message(u, peer, fail->message, sizeof(fail->message));
		} else {
			snprintf(fail->rule, sizeof(fail->rule), "no-policy");
			policy_no_match_message(peer, fail->message, sizeof(fail->message));
		}
		return -EPERM;
	}
	r = ratelimit_take(rl, peer->uid, peer->unit, &p->rate, now_ns, &retry_ns);
	if (r == -EAGAIN) {
		ms = (retry_ns + 999999) / 1000000;
		fail->code = SERVICE_RATE_LIMITED;
		fail->retry_after_ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
		rate_spec_format(&p->rate, rate, sizeof(rate));
		snprintf(fail->message, sizeof(fail->message),
			 "rate limited by policy '%s' (%s); retry in %u ms", p->name, rate,
			 fail->retry_after_ms);
		return r;
	}
	if (r < 0) {
		/* No room to remember this peer: refuse rather than let it through unlimited. */
		fail->code = SERVICE_UNAVAILABLE;
		snprintf(fail->message, sizeof(fail->message), "out of memory for rate limiting");
		return r;
	}
	*ret_policy = p;
	return 0;
}

int authorize(const Config *c, RateLimiter *rl, const Peer *peer, const PolicyRequest *rq,
	      uint64_t now_ns, const Policy **ret_policy, Failure *fail)
{
	const Policy *p = NULL;
	int r;

	r = match_and_take(c, rl, peer, now_ns, &p, fail);
	if (r < 0)
		return r;
	r = policy_check(p, rq, fail->message, sizeof(fail->message));
	if (r < 0) {
		fail->code = SERVICE_PERMISSION_DENIED;
		return r;
	}
	*ret_policy = p;
	return 0;
}

int authorize_verify(const Config *c, RateLimiter *rl, const Peer *peer, uint64_t now_ns,
		     const Policy **ret_policy, Failure *fail)
{
	const Policy *p = NULL;
	int r;

	r = match_and_take(c, rl, peer, now_ns, &p, fail);
	if (r < 0)
		return r;
	if (!p->verify) {
		fail->code = SERVICE_PERMISSION_DENIED;
		snprintf(fail->message, sizeof(fail->message), "policy '%s' does not grant verify",
			 p->name);
		return -EPERM;
	}
	*ret_policy = p;
	return 0;
}
