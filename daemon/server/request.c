/* SPDX-License-Identifier: MIT */
#include "request.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "frame.h"
#include "hsmjwt-build.h"
#include "hsmjwt.pb-c.h"
#include "log.h"
#include "nul-check.h"
#include "secret.h"
#include "wipe-alloc.h"
#include "request-claims.h"

typedef Hsmjwt__V1__Request Request;
typedef Hsmjwt__V1__Response Response;


static int append_response(const Response *resp, Buf *out)
{
	size_t n = hsmjwt__v1__response__get_packed_size(resp);
	uint8_t *p;

	if (n > UINT32_MAX)
		return -E2BIG;
	if (buf_reserve(out, FRAME_HEADER_SIZE + n) < 0)
		return out->error;
	p = (uint8_t *)out->data + out->len;
	frame_header_put(p, (uint32_t)n);
	hsmjwt__v1__response__pack(resp, p + FRAME_HEADER_SIZE);
	out->len += FRAME_HEADER_SIZE + n;
	return 0;
}

/* rule: the stable name of the rule broken (Error.rule), or "". */
static int reply_refusal(uint64_t id, Hsmjwt__V1__ErrorCode code, const char *rule,
			 const char *message, uint32_t retry_after_ms, Buf *out)
{
	Hsmjwt__V1__Error err = HSMJWT__V1__ERROR__INIT;
	Response resp = HSMJWT__V1__RESPONSE__INIT;

	err.code = code;
	err.message = (char *)message;
	err.rule = (char *)rule;
	err.retry_after_ms = retry_after_ms;
	resp.id = id;
	resp.body_case = HSMJWT__V1__RESPONSE__BODY_ERROR;
	resp.error = &err;
	return append_response(&resp, out);
}

static int reply_error(uint64_t id, Hsmjwt__V1__ErrorCode code, const char *message, Buf *out)
{
	return reply_refusal(id, code, "", message, 0, out);
}

int request_reply_too_large(uint32_t announced, uint32_t max, Buf *out)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "frame of %u bytes exceeds the limit of %u bytes", announced,
		 max);
	return reply_error(0, HSMJWT__V1__ERROR_CODE__ERROR_CODE_TOO_LARGE, msg, out);
}

static Hsmjwt__V1__ErrorCode error_code(ServiceError e)
{
	switch (e) {
	case SERVICE_INVALID_REQUEST:
		return HSMJWT__V1__ERROR_CODE__ERROR_CODE_INVALID_REQUEST;
	case SERVICE_PERMISSION_DENIED:
		return HSMJWT__V1__ERROR_CODE__ERROR_CODE_PERMISSION_DENIED;
	case SERVICE_UNAVAILABLE:
		return HSMJWT__V1__ERROR_CODE__ERROR_CODE_UNAVAILABLE;
	case SERVICE_RATE_LIMITED:
		return HSMJWT__V1__ERROR_CODE__ERROR_CODE_RATE_LIMITED;
	default:
		return HSMJWT__V1__ERROR_CODE__ERROR_CODE_INTERNAL;
	}
}

/*
 * time(2) reads the kernel's coarse clock, which may still show the previous
 * second for a tick after clock_gettime() has moved on; JWTs date
 * themselves with the precise one, as every verifier's clock does.
 */
static time_t wall_clock_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

static Span span_of(const char *s)
{
	return (Span){ s, s ? strlen(s) : 0 };
}

/* A sign request refused here is a decision too: it gets its audit record. */
static int refuse_sign(Service *s, const Peer *peer, const SignInput *in, const char *rule,
		       const char *message, Buf *out)
{
	Failure fail;

	service_refuse(s, peer, in, rule, message, &fail);
	return reply_refusal(in->request_id, error_code(fail.code), fail.rule, fail.message,
			     fail.retry_after_ms, out);
}

static void run_pending(Job *job, Token *t, TokenSession session)
{
	Pending *p = (Pending *)job;

	if (p->is_sign)
		service_sign_run(&p->sign, t, session);
	else
		service_verify_run(&p->verify, t, session);
}

/*
 * The server sees only the Pending; behind it, in the same allocation,
 * the arena its decoded request lives in (see ProtoArena).
 */
