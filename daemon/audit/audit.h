/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "claims.h"
#include "audit-config.h"
#include "peer.h"

/*
 * The audit trail (ARCHITECTURE.md, Invariant 3): one record per decision and per
 * lifecycle event, to a hash-chained JSON Lines file and/or the journal.
 * Records name a JWT only by its SHA-256 fingerprint; never the JWT, the
 * access token or the PIN.
 *
 * Contract with callers:
 * - audit_record() writes the record to every sink before it returns (with
 *   sync = always the file's copy is buffered until the commit, which holds
 *   the JWT back anyway); < 0 means it could not, and the caller must not
 *   hand out the JWT. The
 *   trail then stays failing (every later record is refused too) until a
 *   later call finds the sinks writable again and records a "recovered"
 *   event.
 * - With sync = always a written record is not yet durable: the server holds
 *   back every reply while audit_unsynced(), then calls audit_commit_start()
 *   once for everything written so far (group commit). A thread syncs while
 *   the loop goes on; the AuditCommitted callback then gets the result, and
 *   the server releases the replies the sync covered only if it is >= 0. The
 *   result also reports a sync that failed elsewhere (a lifecycle record, a
 *   reopen) since the last one, so it covers every record written before the
 *   sync started. audit_commit() does the same synchronously.
 */

/* sync = batch: how often the file is fdatasync'ed; also how often a failing trail is retried. */
#define AUDIT_TICK_USEC (1000u * 1000u)
/*
 * Every string in a record is cut to this many bytes (an issued JWT's
 * audience and subject are within it already), so a record stays well under
 * AUDIT_LINE_MAX even if every byte is escaped as \u00XX.
 */
#define AUDIT_VALUE_MAX 1024u
/*
 * A refused request's audience, subject and jti are kept whole only up to
 * this many bytes of UTF-8; longer (or not UTF-8) they are recorded as this
 * prefix, their size and their SHA-256: enough to recognise the value, not
 * enough for a client to fill the disk with it.
 */
#define AUDIT_REFUSED_PREFIX 64u

struct AuditDenialSummary;

typedef enum AuditEvent {
	/* Decisions on sign requests. */
	AUDIT_ISSUED,
	AUDIT_INVALID,	/* the request was malformed or broke a limit */
	AUDIT_DENIED,	/* the policy said no */
	AUDIT_RATE_LIMITED,
	AUDIT_FAILED,	/* the token or the daemon failed: nothing issued */
	AUDIT_LEGACY_UPGRADE,
	/* Decisions on verify requests. */
	AUDIT_VERIFY_VALID,
	AUDIT_VERIFY_INVALID,	/* the JWT is not valid: error names the reason */
	AUDIT_VERIFY_FAILED,	/* the PKCS#11 token failed: nothing decided */
	AUDIT_DEPRECATION,	/* a valid v1 JWT: clients that still present them */
	_AUDIT_DECISION_MAX,
	/* The daemon's life. */
	AUDIT_START = _AUDIT_DECISION_MAX,
	AUDIT_STOP,
	AUDIT_RELOAD,
	AUDIT_KEY_CHANGE,
	AUDIT_REOPEN,	/* the file was reopened (log rotation) */
	AUDIT_RECOVERED, /* the trail works again after a failure */
	AUDIT_DENIALS,	 /* refusals of one uid beyond its budget, counted (audit-denials.h) */
	_AUDIT_EVENT_MAX,
} AuditEvent;

/*
 * What a record says. Absent fields (NULL pointers, zero numbers) are left
 * out of the record, so new fields cost one line in the builder.
 */
typedef struct AuditRecord {
	AuditEvent event;
	const Peer *peer;	/* decisions: who asked */
	uint64_t request_id;	/* the client's request id (0 is a valid id: decisions always carry it) */
	const char *key;	/* key name; for a refusal the name asked for, if any */
	const char *kid;
	const char *alg;
	Span audience;		/* .p == NULL: absent */
	Span subject;
	Span issuer;		/* .p == NULL: absent (the key's own issuer) */
	int64_t expires_at;	/* 0: absent */
	Span jti;		/* .p == NULL: absent */
	const char *policy;	/* the [policy NAME] that granted it */
	const char *jwt;	/* only its SHA-256 is recorded */
	size_t jwt_len;
	const char *error;	/* stable name of the refusal, e.g. "invalid-request" */
	const char *rule;	/* the broken rule's stable name, e.g. "expiry-too-long" */
	const char *message;	/* why, for people */
	const char *detail;	/* lifecycle events: free text */
	/* Filled in by the audit code itself for lifecycle records. */
	const char *version;
	const char *chain;	/* start: "new" or "continued" */
	const char *file;
	uint64_t dropped_bytes;	/* start/reopen: a torn last line that was cut off */
	const char *failed_since;
	uint64_t withheld_from, withheld_to; /* recovered: records whose JWTs were held back */
	/* Refusals: how many per uid and interval are recorded on their own (0: the default). */
	uint32_t denial_budget;
	const struct AuditDenialSummary *denials; /* AUDIT_DENIALS */
} AuditRecord;

const char *audit_event_to_string(AuditEvent e);
/* strerror() for the trail's errors, with words for the unclear ones. */
const char *audit_strerror(int r);
bool audit_event_is_decision(AuditEvent e);
/* A decision that gave the peer nothing: charged to its denial budget. */
bool audit_event_is_refusal(AuditEvent e);

typedef struct Audit Audit;

/* Opens the sinks and finds where the chain ends; failure is fatal for the daemon. */
int audit_new(const AuditConfig *config, Audit **ret);
/* Syncs what is pending (unless sync = none) and closes. */
Audit *audit_free(Audit *a);

int audit_record(Audit *a, const AuditRecord *r);
/*
 * sync = always: records of issued JWTs were written that no sync covered
 * yet. Other records (verify, refusals) are made durable by the next sync or
 * within AUDIT_TICK_USEC, without holding any reply (hsmjwtd.conf(5)).
 */
bool audit_unsynced(const Audit *a);
/* Makes written records durable (per the sync mode); < 0 if that failed. */
int audit_sync(Audit *a);
/* audit_sync(), failing also if any sync failed since the previous commit. */
int audit_commit(Audit *a);
/* 0 when records can be written, else the -errno that stopped them. */
int audit_error(const Audit *a);

/*
 * sync = always: writes the records rendered since the last call with one
 * write(2); the server calls it once per loop iteration, also while a sync
 * runs. < 0 if the write failed (the next commit result reports it too, and
 * the records stay buffered for the trail's recovery).
 */
int audit_flush(Audit *a);
/*
 * sync = always: audit_flush(), then hands every record written so far to
 * the sync thread; 1 if it started, 0 if there was nothing to sync or a sync
 * is running, < 0 if the write failed.
 */
int audit_commit_start(Audit *a);
bool audit_commit_running(const Audit *a);
typedef void (*AuditCommitted)(void *userdata, int r);

/*
 * Periodic work (batch sync, retrying a failing trail) and the results of
 * audit_commit_start(), passed to committed, run on the daemon's loop.
 */
int audit_attach_event(Audit *a, sd_event *e, AuditCommitted committed, void *userdata);
void audit_detach_event(Audit *a);

/* Lifecycle hooks. */
int audit_start(Audit *a);
int audit_stop(Audit *a, const char *why);
int audit_reload(Audit *a, const char *detail);
int audit_key_change(Audit *a, const char *key, const char *kid, const char *alg,
		     const char *detail);
/* Reopens the file by name after log rotation (SIGHUP); the chain continues into the new file. */
int audit_reopen(Audit *a);
