/* SPDX-License-Identifier: MIT */
#include "claims.h"

#include <errno.h>
#include <string.h>

#include "claims-extra.h"
#include "json.h"

int claims_header(Buf *b, const char *alg, const char *kid)
{
	int r;

	buf_append_str(b, "{\"alg\":\"");
	buf_append_str(b, alg);
	buf_append_str(b, "\",\"typ\":\"JWT\",\"kid\":");
	r = json_append_string(b, kid, strlen(kid));
	if (r < 0)
		return r;
	buf_append_char(b, '}');
	return b->error;
}

static int append_extras(Buf *b, const ZumoClaims *c)
{
	for (size_t i = 0; i < c->n_extras; i++) {
		int r = claims_append_extra(b, &c->extras[i]);

		if (r < 0)
			return r;
	}
	return 0;
}

int claims_zumo_payload(Buf *b, const char *issuer, const ZumoClaims *c)
{
	int r;

	buf_append_str(b, "{\"exp\":");
	buf_append_int64(b, c->exp);
	buf_append_str(b, ",\"iss\":");
	r = json_append_string(b, issuer, strlen(issuer));
	if (r < 0)
		return r;
	buf_append_str(b, ",\"ver\":2,\"aud\":");
	r = json_append_string(b, c->audience.p, c->audience.n);
	if (r < 0)
		return r;
	buf_append_str(b, ",\"uid\":");
	r = json_append_string(b, c->user_id.p, c->user_id.n);
	if (r < 0)
		return r;
	if (c->access_token.p) {
		buf_append_str(b, ",\"urn:microsoft:credentials\":{\"accessToken\":");
		r = json_append_string(b, c->access_token.p, c->access_token.n);
		if (r < 0)
			return r;
		buf_append_char(b, '}');
	}
	if (c->iat) {
		buf_append_str(b, ",\"iat\":");
		buf_append_int64(b, c->iat);
	}
	if (c->nbf) {
		buf_append_str(b, ",\"nbf\":");
		buf_append_int64(b, c->nbf);
	}
	if (c->jti.p) {
		buf_append_str(b, ",\"jti\":");
		r = json_append_string(b, c->jti.p, c->jti.n);
		if (r < 0)
			return r;
	}
	r = append_extras(b, c);
	if (r < 0)
		return r;
	buf_append_char(b, '}');
	return b->error;
}

static int member(Buf *b, const char *prefix, Span v)
{
	buf_append_str(b, prefix);
	return json_append_string(b, v.p, v.n);
}

int claims_standard_payload(Buf *b, const char *issuer, const ZumoClaims *c)
{
	int r;

	r = member(b, "{\"iss\":", (Span){ issuer, strlen(issuer) });
	if (r >= 0)
		r = member(b, ",\"sub\":", c->user_id);
	if (r >= 0)
		r = member(b, ",\"aud\":", c->audience);
	if (r < 0)
		return r;
	buf_append_str(b, ",\"exp\":");
	buf_append_int64(b, c->exp);
	buf_append_str(b, ",\"iat\":");
	buf_append_int64(b, c->iat);
	r = member(b, ",\"jti\":", c->jti);
	if (r >= 0)
		r = append_extras(b, c);
	if (r < 0)
		return r;
	buf_append_char(b, '}');
	return b->error;
}
