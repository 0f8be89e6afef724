/* SPDX-License-Identifier: MIT */
#include "audit-record.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "json.h"

void audit_line_done(AuditLine *l)
{
	buf_done(&l->json);
	buf_done(&l->journal);
	*l = (AuditLine){};
}

void audit_line_journal_field(AuditLine *l, const char *name, const char *value, size_t n)
{
	if (l->n_fields >= AUDIT_JOURNAL_FIELDS_MAX) {
		l->error = -E2BIG;
		return;
	}
	buf_append_str(&l->journal, name);
	buf_append_char(&l->journal, '=');
	buf_append(&l->journal, value, n);
	l->field_end[l->n_fields++] = l->journal.len;
}

size_t audit_line_iovec(const AuditLine *l, struct iovec iov[static AUDIT_JOURNAL_FIELDS_MAX])
{
	size_t start = 0;

	for (size_t i = 0; i < l->n_fields; i++) {
		iov[i] = (struct iovec){ l->journal.data + start, l->field_end[i] - start };
		start = l->field_end[i];
	}
	return l->n_fields;
}

static void member_name(AuditLine *l, const char *name)
{
	if (!l->first)
		buf_append_char(&l->json, ',');
	l->first = false;
	buf_append_char(&l->json, '"');
	buf_append_str(&l->json, name);
	buf_append_str(&l->json, "\":");
}

/*
 * A string member, cut at a character boundary after AUDIT_VALUE_MAX bytes
 * (a refused request's audience, an odd executable path) so that a record
 * stays far below AUDIT_LINE_MAX even when every byte needs escaping. Values
 * that are not UTF-8 (refused requests) become null in JSON.
 */
static void add_str(AuditLine *l, const char *name, const char *field, const char *v, size_t n)
{
	if (n > AUDIT_VALUE_MAX) {
		n = AUDIT_VALUE_MAX;
		while (n > 0 && ((unsigned char)v[n] & 0xc0) == 0x80)
			n--;
	}
	member_name(l, name);
	if (json_append_string(&l->json, v, n) < 0)
		buf_append_str(&l->json, "null");
	audit_line_journal_field(l, field, v, n);
}

static void add_cstr(AuditLine *l, const char *name, const char *field, const char *v)
{
	if (v)
		add_str(l, name, field, v, strlen(v));
}

static void add_span(AuditLine *l, const char *name, const char *field, Span s)
{
	if (s.p)
		add_str(l, name, field, s.p, s.n);
}

static void add_num(AuditLine *l, const char *name, const char *field, const char *fmt, ...)
	_printf_(4, 5);
static void add_num(AuditLine *l, const char *name, const char *field, const char *fmt, ...)
{
	char tmp[32];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	member_name(l, name);
	buf_append(&l->json, tmp, (size_t)n);
	audit_line_journal_field(l, field, tmp, (size_t)n);
}

static void open_object(AuditLine *l, const char *name)
{
	member_name(l, name);
	buf_append_char(&l->json, '{');
	l->first = true;
}

static void close_object(AuditLine *l)
{
	buf_append_char(&l->json, '}');
	l->first = false;
}

void audit_format_time(char buf[static AUDIT_TIME_MAX])
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, AUDIT_TIME_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, AUDIT_TIME_MAX - n, ".%06ldZ", ts.tv_nsec / 1000);
}

static void add_time(AuditLine *l)
{
	char tmp[AUDIT_TIME_MAX];

	audit_format_time(tmp);
	add_cstr(l, "time", "HSMJWT_TIME", tmp);
}

/*
 * Who asked (see peer.h for what each field is worth: unit, exe and comm are
 * read from /proc after accept, and a peer sets its own comm). Fields the
 * peer does not carry are left out. No OBJECT_PID= for the journal: journald
 * would add the peer's OBJECT_CMDLINE, and clients do put secrets on command
 * lines.
 */
