/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "client-internal.h"

struct hsmjwt_verification {
	int reason;
	int deprecated_v1;
	char *detail;
	char *payload;
	char *key;
	char *kid;
};

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

_public_ int hsmjwt_verify(hsmjwt_client *c, const char *token, const char *audience,
			   const char *issuer, const char *user_id_pattern, hsmjwt_verification **ret)
{
	return hsmjwt_verify_keys(c, token, audience, issuer, user_id_pattern, NULL, 0, ret);
}

_public_ int hsmjwt_verify_keys(hsmjwt_client *c, const char *token, const char *audience,
				const char *issuer, const char *user_id_pattern,
				const char *const *keys, size_t n_keys, hsmjwt_verification **ret)
{
	Hsmjwt__V1__Request req = HSMJWT__V1__REQUEST__INIT;
	Hsmjwt__V1__VerifyRequest vr = HSMJWT__V1__VERIFY_REQUEST__INIT;
	Hsmjwt__V1__Response *resp = NULL;
	const Hsmjwt__V1__VerifyResponse *v;
	hsmjwt_verification *out;
	int r;

	if (!c || !token || !ret || (n_keys && !keys) || n_keys > HSMJWT_VERIFY_KEYS_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n_keys; i++)
		if (!keys[i] || !*keys[i])
			return -EINVAL;
	vr.keys = (char **)keys;
	vr.n_keys = n_keys;
	vr.token = (char *)token;
	vr.audience = (char *)(audience ? audience : "");
	vr.issuer = (char *)(issuer ? issuer : "");
	vr.user_id_pattern = (char *)(user_id_pattern ? user_id_pattern : "");
	req.body_case = HSMJWT__V1__REQUEST__BODY_VERIFY;
	req.verify = &vr;
	r = client_call(c, &req, &resp);
	if (r < 0)
		return r;
	if (resp->body_case != HSMJWT__V1__RESPONSE__BODY_VERIFY) {
		client_response_free(resp);
		return HSMJWT_E_PROTOCOL;
	}
	v = resp->verify;
	out = calloc(1, sizeof(*out));
	if (out) {
		/* A valid answer must say so both ways; anything else counts as invalid. */
		out->reason = v->valid && v->reason == 0 ? 0 : v->reason ? (int)v->reason : 1;
		out->deprecated_v1 = v->valid && v->deprecated_v1;
		out->detail = dup_or_empty(v->detail);
		out->payload = dup_or_empty(v->valid ? v->payload_json : "");
		out->key = dup_or_empty(v->key);
		out->kid = dup_or_empty(v->kid);
	}
	client_response_free(resp);
	if (!out || !out->detail || !out->payload || !out->key || !out->kid) {
		hsmjwt_verification_free(out);
		return -ENOMEM;
	}
	*ret = out;
	return 0;
}

_public_ int hsmjwt_verification_get_reason(const hsmjwt_verification *v)
{
	return v ? v->reason : HSMJWT_VERIFY_MALFORMED;
}

_public_ const char *hsmjwt_verification_get_detail(const hsmjwt_verification *v)
{
	return v ? v->detail : NULL;
}

_public_ const char *hsmjwt_verification_get_payload(const hsmjwt_verification *v)
{
	return v ? v->payload : NULL;
}

_public_ const char *hsmjwt_verification_get_key(const hsmjwt_verification *v)
{
	return v ? v->key : NULL;
}

_public_ const char *hsmjwt_verification_get_kid(const hsmjwt_verification *v)
{
	return v ? v->kid : NULL;
}

_public_ int hsmjwt_verification_is_deprecated_v1(const hsmjwt_verification *v)
{
	return v ? v->deprecated_v1 : 0;
}

_public_ hsmjwt_verification *hsmjwt_verification_free(hsmjwt_verification *v)
{
	if (!v)
		return NULL;
	client_free_string(v->detail);
	client_free_string(v->payload);
	client_free_string(v->key);
	client_free_string(v->kid);
	free(v);
	return NULL;
}
