/* SPDX-License-Identifier: MIT */
/* Refusals beyond a uid's budget: counted, one aggregate per uid and interval, nothing lost. */
#include <string.h>

#include "audit-denials.h"
#include "tests.h"

#define SEC 1000000000ull

typedef struct Emitted {
	AuditDenialSummary s[8]; /* the first 8 */
	size_t n;
	uint64_t total;
	bool others;
} Emitted;

static int emit(void *userdata, const AuditDenialSummary *s)
{
	Emitted *e = userdata;

	if (e->n < 8)
		e->s[e->n] = *s;
	e->n++;
	e->total += s->count;
	e->others |= s->others;
	return 0;
}

int main(void)
{
	Emitted e = {};
	AuditDenials *d = audit_denials_new(emit, &e);
	char reasons[256];
	uint64_t t = 10 * SEC;

	check(d);
	/* Within the budget: recorded one by one, nothing counted. */
	for (int i = 0; i < 3; i++)
		check(audit_denials_admit(d, 4005, 3, "no-policy", t));
	/* Past it: counted, by reason. */
	for (int i = 0; i < 1000; i++)
		check(!audit_denials_admit(d, 4005, 3, i % 10 ? "no-policy" : "rate-limited", t + 1));
	/* Another uid has its own budget. */
	check(audit_denials_admit(d, 4006, 3, "no-policy", t + 2));
	/* Before the interval ends nothing is emitted; after, one aggregate for 4005. */
	check_int(audit_denials_flush(d, t + AUDIT_DENIAL_INTERVAL_NS - 1, false), 0);
	check_int(e.n, 0);
	check_int(audit_denials_flush(d, t + AUDIT_DENIAL_INTERVAL_NS, false), 0);
	check_int(e.n, 1);
	check_int(e.s[0].uid, 4005);
	check(!e.s[0].others);
	check_int(e.s[0].count, 1000);
	audit_denials_reasons(&e.s[0], reasons, sizeof(reasons));
	check(strcmp(reasons, "rate-limited:100 no-policy:900") == 0);
	check(e.s[0].from[0] && e.s[0].to[0]);
	/* A new interval: the budget is back. */
	check(audit_denials_admit(d, 4005, 3, "no-policy", t + AUDIT_DENIAL_INTERVAL_NS + 1));
	/* A denial after an interval with counts emits that aggregate first. */
	for (int i = 0; i < 5; i++)
		(void)audit_denials_admit(d, 4006, 1, "x", t + 3);
	check(!audit_denials_admit(d, 4006, 1, "x", t + 3));
	check(audit_denials_admit(d, 4006, 1, "x", t + 3 + AUDIT_DENIAL_INTERVAL_NS));
	check_int(e.n, 2);
	check_int(e.s[1].uid, 4006);
	check_int(e.s[1].count, 6); /* its one recorded at t + 2 used the budget of 1 */
	/* More uids than the table holds share one "others" aggregate; force flushes it. */
	unsigned recorded = 0;

	for (uid_t u = 0; u < AUDIT_DENIAL_UIDS_MAX + 10; u++)
		for (int i = 0; i < 2; i++)
			recorded += audit_denials_admit(d, 100000 + u, 1, "no-policy", t + 20 * SEC);
	/* One each for the uids in the table, one for all the others together. */
	check_int(recorded, AUDIT_DENIAL_UIDS_MAX + 1);
	e = (Emitted){};
	check_int(audit_denials_flush(d, t + 20 * SEC, true), 0);
	/* Nothing lost: every denial is recorded or counted. */
	check(e.others);
	check_int(e.total + recorded, 2 * (AUDIT_DENIAL_UIDS_MAX + 10));
	check(e.n <= AUDIT_DENIAL_UIDS_MAX + 1);
	audit_denials_free(d);
	return 0;
}
