/* SPDX-License-Identifier: MIT */
#include "service.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit-deprecation.h"
#include "audit.h"
#include "base64url.h"
#include "claims-extra.h"
#include "claims-std.h"
#include "cleanup.h"
#include "json.h"
#include "legacy.h"
#include "log.h"

typedef struct LoadedKey {
	const KeyConfig *config;
	TokenObject object;	/* a session copy when the token allows it */
	Buf header_b64;		/* base64url(header) ".", encoded once at load */
} LoadedKey;

struct Service {
	Config *config;
	Token *token;
	LoadedKey *keys;
	size_t n_keys;
	uint64_t tokens_issued;
	Buf payload; /* scratch, reused by every request */
};

static int load_key(Service *s, const KeyConfig *kc, LoadedKey *lk)
{
	_cleanup_(buf_done) Buf header = {};
	TokenObject object, copy = 0;
	bool copied;
	int r;

	r = token_find_key(s->token, kc->uri, &object);
	if (r < 0)
		return r;
	/* Probe the key once now, so a key that cannot sign fails the start, not a request. */
	uint8_t mac[TOKEN_HMAC_SHA256_LEN];
	r = token_sign_hmac_sha256(s->token, object, "probe", 5, mac);
	if (r < 0)
		return log_error_errno(r, "Key %s (%s) cannot sign HMAC-SHA256", kc->name, kc->uri);

	r = token_copy_to_session(s->token, object, &copy);
	copied = r >= 0;
	if (copied) {
		object = copy;
	} else {
		log_notice("Key %s: the token refused a session copy (%s); signing with the token "
			   "object, which is slower on some tokens", kc->name, strerror(-r));
	}

	r = claims_zumo_header(&header, kc->kid);
	if (r < 0)
		return log_error_errno(r, "Key %s: kid is not valid UTF-8", kc->name);
	base64url_append(&lk->header_b64, header.data, header.len);
	buf_append_char(&lk->header_b64, '.');
	if (lk->header_b64.error)
		return lk->header_b64.error;
	lk->config = kc;
	lk->object = object;
	log_info("Key %s ready: %s, kid \"%s\", profile %s, %s", kc->name,
		 algorithm_to_string(kc->alg), kc->kid, profile_to_string(kc->profile),
		 copied ? "session copy" : "token object");
	return 0;
}

int service_new(Config *config, Service **ret)
{
	Service *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s) {
		config_free(config);
		return -ENOMEM;
	}
	s->config = config;
	r = token_open(config->module, config->token_uri, false, &s->token);
	if (r < 0)
		goto fail;
	r = token_login(s->token, config->pin_file);
	if (r < 0)
		goto fail;
	s->keys = calloc(config->n_keys, sizeof(*s->keys));
	if (!s->keys) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < config->n_keys; i++) {
		r = load_key(s, &config->keys[i], &s->keys[i]);
		if (r < 0)
			goto fail;
		s->n_keys++;
	}
	log_info("Token %s: %zu key(s) loaded", token_describe(s->token), s->n_keys);
	*ret = s;
	return 0;
fail:
	service_free(s);
	return r;
}

Service *service_free(Service *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->n_keys; i++)
		buf_done(&s->keys[i].header_b64);
	free(s->keys);
	buf_done(&s->payload);
	token_close(s->token);
	config_free(s->config);
	free(s);
	return NULL;
}

const Config *service_config(const Service *s)
{
	return s->config;
}

uint64_t service_tokens_issued(const Service *s)
{
	return s->tokens_issued;
}

