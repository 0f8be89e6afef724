/* SPDX-License-Identifier: MIT */
/* The audit trail's pieces: chain parsing, the record builder, the file's tail, withholding. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "audit-chain.h"
#include "audit-file.h"
#include "audit-record.h"
#include "frame.h"
#include "hsmjwt.pb-c.h"
#include "request.h"
#include "tests.h"

static const char zeros[] = "0000000000000000000000000000000000000000000000000000000000000000";

static void chain_parse(void)
{
	char prev[AUDIT_HASH_HEX];
	uint64_t seq = 0;
	char line[256];

	snprintf(line, sizeof(line), "{\"seq\":42,\"prev\":\"%s\",\"event\":\"stop\"}", zeros);
	check_int(audit_chain_parse(line, strlen(line), &seq, prev), 0);
	check_int(seq, 42);
	check(strcmp(prev, zeros) == 0);
	static const char *const bad[] = {
		"", "{}", "{\"seq\":0,\"prev\":\"", "{\"seq\":-1,",
		"{\"seq\":01,\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"x\":1}",
		"{\"seq\":1,\"prev\":\"000000000000000000000000000000000000000000000000000000000000000\",\"x\":1}",
		"{\"seq\":1,\"prev\":\"000000000000000000000000000000000000000000000000000000000000000A\",\"x\":1}",
		"{\"seq\":1,\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"x\":1",
		"{\"seq\":99999999999999999999,\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"x\":1}",
		" {\"seq\":1,\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"x\":1}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_int(audit_chain_parse(bad[i], strlen(bad[i]), &seq, prev), -EBADMSG);
}

static void record_format(void)
{
	AuditLine l = {};
	Peer peer = { .pid = 7, .uid = 1000, .gid = 100 };
	char long_aud[AUDIT_VALUE_MAX + 10];
	char prev[AUDIT_HASH_HEX];
	uint64_t seq;

	/*
	 * A refused request: a value longer than AUDIT_REFUSED_PREFIX is cut at a
	 * character and recorded with its size and SHA-256; one that is not
	 * UTF-8 only by size and SHA-256.
	 */
	memset(long_aud, 'a', sizeof(long_aud));
	memcpy(long_aud + AUDIT_REFUSED_PREFIX - 1, "\xc3\xa9", 2); /* é across the cut */
	AuditRecord r = {
		.event = AUDIT_INVALID,
		.peer = &peer,
		.request_id = 5,
		.audience = { long_aud, sizeof(long_aud) },
		.subject = { "x\xc0\xaf", 3 },
		.error = "invalid-request",
		.message = "a \"quoted\"\nmessage",
	};
	check_int(audit_line_format(&l, 3, zeros, &r), 0);
	check_int(audit_chain_parse(l.json.data, l.json.len, &seq, prev), 0);
	check_int(seq, 3);
	check(strstr(buf_cstr(&l.json), "\"event\":\"invalid\",\"peer\":{\"pid\":7,\"uid\":1000,\"gid\":100},\"request\":5,"));
	check(!strstr(l.json.data, "\"sub\":"));
	/* sha256("x\xc0\xaf") */
	check(strstr(l.json.data, "\"sub_bytes\":3,\"sub_sha256\":\""));
	check(strstr(l.json.data, "\"aud_bytes\":1034,\"aud_sha256\":\""));
	check(strstr(l.json.data, "\"message\":\"a \\\"quoted\\\"\\nmessage\""));
	check(!strchr(l.json.data, '\n'));
	const char *aud = strstr(l.json.data, "\"aud\":\"");
	check(aud);
	check(strchr(aud + 7, '"') - (aud + 7) == AUDIT_REFUSED_PREFIX - 1);

	/* An issued JWT: only its fingerprint. */
	r = (AuditRecord){ .event = AUDIT_ISSUED, .peer = &peer, .jwt = "abc", .jwt_len = 3,
			   .key = "zumo", .expires_at = 99 };
	check_int(audit_line_format(&l, 4, zeros, &r), 0);
	check(strstr(buf_cstr(&l.json),
		     "\"sha256\":\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\""));
	check(!strstr(l.json.data, "\"abc\""));
	check(strstr(l.json.data, "\"exp\":99"));

	/* The worst a peer or a request can make: every string long and all escapes. */
	static char ctl[8192];
	memset(ctl, '\x01', sizeof(ctl) - 1);
	Peer odd = { .pid = 1, .unit = ctl, .exe = ctl };
	memset(odd.comm, '\x01', sizeof(odd.comm) - 1);
	Span big = { ctl, sizeof(ctl) - 1 };
	r = (AuditRecord){ .event = AUDIT_LEGACY_UPGRADE, .peer = &odd, .key = ctl, .kid = ctl,
			   .alg = ctl, .audience = big, .subject = big, .jti = big, .policy = ctl,
			   .jwt = "t", .jwt_len = 1, .error = ctl, .rule = ctl, .message = ctl,
			   .detail = ctl, .version = ctl, .chain = ctl, .file = ctl,
			   .failed_since = ctl };
	check_int(audit_line_format(&l, 5, zeros, &r), 0);
	check(l.json.len < AUDIT_LINE_MAX);
	check(!memchr(l.json.data, '\n', l.json.len));
	audit_line_done(&l);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	check(f);
	fputs(text, f);
	fclose(f);
}

