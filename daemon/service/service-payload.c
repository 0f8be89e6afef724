/* SPDX-License-Identifier: MIT */
/*
 * Payload signing: a client that builds its own claims (hsmjwt-kube-signer,
 * for kube-apiserver) hands over the payload already base64url-encoded and
 * gets it signed byte for byte. The daemon still decides: the policy's
 * payload-signing grant (never implied by another; ARCHITECTURE.md, "Adding a
 * request type"), its keys, audiences, user-ids and max-lifetime, the key's
 * issuer, max-lifetime and not-after; and it still chooses alg, kid and typ
 * (Invariant 7). Every outcome is recorded like any other sign request.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authorize.h"
#include "base64url.h"
#include "cleanup.h"
#include "jansson-wipe.h"
#include "json.h"
#include "service-internal.h"

/* A decoded payload's size: what max-payload bounds, checked before decoding. */
static size_t decoded_len(size_t encoded)
{
	return encoded / 4 * 3 + (encoded % 4 ? encoded % 4 - 1 : 0);
}

/* The decoded text, only when it re-encodes to exactly the bytes given (one encoding per payload). */
static int decode(const Span b64, uint32_t max_payload, uint8_t **ret, size_t *ret_len,
		  Failure *f)
{
	_cleanup_free_ uint8_t *text = NULL;
	_cleanup_(buf_done) Buf again = {};
	size_t n = decoded_len(b64.n), len = 0;

	if (b64.n == 0)
		return failure_refuse(f, "payload-base64url", "the payload is empty");
	if (n > max_payload)
		return failure_refuse(f, "payload-too-large",
				      "the payload is %zu bytes; the limit is %" PRIu32, n,
				      max_payload);
	text = malloc(n + 1);
	if (!text)
		return refuse(f, SERVICE_INTERNAL, "out of memory");
	if (base64url_decode(b64.p, b64.n, text, n + 1, &len) < 0)
		return failure_refuse(f, "payload-base64url",
				      "the payload is not unpadded base64url");
	base64url_append(&again, text, len);
	if (again.error)
		return refuse(f, SERVICE_INTERNAL, "out of memory");
	if (again.len != b64.n || memcmp(again.data, b64.p, b64.n) != 0)
		return failure_refuse(f, "payload-base64url",
				      "the payload's base64url is not canonical (stray low bits)");
	*ret = TAKE_PTR(text);
	*ret_len = len;
	return 0;
}

/* name: "sub" or "aud"; the rule broken is payload-NAME. */
static int check_claim_string(const json_t *v, const char *name, Failure *f, Span *ret)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	char rule[16];

	snprintf(rule, sizeof(rule), "payload-%s", name);
	if (!s || n == 0)
		return failure_refuse(f, rule, "\"%s\" must be a non-empty string", name);
	/* The same bound as a SignRequest's user id and audience. */
	if (n > CLAIM_USER_ID_MAX)
		return failure_refuse(f, rule, "\"%s\" is %zu bytes; the limit is %d", name, n,
				      CLAIM_USER_ID_MAX);
	*ret = (Span){ s, n };
	return 0;
}

/* aud: a string, or a non-empty array of strings (RFC 7519, 4.1.3); kube sends an array. */
static int check_aud(const json_t *aud, Failure *f)
{
	size_t i;
	json_t *v;
	Span s;
	int r;

	if (json_is_string(aud))
		return check_claim_string(aud, "aud", f, &s);
	if (!json_is_array(aud) || json_array_size(aud) == 0)
		return failure_refuse(f, "payload-aud",
				      "\"aud\" must be a string or a non-empty array of strings");
	if (json_array_size(aud) > POLICY_LIST_MAX)
		return failure_refuse(f, "payload-aud", "\"aud\" has more than %d members",
				      POLICY_LIST_MAX);
	json_array_foreach(aud, i, v) {
		r = check_claim_string(v, "aud", f, &s);
		if (r < 0)
			return r;
	}
	return 0;
}

/* exp: an integer, in the future, within the key's limits; *ret_lifetime is exp - now. */
static int check_exp(const KeyConfig *kc, const json_t *exp, time_t now, Failure *f,
		     uint64_t *ret_lifetime)
{
	json_int_t e;

	if (!json_is_integer(exp))
		return failure_refuse(f, "payload-exp", "\"exp\" must be an integer (NumericDate)");
	e = json_integer_value(exp);
	if (e <= (json_int_t)now)
		return failure_refuse(f, "expiry-past", "\"exp\" %" JSON_INTEGER_FORMAT
				      " is not in the future", e);
	if ((uint64_t)(e - now) > kc->max_lifetime)
		return failure_refuse(f, "expiry-too-long",
				      "\"exp\" lies %" PRIu64 " s ahead; key %s's max-lifetime is %"
				      PRIu64 " s", (uint64_t)(e - now), kc->name, kc->max_lifetime);
	if (kc->not_after && e > kc->not_after)
		return failure_refuse(f, "expiry-not-after",
				      "\"exp\" %" JSON_INTEGER_FORMAT " is after key %s's not-after %"
				      PRId64, e, kc->name, kc->not_after);
	*ret_lifetime = (uint64_t)(e - now);
	return 0;
}