static int refuse(Failure *f, ServiceError code, const char *fmt, ...) _printf_(3, 4);
static int refuse(Failure *f, ServiceError code, const char *fmt, ...)
{
	va_list ap;

	f->code = code;
	va_start(ap, fmt);
	vsnprintf(f->message, sizeof(f->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static const LoadedKey *pick_key(Service *s, const char *name)
{
	if (!name || !*name)
		return &s->keys[0];
	for (size_t i = 0; i < s->n_keys; i++)
		if (strcmp(s->keys[i].config->name, name) == 0)
			return &s->keys[i];
	return NULL;
}

/* rule: the field's rule prefix, e.g. "user-id" for user-id-required. */
static int check_string(Failure *f, const char *what, const char *rule, Span v, size_t max,
			bool required)
{
	char name[32];

	if (required && v.n == 0) {
		snprintf(name, sizeof(name), "%s-required", rule);
		return failure_refuse(f, name, "%s is required", what);
	}
	if (v.n > max) {
		snprintf(name, sizeof(name), "%s-too-long", rule);
		return failure_refuse(f, name, "%s is %zu bytes; the limit is %zu", what, v.n, max);
	}
	if (utf8_validate(v.p, v.n) < 0) {
		snprintf(name, sizeof(name), "%s-utf8", rule);
		return failure_refuse(f, name, "%s is not valid UTF-8", what);
	}
	return 0;
}

static int choose_expiry(const KeyConfig *kc, const SignInput *in, time_t now, Failure *f,
			 int64_t *ret_exp)
{
	uint64_t lifetime = kc->default_lifetime;

	if (in->lifetime && in->expires_at)
		return failure_refuse(f, "expiry-conflict", "give lifetime or expires-at, not both");
	if (in->expires_at) {
		if (in->expires_at <= (int64_t)now)
			return failure_refuse(f, "expiry-past",
					      "expires-at %" PRId64 " is not in the future",
					      in->expires_at);
		lifetime = (uint64_t)(in->expires_at - (int64_t)now);
	} else if (in->lifetime) {
		lifetime = in->lifetime;
	}
	if (lifetime > kc->max_lifetime)
		return failure_refuse(f, "expiry-too-long",
				      "lifetime %" PRIu64 " s exceeds key %s's max-lifetime of %" PRIu64
				      " s", lifetime, kc->name, kc->max_lifetime);
	*ret_exp = in->expires_at ? in->expires_at : (int64_t)now + (int64_t)lifetime;
	return 0;
}

static int validate(Service *s, SignInput *in, time_t now, const LoadedKey **ret_key,
		    Legacy **ret_legacy, Failure *f)
{
	const LoadedKey *key;
	int r = 0;

	key = pick_key(s, in->key_name);
	if (!key)
		return failure_refuse(f, "key-unknown", "no key named '%.64s'", in->key_name);
	if (in->legacy_json.p)
		r = legacy_upgrade(&s->config->claims, key->config, in, now, ret_legacy, f);
	if (r >= 0)
		r = check_string(f, "audience", "audience", in->claims.audience, CLAIM_AUDIENCE_MAX,
				 true);
	if (r >= 0)
		r = check_string(f, "user id", "user-id", in->claims.user_id, CLAIM_USER_ID_MAX,
				 true);
	if (r >= 0 && in->claims.access_token.p)
		r = check_string(f, "access token", "access-token", in->claims.access_token,
				 CLAIM_ACCESS_TOKEN_MAX, false);
	if (r >= 0)
		r = claims_check_extras(&s->config->claims, in->claims.extras, in->claims.n_extras,
					f);
	if (r >= 0)
		r = choose_expiry(key->config, in, now, f, &in->claims.exp);
	if (r < 0)
		return r;
	*ret_key = key;
	return 0;
}

int service_sign(Service *s, const Peer *peer, SignInput *in, time_t now, Buf *out,
		 Signed *ret, Failure *fail)
{
	_cleanup_(legacy_freep) Legacy *legacy = NULL;
	const LoadedKey *key = NULL;
	uint8_t mac[TOKEN_HMAC_SHA256_LEN];
	int r;

	*fail = (Failure){};
	r = validate(s, in, now, &key, &legacy, fail);
	if (r < 0)
		goto refused;

	r = claims_add_standard(&in->claims, key->config->add_claims, now);
	if (r < 0) {
		refuse(fail, SERVICE_INTERNAL, "cannot draw a jti: %s", strerror(-r));
		goto refused;
	}
	buf_reset(&s->payload);
	r = claims_zumo_payload(&s->payload, key->config->issuer, &in->claims);
	if (r < 0) {
		refuse(fail, SERVICE_INTERNAL, "cannot build payload: %s", strerror(-r));
		goto refused;
	}
	if (s->payload.len > s->config->claims.max_payload) {
		failure_refuse(fail, "payload-too-large",
			       "the payload would be %zu bytes; the limit is %" PRIu32,
			       s->payload.len, s->config->claims.max_payload);
		goto refused;
	}
	buf_reset(out);
	buf_append(out, key->header_b64.data, key->header_b64.len);
	base64url_append(out, s->payload.data, s->payload.len);
	if (out->error) {
		refuse(fail, SERVICE_INTERNAL, "out of memory");
		goto refused;
	}
	r = token_sign_hmac_sha256(s->token, key->object, out->data, out->len, mac);
	if (r < 0) {
		refuse(fail, SERVICE_UNAVAILABLE, "the token failed to sign (%s)", strerror(-r));
		goto refused;
	}
	buf_append_char(out, '.');
	base64url_append(out, mac, sizeof(mac));
	if (!buf_cstr(out)) {
		refuse(fail, SERVICE_INTERNAL, "out of memory");
		goto refused;
	}
	*ret = (Signed){
		.token = out->data,
		.token_len = out->len,
		.kid = key->config->kid,
		.key_name = key->config->name,
		.expires_at = in->claims.exp,
	};
	/* Fail closed: no record, no token. */
	r = legacy ? audit_deprecation(peer, key->config->name, legacy_changes(legacy)) : 0;
	if (r >= 0)
		r = audit_issued(peer, ret, in);
	if (r < 0) {
		buf_reset(out);
		refuse(fail, SERVICE_UNAVAILABLE, "audit trail not writable; no token issued");
		return -EIO;
	}
	s->tokens_issued++;
	return 0;
refused:
	buf_reset(out);
	audit_refused(peer, in, fail);
	return -EINVAL;
}
