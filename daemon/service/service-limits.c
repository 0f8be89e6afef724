/* SPDX-License-Identifier: MIT */
/* What one uid may hold (peer-limits.h), as the configuration in force says. */
#include "service.h"

#include "policy.h"

#include "service-internal.h"

PeerLimits service_peer_limits(const Service *s, const Peer *peer)
{
	const Config *c = s->config;
	const Policy *p = policy_match(c->policies, c->n_policies, peer);

	return peer_limits_apply(&c->peer_limits, p ? &p->limits : NULL);
}

unsigned service_max_queue(const Service *s)
{
	return s->config->max_queue;
}

int service_record(Service *s, AuditRecord *rec)
{
	if (rec->peer && !rec->denial_budget && audit_event_is_refusal(rec->event))
		rec->denial_budget = service_peer_limits(s, rec->peer).denial_records;
	return audit_record(s->audit, rec);
}
