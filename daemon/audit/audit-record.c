/* SPDX-License-Identifier: MIT */
#include "audit-record.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "audit-denials.h"
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

/*
 * A member's JSON name ("seq":) and its journal field (HSMJWT_SEQ=) as
 * literals with their lengths, so that each is one copy of known size.
 */
typedef struct Key {
	const char *json;
	const char *field;
	size_t json_len, field_len;
} Key;

#define KEY(name, field) \
	(&(const Key){ "\"" name "\":", field "=", sizeof(name) + 2, sizeof(field) })

static void member_name(AuditLine *l, const Key *k)
{
	if (!l->first)
		buf_append_char(&l->json, ',');
	l->first = false;
	buf_append(&l->json, k->json, k->json_len);
}

static void journal_field(AuditLine *l, const Key *k, const char *v, size_t n)
{
	if (l->json_only)
		return;
	if (l->n_fields >= AUDIT_JOURNAL_FIELDS_MAX) {
		l->error = -E2BIG;
		return;
	}
	buf_append(&l->journal, k->field, k->field_len);
	buf_append(&l->journal, v, n);
	l->field_end[l->n_fields++] = l->journal.len;
}

/*
 * A string member, cut at a character boundary after AUDIT_VALUE_MAX bytes
 * (a refused request's audience, an odd executable path) so that a record
 * stays far below AUDIT_LINE_MAX even when every byte needs escaping. Values
 * that are not UTF-8 (refused requests) become null in JSON.
 */
static void add_str(AuditLine *l, const Key *k, const char *v, size_t n)
{
	if (n > AUDIT_VALUE_MAX) {
		n = AUDIT_VALUE_MAX;
		while (n > 0 && ((unsigned char)v[n] & 0xc0) == 0x80)
			n--;
	}
	member_name(l, k);
	if (json_append_string(&l->json, v, n) < 0)
		buf_append_str(&l->json, "null");
	journal_field(l, k, v, n);
}

static void add_cstr(AuditLine *l, const Key *k, const char *v)
{
	if (v)
		add_str(l, k, v, strlen(v));
}

static void add_span(AuditLine *l, const Key *k, Span s)
{
	if (s.p)
		add_str(l, k, s.p, s.n);
}

/* A number: the same digits in JSON and in the journal. */
static void add_digits(AuditLine *l, const Key *k, const char *digits, size_t n)
{
	member_name(l, k);
	buf_append(&l->json, digits, n);
	journal_field(l, k, digits, n);
}

static void add_u64(AuditLine *l, const Key *k, uint64_t v)
{
	char tmp[DECIMAL_MAX];

	add_digits(l, k, tmp, format_uint64(tmp, v));
}

static void add_i64(AuditLine *l, const Key *k, int64_t v)
{
	char tmp[DECIMAL_MAX];

	add_digits(l, k, tmp, format_int64(tmp, v));
}

static void open_object(AuditLine *l, const Key *k)
{
	member_name(l, k);
	buf_append_char(&l->json, '{');
	l->first = true;
}

static void close_object(AuditLine *l)
{
	buf_append_char(&l->json, '}');
	l->first = false;
}

/*
 * The date and time to the second change once a second, records far more
 * often: gmtime_r() and strftime() run when the second changes, and only the
 * microseconds are written per record. Per thread, so any thread may call.
 */
static _Thread_local struct {
	bool valid;
	time_t sec;
	size_t n;
	char text[AUDIT_TIME_MAX];
} time_cache;

void audit_format_time(char buf[static AUDIT_TIME_MAX])
{
	struct timespec ts;
	struct tm tm;
	long usec;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (!time_cache.valid || time_cache.sec != ts.tv_sec) {
		gmtime_r(&ts.tv_sec, &tm);
		/* 19 bytes for years 1000..9999; room for ".uuuuuuZ" and NUL left either way. */
		time_cache.n = strftime(time_cache.text, AUDIT_TIME_MAX - 9, "%Y-%m-%dT%H:%M:%S",
					&tm);
		time_cache.sec = ts.tv_sec;
		time_cache.valid = true;
	}
	memcpy(buf, time_cache.text, time_cache.n);
	buf += time_cache.n;
	usec = ts.tv_nsec / 1000;
	*buf++ = '.';
	for (int i = 5; i >= 0; i--, usec /= 10)
		buf[i] = (char)('0' + usec % 10);
	memcpy(buf + 6, "Z", 2);
}