static void add_peer(AuditLine *l, const Peer *p)
{
	open_object(l, "peer");
	add_num(l, "pid", "HSMJWT_PEER_PID", "%d", (int)p->pid);
	add_num(l, "uid", "HSMJWT_PEER_UID", "%u", (unsigned)p->uid);
	add_num(l, "gid", "HSMJWT_PEER_GID", "%u", (unsigned)p->gid);
	if (p->unit && *p->unit)
		add_cstr(l, "unit", "HSMJWT_PEER_UNIT", p->unit);
	if (p->exe && *p->exe)
		add_cstr(l, "exe", "HSMJWT_PEER_EXE", p->exe);
	if (*p->comm)
		add_str(l, "comm", "HSMJWT_PEER_COMM", p->comm, strnlen(p->comm, PEER_COMM_MAX));
	close_object(l);
}

static void add_key(AuditLine *l, const AuditRecord *r)
{
	add_cstr(l, "key", "HSMJWT_KEY", r->key);
	add_cstr(l, "kid", "HSMJWT_KID", r->kid);
	add_cstr(l, "alg", "HSMJWT_ALG", r->alg);
}

static void add_decision(AuditLine *l, const AuditRecord *r)
{
	char fp[AUDIT_HASH_HEX];

	if (r->peer)
		add_peer(l, r->peer);
	add_num(l, "request", "HSMJWT_REQUEST_ID", "%" PRIu64, r->request_id);
	add_key(l, r);
	add_span(l, "aud", "HSMJWT_AUDIENCE", r->audience);
	add_span(l, "sub", "HSMJWT_SUBJECT", r->subject);
	if (r->expires_at)
		add_num(l, "exp", "HSMJWT_EXPIRES_AT", "%" PRId64, r->expires_at);
	add_span(l, "jti", "HSMJWT_JTI", r->jti);
	add_cstr(l, "policy", "HSMJWT_POLICY", r->policy);
	if (r->token) {
		audit_sha256_hex(r->token, r->token_len, fp);
		if (!fp[0]) {
			l->error = -EIO;
			return;
		}
		add_cstr(l, "sha256", "HSMJWT_TOKEN_SHA256", fp);
	}
}

int audit_line_format(AuditLine *l, uint64_t seq, const char prev[static AUDIT_HASH_HEX],
		      const AuditRecord *r)
{
	buf_reset(&l->json);
	buf_reset(&l->journal);
	l->n_fields = 0;
	l->error = 0;

	buf_append_char(&l->json, '{');
	l->first = true;
	/* seq and prev first, in this order: audit_chain_parse() relies on it. */
	add_num(l, "seq", "HSMJWT_SEQ", "%" PRIu64, seq);
	add_cstr(l, "prev", "HSMJWT_PREV", prev);
	add_time(l);
	add_cstr(l, "event", "HSMJWT_EVENT", audit_event_to_string(r->event));
	if (audit_event_is_decision(r->event))
		add_decision(l, r);
	else
		add_key(l, r);
	add_cstr(l, "error", "HSMJWT_ERROR", r->error);
	add_cstr(l, "rule", "HSMJWT_RULE", r->rule);
	add_cstr(l, "message", "HSMJWT_ERROR_MESSAGE", r->message);
	add_cstr(l, "detail", "HSMJWT_DETAIL", r->detail);
	add_cstr(l, "version", "HSMJWT_VERSION", r->version);
	add_cstr(l, "chain", "HSMJWT_CHAIN", r->chain);
	add_cstr(l, "file", "HSMJWT_FILE", r->file);
	if (r->dropped_bytes)
		add_num(l, "dropped_bytes", "HSMJWT_DROPPED_BYTES", "%" PRIu64, r->dropped_bytes);
	add_cstr(l, "failed_since", "HSMJWT_FAILED_SINCE", r->failed_since);
	if (r->withheld_from) {
		add_num(l, "withheld_from", "HSMJWT_WITHHELD_FROM", "%" PRIu64, r->withheld_from);
		add_num(l, "withheld_to", "HSMJWT_WITHHELD_TO", "%" PRIu64, r->withheld_to);
	}
	buf_append_char(&l->json, '}');
	if (l->error)
		return l->error;
	if (l->json.error || l->journal.error)
		return l->json.error ? l->json.error : l->journal.error;
	return 0;
}
