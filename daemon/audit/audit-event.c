/* SPDX-License-Identifier: MIT */
/*
 * What the trail's events are called and how they are grouped, and the
 * words for a sink's errors: pure functions of their arguments, kept out of
 * audit.c, which holds the trail's state (write, sync, fail, recover).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "audit.h"
#include "audit-file.h"
#include "audit-journal.h"
#include "cleanup.h"

static const char *const event_names[_AUDIT_EVENT_MAX] = {
	[AUDIT_ISSUED] = "issued",
	[AUDIT_INVALID] = "invalid",
	[AUDIT_DENIED] = "denied",
	[AUDIT_RATE_LIMITED] = "rate-limited",
	[AUDIT_FAILED] = "failed",
	[AUDIT_LEGACY_UPGRADE] = "legacy-upgrade",
	[AUDIT_VERIFY_VALID] = "verify-valid",
	[AUDIT_VERIFY_INVALID] = "verify-invalid",
	[AUDIT_VERIFY_FAILED] = "verify-failed",
	[AUDIT_DEPRECATION] = "deprecation",
	[AUDIT_START] = "start",
	[AUDIT_STOP] = "stop",
	[AUDIT_RELOAD] = "reload",
	[AUDIT_KEY_CHANGE] = "key-change",
	[AUDIT_REOPEN] = "reopen",
	[AUDIT_RECOVERED] = "recovered",
	[AUDIT_DENIALS] = "denials",
};

const char *audit_event_to_string(AuditEvent e)
{
	return (size_t)e < ELEMENTSOF(event_names) ? event_names[e] : NULL;
}

const char *audit_strerror(int r)
{
	/* The journal's errors are its own: the file sink never gives them. */
	if (r == -ECONNREFUSED || r == -ETIMEDOUT)
		return audit_journal_strerror(r);
	return audit_file_strerror(r);
}

bool audit_event_is_decision(AuditEvent e)
{
	return e < _AUDIT_DECISION_MAX;
}

bool audit_event_is_refusal(AuditEvent e)
{
	return e == AUDIT_INVALID || e == AUDIT_DENIED || e == AUDIT_RATE_LIMITED ||
	       e == AUDIT_FAILED || e == AUDIT_VERIFY_INVALID || e == AUDIT_VERIFY_FAILED;
}
