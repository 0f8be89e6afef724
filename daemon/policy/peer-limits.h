/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

/*
 * What one uid may hold of the daemon, matched by a policy or not: every
 * group member can reach the socket, so every one is bounded (issue 16:
 * one uid with no policy took all connection slots, and filled the disk
 * with denial records). [server] sets the defaults, a [policy] may raise
 * or lower them for the peers it matches; 0 in a policy: the default.
 */
typedef struct PeerLimits {
	uint32_t connections;	 /* open connections */
	uint32_t inflight;	 /* sign and verify requests waiting for or at the token */
	uint32_t denial_records; /* refusals recorded one by one per 5 s; then counted */
} PeerLimits;

/* An eighth of the default max-connections: eight busy services fill the daemon, one cannot. */
#define PEER_DEFAULT_CONNECTIONS 128u
/*
 * A quarter of the default max-queue: a pipelining service (64 connections
 * x 32, the benchmark's heaviest cell) fits, and three more uids still find
 * room when one uid fills its share.
 */
#define PEER_DEFAULT_INFLIGHT 2048u
/* ~600 bytes each: at most ~30 KB per uid and 5 s before aggregation. */
#define PEER_DEFAULT_DENIAL_RECORDS 50u
#define PEER_LIMIT_MAX 1000000u

/* The defaults with what policy_limits (NULL: none) overrides. */
static inline PeerLimits peer_limits_apply(const PeerLimits *defaults,
					   const PeerLimits *policy_limits)
{
	PeerLimits l = *defaults;

	if (policy_limits && policy_limits->connections)
		l.connections = policy_limits->connections;
	if (policy_limits && policy_limits->inflight)
		l.inflight = policy_limits->inflight;
	if (policy_limits && policy_limits->denial_records)
		l.denial_records = policy_limits->denial_records;
	return l;
}