typedef struct PendingBlock {
	Pending pending; /* first: a Pending's address is its block's */
	ProtoArena arena;
} PendingBlock;

static ProtoArena *pending_arena(Pending *p)
{
	return &((PendingBlock *)p)->arena;
}

static Pending *pending_new(Service *s, const Peer *peer)
{
	/* Not calloc(): the arena is written before it is read; only the Pending is zeroed. */
	PendingBlock *b = malloc(sizeof(*b));

	if (!b)
		return NULL;
	b->pending = (Pending){ .job.run = run_pending, .service = s, .peer = peer };
	proto_arena_init(&b->arena);
	return &b->pending;
}

void pending_free(Pending *p)
{
	ProtoArena *arena;

	if (!p)
		return;
	arena = pending_arena(p);
	if (p->is_sign)
		sign_work_done(&p->sign);
	else
		verify_work_done(&p->verify);
	free(p->extras);
	free(p->items);
	/* All in the arena, nothing to walk; else free_unpacked() finds the heap blocks. */
	if (p->req && arena->spilled)
		hsmjwt__v1__request__free_unpacked(p->req, &arena->allocator);
	proto_arena_done(arena);
	free(p);
}

/* Decides: 1 when p waits for the token, else (0) the refusal is in out. */
static int handle_sign(Service *s, const Peer *peer, Pending *p, Buf *out)
{
	const Request *req = p->req;
	const Hsmjwt__V1__SignRequest *sr = req->sign;
	SignInput *in = &p->in;
	Failure fail;
	int r;

	p->is_sign = true;
	*in = (SignInput){
		.request_id = req->id,
		.key_name = sr->key,
		.claims.audience = span_of(sr->audience),
		.claims.user_id = span_of(sr->user_id),
		.claims.access_token = sr->credentials ? span_of(sr->credentials->access_token)
						       : (Span){},
	};
	r = request_map_extras(sr, &p->extras, &p->items);
	if (r < 0)
		return r;
	in->claims.extras = p->extras;
	in->claims.n_extras = sr->n_extra_claims;
	if (sr->legacy_claims_json && *sr->legacy_claims_json)
		in->legacy_json = span_of(sr->legacy_claims_json);
	if (sr->expiry_case == HSMJWT__V1__SIGN_REQUEST__EXPIRY_LIFETIME_SECONDS) {
		if (sr->lifetime_seconds == 0)
			return refuse_sign(s, peer, in, "expiry-invalid",
					   "lifetime must be at least 1 second", out);
		in->lifetime = sr->lifetime_seconds;
	} else if (sr->expiry_case == HSMJWT__V1__SIGN_REQUEST__EXPIRY_EXPIRES_AT) {
		if (sr->expires_at <= 0)
			return refuse_sign(s, peer, in, "expiry-invalid",
					   "expires-at must be a positive Unix time", out);
		in->expires_at = sr->expires_at;
	}
	/* Credentials present with an empty access token still mean "emit the claim". */
	if (sr->credentials && !in->claims.access_token.p)
		in->claims.access_token = (Span){ "", 0 };

	r = service_sign_prepare(s, peer, in, wall_clock_now(), &p->sign, &fail);
	if (r < 0)
		return reply_refusal(req->id, error_code(fail.code), fail.rule, fail.message,
				     fail.retry_after_ms, out);
	return 1;
}

/* As handle_sign(), for a payload the client built (service/service-payload.c decides). */
static int handle_sign_payload(Service *s, const Peer *peer, Pending *p, Buf *out)
{
	const Request *req = p->req;
	const Hsmjwt__V1__PayloadSignRequest *pr = req->sign_payload;
	Failure fail;
	int r;

	p->is_sign = true;
	p->in = (SignInput){
		.request_id = req->id,
		.key_name = pr->key,
		.payload_b64 = { pr->payload_b64url ? pr->payload_b64url : "",
				 pr->payload_b64url ? strlen(pr->payload_b64url) : 0 },
	};
	r = service_sign_prepare(s, peer, &p->in, wall_clock_now(), &p->sign, &fail);
	if (r < 0)
		return reply_refusal(req->id, error_code(fail.code), fail.rule, fail.message,
				     fail.retry_after_ms, out);
	return 1;
}

