/* SPDX-License-Identifier: MIT */
/*
 * The three ExternalJWTSigner methods, each one call to hsmjwtd:
 *   Sign      -> PayloadSignRequest (the daemon checks and records; the JWT's
 *                header is the key's, its payload kube's bytes)
 *   FetchKeys -> KeysRequest, the DER keys kube can verify with
 *   Metadata  -> KeysRequest, the signing key's max-lifetime
 * Messages back to kube are generic (kube hands them on to its own callers);
 * the daemon's reason is logged here and recorded in its audit trail.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "externaljwt.pb-c.h"
#include "kube-signer.h"
#include "log.h"

/* kube-apiserver verifies these and exits on anything else (KEP-740). */
static bool kube_alg(const char *alg)
{
	return strcmp(alg, "RS256") == 0 || strcmp(alg, "ES256") == 0 ||
	       strcmp(alg, "ES384") == 0 || strcmp(alg, "ES512") == 0;
}

#define KUBE_MIN_MAX_EXPIRATION 600 /* kube-apiserver refuses a signer that allows less */
#define KID_MAX 1024		    /* kube refuses longer kids */

Method method_from_path(const char *path)
{
	static const struct {
		const char *name;
		Method m;
	} methods[] = {
		{ "Sign", METHOD_SIGN },
		{ "FetchKeys", METHOD_FETCH_KEYS },
		{ "Metadata", METHOD_METADATA },
	};
	const char *rest;

	if (strncmp(path, "/v1.", 4) == 0)
		rest = path + 4;
	else if (strncmp(path, "/v1alpha1.", 10) == 0)
		rest = path + 10;
	else
		return METHOD_UNKNOWN;
	if (strncmp(rest, "ExternalJWTSigner/", 18) != 0)
		return METHOD_UNKNOWN;
	rest += 18;
	for (size_t i = 0; i < ELEMENTSOF(methods); i++)
		if (strcmp(rest, methods[i].name) == 0)
			return methods[i].m;
	return METHOD_UNKNOWN;
}

typedef struct Ctx {
	Server *server;
	Call *call;
	Method method;
} Ctx;

/* The daemon's refusal, mapped onto gRPC; its own words go to the log only. */
static void fail_from_daemon(Call *call, const Hsmjwt__V1__Error *e)
{
	static const struct {
		int status;
		const char *message;
	} map[] = {
		[HSMJWT__V1__ERROR_CODE__ERROR_CODE_INVALID_REQUEST] = { GRPC_INVALID_ARGUMENT,
									 "claims refused by the signer" },
		[HSMJWT__V1__ERROR_CODE__ERROR_CODE_PERMISSION_DENIED] = { GRPC_PERMISSION_DENIED,
									   "signing not permitted" },
		[HSMJWT__V1__ERROR_CODE__ERROR_CODE_RATE_LIMITED] = { GRPC_RESOURCE_EXHAUSTED,
								      "rate limited" },
		[HSMJWT__V1__ERROR_CODE__ERROR_CODE_UNAVAILABLE] = { GRPC_UNAVAILABLE,
								     "signer unavailable" },
	};
	size_t code = (size_t)e->code;

	log_notice("Stream %u: hsmjwtd refused (code %d%s%s): %s", call_stream_id(call),
		   (int)e->code, e->rule && *e->rule ? ", rule " : "", e->rule ? e->rule : "",
		   e->message ? e->message : "");
	if (code < ELEMENTSOF(map) && map[code].message)
		call_fail(call, map[code].status, map[code].message);
	else
		call_fail(call, GRPC_INTERNAL, "internal error");
}

/*
 * The header's alg, from hsmjwtd's byte-exact {"alg":"..","typ":"JWT","kid":..}:
 * true when kube-apiserver verifies it. A key kube cannot verify (PS256,
 * EdDSA) would have every token it signs refused later, far from the cause.
 */
static bool header_alg_ok(const char *b64, size_t n)
{
	char std[64] = "";
	uint8_t json[48] = "";
	size_t m = n < 40 ? n : 40; /* 30 bytes of JSON cover {"alg":"ES256" */

	m -= m % 4;
	for (size_t i = 0; i < m; i++)
		std[i] = b64[i] == '-' ? '+' : b64[i] == '_' ? '/' : b64[i];
	if (m < 20 || EVP_DecodeBlock(json, (const uint8_t *)std, (int)m) < 15)
		return false;
	for (const char *const *a = (const char *const[]){ "RS256", "ES256", "ES384", "ES512", NULL };
	     *a; a++) {
		char want[24];

		snprintf(want, sizeof(want), "{\"alg\":\"%s\"", *a);
		if (memcmp(json, want, strlen(want)) == 0)
			return true;
	}
	return false;
}

