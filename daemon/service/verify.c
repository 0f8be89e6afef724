/* SPDX-License-Identifier: MIT */
#include "verify.h"

#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64url.h"
#include "cleanup.h"
#include "failure.h"
#include "log.h"

/* jansson provides json_decrefp() for __attribute__((cleanup)). */

typedef struct Parts {
	const char *signing_input; /* header "." payload, as received */
	size_t signing_input_len;
	uint8_t *header, *payload, sig[SIGNATURE_MAX];
	size_t header_len, payload_len, sig_len;
} Parts;

static int invalid(VerifyResult *r, VerifyReason reason, const char *fmt, ...) _printf_(3, 4);
static int invalid(VerifyResult *r, VerifyReason reason, const char *fmt, ...)
{
	va_list ap;

	r->reason = reason;
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
	return 0;
}

static void parts_done(Parts *p)
{
	free(p->header);
	free(p->payload);
}

static int decode_part(const char *s, size_t n, uint8_t **ret, size_t *ret_len)
{
	size_t cap = n / 4 * 3 + 3, len = 0;
	uint8_t *buf = malloc(cap + 1);

	if (!buf)
		return -ENOMEM;
	if (base64url_decode(s, n, buf, cap, &len) < 0) {
		free(buf);
		return -EINVAL;
	}
	buf[len] = '\0';
	*ret = buf, *ret_len = len;
	return 0;
}

/* Three non-empty base64url parts; anything else is malformed, never guessed at. */
static int split(const char *jwt, size_t jwt_len, Parts *p, VerifyResult *res)
{
	const char *d1 = memchr(jwt, '.', jwt_len), *d2;
	int r;

	if (!d1 || !(d2 = memchr(d1 + 1, '.', jwt_len - (size_t)(d1 + 1 - jwt))))
		return invalid(res, VERIFY_MALFORMED, "not three dot-separated parts"), -EINVAL;
	if (memchr(d2 + 1, '.', jwt_len - (size_t)(d2 + 1 - jwt)))
		return invalid(res, VERIFY_MALFORMED, "more than three parts"), -EINVAL;
	if (d1 == jwt || d2 == d1 + 1 || d2 + 1 == jwt + jwt_len)
		return invalid(res, VERIFY_MALFORMED, "an empty part"), -EINVAL;
	p->signing_input = jwt;
	p->signing_input_len = (size_t)(d2 - jwt);
	r = decode_part(jwt, (size_t)(d1 - jwt), &p->header, &p->header_len);
	if (r == -EINVAL)
		return invalid(res, VERIFY_MALFORMED, "header is not base64url"), r;
	if (r >= 0)
		r = decode_part(d1 + 1, (size_t)(d2 - d1 - 1), &p->payload, &p->payload_len);
	if (r == -EINVAL)
		return invalid(res, VERIFY_MALFORMED, "payload is not base64url"), r;
	if (r < 0)
		return r;
	r = base64url_decode(d2 + 1, jwt_len - (size_t)(d2 + 1 - jwt), p->sig, sizeof(p->sig),
			     &p->sig_len);
	if (r < 0)
		return invalid(res, VERIFY_MALFORMED, "signature is not base64url of a plausible size"),
		       -EINVAL;
	return 0;
}