static int complete_sign(Pending *p, Buf *scratch, Buf *out)
{
	Hsmjwt__V1__SignResponse sresp = HSMJWT__V1__SIGN_RESPONSE__INIT;
	Response resp = HSMJWT__V1__RESPONSE__INIT;
	Failure fail;
	Signed sig;
	int r;

	r = service_sign_finish(p->service, p->peer, &p->in, &p->sign, scratch, &sig, &fail);
	if (r < 0)
		return reply_refusal(p->id, error_code(fail.code), fail.rule, fail.message,
				     fail.retry_after_ms, out);
	sresp.token = (char *)sig.jwt;
	sresp.kid = (char *)sig.kid;
	sresp.expires_at = sig.expires_at;
	sresp.key = (char *)sig.key_name;
	resp.id = p->id;
	resp.body_case = HSMJWT__V1__RESPONSE__BODY_SIGN;
	resp.sign = &sresp;
	r = append_response(&resp, out);
	buf_reset(scratch);
	return r;
}

static int handle_status(Service *s, const Request *req, Buf *out)
{
	const Keyring *k = service_keyring(s);
	Hsmjwt__V1__StatusResponse st = HSMJWT__V1__STATUS_RESPONSE__INIT;
	Response resp = HSMJWT__V1__RESPONSE__INIT;
	_cleanup_free_ char **names = calloc(k->n_keys ? k->n_keys : 1, sizeof(char *));
	_cleanup_free_ char **broken = calloc(k->n_unusable ? k->n_unusable : 1, sizeof(char *));
	size_t n = 0, nb = 0;
	int r;

	if (!names || !broken)
		return -ENOMEM;
	for (size_t i = 0; i < k->n_keys; i++)
		if (k->keys[i].can_sign)
			names[n++] = k->keys[i].config->name;
	for (size_t i = 0; i < k->n_keys && nb < k->n_unusable; i++)
		if (k->keys[i].error &&
		    asprintf(&broken[nb++], "%s: %s", k->keys[i].config->name, k->keys[i].error) < 0) {
			broken[--nb] = NULL;
			r = -ENOMEM;
			goto done;
		}
	st.version = (char *)PACKAGE_VERSION;
	st.n_keys = n;
	st.keys = names;
	st.n_unavailable_keys = nb;
	st.unavailable_keys = broken;
	st.tokens_issued = service_jwts_issued(s);
	resp.id = req->id;
	resp.body_case = HSMJWT__V1__RESPONSE__BODY_STATUS;
	resp.status = &st;
	r = append_response(&resp, out);
done:
	for (size_t i = 0; i < nb; i++)
		free(broken[i]);
	return r;
}

static int handle_keys(Service *s, const Request *req, Buf *out)
{
	const Keyring *k = service_keyring(s);
	Hsmjwt__V1__KeysResponse keys = HSMJWT__V1__KEYS_RESPONSE__INIT;
	Response resp = HSMJWT__V1__RESPONSE__INIT;
	size_t room = k->n_keys ? k->n_keys : 1;
	_cleanup_free_ Hsmjwt__V1__PublicKey *pks = calloc(room, sizeof(*pks));
	_cleanup_free_ Hsmjwt__V1__PublicKey **ptrs = calloc(room, sizeof(*ptrs));

	if (!pks || !ptrs)
		return -ENOMEM;
	/* The keys of the JWKS, in its order (the keyring's), with their DER. */
	for (size_t i = 0; i < k->n_keys; i++) {
		const LoadedKey *lk = &k->keys[i];
		Hsmjwt__V1__PublicKey *pk = &pks[keys.n_public_keys];

		/* As the JWKS: asymmetric keys that loaded (an unusable one is in neither). */
		if (!lk->spki || lk->error)
			continue;
		hsmjwt__v1__public_key__init(pk);
		pk->key = lk->config->name;
		pk->kid = lk->kid;
		pk->alg = (char *)lk->alg->name;
		pk->spki_der = (ProtobufCBinaryData){ lk->spki_len, lk->spki };
		pk->state = (char *)key_state_to_string(lk->config->state);
		pk->max_lifetime_seconds = lk->config->max_lifetime;
		ptrs[keys.n_public_keys++] = pk;
	}
	keys.public_keys = ptrs;
	keys.jwks = k->jwks;
	resp.id = req->id;
	resp.body_case = HSMJWT__V1__RESPONSE__BODY_KEYS;
	resp.keys = &keys;
	return append_response(&resp, out);
}

