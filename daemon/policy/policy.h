/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "claims.h"
#include "peer-limits.h"
#include "peer.h"
#include "ratelimit.h"

/*
 * Who may have which JWT: [policy NAME] sections, tried in file order.
 * The first policy whose match criteria all hold for the peer decides; if
 * none matches, the request is denied, root included. The decision needs
 * nothing but the peer and the request, so hsmjwtctl check-policy runs the
 * very same functions offline.
 */

#define POLICY_NAME_MAX 64
#define POLICY_MAX 1024	      /* [policy] sections */
#define POLICY_LIST_MAX 256   /* values in one list option */
#define POLICY_PATTERN_MAX 1024 /* as long as the longest claim */
#define POLICY_UNIT_MAX 256   /* systemd's UNIT_NAME_MAX */

typedef struct Policy {
	char *name;
	/* Match: every criterion given must hold; within a list, one entry suffices. */
	bool any_user; /* user = * */
	uid_t *uids;
	size_t n_uids;
	gid_t *gids; /* primary or supplementary group of the peer */
	size_t n_gids;
	char **units; /* globs; NULL-terminated, NULL when not given */
	/* Grants. */
	char **keys;	     /* key names, or "*" for every key */
	char **audiences;    /* globs */
	char **user_ids;     /* globs */
	char **extra_claims; /* globs over claim names; NULL: none */
	uint64_t max_lifetime; /* 0: only the key's limit */
	bool credentials;
	bool legacy_claims;
	bool verify; /* may ask the daemon to verify JWTs */
	bool payload_signing; /* may have payloads it built signed (hsmjwt-kube-signer) */
	RateSpec rate; /* cost_ns 0: not limited */
	PeerLimits limits; /* overrides of [server]'s per-uid limits; 0: the default */
	uint32_t burst_given;
	unsigned seen; /* bit per scalar option, to refuse repeats */
	unsigned line; /* of the section in hsmjwtd.conf, for messages */
} Policy;

/* What a request asks for, once the service has resolved the key. */
typedef struct PolicyRequest {
	const char *key;
	Span audience;
	Span user_id; /* p NULL: not checked (offline checks only) */
	uint64_t lifetime; /* seconds asked for (lifetime or expires-at - now); 0: none named */
	bool credentials;
	const char *const *extra_claims; /* names of claims beyond the profile's */
	size_t n_extra_claims;
	bool legacy_claims;
	bool payload; /* a payload the client built, signed as given */
} PolicyRequest;

/* Size of the message buffers below: enough for any denial. */
#define POLICY_MESSAGE_MAX 256

/*
 * The first policy matching the peer, or NULL: none matches, or the first
 * one that might cannot be decided (policy_undecided()).
 */
const Policy *policy_match(const Policy *policies, size_t n, const Peer *peer);
/* The policy that stopped policy_match() because the peer's unit or groups are unknown. */
const Policy *policy_undecided(const Policy *policies, size_t n, const Peer *peer);
/* Rule "identity-unknown": which attribute, for which pid, and that no later policy was tried. */
void policy_undecided_message(const Policy *p, const Peer *peer, char *buf, size_t size);
/* "no policy grants tokens to uid 1000 (gid 1000, unit x.service)": nothing about policies. */
void policy_no_match_message(const Peer *peer, char *buf, size_t size);
/* 0: the policy grants the request; -EPERM: buf names the rule that failed. */
int policy_check(const Policy *p, const PolicyRequest *rq, char *buf, size_t size);
/* policy_match, then policy_check. *ret_policy is the matching policy or NULL. */
int policy_decide(const Policy *policies, size_t n, const Peer *peer, const PolicyRequest *rq,
		  const Policy **ret_policy, char *buf, size_t size);
/* The lifetime of a request that names none: the key's default, cut to the policy's limit. */
uint64_t policy_default_lifetime(const Policy *p, uint64_t key_default);

void policies_free(Policy *policies, size_t n);
