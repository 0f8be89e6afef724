/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "audit-record.h"
#include "peer-limits.h"

/*
 * Refusals are recorded one by one up to a budget per uid and interval;
 * beyond it they are counted, and the interval ends with one aggregated
 * record for that uid: how many, for which reasons, from when to when. A
 * peer that floods denials then costs the trail a bounded number of bytes
 * per interval, and nothing is hidden (ARCHITECTURE.md, Invariant 5).
 *
 * Measured on main before this (issue 16): four connections of a uid with
 * no policy wrote 67,000 records (850 MB, each fdatasync'ed) in 5 s.
 */

/* One aggregated record per uid and interval at most. */
#define AUDIT_DENIAL_INTERVAL_NS (5ull * 1000000000ull)
/* uids tracked at once; further uids share one "others" aggregate. */
#define AUDIT_DENIAL_UIDS_MAX 256u
/* Distinct reasons counted by name per aggregate; more are summed as "other". */
#define AUDIT_DENIAL_REASONS_MAX 8u
#define AUDIT_DENIAL_REASON_MAX 32u

typedef struct AuditDenialReason {
	char name[AUDIT_DENIAL_REASON_MAX];
	uint64_t count;
} AuditDenialReason;

/* What an aggregated record says. */
typedef struct AuditDenialSummary {
	uid_t uid;
	bool others; /* uid is meaningless: uids past AUDIT_DENIAL_UIDS_MAX */
	uint64_t count;
	char from[AUDIT_TIME_MAX], to[AUDIT_TIME_MAX]; /* the first and the last one counted */
	AuditDenialReason reasons[AUDIT_DENIAL_REASONS_MAX];
	size_t n_reasons;
	uint64_t other_reasons;
} AuditDenialSummary;

typedef struct AuditDenials AuditDenials;
/* Writes one aggregated record; its result is the trail's. */
typedef int (*AuditDenialEmit)(void *userdata, const AuditDenialSummary *s);

AuditDenials *audit_denials_new(AuditDenialEmit emit, void *userdata);
AuditDenials *audit_denials_free(AuditDenials *d);

/*
 * A refusal for uid: true if it is within budget (records per interval, 0:
 * the default) and must be recorded on its own; false if it was counted.
 * An interval of uid's that ended with counted refusals is emitted first.
 */
bool audit_denials_admit(AuditDenials *d, uid_t uid, uint32_t budget, const char *reason,
			 uint64_t now_ns);
/* Emits the aggregates whose interval ended (all of them with force); the first error. */
int audit_denials_flush(AuditDenials *d, uint64_t now_ns, bool force);
/* "no-policy:66000 rate-limited:812" into buf. */
void audit_denials_reasons(const AuditDenialSummary *s, char *buf, size_t size);