/* As handle_sign(). */
static int handle_verify(Service *s, const Peer *peer, Pending *p, Buf *out)
{
	const Request *req = p->req;
	const Hsmjwt__V1__VerifyRequest *vr = req->verify;
	VerifyExpect expect = {
		.audience = vr->audience,
		.issuer = vr->issuer,
		.user_id_pattern = vr->user_id_pattern,
		.keys = vr->keys,
		.n_keys = vr->n_keys,
	};
	Failure fail;
	int r;

	r = service_verify_prepare(s, peer, req->id, vr->token, strlen(vr->token), &expect,
				   wall_clock_now(), &p->verify, &fail);
	if (r < 0)
		return reply_refusal(req->id, error_code(fail.code), fail.rule, fail.message,
				     fail.retry_after_ms, out);
	return 1;
}

static int complete_verify(Pending *p, Buf *out)
{
	Hsmjwt__V1__VerifyResponse v = HSMJWT__V1__VERIFY_RESPONSE__INIT;
	Response resp = HSMJWT__V1__RESPONSE__INIT;
	VerifyResult *result = &p->verify.result;
	Failure fail;
	int r;

	r = service_verify_finish(p->service, p->peer, p->id, &p->verify, &fail);
	if (r < 0)
		return reply_refusal(p->id, error_code(fail.code), fail.rule, fail.message,
				     fail.retry_after_ms, out);
	v.valid = result->reason == VERIFY_VALID;
	v.reason = (Hsmjwt__V1__VerifyReason)result->reason;
	v.detail = result->reason ? result->detail : (char *)"";
	if (v.valid) {
		v.payload_json = result->payload_json;
		v.key = (char *)result->key->config->name;
		v.kid = result->key->kid;
		v.deprecated_v1 = result->deprecated_v1;
	}
	resp.id = p->id;
	resp.body_case = HSMJWT__V1__RESPONSE__BODY_VERIFY;
	resp.verify = &v;
	return append_response(&resp, out);
}

int request_complete(Pending *p, Buf *scratch, Buf *out)
{
	return p->is_sign ? complete_sign(p, scratch, out) : complete_verify(p, out);
}

int request_turn_away(Pending *p, const char *rule, const char *msg, Buf *out)
{
	if (p->is_sign)
		service_sign_abandon(p->service, p->peer, &p->in, &p->sign, rule, msg);
	if (!out)
		return 0;
	return reply_refusal(p->id, HSMJWT__V1__ERROR_CODE__ERROR_CODE_UNAVAILABLE, rule, msg, 0,
			     out);
}

int request_time_out(Pending *p, unsigned timeout_sec, Buf *out)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "the token did not answer within %u s; nothing was %s",
		 timeout_sec, p->is_sign ? "signed" : "verified");
	return request_turn_away(p, "token-timeout", msg, out);
}

void request_abandon(Pending *p)
{
	/* A JWT made for a client that left is never delivered: say so, not "issued". */
	if (p->is_sign && !p->timed_out)
		service_sign_abandon(p->service, p->peer, &p->in, &p->sign, "client-gone",
				     "the client closed the connection before its token was ready");
}

int request_token_result(const Pending *p)
{
	return p->is_sign ? p->sign.result : p->verify.r;
}