static json_t *parse_object(const uint8_t *p, size_t n)
{
	/* Duplicate members are how a verifier and a consumer disagree: refuse them. */
	json_t *j = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, NULL);

	if (j && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static bool expected_key(const VerifyExpect *expect, const LoadedKey *lk)
{
	if (expect->n_keys == 0)
		return true;
	for (size_t i = 0; i < expect->n_keys; i++)
		if (strcmp(expect->keys[i], lk->config->name) == 0)
			return true;
	return false;
}

/*
 * Verifies with each key the kid names (the keys of a verify set share one,
 * as zumo-v2 keys do during rotation), among those the request expects.
 */
static int check_signature(Token *t, TokenSession session, const Keyring *k, const Parts *p,
			   const char *alg, json_t *kid, const VerifyExpect *expect,
			   VerifyResult *res)
{
	bool v1_kid = json_is_integer(kid) && json_integer_value(kid) == 0;
	bool any = false, alg_ok = false, other = false;
	int r;

	if (!json_is_string(kid) && !v1_kid)
		return invalid(res, VERIFY_MALFORMED, "header kid is missing or not a string");
	for (size_t i = 0; i < k->n_keys; i++) {
		const LoadedKey *lk = &k->keys[i];

		if (v1_kid ? lk->config->profile != PROFILE_ZUMO_V2 :
			     strcmp(lk->kid, json_string_value(kid)) != 0)
			continue;
		if (!expected_key(expect, lk)) {
			other = true;
			continue;
		}
		any = true;
		/* The key decides the algorithm; the header only has to agree. */
		if (strcmp(alg, lk->alg->name) != 0)
			continue;
		alg_ok = true;
		if (!lk->can_verify)
			continue;
		r = keyring_verify(t, session, lk, p->signing_input, p->signing_input_len, p->sig,
				   p->sig_len);
		if (r == 0) {
			res->key = lk;
			res->deprecated_v1 = v1_kid;
			return 0;
		}
		if (r != -EBADMSG)
			return r;
	}
	if (!any && other)
		return invalid(res, VERIFY_UNKNOWN_KID, "this kid belongs to none of the keys expected");
	if (!any)
		return invalid(res, VERIFY_UNKNOWN_KID, "no active or published key has this kid");
	if (!alg_ok)
		return invalid(res, VERIFY_REFUSED_ALGORITHM, "alg \"%s\" is not the key's algorithm",
			       failure_echo(alg, (char[FAILURE_ECHO_MAX + 4]){}));
	return invalid(res, VERIFY_BAD_SIGNATURE, "signature does not verify");
}

static bool number_of(json_t *j, int64_t *ret)
{
	if (json_is_integer(j)) {
		*ret = json_integer_value(j);
		return true;
	}
	/* v1 scripts wrote fractional exp: compare whole seconds, rounding down. */
	if (json_is_real(j) && isfinite(json_real_value(j)) && fabs(json_real_value(j)) < 1e15) {
		*ret = (int64_t)floor(json_real_value(j));
		return true;
	}
	return false;
}

static bool audience_matches(json_t *aud, const char *want)
{
	size_t i;
	json_t *v;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	json_array_foreach(aud, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
			return true;
	return false;
}

static int check_times(json_t *payload, const KeyConfig *kc, time_t now, VerifyResult *res)
{
	int64_t exp, t;
	int64_t skew = (int64_t)kc->clock_skew;
	json_t *v;

	if (!number_of(json_object_get(payload, "exp"), &exp))
		return invalid(res, VERIFY_MALFORMED, "no numeric exp claim");
	if ((int64_t)now > exp + skew)
		return invalid(res, VERIFY_EXPIRED, "expired %" PRId64 " s ago", (int64_t)now - exp);
	for (const char *const *n = (const char *const[]){ "nbf", "iat", NULL }; *n; n++) {
		v = json_object_get(payload, *n);
		if (!v)
			continue;
		if (!number_of(v, &t))
			return invalid(res, VERIFY_MALFORMED, "%s is not a number", *n);
		if (t > (int64_t)now + skew)
			return invalid(res, VERIFY_NOT_YET_VALID, "%s lies %" PRId64 " s in the future", *n,
				       t - (int64_t)now);
	}
	return 0;
}

static int check_claims(json_t *payload, const LoadedKey *lk, const VerifyExpect *e, time_t now,
			VerifyResult *res)
{
	const KeyConfig *kc = lk->config;
	json_t *iss = json_object_get(payload, "iss"), *sub, *ver;
	int r;

	r = check_times(payload, kc, now, res);
	if (r < 0 || res->reason)
		return r;
	if (!json_is_string(iss) || strcmp(json_string_value(iss), kc->issuer) != 0 ||
	    (e->issuer && *e->issuer && strcmp(json_string_value(iss), e->issuer) != 0))
		return invalid(res, VERIFY_WRONG_ISSUER, "iss is not the expected issuer");
	if (e->audience && *e->audience && !audience_matches(json_object_get(payload, "aud"), e->audience))
		return invalid(res, VERIFY_WRONG_AUDIENCE, "aud does not include the expected audience");
	sub = json_object_get(payload, kc->profile == PROFILE_ZUMO_V2 ? "uid" : "sub");
	if (json_is_string(sub))
		snprintf(res->subject, sizeof(res->subject), "%s", json_string_value(sub));
	if (e->user_id_pattern && *e->user_id_pattern &&
	    (!json_is_string(sub) || fnmatch(e->user_id_pattern, json_string_value(sub), 0) != 0))
		return invalid(res, VERIFY_WRONG_SUBJECT, "user id does not match the expected pattern");
	if (kc->profile != PROFILE_ZUMO_V2)
		return 0;
	ver = json_object_get(payload, "ver");
	if (res->deprecated_v1 || (json_is_integer(ver) && json_integer_value(ver) == 1) ||
	    (json_is_string(ver) && strcmp(json_string_value(ver), "1") == 0)) {
		res->deprecated_v1 = true;
		if (!kc->accept_v1)
			return invalid(res, VERIFY_V1_REFUSED, "a v1 token, and key %s has accept-v1 = no",
				       kc->name);
		return 0;
	}
	if (!json_is_integer(ver) || json_integer_value(ver) != 2)
		return invalid(res, VERIFY_MALFORMED, "ver is neither 1 nor 2");
	return 0;
}

int verify_jwt(Token *t, TokenSession session, const Keyring *k, const char *jwt, size_t jwt_len,
	       const VerifyExpect *expect, time_t now, VerifyResult *res)
{
	_cleanup_(json_decrefp) json_t *header = NULL, *payload = NULL;
	Parts p = {};
	json_t *alg;
	int r;

	*res = (VerifyResult){};
	if (jwt_len > VERIFY_JWT_MAX)
		return invalid(res, VERIFY_MALFORMED, "token longer than %d bytes", VERIFY_JWT_MAX);
	r = split(jwt, jwt_len, &p, res);
	if (r < 0)
		goto out;
	header = parse_object(p.header, p.header_len);
	if (!header) {
		r = invalid(res, VERIFY_MALFORMED, "header is not a JSON object");
		goto out;
	}
	alg = json_object_get(header, "alg");
	if (!json_is_string(alg)) {
		r = invalid(res, VERIFY_MALFORMED, "header alg is missing or not a string");
		goto out;
	}
	r = check_signature(t, session, k, &p, json_string_value(alg), json_object_get(header, "kid"),
			    expect, res);
	if (r < 0 || res->reason)
		goto out;
	payload = parse_object(p.payload, p.payload_len);
	if (!payload) {
		r = invalid(res, VERIFY_MALFORMED, "payload is not a JSON object");
		goto out;
	}
	r = check_claims(payload, res->key, expect, now, res);
	if (r >= 0 && !res->reason) {
		res->payload_json = (char *)TAKE_PTR(p.payload);
	}
out:
	parts_done(&p);
	if (r == -EINVAL || r == -ENOMEM)
		r = r == -ENOMEM ? r : 0; /* split() reported malformed input in res */
	if (res->reason)
		res->key = NULL;
	return r;
}

void verify_result_done(VerifyResult *r)
{
	free(r->payload_json);
	r->payload_json = NULL;
}

const char *verify_reason_to_string(VerifyReason r)
{
	static const char *const names[] = {
		[VERIFY_VALID] = "valid",
		[VERIFY_MALFORMED] = "malformed",
		[VERIFY_UNKNOWN_KID] = "unknown kid",
		[VERIFY_BAD_SIGNATURE] = "bad signature",
		[VERIFY_EXPIRED] = "expired",
		[VERIFY_NOT_YET_VALID] = "not yet valid",
		[VERIFY_WRONG_AUDIENCE] = "wrong audience",
		[VERIFY_WRONG_ISSUER] = "wrong issuer",
		[VERIFY_REFUSED_ALGORITHM] = "refused algorithm",
		[VERIFY_WRONG_SUBJECT] = "wrong subject",
		[VERIFY_V1_REFUSED] = "v1 token refused",
	};
	return (size_t)r < ELEMENTSOF(names) ? names[r] : "unknown";
}