static void add_time(AuditLine *l)
{
	char tmp[AUDIT_TIME_MAX];

	audit_format_time(tmp);
	add_cstr(l, KEY("time", "HSMJWT_TIME"), tmp);
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
	open_object(l, KEY("peer", ""));
	add_i64(l, KEY("pid", "HSMJWT_PEER_PID"), (int)p->pid);
	add_u64(l, KEY("uid", "HSMJWT_PEER_UID"), (unsigned)p->uid);
	add_u64(l, KEY("gid", "HSMJWT_PEER_GID"), (unsigned)p->gid);
	if (p->unit && *p->unit)
		add_cstr(l, KEY("unit", "HSMJWT_PEER_UNIT"), p->unit);
	if (p->exe && *p->exe)
		add_cstr(l, KEY("exe", "HSMJWT_PEER_EXE"), p->exe);
	if (*p->comm)
		add_str(l, KEY("comm", "HSMJWT_PEER_COMM"), p->comm,
			strnlen(p->comm, PEER_COMM_MAX));
	close_object(l);
}

/*
 * A value from a refused request: whole when short UTF-8, else its first
 * AUDIT_REFUSED_PREFIX bytes (cut at a character), its size and its SHA-256.
 */
static void add_refused(AuditLine *l, const Key *k, const Key *k_bytes, const Key *k_sha, Span s)
{
	char fp[AUDIT_HASH_HEX];
	size_t n = s.n;
	bool utf8;

	if (!s.p)
		return;
	utf8 = utf8_validate(s.p, s.n) >= 0;
	if (n <= AUDIT_REFUSED_PREFIX && utf8) {
		add_str(l, k, s.p, n);
		return;
	}
	if (n > AUDIT_REFUSED_PREFIX) {
		n = AUDIT_REFUSED_PREFIX;
		while (n > 0 && ((unsigned char)s.p[n] & 0xc0) == 0x80)
			n--;
	}
	/* Not UTF-8 at all: the prefix would be null in JSON; size and hash still say what. */
	if (utf8_validate(s.p, n) >= 0)
		add_str(l, k, s.p, n);
	add_u64(l, k_bytes, s.n);
	audit_sha256_hex(s.p, s.n, fp);
	if (!fp[0]) {
		l->error = -EIO;
		return;
	}
	add_str(l, k_sha, fp, 64);
}

static void add_denials(AuditLine *l, const AuditDenialSummary *s)
{
	char reasons[AUDIT_DENIAL_REASONS_MAX * (AUDIT_DENIAL_REASON_MAX + 24) + 32];

	open_object(l, KEY("denials", ""));
	if (s->others)
		add_cstr(l, KEY("uid", "HSMJWT_DENIALS_UID"), "others");
	else
		add_u64(l, KEY("uid", "HSMJWT_DENIALS_UID"), (unsigned)s->uid);
	add_u64(l, KEY("count", "HSMJWT_DENIALS_COUNT"), s->count);
	audit_denials_reasons(s, reasons, sizeof(reasons));
	add_cstr(l, KEY("reasons", "HSMJWT_DENIALS_REASONS"), reasons);
	add_cstr(l, KEY("from", "HSMJWT_DENIALS_FROM"), s->from);
	add_cstr(l, KEY("to", "HSMJWT_DENIALS_TO"), s->to);
	close_object(l);
}

static void add_key(AuditLine *l, const AuditRecord *r)
{
	add_cstr(l, KEY("key", "HSMJWT_KEY"), r->key);
	add_cstr(l, KEY("kid", "HSMJWT_KID"), r->kid);
	add_cstr(l, KEY("alg", "HSMJWT_ALG"), r->alg);
}