/* header.payload.signature: the first and the last part, and the middle checked. */
static void reply_sign(Call *call, const char *token, const char *claims)
{
	V1__SignJWTResponse out = V1__SIGN_JWTRESPONSE__INIT;
	const char *dot1 = strchr(token, '.'), *dot2 = strrchr(token, '.');
	_cleanup_free_ char *header = NULL;

	if (!dot1 || dot1 == dot2 || (size_t)(dot2 - dot1 - 1) != strlen(claims) ||
	    memcmp(dot1 + 1, claims, strlen(claims)) != 0) {
		log_error("Stream %u: hsmjwtd's JWT does not carry the claims sent", call_stream_id(call));
		return call_fail(call, GRPC_INTERNAL, "internal error");
	}
	if (!header_alg_ok(token, (size_t)(dot1 - token))) {
		log_error("Stream %u: the signing key's alg is not one kube-apiserver verifies "
			  "(RS256, ES256, ES384, ES512); configure another [kube-signer] key",
			  call_stream_id(call));
		return call_fail(call, GRPC_FAILED_PRECONDITION, "signing key not usable");
	}
	header = strndup(token, (size_t)(dot1 - token));
	if (!header)
		return call_fail(call, GRPC_INTERNAL, "internal error");
	out.header = header;
	out.signature = (char *)dot2 + 1;
	call_reply(call, &out.base);
}

/* The keys kube can verify with, in the daemon's order (active and published alike). */
static void reply_keys(Server *s, Call *call, const Hsmjwt__V1__KeysResponse *k)
{
	V1__FetchKeysResponse out = V1__FETCH_KEYS_RESPONSE__INIT;
	V1__Timestamp ts = V1__TIMESTAMP__INIT;
	KeySetClock *clock = server_key_clock(s);
	_cleanup_free_ V1__Key *keys = calloc(k->n_public_keys + 1, sizeof(*keys));
	_cleanup_free_ V1__Key **ptrs = calloc(k->n_public_keys + 1, sizeof(*ptrs));
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t digest[32];
	unsigned dlen = 0;
	struct timespec now;

	if (!keys || !ptrs || !md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(md);
		return call_fail(call, GRPC_INTERNAL, "internal error");
	}
	for (size_t i = 0; i < k->n_public_keys; i++) {
		const Hsmjwt__V1__PublicKey *pk = k->public_keys[i];
		V1__Key *key = &keys[out.n_keys];
		uint8_t len[8];
		size_t kid_len = strlen(pk->kid);

		if (!kube_alg(pk->alg) || !kid_len || kid_len > KID_MAX || !pk->spki_der.len)
			continue;
		v1__key__init(key);
		key->key_id = pk->kid;
		key->key = pk->spki_der;
		/* Published keys verify during a rotation and belong in discovery too. */
		key->exclude_from_oidc_discovery = false;
		ptrs[out.n_keys++] = key;
		/* The digest says whether the set changed: lengths keep the fields apart. */
		for (int b = 0; b < 8; b++)
			len[b] = (uint8_t)(kid_len >> (8 * b));
		EVP_DigestUpdate(md, len, sizeof(len));
		EVP_DigestUpdate(md, pk->kid, kid_len);
		for (int b = 0; b < 8; b++)
			len[b] = (uint8_t)(pk->spki_der.len >> (8 * b));
		EVP_DigestUpdate(md, len, sizeof(len));
		EVP_DigestUpdate(md, pk->spki_der.data, pk->spki_der.len);
	}
	EVP_DigestFinal_ex(md, digest, &dlen);
	EVP_MD_CTX_free(md);
	if (out.n_keys == 0) {
		log_error("hsmjwtd publishes no RS256/ES256/ES384/ES512 key; kube-apiserver cannot "
			  "verify anything");
		return call_fail(call, GRPC_UNAVAILABLE, "no signing keys available");
	}
	/* data_timestamp moves when the set does, not with every call. */
	if (!clock->known || memcmp(clock->digest, digest, sizeof(digest)) != 0) {
		clock_gettime(CLOCK_REALTIME, &now);
		if (clock->known)
			log_info("The key set changed: %zu keys", out.n_keys);
		memcpy(clock->digest, digest, sizeof(digest));
		clock->known = true;
		clock->seconds = now.tv_sec;
		clock->nanos = (int32_t)now.tv_nsec;
	}
	ts.seconds = clock->seconds;
	ts.nanos = clock->nanos;
	out.keys = ptrs;
	out.data_timestamp = &ts;
	out.refresh_hint_seconds = (int64_t)server_config(s)->refresh_hint;
	call_reply(call, &out.base);
}

/* The key Sign uses: the configured one, else the daemon's default (its first active key). */
static void reply_metadata(Server *s, Call *call, const Hsmjwt__V1__KeysResponse *k)
{
	V1__MetadataResponse out = V1__METADATA_RESPONSE__INIT;
	const char *want = server_config(s)->key;

	for (size_t i = 0; i < k->n_public_keys; i++) {
		const Hsmjwt__V1__PublicKey *pk = k->public_keys[i];

		if (want ? strcmp(pk->key, want) != 0 : strcmp(pk->state, "active") != 0)
			continue;
		if (pk->max_lifetime_seconds < KUBE_MIN_MAX_EXPIRATION)
			log_warning("Key %s has max-lifetime %llu s; kube-apiserver needs at least "
				    "%d", pk->key, (unsigned long long)pk->max_lifetime_seconds,
				    KUBE_MIN_MAX_EXPIRATION);
		out.max_token_expiration_seconds = (int64_t)pk->max_lifetime_seconds;
		return call_reply(call, &out.base);
	}
	log_error("hsmjwtd has no %s%s%s key with a public half to sign with", want ? "key '" : "active",
		  want ? want : "", want ? "'" : "");
	call_fail(call, GRPC_UNAVAILABLE, "no signing key available");
}

