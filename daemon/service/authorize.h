/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "config.h"
#include "peer.h"
#include "policy.h"
#include "ratelimit.h"
#include "service.h"

/*
 * The service's decision on one request, before anything is built or
 * signed: the first matching policy (none: permission denied), then that
 * peer's rate (every request of a matched peer counts, granted or not, so a
 * peer cannot flood the audit trail with refusals either), then the
 * policy's grants. now_ns is CLOCK_MONOTONIC, passed in for tests.
 */
int authorize(const Config *c, RateLimiter *rl, const Peer *peer, const PolicyRequest *rq,
	      uint64_t now_ns, const Policy **ret_policy, Failure *fail);

/* The same for a verify request: match, rate, then the policy's verify grant. */
int authorize_verify(const Config *c, RateLimiter *rl, const Peer *peer, uint64_t now_ns,
		     const Policy **ret_policy, Failure *fail);
