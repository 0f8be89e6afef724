/* SPDX-License-Identifier: MIT */
#pragma once

#include <sys/uio.h>

#include "audit-chain.h"
#include "audit.h"
#include "buf.h"

/*
 * One record rendered for both sinks at once: the JSON line of the file and
 * the journal's structured fields (HSMJWT_*), from the same values, so the
 * two cannot drift apart.
 */

#define AUDIT_JOURNAL_FIELDS_MAX 48

typedef struct AuditLine {
	Buf json;	/* the line, without its newline */
	Buf journal;	/* NAME=value fields back to back */
	size_t field_end[AUDIT_JOURNAL_FIELDS_MAX];
	size_t n_fields;
	bool first;	/* no member yet in the JSON object being written */
	bool json_only;	/* journal = no: skip the journal's fields */
	int error;
} AuditLine;

void audit_line_done(AuditLine *l);

#define AUDIT_TIME_MAX 40
/* Now, as RFC 3339 in UTC with microseconds: 2025-01-31T23:59:59.123456Z */
void audit_format_time(char buf[static AUDIT_TIME_MAX]);

/* Renders r as record number seq following the line whose hash is prev. */
int audit_line_format(AuditLine *l, uint64_t seq, const char prev[static AUDIT_HASH_HEX],
		      const AuditRecord *r);

/* Adds a journal-only field (MESSAGE=..., etc.). */
void audit_line_journal_field(AuditLine *l, const char *name, const char *value, size_t n);

/* Fills iov with the journal fields; returns how many. */
size_t audit_line_iovec(const AuditLine *l, struct iovec iov[static AUDIT_JOURNAL_FIELDS_MAX]);