static off_t file_size(const char *path)
{
	FILE *f = fopen(path, "re");
	long n;

	check(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fclose(f);
	return n;
}

static void file_tail(void)
{
	char dir[] = "/tmp/hsmjwt-test-audit-XXXXXX", path[64], line[256], want[AUDIT_HASH_HEX];
	AuditFile f, g;
	AuditHead head;
	uint64_t dropped;

	check(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);

	/* Missing: created, and a new chain. */
	check_int(audit_file_open(path, &f, &head, &dropped), 0);
	check_int(head.seq, 0);
	check(strcmp(head.hash, zeros) == 0);
	/* One writer per file. */
	check_int(audit_file_open(path, &g, &head, &dropped), -EBUSY);
	audit_file_close(&f);

	/* The last record is found and hashed; a torn line after it is cut off. */
	snprintf(line, sizeof(line), "{\"seq\":9,\"prev\":\"%s\",\"event\":\"stop\"}", zeros);
	audit_sha256_hex(line, strlen(line), want);
	char text[1024];
	snprintf(text, sizeof(text), "{\"seq\":8,\"prev\":\"%s\",\"event\":\"start\"}\n%s\n{\"seq\":10,\"pr",
		 zeros, line);
	write_file(path, text);
	check_int(audit_file_open(path, &f, &head, &dropped), 0);
	check_int(head.seq, 9);
	check(strcmp(head.hash, want) == 0);
	check_int(dropped, strlen("{\"seq\":10,\"pr"));
	check_int(file_size(path), strlen(text) - dropped);
	check_int(audit_file_append(&f, "x\n", 2), 0);
	check_int(audit_file_check(&f, true), 0);
	check(audit_file_is(&f, path));
	audit_file_close(&f);

	/* Not ours: refused rather than continued. */
	write_file(path, "hello\n");
	check_int(audit_file_open(path, &f, &head, &dropped), -EBADMSG);
	check_int(audit_file_open("/dev/null", &f, &head, &dropped), -ENOTSUP);

	/* Deleted under us: noticed. */
	write_file(path, "");
	check_int(audit_file_open(path, &f, &head, &dropped), 0);
	check_int(unlink(path), 0);
	check(!audit_file_is(&f, path));
	check_int(audit_file_check(&f, false), -ENOENT);
	audit_file_close(&f);
	check_int(rmdir(dir), 0);
}

static void append_response(Buf *out, Hsmjwt__V1__Response *resp)
{
	size_t n = hsmjwt__v1__response__get_packed_size(resp);

	check_int(buf_reserve(out, FRAME_HEADER_SIZE + n), 0);
	frame_header_put((uint8_t *)out->data + out->len, (uint32_t)n);
	hsmjwt__v1__response__pack(resp, (uint8_t *)out->data + out->len + FRAME_HEADER_SIZE);
	out->len += FRAME_HEADER_SIZE + n;
}

static void withhold(void)
{
	Hsmjwt__V1__SignResponse sr = HSMJWT__V1__SIGN_RESPONSE__INIT;
	Hsmjwt__V1__StatusResponse st = HSMJWT__V1__STATUS_RESPONSE__INIT;
	Hsmjwt__V1__Response a = HSMJWT__V1__RESPONSE__INIT, b = a, c = a;
	Buf out = {};
	size_t before;

	a.id = 1;
	a.body_case = HSMJWT__V1__RESPONSE__BODY_SIGN;
	sr.token = (char *)"SECRET.TOKEN.TEXT";
	a.sign = &sr;
	b.id = 2;
	b.body_case = HSMJWT__V1__RESPONSE__BODY_STATUS;
	b.status = &st;
	c = a;
	c.id = 3;

	append_response(&out, &a); /* already released: stays */
	before = out.len;
	append_response(&out, &b);
	append_response(&out, &c);
	check_int(request_withhold_jwts(&out, before, "audit trail: no"), 0);

	const uint8_t *p = (const uint8_t *)out.data;
	uint64_t want_ids[] = { 1, 2, 3 };
	int want_case[] = { HSMJWT__V1__RESPONSE__BODY_SIGN, HSMJWT__V1__RESPONSE__BODY_STATUS,
			    HSMJWT__V1__RESPONSE__BODY_ERROR };
	size_t off = 0;
	for (int i = 0; i < 3; i++) {
		uint32_t n = frame_header_get(p + off);
		Hsmjwt__V1__Response *r = hsmjwt__v1__response__unpack(NULL, n, p + off + 4);

		check(r);
		check_int(r->id, want_ids[i]);
		check_int(r->body_case, want_case[i]);
		if (i == 2) {
			check_int(r->error->code, HSMJWT__V1__ERROR_CODE__ERROR_CODE_UNAVAILABLE);
			check(strcmp(r->error->message, "audit trail: no") == 0);
		}
		hsmjwt__v1__response__free_unpacked(r, NULL);
		off += 4 + n;
	}
	check_int(off, out.len);
	/* The withheld JWT is gone from the buffer, the released one is still there. */
	check(memmem(out.data, before, "SECRET.TOKEN.TEXT", 17));
	check(!memmem(out.data + before, out.len - before, "SECRET", 6));
	buf_done(&out);
}

int main(void)
{
	chain_parse();
	record_format();
	file_tail();
	withhold();
	return 0;
}