typedef struct SignCtx {
	Ctx ctx;
	char *claims;
} SignCtx;

static void on_answer(void *userdata, const Hsmjwt__V1__Response *resp, int error)
{
	Ctx *ctx = userdata;
	Call *call = ctx->call;

	if (error == -ECANCELED) {
		/* The call is gone or answered: nothing to touch but our context. */
	} else if ((call_set_waiting(call, 0), !resp)) {
		call_fail(call, GRPC_UNAVAILABLE, "signer unavailable");
	} else if (resp->body_case == HSMJWT__V1__RESPONSE__BODY_ERROR) {
		fail_from_daemon(call, resp->error);
	} else if (ctx->method == METHOD_SIGN && resp->body_case == HSMJWT__V1__RESPONSE__BODY_SIGN) {
		reply_sign(call, resp->sign->token, ((SignCtx *)ctx)->claims);
	} else if (ctx->method != METHOD_SIGN && resp->body_case == HSMJWT__V1__RESPONSE__BODY_KEYS) {
		if (ctx->method == METHOD_FETCH_KEYS)
			reply_keys(ctx->server, call, resp->keys);
		else
			reply_metadata(ctx->server, call, resp->keys);
	} else {
		log_error("Stream %u: unexpected answer from hsmjwtd", call_stream_id(call));
		call_fail(call, GRPC_INTERNAL, "internal error");
	}
	if (ctx->method == METHOD_SIGN)
		free(((SignCtx *)ctx)->claims);
	free(ctx);
}

void method_start(Server *s, Call *call, Method m, const uint8_t *msg, size_t n)
{
	Hsmjwt__V1__Request req = HSMJWT__V1__REQUEST__INIT;
	Hsmjwt__V1__PayloadSignRequest ps = HSMJWT__V1__PAYLOAD_SIGN_REQUEST__INIT;
	Hsmjwt__V1__KeysRequest kr = HSMJWT__V1__KEYS_REQUEST__INIT;
	Ctx *ctx = calloc(1, m == METHOD_SIGN ? sizeof(SignCtx) : sizeof(Ctx));
	uint64_t id = 0;
	int r;

	if (!ctx)
		return call_fail(call, GRPC_INTERNAL, "internal error");
	*ctx = (Ctx){ .server = s, .call = call, .method = m };
	if (m == METHOD_SIGN) {
		V1__SignJWTRequest *in = v1__sign_jwtrequest__unpack(NULL, n, msg);

		if (!in || !in->claims || !*in->claims) {
			if (in)
				v1__sign_jwtrequest__free_unpacked(in, NULL);
			free(ctx);
			return call_fail(call, GRPC_INVALID_ARGUMENT, "claims are required");
		}
		((SignCtx *)ctx)->claims = strdup(in->claims);
		v1__sign_jwtrequest__free_unpacked(in, NULL);
		if (!((SignCtx *)ctx)->claims) {
			free(ctx);
			return call_fail(call, GRPC_INTERNAL, "internal error");
		}
		ps.payload_b64url = ((SignCtx *)ctx)->claims;
		ps.key = server_config(s)->key ? server_config(s)->key : (char *)"";
		req.body_case = HSMJWT__V1__REQUEST__BODY_SIGN_PAYLOAD;
		req.sign_payload = &ps;
	} else {
		/* FetchKeysRequest and MetadataRequest carry nothing; still, they must parse. */
		ProtobufCMessage *in = protobuf_c_message_unpack(
			m == METHOD_FETCH_KEYS ? &v1__fetch_keys_request__descriptor
					       : &v1__metadata_request__descriptor,
			NULL, n, msg);

		if (!in) {
			free(ctx);
			return call_fail(call, GRPC_INVALID_ARGUMENT, "malformed request");
		}
		protobuf_c_message_free_unpacked(in, NULL);
		req.body_case = HSMJWT__V1__REQUEST__BODY_KEYS;
		req.keys = &kr;
	}
	r = upstream_call(server_upstream(s), &req, on_answer, ctx, &id);
	if (r < 0) {
		if (m == METHOD_SIGN)
			free(((SignCtx *)ctx)->claims);
		free(ctx);
		return call_fail(call, r == -EMSGSIZE ? GRPC_INVALID_ARGUMENT : GRPC_UNAVAILABLE,
				 r == -EMSGSIZE ? "claims too large" : "signer unavailable");
	}
	call_set_waiting(call, id);
}
