/* SPDX-License-Identifier: MIT */
#include "service.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit-keys.h"
#include "audit.h"
#include "authorize.h"
#include "base64url.h"
#include "claims-extra.h"
#include "claims-std.h"
#include "cleanup.h"
#include "jansson-wipe.h"
#include "json.h"
#include "legacy.h"
#include "log.h"

#include "service-internal.h"

int refuse(Failure *f, ServiceError code, const char *fmt, ...)
{
	va_list ap;

	f->code = code;
	va_start(ap, fmt);
	vsnprintf(f->message, sizeof(f->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int pick_key(Service *s, const char *name, const LoadedKey **ret, Failure *f)
{
	const LoadedKey *key;

	if (!name || !*name) {
		key = keyring_default(s->keyring);
		if (!key)
			return refuse(f, SERVICE_UNAVAILABLE, "no key is active");
	} else {
		key = keyring_find(s->keyring, name);
		if (!key)
			return failure_refuse(f, "key-unknown", "no key named '%s'",
					      failure_echo(name, (char[FAILURE_ECHO_MAX + 4]){}));
		if (key->error)
			return failure_refuse(f, "key-unavailable", "key %s cannot be used: %s", name,
					      key->error);
		if (!key->can_sign)
			return failure_refuse(f, "key-not-active", "key %s is %s, not active", name,
					      key_state_to_string(key->config->state));
	}
	*ret = key;
	return 0;
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

/* The lifetime the request names, 0 for none; the key's limit applies to every peer. */
static int requested_lifetime(const KeyConfig *kc, const SignInput *in, time_t now, Failure *f,
			      uint64_t *ret)
{
	uint64_t lifetime = 0;

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
	*ret = lifetime;
	return 0;
}

static int validate(Service *s, SignInput *in, time_t now, const LoadedKey **ret_key,
		    Legacy **ret_legacy, uint64_t *ret_lifetime, Failure *f)
{
	const LoadedKey *key = NULL;
	int r;

	r = pick_key(s, in->key_name, &key, f);
	if (r < 0)
		return r;
	if (in->legacy_json.p) {
		if (key->config->profile != PROFILE_ZUMO_V2)
			return failure_refuse(f, "legacy-profile",
					      "a v1 claim set upgrades to zumo-v2; key %s is %s",
					      key->config->name,
					      profile_to_string(key->config->profile));
		r = legacy_upgrade(&s->config->claims, key->config, in, now, ret_legacy, f);
		if (r < 0)
			return r;
	}
	if (in->claims.access_token.p && key->config->profile != PROFILE_ZUMO_V2)
		return failure_refuse(f, "credentials-profile",
				      "credentials belong to the zumo-v2 profile; key %s is %s",
				      key->config->name, profile_to_string(key->config->profile));
	r = check_string(f, "audience", "audience", in->claims.audience, CLAIM_AUDIENCE_MAX, true);
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
		r = requested_lifetime(key->config, in, now, f, ret_lifetime);
	if (r < 0)
		return r;
	*ret_key = key;
	return 0;
}

/* Policy and rate decide before anything is built or signed. */
static int decide(Service *s, const Peer *peer, SignInput *in, const LoadedKey *key, bool legacy,
		  uint64_t lifetime, time_t now, const Policy **ret_policy, Failure *f)
{
	PolicyRequest rq = {
		.key = key->config->name,
		.audience = in->claims.audience,
		.user_id = in->claims.user_id,
		.lifetime = lifetime,
		.credentials = in->claims.access_token.p != NULL,
		.legacy_claims = legacy,
		.n_extra_claims = in->claims.n_extras,
	};
	/* The usual few names fit on the stack; only more are allocated. */
	const char *few[8], **names = few;
	_cleanup_free_ const char **many = NULL;
	struct timespec ts;
	const Policy *p = NULL;
	int r;

	if (in->claims.n_extras >= ELEMENTSOF(few)) {
		names = many = calloc(in->claims.n_extras + 1, sizeof(char *));
		if (!names)
			return refuse(f, SERVICE_INTERNAL, "out of memory");
	}
	/* Names are NUL-terminated: protobuf-c's strings and jansson's keys, NUL refused in both. */
	for (size_t i = 0; i < in->claims.n_extras; i++)
		names[i] = in->claims.extras[i].name.p;
	names[in->claims.n_extras] = NULL;
	rq.extra_claims = names;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	r = authorize(s->config, s->ratelimit, peer, &rq,
		      (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec, &p, f);
	if (r < 0)
		return r;
	if (!lifetime)
		lifetime = policy_default_lifetime(p, key->config->default_lifetime);
	in->claims.exp = in->expires_at ? in->expires_at : (int64_t)now + (int64_t)lifetime;
	if (key->config->not_after && in->claims.exp > key->config->not_after)
		return failure_refuse(f, "expiry-not-after",
				      "expiry %" PRId64 " is after key %s's not-after %" PRId64,
				      in->claims.exp, key->config->name, key->config->not_after);
	*ret_policy = p;
	return 0;
}

/* jti: room for the jti the claims point to, until the payload is built. */
static int build_payload(Service *s, const LoadedKey *key, SignInput *in, time_t now,
			 char jti[static JTI_CHARS + 1])
{
	bool zumo = key->config->profile == PROFILE_ZUMO_V2;
	int r;

	/* The standard profile always dates and names its JWTs; zumo-v2 only on request. */
	r = claims_add_standard(&in->claims, zumo ? key->config->add_claims
						  : ADD_CLAIM_IAT | ADD_CLAIM_JTI, now, jti);
	if (r < 0)
		return r;
	buf_reset(&s->payload);
	if (zumo)
		return claims_zumo_payload(&s->payload, key->config->issuer, &in->claims);
	return claims_standard_payload(&s->payload, key->config->issuer, &in->claims);
}

static const struct {
	AuditEvent event;
	const char *name;
} refusals[] = {
	[SERVICE_OK] = { AUDIT_FAILED, "internal" },
	[SERVICE_INVALID_REQUEST] = { AUDIT_INVALID, "invalid-request" },
	[SERVICE_PERMISSION_DENIED] = { AUDIT_DENIED, "permission-denied" },
	[SERVICE_UNAVAILABLE] = { AUDIT_FAILED, "unavailable" },
	[SERVICE_INTERNAL] = { AUDIT_FAILED, "internal" },
	[SERVICE_RATE_LIMITED] = { AUDIT_RATE_LIMITED, "rate-limited" },
};

static ServiceError refusal_code(const Failure *f)
{
	return (size_t)f->code < ELEMENTSOF(refusals) ? f->code : SERVICE_INTERNAL;
}

static AuditRecord decision(const Peer *peer, const SignInput *in, const LoadedKey *key)
{
	return (AuditRecord){
		.peer = peer,
		.request_id = in->request_id,
		.key = key ? key->config->name : in->key_name && *in->key_name ? in->key_name : NULL,
		.kid = key ? key->kid : NULL,
		.alg = key ? key->alg->name : NULL,
		.audience = in->claims.audience,
		.subject = in->claims.user_id,
		.issuer = in->issuer,
		.expires_at = in->claims.exp,
		.jti = in->claims.jti,
	};
}

/* Fail closed: a decision that cannot be recorded becomes "unavailable", with nothing issued. */
void audit_failed(Failure *fail, int r)
{
	*fail = (Failure){};
	refuse(fail, SERVICE_UNAVAILABLE, "audit trail not writable (%s); nothing issued",
	       audit_strerror(r));
}

void record_failure(AuditRecord *rec, const Failure *fail)
{
	rec->error = refusals[refusal_code(fail)].name;
	rec->rule = fail->rule[0] ? fail->rule : NULL;
	rec->message = fail->message;
}

void record_refusal(Service *s, const Peer *peer, const SignInput *in, const LoadedKey *key,
		    Failure *fail)
{
	AuditRecord rec = decision(peer, in, key);
	int r;

	rec.event = refusals[refusal_code(fail)].event;
	record_failure(&rec, fail);
	r = service_record(s, &rec);
	if (r < 0)
		audit_failed(fail, r);
}

void service_refuse(Service *s, const Peer *peer, const SignInput *in, const char *rule,
		    const char *message, Failure *fail)
{
	*fail = (Failure){};
	failure_refuse(fail, rule, "%s", message);
	record_refusal(s, peer, in, NULL, fail);
}

void sign_work_done(SignWork *w)
{
	legacy_free(w->legacy);
	w->legacy = NULL;
	payload_work_done(w);
	buf_done(&w->input);
	generation_unref(w->gen);
	w->gen = NULL;
}

int service_sign_prepare(Service *s, const Peer *peer, SignInput *in, time_t now, SignWork *w,
			 Failure *fail)
{
	const LoadedKey *key = NULL;
	uint64_t lifetime = 0;
	int r;

	*fail = (Failure){};
	*w = (SignWork){};
	/* A payload the client built is checked, not built (service-payload.c). */
	if (in->payload_b64.p && !s->token_down)
		return service_payload_prepare(s, peer, in, now, w, fail);
	if (s->token_down) {
		refuse(fail, SERVICE_UNAVAILABLE, "the token is unavailable; the daemon is reconnecting");
		snprintf(fail->rule, sizeof(fail->rule), "token-unavailable");
		record_refusal(s, peer, in, NULL, fail);
		return -EIO;
	}
	r = validate(s, in, now, &key, &w->legacy, &lifetime, fail);
	if (r >= 0)
		r = decide(s, peer, in, key, w->legacy != NULL, lifetime, now, &w->policy, fail);
	if (r < 0)
		goto refused;
	r = build_payload(s, key, in, now, w->jti);
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
	buf_append(&w->input, key->header_b64.data, key->header_b64.len);
	base64url_append(&w->input, s->payload.data, s->payload.len);
	if (w->input.error) {
		refuse(fail, SERVICE_INTERNAL, "out of memory");
		goto refused;
	}
	w->key = key;
	w->gen = generation_ref(s->gen);
	return 0;
refused:
	record_refusal(s, peer, in, key, fail);
	legacy_free(w->legacy);
	buf_done(&w->input);
	*w = (SignWork){};
	return -EINVAL;
}

void service_sign_run(SignWork *w, Token *t, TokenSession session)
{
	w->result = keyring_sign(t, session, w->key, w->input.data, w->input.len, w->sig,
				 &w->sig_len);
}

int service_sign_finish(Service *s, const Peer *peer, SignInput *in, SignWork *w, Buf *out,
			Signed *ret, Failure *fail)
{
	AuditRecord rec;
	int r;

	*fail = (Failure){};
	s->last_sign_error = w->result < 0 ? w->result : 0;
	if (w->result < 0) {
		s->sign_failures++;
		refuse(fail, SERVICE_UNAVAILABLE, "the token failed to sign (%s)",
		       strerror(-w->result));
		goto refused;
	}
	buf_reset(out);
	buf_append(out, w->input.data, w->input.len);
	buf_append_char(out, '.');
	base64url_append(out, w->sig, w->sig_len);
	if (!buf_cstr(out)) {
		refuse(fail, SERVICE_INTERNAL, "out of memory");
		goto refused;
	}
	*ret = (Signed){
		.jwt = out->data,
		.jwt_len = out->len,
		.kid = w->key->kid,
		.key_name = w->key->config->name,
		.expires_at = in->claims.exp,
		.policy = w->policy->name,
	};
	/*
	 * Fail closed: no record, no JWT. A v1 claim set upgraded is its own kind of
	 * decision: operators find the clients that still send them by its event.
	 */
	rec = decision(peer, in, w->key);
	rec.event = w->legacy ? AUDIT_LEGACY_UPGRADE : AUDIT_ISSUED;
	rec.detail = w->legacy	 ? legacy_changes(w->legacy)
		     : w->payload ? "payload signed as the client built it"
				  : NULL;
	rec.policy = w->policy->name;
	rec.jwt = out->data;
	rec.jwt_len = out->len;
	r = service_record(s, &rec);
	if (r < 0) {
		buf_reset(out);
		audit_failed(fail, r);
		return -EIO;
	}
	s->jwts_issued++;
	return 0;
refused:
	buf_reset(out);
	record_refusal(s, peer, in, w->key, fail);
	return -EINVAL;
}

void service_sign_abandon(Service *s, const Peer *peer, SignInput *in, SignWork *w,
			  const char *rule, const char *message)
{
	Failure fail = { .code = SERVICE_UNAVAILABLE };

	snprintf(fail.rule, sizeof(fail.rule), "%s", rule);
	snprintf(fail.message, sizeof(fail.message), "%s", message);
	record_refusal(s, peer, in, w->key, &fail);
}

/* Verify decisions; a valid v1 JWT also gets a "deprecation" record operators can watch. */