/* One JSON object with iss, sub, aud and exp as PayloadSignRequest describes. */
static int parse_payload(Service *s, const LoadedKey *key, SignInput *in, time_t now,
			 SignWork *w, uint64_t *ret_lifetime, Failure *f)
{
	_cleanup_free_ uint8_t *text = NULL;
	const json_t *iss, *aud, *jti;
	json_error_t e;
	size_t n = 0;
	Span sub;
	int r;

	r = decode(in->payload_b64, s->config->claims.max_payload, &text, &n, f);
	if (r < 0)
		return r;
	jansson_use_wiping_allocator();
	/* jansson refuses U+0000 (unless asked), invalid UTF-8 and, so told, repeated names. */
	w->payload = json_loadb((const char *)text, n, JSON_REJECT_DUPLICATES, &e);
	if (!w->payload || !json_is_object(w->payload))
		return failure_refuse(f, "payload-json",
				      "the payload is not one JSON object (%s)",
				      w->payload ? "another JSON value" : e.text);
	iss = json_object_get(w->payload, "iss");
	if (!json_is_string(iss) || strcmp(json_string_value(iss), key->config->issuer) != 0 ||
	    json_string_length(iss) != strlen(key->config->issuer))
		return failure_refuse(f, "payload-iss", "\"iss\" must be key %s's issuer",
				      key->config->name);
	in->issuer = (Span){ json_string_value(iss), json_string_length(iss) };
	r = check_claim_string(json_object_get(w->payload, "sub"), "sub", f, &sub);
	if (r < 0)
		return r;
	in->claims.user_id = sub;
	aud = json_object_get(w->payload, "aud");
	r = check_aud(aud, f);
	if (r < 0)
		return r;
	if (json_is_string(aud)) {
		in->claims.audience = (Span){ json_string_value(aud), json_string_length(aud) };
	} else {
		w->payload_aud = json_dumps(aud, JSON_COMPACT);
		if (!w->payload_aud)
			return refuse(f, SERVICE_INTERNAL, "out of memory");
		in->claims.audience = (Span){ w->payload_aud, strlen(w->payload_aud) };
	}
	jti = json_object_get(w->payload, "jti");
	if (json_is_string(jti))
		in->claims.jti = (Span){ json_string_value(jti), json_string_length(jti) };
	r = check_exp(key->config, json_object_get(w->payload, "exp"), now, f, ret_lifetime);
	if (r < 0)
		return r;
	in->claims.exp = json_integer_value(json_object_get(w->payload, "exp"));
	return 0;
}

static Span aud_at(const json_t *aud, size_t i)
{
	const json_t *v = json_is_array(aud) ? json_array_get(aud, i) : aud;

	return (Span){ json_string_value(v), json_string_length(v) };
}

/* Every audience must be granted; the rate counts the request once. */
static int decide(Service *s, const Peer *peer, SignInput *in, const LoadedKey *key,
		  const json_t *aud, uint64_t lifetime, const Policy **ret_policy, Failure *f)
{
	PolicyRequest rq = {
		.key = key->config->name,
		.audience = aud_at(aud, 0),
		.user_id = in->claims.user_id,
		.lifetime = lifetime,
		.payload = true,
	};
	size_t n = json_is_array(aud) ? json_array_size(aud) : 1;
	const Policy *p = NULL;
	struct timespec ts;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	r = authorize(s->config, s->ratelimit, peer, &rq,
		      (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec, &p, f);
	for (size_t i = 1; r >= 0 && i < n; i++) {
		rq.audience = aud_at(aud, i);
		r = policy_check(p, &rq, f->message, sizeof(f->message));
		if (r < 0)
			f->code = SERVICE_PERMISSION_DENIED;
	}
	if (r < 0)
		return r;
	*ret_policy = p;
	return 0;
}

void payload_work_done(SignWork *w)
{
	json_decref(w->payload);
	w->payload = NULL;
	free(w->payload_aud);
	w->payload_aud = NULL;
}

int service_payload_prepare(Service *s, const Peer *peer, SignInput *in, time_t now,
			    SignWork *w, Failure *fail)
{
	const LoadedKey *key = NULL;
	uint64_t lifetime = 0;
	int r;

	r = pick_key(s, in->key_name, &key, fail);
	if (r >= 0 && key->alg->symmetric)
		r = failure_refuse(fail, "key-symmetric",
				   "key %s is %s: payload signing needs a key with a public half",
				   key->config->name, key->alg->name);
	if (r >= 0)
		r = parse_payload(s, key, in, now, w, &lifetime, fail);
	if (r >= 0)
		r = decide(s, peer, in, key, json_object_get(w->payload, "aud"), lifetime,
			   &w->policy, fail);
	if (r >= 0) {
		/* The header is the key's, the payload exactly the client's. */
		buf_append(&w->input, key->header_b64.data, key->header_b64.len);
		buf_append(&w->input, in->payload_b64.p, in->payload_b64.n);
		if (w->input.error)
			r = refuse(fail, SERVICE_INTERNAL, "out of memory");
	}
	if (r < 0) {
		/* Recorded while the claims still point into the payload. */
		record_refusal(s, peer, in, key, fail);
		payload_work_done(w);
		buf_done(&w->input);
		*w = (SignWork){};
		return -EINVAL;
	}
	w->key = key;
	w->gen = generation_ref(s->gen);
	return 0;
}
