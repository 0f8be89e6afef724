/* SPDX-License-Identifier: MIT */
#include "audit.h"

#include <inttypes.h>
#include <openssl/evp.h>

#include <string.h>

#include "json.h"
#include "log.h"

void audit_fingerprint(const char *token, size_t n, char ret_hex[static AUDIT_FINGERPRINT_HEX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	unsigned int len = 0;

	if (!EVP_Digest(token, n, md, &len, EVP_sha256(), NULL) || len != sizeof(md)) {
		ret_hex[0] = '\0';
		return;
	}
	for (size_t i = 0; i < sizeof(md); i++) {
		ret_hex[2 * i] = hex[md[i] >> 4];
		ret_hex[2 * i + 1] = hex[md[i] & 15];
	}
	ret_hex[64] = '\0';
}

static void append_member(Buf *b, const char *name, const char *v, size_t n)
{
	buf_append_str(b, ",\"");
	buf_append_str(b, name);
	buf_append_str(b, "\":");
	/* Values were validated as UTF-8 before; escaping keeps one record one line. */
	if (json_append_string(b, v, n) < 0)
		buf_append_str(b, "null");
}

static void append_peer(Buf *b, const char *event, const Peer *peer)
{
	buf_append_str(b, "{\"event\":\"");
	buf_append_str(b, event);
	buf_append_str(b, "\",\"pid\":");
	buf_append_int64(b, peer->pid);
	buf_append_str(b, ",\"uid\":");
	buf_append_int64(b, peer->uid);
	buf_append_str(b, ",\"gid\":");
	buf_append_int64(b, peer->gid);
}

static int emit(Buf *b)
{
	const char *line;

	buf_append_char(b, '}');
	line = buf_cstr(b);
	if (!line)
		return log_error_errno(b->error, "Audit: cannot build record: %m");
	log_notice("audit %s", line);
	return 0;
}

int audit_issued(const Peer *peer, const Signed *s, const SignInput *in)
{
	_cleanup_(buf_done) Buf b = {};
	char fp[AUDIT_FINGERPRINT_HEX];

	audit_fingerprint(s->token, s->token_len, fp);
	if (!fp[0])
		return log_error_errno(EIO, "Audit: cannot fingerprint token; refusing to issue it");
	append_peer(&b, "issued", peer);
	append_member(&b, "key", s->key_name, strlen(s->key_name));
	append_member(&b, "kid", s->kid, strlen(s->kid));
	append_member(&b, "aud", in->claims.audience.p, in->claims.audience.n);
	append_member(&b, "sub", in->claims.user_id.p, in->claims.user_id.n);
	if (s->policy)
		append_member(&b, "policy", s->policy, strlen(s->policy));
	buf_append_str(&b, ",\"exp\":");
	buf_append_int64(&b, s->expires_at);
	append_member(&b, "sha256", fp, 64);
	return emit(&b);
}

int audit_refused(const Peer *peer, const SignInput *in, const Failure *f)
{
	_cleanup_(buf_done) Buf b = {};

	(void)in;
	append_peer(&b, "refused", peer);
	buf_append_str(&b, ",\"code\":");
	buf_append_int64(&b, f->code);
	append_member(&b, "reason", f->message, strlen(f->message));
	return emit(&b);
}

int audit_verified(const Peer *peer, const char *token, size_t n, const VerifyResult *res)
{
	_cleanup_(buf_done) Buf b = {};
	char fp[AUDIT_FINGERPRINT_HEX];
	const char *reason = verify_reason_to_string(res->reason);
	int r;

	audit_fingerprint(token, n, fp);
	append_peer(&b, res->reason ? "verify-invalid" : "verify-valid", peer);
	append_member(&b, "sha256", fp, strlen(fp));
	append_member(&b, "reason", reason, strlen(reason));
	if (res->key) {
		append_member(&b, "key", res->key->config->name, strlen(res->key->config->name));
		append_member(&b, "sub", res->subject, strlen(res->subject));
	}
	r = emit(&b);
	if (r < 0 || !res->deprecated_v1 || res->reason)
		return r;
	/* Operators watch these to find the clients that still present v1 tokens. */
	buf_reset(&b);
	append_peer(&b, "deprecation", peer);
	append_member(&b, "what", "v1 token verified", 17);
	append_member(&b, "key", res->key->config->name, strlen(res->key->config->name));
	append_member(&b, "sub", res->subject, strlen(res->subject));
	append_member(&b, "sha256", fp, strlen(fp));
	return emit(&b);
}

int audit_verify_failed(const Peer *peer, const Failure *f)
{
	_cleanup_(buf_done) Buf b = {};

	append_peer(&b, "verify-failed", peer);
	append_member(&b, "reason", f->message, strlen(f->message));
	return emit(&b);
}
