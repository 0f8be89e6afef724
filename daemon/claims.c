/* SPDX-License-Identifier: MIT */
#include "claims.h"

#include <errno.h>
#include <string.h>

#include "claims-extra.h"
#include "json.h"

int claims_zumo_header(Buf *b, const char *kid)
{
	int r;

	buf_append_str(b, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":");
	r = json_append_string(b, kid, strlen(kid));
	if (r < 0)
		return r;
	buf_append_char(b, '}');
	return b->error;
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
	if (c->jti[0]) {
		buf_append_str(b, ",\"jti\":\"");
		buf_append_str(b, c->jti); /* base64url: nothing to escape */
		buf_append_char(b, '"');
	}
	for (size_t i = 0; i < c->n_extras; i++) {
		r = claims_append_extra(b, &c->extras[i]);
		if (r < 0)
			return r;
	}
	buf_append_char(b, '}');
	return b->error;
}
