/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include <time.h>

#include "audit.h"
#include "buf.h"
#include "claims.h"
#include "cleanup.h"
#include "config.h"
#include "failure.h"
#include "keyring.h"
#include "verify.h"
#include "peer.h"
#include "token.h"

/*
 * The signing service: configuration, the token session and the keys,
 * resolved once at load (C_FindObjects is O(n) on the token). Requests reach
 * it already decoded; it knows nothing of sockets or protobuf.
 */

typedef struct SignInput {
	uint64_t request_id;  /* the client's, for the audit record */
	const char *key_name; /* NULL or "": the default key */
	ZumoClaims claims;    /* exp filled in by service_sign_prepare from the fields below */
	uint64_t lifetime;    /* 0: not given */
	int64_t expires_at;   /* 0: not given */
	Span legacy_json;     /* p == NULL: not given; else a v1 claim set to upgrade */
	Span payload_b64;     /* p == NULL: not given; else a payload to sign as given */
	Span issuer;	      /* payload signing: the payload's iss, for the record */
} SignInput;

typedef struct Signed {
	const char *jwt; /* points into the Buf passed to service_sign_finish */
	size_t jwt_len;
	const char *kid;
	const char *key_name;
	int64_t expires_at;
	const char *policy; /* the [policy NAME] that granted it */
} Signed;

typedef struct Service Service;
typedef struct Generation Generation;
typedef struct Legacy Legacy;
typedef struct Policy Policy;

/*
 * A sign request between its decision and its JWT: service_sign_prepare()
 * decides and builds the signing input on the loop thread,
 * service_sign_run() signs on a worker thread (it touches nothing but the
 * work), service_sign_finish() records and completes on the loop thread.
 */
typedef struct SignWork {
	Generation *gen; /* keeps key and policy alive across a reload */
	const LoadedKey *key;
	const Policy *policy;
	Legacy *legacy;
	struct json_t *payload; /* payload signing: the parsed payload the claims point into */
	char *payload_aud;	/* payload signing: an array "aud" as JSON text, for the record */
	char jti[JTI_CHARS + 1];
	Buf input; /* base64url(header) "." base64url(payload) */
	uint8_t sig[SIGNATURE_MAX];
	size_t sig_len;
	int result; /* of the token call */
} SignWork;

/* The same for a verify request: the whole check runs on the worker. */
typedef struct VerifyWork {
	Generation *gen;
	const char *jwt; /* in the caller's request, alive until finish */
	size_t jwt_len;
	VerifyExpect expect;
	time_t now;
	VerifyResult result;
	int r;
} VerifyWork;

/* Opens the token, logs in, resolves every configured key. Takes config. */
int service_new(Config *config, Service **ret);
Service *service_free(Service *s);

/*
 * Applies a new configuration (takes it): keys are re-resolved on the open
 * token session; if anything fails the old configuration stays in force.
 */
int service_reload(Service *s, Config *config);

const Config *service_config(const Service *s);
/* The service records into it; the server's audit gate runs its start, commits and stop. */
Audit *service_audit(Service *s);
const Keyring *service_keyring(const Service *s);
uint64_t service_jwts_issued(const Service *s);

/*
 * Verify, in three steps like sign: prepare decides (policy, rate) and may
 * refuse with *fail (recorded); run checks the JWT with the keys in the
 * token; finish records the outcome. After finish (whatever it returned),
 * w->result says valid or why not; verify_work_done() frees it.
 */
int service_verify_prepare(Service *s, const Peer *peer, uint64_t request_id, const char *jwt,
			   size_t jwt_len, const VerifyExpect *expect, time_t now, VerifyWork *w,
			   Failure *fail);
void service_verify_run(VerifyWork *w, Token *t, TokenSession session);
int service_verify_finish(Service *s, const Peer *peer, uint64_t request_id, VerifyWork *w,
			  Failure *fail);
void verify_work_done(VerifyWork *w);

/* One line for sd_notify STATUS=: keys, JWTs issued, token health. */
/* What peer's uid may hold: [server]'s per-uid limits, or its policy's (peer-limits.h). */
PeerLimits service_peer_limits(const Service *s, const Peer *peer);
/* [server] max-queue: requests for the token, all peers together. */
unsigned service_max_queue(const Service *s);
void service_describe(const Service *s, unsigned connections, char *buf, size_t size);

/*
 * Validates the request, decides, builds the signing input. On failure the
 * refusal is recorded and *fail says why; w then needs no sign_work_done().
 */
int service_sign_prepare(Service *s, const Peer *peer, SignInput *in, time_t now, SignWork *w,
			 Failure *fail);
void service_sign_run(SignWork *w, Token *t, TokenSession session);
/*
 * Completes the JWT into out and records it (fail closed: no record, no
 * JWT). in must be the one given to prepare, still alive.
 */
int service_sign_finish(Service *s, const Peer *peer, SignInput *in, SignWork *w, Buf *out,
			Signed *ret, Failure *fail);
/* A request given up (timed out, client gone) before finish: records it as failed. */
void service_sign_abandon(Service *s, const Peer *peer, SignInput *in, SignWork *w,
			  const char *rule, const char *message);
void sign_work_done(SignWork *w);

/* The token this service signs with; replaced when the token is reopened. */
Token *service_token(Service *s);

/*
 * The token's health, which requests are answered from (a down token fails
 * them fast). Only the server's token recovery (server/recovery.c) changes
 * it: it reports a failure here and, once the threads let go, reopens.
 */
/* A token call failed as a device does (gone, session lost, no answer in time). */
void service_token_failed(Service *s, int error);
bool service_token_down(const Service *s);
/* Down, and worth another try (not after a refused PIN). */
bool service_token_recoverable(const Service *s);
/* See service.c; the caller has stopped the signing threads first. */
int service_reopen_token(Service *s);

/*
 * Records a sign request refused before it reached service_sign_prepare (the
 * protocol layer's own checks, all "invalid request" naming rule) and fills
 * *fail with the reply to send, or UNAVAILABLE if it could not be recorded.
 */
void service_refuse(Service *s, const Peer *peer, const SignInput *in, const char *rule,
		    const char *message, Failure *fail);
