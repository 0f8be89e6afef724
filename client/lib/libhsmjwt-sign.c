/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "client-internal.h"

struct hsmjwt_sign_request {
	char *audience;
	char *user_id;
	char *access_token; /* NULL: no credentials claim */
	char *key;
	char *legacy_claims; /* NULL: not given */
	uint64_t lifetime;
	int64_t expires_at;
	ClientClaims claims;
};

struct hsmjwt_token {
	char *token;
	char *kid;
	char *key;
	int64_t expires_at;
};

_public_ int hsmjwt_sign_request_new(hsmjwt_sign_request **ret)
{
	if (!ret)
		return -EINVAL;
	*ret = calloc(1, sizeof(**ret));
	return *ret ? 0 : -ENOMEM;
}

_public_ hsmjwt_sign_request *hsmjwt_sign_request_free(hsmjwt_sign_request *r)
{
	if (!r)
		return NULL;
	client_free_string(r->audience);
	client_free_string(r->user_id);
	client_free_string(r->access_token);
	client_free_string(r->key);
	client_free_string(r->legacy_claims);
	client_claims_done(&r->claims);
	free(r);
	return NULL;
}

_public_ int hsmjwt_sign_request_set_audience(hsmjwt_sign_request *r, const char *v)
{
	return r && v ? client_replace_string(&r->audience, v) : -EINVAL;
}

_public_ int hsmjwt_sign_request_set_user_id(hsmjwt_sign_request *r, const char *v)
{
	return r && v ? client_replace_string(&r->user_id, v) : -EINVAL;
}

_public_ int hsmjwt_sign_request_set_access_token(hsmjwt_sign_request *r, const char *v)
{
	return r ? client_replace_string(&r->access_token, v) : -EINVAL;
}

_public_ int hsmjwt_sign_request_set_key(hsmjwt_sign_request *r, const char *v)
{
	return r ? client_replace_string(&r->key, v) : -EINVAL;
}

_public_ int hsmjwt_sign_request_set_legacy_claims(hsmjwt_sign_request *r, const char *v)
{
	return r ? client_replace_string(&r->legacy_claims, v) : -EINVAL;
}

ClientClaims *client_sign_request_claims(hsmjwt_sign_request *r)
{
	return r ? &r->claims : NULL;
}

_public_ int hsmjwt_sign_request_set_lifetime(hsmjwt_sign_request *r, uint64_t seconds)
{
	if (!r || seconds == 0)
		return -EINVAL;
	r->lifetime = seconds;
	r->expires_at = 0;
	return 0;
}

_public_ int hsmjwt_sign_request_set_expires_at(hsmjwt_sign_request *r, int64_t unix_time)
{
	if (!r || unix_time <= 0)
		return -EINVAL;
	r->expires_at = unix_time;
	r->lifetime = 0;
	return 0;
}

static int copy_out(const Hsmjwt__V1__SignResponse *s, hsmjwt_token **ret)
{
	hsmjwt_token *t;

	if (!s->token || !*s->token)
		return HSMJWT_E_PROTOCOL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->token = strdup(s->token);
	t->kid = strdup(s->kid ? s->kid : "");
	t->key = strdup(s->key ? s->key : "");
	t->expires_at = s->expires_at;
	if (!t->token || !t->kid || !t->key) {
		hsmjwt_token_free(t);
		return -ENOMEM;
	}
	*ret = t;
	return 0;
}

int client_token_from_response(const Hsmjwt__V1__Response *resp, hsmjwt_token **ret)
{
	return resp->body_case == HSMJWT__V1__RESPONSE__BODY_SIGN ? copy_out(resp->sign, ret)
								 : HSMJWT_E_PROTOCOL;
}

void client_sign_message_init(ClientSignMessage *m, const hsmjwt_sign_request *r)
{
	*m = (ClientSignMessage){
		.req = HSMJWT__V1__REQUEST__INIT,
		.sign = HSMJWT__V1__SIGN_REQUEST__INIT,
		.cred = HSMJWT__V1__CREDENTIALS__INIT,
	};
	m->sign.audience = r->audience ? r->audience : (char *)"";
	m->sign.user_id = r->user_id ? r->user_id : (char *)"";
	m->sign.key = r->key ? r->key : (char *)"";
	m->sign.legacy_claims_json = r->legacy_claims ? r->legacy_claims : (char *)"";
	m->sign.extra_claims = r->claims.items;
	m->sign.n_extra_claims = r->claims.n;
	if (r->access_token) {
		m->cred.access_token = r->access_token;
		m->sign.credentials = &m->cred;
	}
	if (r->lifetime) {
		m->sign.expiry_case = HSMJWT__V1__SIGN_REQUEST__EXPIRY_LIFETIME_SECONDS;
		m->sign.lifetime_seconds = r->lifetime;
	} else if (r->expires_at) {
		m->sign.expiry_case = HSMJWT__V1__SIGN_REQUEST__EXPIRY_EXPIRES_AT;
		m->sign.expires_at = r->expires_at;
	}
	m->req.body_case = HSMJWT__V1__REQUEST__BODY_SIGN;
	m->req.sign = &m->sign;
}

_public_ int hsmjwt_sign(hsmjwt_client *c, const hsmjwt_sign_request *r, hsmjwt_token **ret)
{
	ClientSignMessage m;
	Hsmjwt__V1__Response *resp = NULL;
	int rr;

	if (!c || !r || !ret)
		return -EINVAL;
	client_sign_message_init(&m, r);
	rr = client_call(c, &m.req, &resp);
	if (rr < 0)
		return rr;
	rr = client_token_from_response(resp, ret);
	client_response_free(resp);
	return rr;
}

_public_ const char *hsmjwt_token_get_string(const hsmjwt_token *t)
{
	return t ? t->token : NULL;
}

_public_ const char *hsmjwt_token_get_kid(const hsmjwt_token *t)
{
	return t ? t->kid : NULL;
}

_public_ const char *hsmjwt_token_get_key(const hsmjwt_token *t)
{
	return t ? t->key : NULL;
}

_public_ int64_t hsmjwt_token_get_expires_at(const hsmjwt_token *t)
{
	return t ? t->expires_at : 0;
}

_public_ hsmjwt_token *hsmjwt_token_free(hsmjwt_token *t)
{
	if (!t)
		return NULL;
	client_free_string(t->token);
	client_free_string(t->kid);
	client_free_string(t->key);
	free(t);
	return NULL;
}
