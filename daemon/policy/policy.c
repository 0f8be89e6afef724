/* SPDX-License-Identifier: MIT */
#include "policy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "glob.h"

static bool any_glob(char *const *patterns, const char *s, size_t n)
{
	for (; patterns && *patterns; patterns++)
		if (glob_match(*patterns, s, n))
			return true;
	return false;
}

typedef enum Match { MATCH_NO, MATCH_YES, MATCH_UNKNOWN } Match;

/*
 * MATCH_UNKNOWN: the peer meets every criterion that could be checked, but a
 * unit or group rule could not be, because that part of its identity is not
 * known (the process exited before accept, more groups than we keep). Such a
 * policy neither matches nor lets a later one decide (ARCHITECTURE.md,
 * Invariant 8): otherwise a peer that hides its unit would be judged by a
 * broader policy further down.
 */
static Match matches(const Policy *p, const Peer *peer)
{
	bool ok, unknown = false;

	if (p->any_user || p->n_uids) {
		ok = p->any_user;
		for (size_t i = 0; !ok && i < p->n_uids; i++)
			ok = p->uids[i] == peer->uid;
		if (!ok)
			return MATCH_NO;
	}
	if (p->n_gids) {
		ok = false;
		for (size_t i = 0; !ok && i < p->n_gids; i++)
			ok = peer_in_group(peer, p->gids[i]);
		if (!ok && !peer->groups_truncated)
			return MATCH_NO;
		unknown = !ok;
	}
	if (p->units) {
		if (!peer->unit && peer->unit_unknown)
			unknown = true;
		else if (!peer->unit)
			return MATCH_NO;
		else if (!any_glob(p->units, peer->unit, strlen(peer->unit)))
			return MATCH_NO;
	}
	return unknown ? MATCH_UNKNOWN : MATCH_YES;
}

/* The first policy that matches or cannot be decided; *ret_unknown says which. */
static const Policy *first_decisive(const Policy *policies, size_t n, const Peer *peer,
				    bool *ret_unknown)
{
	for (size_t i = 0; i < n; i++) {
		Match m = matches(&policies[i], peer);

		if (m != MATCH_NO) {
			*ret_unknown = m == MATCH_UNKNOWN;
			return &policies[i];
		}
	}
	*ret_unknown = false;
	return NULL;
}

const Policy *policy_match(const Policy *policies, size_t n, const Peer *peer)
{
	bool unknown;
	const Policy *p = first_decisive(policies, n, peer, &unknown);

	return unknown ? NULL : p;
}

const Policy *policy_undecided(const Policy *policies, size_t n, const Peer *peer)
{
	bool unknown;
	const Policy *p = first_decisive(policies, n, peer, &unknown);

	return unknown ? p : NULL;
}

void policy_undecided_message(const Policy *p, const Peer *peer, char *buf, size_t size)
{
	snprintf(buf, size,
		 "policy '%s' matches on %s, which could not be established for pid %d uid %u "
		 "(did it exit before the daemon accepted?); denied, no later policy is tried",
		 p->name, p->units && peer->unit_unknown ? "the systemd unit" : "supplementary groups",
		 (int)peer->pid, (unsigned)peer->uid);
}

void policy_no_match_message(const Peer *peer, char *buf, size_t size)
{
	snprintf(buf, size, "no policy grants tokens to uid %u (gid %u, %s%s)", (unsigned)peer->uid,
		 (unsigned)peer->gid, peer->unit ? "unit " : "no systemd unit",
		 peer->unit ? peer->unit : "");
}

/*
 * A client's value, quoted back in a denial: printable ASCII only and cut
 * short, so the message stays one line of valid UTF-8 whatever was sent.
 */
static const char *echo(Span v, char buf[static 56])
{
	size_t n = v.n < 48 ? v.n : 48, i;

	for (i = 0; i < n; i++)
		buf[i] = v.p[i] >= 0x20 && v.p[i] < 0x7f ? v.p[i] : '?';
	strcpy(buf + i, v.n > n ? "..." : "");
	return buf;
}

static int deny(char *buf, size_t size, const char *fmt, ...) _printf_(3, 4);
static int deny(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return -EPERM;
}

static bool key_granted(const Policy *p, const char *key)
{
	for (char **k = p->keys; k && *k; k++)
		if (strcmp(*k, "*") == 0 || strcmp(*k, key) == 0)
			return true;
	return false;
}

int policy_check(const Policy *p, const PolicyRequest *rq, char *buf, size_t size)
{
	char v[56];

	if (!key_granted(p, rq->key))
		return deny(buf, size, "policy '%s' does not grant key '%s'", p->name, rq->key);
	if (!any_glob(p->audiences, rq->audience.p, rq->audience.n))
		return deny(buf, size, "policy '%s' does not grant audience '%s'", p->name,
			    echo(rq->audience, v));
	/* p NULL: not asked (check-policy without --sub); the service always asks. */
	if (rq->user_id.p && !any_glob(p->user_ids, rq->user_id.p, rq->user_id.n))
		return deny(buf, size, "policy '%s' does not grant user id '%s'", p->name,
			    echo(rq->user_id, v));
	if (p->max_lifetime && rq->lifetime > p->max_lifetime)
		return deny(buf, size,
			    "lifetime %" PRIu64 " s exceeds policy '%s' max-lifetime of %" PRIu64 " s",
			    rq->lifetime, p->name, p->max_lifetime);
	if (rq->credentials && !p->credentials)
		return deny(buf, size, "policy '%s' does not grant the credentials claim", p->name);
	if (rq->payload && !p->payload_signing)
		return deny(buf, size, "policy '%s' does not grant payload signing", p->name);
	if (rq->legacy_claims && !p->legacy_claims)
		return deny(buf, size, "policy '%s' does not grant legacy claims", p->name);
	for (size_t i = 0; i < rq->n_extra_claims; i++) {
		const char *c = rq->extra_claims[i];
		Span s = { c, strlen(c) };

		if (!any_glob(p->extra_claims, c, s.n))
			return deny(buf, size, "policy '%s' does not grant claim '%s'", p->name,
				    echo(s, v));
	}
	return 0;
}

int policy_decide(const Policy *policies, size_t n, const Peer *peer, const PolicyRequest *rq,
		  const Policy **ret_policy, char *buf, size_t size)
{
	const Policy *p = policy_match(policies, n, peer), *u;

	*ret_policy = p;
	if (!p) {
		u = policy_undecided(policies, n, peer);
		if (u)
			policy_undecided_message(u, peer, buf, size);
		else
			policy_no_match_message(peer, buf, size);
		return -EPERM;
	}
	return policy_check(p, rq, buf, size);
}

uint64_t policy_default_lifetime(const Policy *p, uint64_t key_default)
{
	return p->max_lifetime && p->max_lifetime < key_default ? p->max_lifetime : key_default;
}

static void strv_free(char **v)
{
	for (char **i = v; i && *i; i++)
		free(*i);
	free(v);
}

void policies_free(Policy *policies, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		Policy *p = &policies[i];

		free(p->name);
		free(p->uids);
		free(p->gids);
		strv_free(p->units);
		strv_free(p->keys);
		strv_free(p->audiences);
		strv_free(p->user_ids);
		strv_free(p->extra_claims);
	}
	free(policies);
}