int request_handle(Service *s, const Peer *peer, const uint8_t *payload, size_t n, Buf *scratch,
		   Buf *out, Pending **ret_pending)
{
	/* Made before decoding: the request is decoded into its arena. */
	_cleanup_(pending_freep) Pending *p = pending_new(s, peer);
	Request *req;
	int r;

	const char *field = NULL;
	char msg[128];

	if (!p)
		return -ENOMEM;
	req = p->req = hsmjwt__v1__request__unpack(&pending_arena(p)->allocator, n, payload);
	if (!req)
		return reply_error(0, HSMJWT__V1__ERROR_CODE__ERROR_CODE_INVALID_REQUEST,
				   "request is not a valid hsmjwt.v1.Request message", out);
	p->id = req->id;
	/* A NUL would silently shorten a claim: refuse rather than sign something else. */
	if (proto_find_nul_in_strings(&hsmjwt__v1__request__descriptor, payload, n, &field) < 0) {
		snprintf(msg, sizeof(msg), "field %s contains U+0000, which is not allowed",
			 field ? field : "(unknown)");
		/* The claims are cut at the NUL: the record names none of them. */
		if (req->body_case == HSMJWT__V1__REQUEST__BODY_SIGN ||
		    req->body_case == HSMJWT__V1__REQUEST__BODY_SIGN_PAYLOAD)
			return refuse_sign(s, peer, &(SignInput){ .request_id = req->id },
					   "string-nul", msg, out);
		return reply_refusal(req->id, HSMJWT__V1__ERROR_CODE__ERROR_CODE_INVALID_REQUEST,
				     "string-nul", msg, 0, out);
	}
	(void)scratch;
	switch (req->body_case) {
	case HSMJWT__V1__REQUEST__BODY_SIGN:
		/* Sign and verify keep the request: the token answers later. */
		r = handle_sign(s, peer, p, out);
		break;
	case HSMJWT__V1__REQUEST__BODY_SIGN_PAYLOAD:
		r = handle_sign_payload(s, peer, p, out);
		break;
	case HSMJWT__V1__REQUEST__BODY_VERIFY:
		r = handle_verify(s, peer, p, out);
		break;
	case HSMJWT__V1__REQUEST__BODY_STATUS:
		r = handle_status(s, req, out);
		break;
	case HSMJWT__V1__REQUEST__BODY_KEYS:
		r = handle_keys(s, req, out);
		break;
	case HSMJWT__V1__REQUEST__BODY__NOT_SET:
		if (req->base.n_unknown_fields == 0) {
			r = reply_error(req->id, HSMJWT__V1__ERROR_CODE__ERROR_CODE_INVALID_REQUEST,
					"request carries no body", out);
			break;
		}
		/* A field this daemon does not know: most likely a newer client's request type. */
		_fallthrough_;
	default:
		r = reply_error(req->id, HSMJWT__V1__ERROR_CODE__ERROR_CODE_UNSUPPORTED,
				"request type not supported by this daemon", out);
		break;
	}
	if (r <= 0)
		return r;
	/* It waits for the token: what this daemon does not read need not wait with it. */
	request_drop_unknown_fields(&req->base, &pending_arena(p)->allocator);
	*ret_pending = TAKE_PTR(p);
	return 0;
}

int request_withhold_jwts(Buf *out, size_t from, const char *message)
{
	_cleanup_(buf_done) Buf held = {};
	size_t off = 0;
	int r = 0;

	buf_append(&held, out->data + from, out->len - from);
	if (held.error)
		return held.error;
	secret_wipe(out->data + from, out->len - from);
	out->len = from;
	while (r >= 0 && held.len - off >= FRAME_HEADER_SIZE) {
		const uint8_t *p = (const uint8_t *)held.data + off;
		uint32_t n = frame_header_get(p);
		Response *resp;

		if (n > held.len - off - FRAME_HEADER_SIZE)
			return -EBADMSG; /* cannot happen: whole frames only */
		resp = hsmjwt__v1__response__unpack(&proto_wiping_allocator, n, p + FRAME_HEADER_SIZE);
		if (resp && resp->body_case == HSMJWT__V1__RESPONSE__BODY_SIGN)
			r = reply_error(resp->id, HSMJWT__V1__ERROR_CODE__ERROR_CODE_UNAVAILABLE,
					message, out);
		else
			buf_append(out, p, FRAME_HEADER_SIZE + n);
		if (resp)
			hsmjwt__v1__response__free_unpacked(resp, &proto_wiping_allocator);
		off += FRAME_HEADER_SIZE + n;
	}
	return r < 0 ? r : out->error;
}
