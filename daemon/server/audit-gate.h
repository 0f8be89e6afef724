/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The audit gate: with [audit] sync = always a token may leave only once
 * its audit record is durable, and one fdatasync() should cover as many
 * records as possible. The gate owns the audit trail's part of the loop
 * (start and stop records, the sync thread's event sources) and the
 * replies held back until their records are durable. So:
 * - request handlers write their records at once (write(2), cheap) and
 *   append their replies to the connection's out buffer as before;
 * - while the audit has records of issued JWTs no sync covered yet, bytes
 *   appended that include a sign response are held back: only
 *   out[0..out_ready) is sent, and the hold is listed as held
 *   (audit_gate_hold_or_release). Replies without a JWT (verify, keys,
 *   status, refusals) leave at once unless they queue behind a held one;
 *   their records become durable with the next sync, or within a second
 *   (audit.h, audit_unsynced());
 * - a post event source, which sd-event dispatches after the other sources
 *   that were pending in this loop iteration, marks how far each held
 *   reply stream goes (out_durable = out.len: their records are all
 *   written) and hands the sync to the audit's thread (audit_commit_start);
 * - the loop goes on meanwhile: more requests are read, decided, signed and
 *   recorded, and their replies are appended behind the mark;
 * - when the sync ends, each hold's out_ready moves to its mark, and the
 *   post source starts the next sync for what was written since. If the
 *   sync failed, each held sign response is first replaced by an
 *   UNAVAILABLE "audit trail" error with the same id
 *   (request_withhold_jwts), all of them, marked or not, so the JWTs
 *   never leave.
 * Without a sync thread (or when a lifecycle record's own sync covered
 * everything) the post source commits synchronously and releases all. With
 * sync = batch or none nothing is ever held.
 */

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

#include "audit.h"
#include "buf.h"
#include "list.h"

typedef struct AuditGate AuditGate;
typedef struct AuditHold AuditHold;

typedef struct AuditGateOps {
	/*
	 * Would a sync on the audit's thread overlap other work? If not, the
	 * gate syncs on the loop, sparing the client two thread wake-ups.
	 */
	bool (*busy)(AuditGate *g);
	/* h's replies may leave up to out_ready (ok < 0: withholding failed, drop the owner). */
	void (*released)(AuditHold *h, int ok);
} AuditGateOps;

/* A reply stream (a connection's out buffer) as the gate sees it. */
struct AuditHold {
	Buf *out;
	size_t out_ready;   /* out[0..out_ready) may leave; the rest waits for the commit */
	size_t out_durable; /* held: out[..out_durable) is covered by the running sync */
	bool jwt_appended;  /* a sign response was appended since the last hold_or_release */
	ListNode link;	    /* on the gate's held list */
};

struct AuditGate {
	Audit *audit;
	const AuditGateOps *ops;
	sd_event_source *post_source;
	ListNode held; /* AuditHold.link: streams whose replies wait for the commit */
	unsigned n_held;
	bool attached;
	bool started;
};

/* Writes the start record and attaches the audit to the loop. */
int audit_gate_init(AuditGate *g, sd_event *e, Audit *audit, const AuditGateOps *ops);
/* Detaches, then writes the stop record (why: NULL for a clean stop). */
void audit_gate_done(AuditGate *g, const char *why);

static inline void audit_hold_init(AuditHold *h, Buf *out)
{
	*h = (AuditHold){ .out = out };
	list_init(&h->link);
}

static inline bool audit_hold_held(const AuditHold *h)
{
	return list_linked(&h->link);
}

/* Replies were appended to h->out: release them now, or hold them for the commit. */
void audit_gate_hold_or_release(AuditGate *g, AuditHold *h);
/* The stream goes away (its replies with it). */
void audit_gate_forget(AuditGate *g, AuditHold *h);
/* The first n bytes of h->out were sent and dropped from the buffer. */
void audit_hold_shift(AuditHold *h, size_t n);
/* All of h->out was sent and the buffer emptied. */
static inline void audit_hold_reset(AuditHold *h)
{
	h->out_ready = h->out_durable = 0;
}
