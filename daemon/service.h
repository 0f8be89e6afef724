/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include <time.h>

#include "audit.h"
#include "buf.h"
#include "claims.h"
#include "cleanup.h"
#include "config.h"
#include "keyring.h"
#include "verify.h"
#include "peer.h"
#include "token.h"

/*
 * The signing service: configuration, the token session and the keys,
 * resolved once at load (C_FindObjects is O(n) on the token). Requests reach
 * it already decoded; it knows nothing of sockets or protobuf.
 */

/* Stable error classes; the protocol layer maps them onto its ErrorCode. */
typedef enum ServiceError {
	SERVICE_OK = 0,
	SERVICE_INVALID_REQUEST,
	SERVICE_PERMISSION_DENIED,
	SERVICE_UNAVAILABLE,
	SERVICE_INTERNAL,
	SERVICE_RATE_LIMITED,
} ServiceError;

typedef struct Failure {
	ServiceError code;
	char message[256];
	uint32_t retry_after_ms; /* SERVICE_RATE_LIMITED: when a retry may succeed */
	char rule[32]; /* the broken rule's stable name (Error.rule), or "" */
} Failure;

/* Refuses as SERVICE_INVALID_REQUEST naming the rule; returns -EINVAL. */
int failure_refuse(Failure *f, const char *rule, const char *fmt, ...) _printf_(3, 4);

typedef struct SignInput {
	uint64_t request_id;  /* the client's, for the audit record */
	const char *key_name; /* NULL or "": the default key */
	ZumoClaims claims;    /* exp filled in by service_sign from the fields below */
	uint64_t lifetime;    /* 0: not given */
	int64_t expires_at;   /* 0: not given */
	Span legacy_json;     /* p == NULL: not given; else a v1 claim set to upgrade */
} SignInput;

typedef struct Signed {
	const char *token; /* points into the Buf passed to service_sign */
	size_t token_len;
	const char *kid;
	const char *key_name;
	int64_t expires_at;
	const char *policy; /* the [policy NAME] that granted it */
} Signed;

typedef struct Service Service;

/* Opens the token, logs in, resolves every configured key. Takes config. */
int service_new(Config *config, Service **ret);
Service *service_free(Service *s);

/*
 * Applies a new configuration (takes it): keys are re-resolved on the open
 * token session; if anything fails the old configuration stays in force.
 */
int service_reload(Service *s, Config *config);

const Config *service_config(const Service *s);
Audit *service_audit(Service *s);
const Keyring *service_keyring(const Service *s);
uint64_t service_tokens_issued(const Service *s);

/*
 * Verifies a token with the keys in the token. 0 with *result saying valid
 * or why not (the caller frees it with verify_result_done()); -errno when the
 * token device failed, with *fail saying so.
 */
int service_verify(Service *s, const Peer *peer, uint64_t request_id, const char *token, size_t n,
		   const VerifyExpect *expect, time_t now, VerifyResult *result, Failure *fail);

/* One line for sd_notify STATUS=: keys, tokens issued, token health. */
void service_describe(const Service *s, unsigned connections, char *buf, size_t size);

/*
 * Validates the request, builds the v2 token and signs it in the token.
 * out receives the token text; on failure *fail says why and out holds
 * nothing usable.
 */
int service_sign(Service *s, const Peer *peer, SignInput *in, time_t now, Buf *out,
		 Signed *ret, Failure *fail);

/*
 * Records a sign request refused before it reached service_sign (the
 * protocol layer's own checks, all "invalid request" naming rule) and fills
 * *fail with the reply to send, or UNAVAILABLE if it could not be recorded.
 */
void service_refuse(Service *s, const Peer *peer, const SignInput *in, const char *rule,
		    const char *message, Failure *fail);