static void add_decision(AuditLine *l, const AuditRecord *r)
{
	char fp[AUDIT_HASH_HEX];

	if (r->peer)
		add_peer(l, r->peer);
	add_u64(l, KEY("request", "HSMJWT_REQUEST_ID"), r->request_id);
	if (audit_event_is_refusal(r->event)) {
		/* The key name of a refusal is the one the client asked for. */
		add_refused(l, KEY("key", "HSMJWT_KEY"), KEY("key_bytes", "HSMJWT_KEY_BYTES"),
			    KEY("key_sha256", "HSMJWT_KEY_SHA256"),
			    (Span){ r->key, r->key ? strlen(r->key) : 0 });
		add_cstr(l, KEY("kid", "HSMJWT_KID"), r->kid);
		add_cstr(l, KEY("alg", "HSMJWT_ALG"), r->alg);
	} else {
		add_key(l, r);
	}
	if (audit_event_is_refusal(r->event)) {
		add_refused(l, KEY("aud", "HSMJWT_AUDIENCE"), KEY("aud_bytes", "HSMJWT_AUDIENCE_BYTES"),
			    KEY("aud_sha256", "HSMJWT_AUDIENCE_SHA256"), r->audience);
		add_refused(l, KEY("sub", "HSMJWT_SUBJECT"), KEY("sub_bytes", "HSMJWT_SUBJECT_BYTES"),
			    KEY("sub_sha256", "HSMJWT_SUBJECT_SHA256"), r->subject);
		add_refused(l, KEY("iss", "HSMJWT_ISSUER"), KEY("iss_bytes", "HSMJWT_ISSUER_BYTES"),
			    KEY("iss_sha256", "HSMJWT_ISSUER_SHA256"), r->issuer);
	} else {
		add_span(l, KEY("aud", "HSMJWT_AUDIENCE"), r->audience);
		add_span(l, KEY("sub", "HSMJWT_SUBJECT"), r->subject);
		add_span(l, KEY("iss", "HSMJWT_ISSUER"), r->issuer);
	}
	if (r->expires_at)
		add_i64(l, KEY("exp", "HSMJWT_EXPIRES_AT"), r->expires_at);
	if (audit_event_is_refusal(r->event))
		add_refused(l, KEY("jti", "HSMJWT_JTI"), KEY("jti_bytes", "HSMJWT_JTI_BYTES"),
			    KEY("jti_sha256", "HSMJWT_JTI_SHA256"), r->jti);
	else
		add_span(l, KEY("jti", "HSMJWT_JTI"), r->jti);
	add_cstr(l, KEY("policy", "HSMJWT_POLICY"), r->policy);
	if (r->jwt) {
		audit_sha256_hex(r->jwt, r->jwt_len, fp);
		if (!fp[0]) {
			l->error = -EIO;
			return;
		}
		add_str(l, KEY("sha256", "HSMJWT_TOKEN_SHA256"), fp, 64);
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
	add_u64(l, KEY("seq", "HSMJWT_SEQ"), seq);
	add_cstr(l, KEY("prev", "HSMJWT_PREV"), prev);
	add_time(l);
	add_cstr(l, KEY("event", "HSMJWT_EVENT"), audit_event_to_string(r->event));
	if (audit_event_is_decision(r->event))
		add_decision(l, r);
	else
		add_key(l, r);
	if (r->denials)
		add_denials(l, r->denials);
	add_cstr(l, KEY("error", "HSMJWT_ERROR"), r->error);
	add_cstr(l, KEY("rule", "HSMJWT_RULE"), r->rule);
	add_cstr(l, KEY("message", "HSMJWT_ERROR_MESSAGE"), r->message);
	add_cstr(l, KEY("detail", "HSMJWT_DETAIL"), r->detail);
	add_cstr(l, KEY("version", "HSMJWT_VERSION"), r->version);
	add_cstr(l, KEY("chain", "HSMJWT_CHAIN"), r->chain);
	add_cstr(l, KEY("file", "HSMJWT_FILE"), r->file);
	if (r->dropped_bytes)
		add_u64(l, KEY("dropped_bytes", "HSMJWT_DROPPED_BYTES"), r->dropped_bytes);
	add_cstr(l, KEY("failed_since", "HSMJWT_FAILED_SINCE"), r->failed_since);
	if (r->withheld_from) {
		add_u64(l, KEY("withheld_from", "HSMJWT_WITHHELD_FROM"), r->withheld_from);
		add_u64(l, KEY("withheld_to", "HSMJWT_WITHHELD_TO"), r->withheld_to);
	}
	buf_append_char(&l->json, '}');
	if (l->error)
		return l->error;
	if (l->json.error || l->journal.error)
		return l->json.error ? l->json.error : l->journal.error;
	return 0;
}
