/* SPDX-License-Identifier: MIT */
#pragma once

#include "audit-record.h"

/*
 * The journal sink: the record's HSMJWT_* fields, the whole JSON line
 * (HSMJWT_RECORD) and its hash, a MESSAGE_ID per event type (documented in
 * units/hsmjwtd.catalog) and a one-line MESSAGE for people.
 *
 * Sent with journald's native protocol on a socket of our own rather than
 * sd_journal_sendv(), which reports success when journald's socket is
 * missing: an audit sink must fail loudly, so that signing stops.
 */

#define AUDIT_JOURNAL_SOCKET "/run/systemd/journal/socket"
/*
 * How long a send may wait for room in journald's queue, in the event loop:
 * a busy journald takes a burst within this; a stalled one fails the trail
 * (and stops signing) instead of stalling every client. Under a real systemd
 * a SIGSTOPped journald filled the socket after 94 records; with the old
 * blocking 5 s send timeout every later request, and every recovery try,
 * held the loop for 5 s. While the trail is failing, sends do not wait.
 */
#define AUDIT_JOURNAL_WAIT_MSEC 200

typedef struct AuditJournal {
	int fd;
	Buf wire;
} AuditJournal;

/*
 * Connects to journald's socket (again after a failed send): -ENOENT or
 * -ECONNREFUSED when no journald listens. hsmjwtd calls it at start, so that
 * a host without journald fails there and not on every request.
 */
int audit_journal_open(AuditJournal *j);
void audit_journal_done(AuditJournal *j);
/*
 * Sends one record, waiting at most wait_msec for room in journald's queue
 * (-ETIMEDOUT past it). The record is taken whole or not at all.
 */
int audit_journal_send(AuditJournal *j, AuditLine *l, uint64_t seq, const AuditRecord *r,
		       int wait_msec);
/*
 * Words for the journal's errors: what an operator should look at. Sends
 * fail with -ECONNREFUSED (no journald) or -ETIMEDOUT (a stalled one), which
 * the file sink never returns, so audit_strerror() can tell them apart.
 */
const char *audit_journal_strerror(int r);

/* The MESSAGE_ID of an event, as 32 hex digits. */
const char *audit_journal_message_id(AuditEvent e);
