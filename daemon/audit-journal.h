/* SPDX-License-Identifier: MIT */
#pragma once

#include "audit-record.h"

/*
 * The journal sink: the record's HSMJWT_* fields, the whole JSON line
 * (HSMJWT_RECORD) and its hash, a MESSAGE_ID per event type (documented in
 * units/hsmjwtd.catalog) and a one-line MESSAGE for people.
 */
int audit_journal_send(AuditLine *l, uint64_t seq, const AuditRecord *r);

/* The MESSAGE_ID of an event, as 32 hex digits. */
const char *audit_journal_message_id(AuditEvent e);
