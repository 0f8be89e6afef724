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
/* A journald that does not take a record for this long counts as failed. */
#define AUDIT_JOURNAL_SEND_TIMEOUT_SEC 5

typedef struct AuditJournal {
	int fd;
	Buf wire;
} AuditJournal;

void audit_journal_done(AuditJournal *j);
int audit_journal_send(AuditJournal *j, AuditLine *l, uint64_t seq, const AuditRecord *r);

/* The MESSAGE_ID of an event, as 32 hex digits. */
const char *audit_journal_message_id(AuditEvent e);
