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

static int record_verify(Service *s, const Peer *peer, uint64_t request_id, const char *jwt,
			 size_t jwt_len, const VerifyResult *res)
{
	AuditRecord rec = {
		.event = res->reason ? AUDIT_VERIFY_INVALID : AUDIT_VERIFY_VALID,
		.peer = peer,
		.request_id = request_id,
		.key = res->key ? res->key->config->name : NULL,
		.kid = res->key ? res->key->kid : NULL,
		.alg = res->key ? res->key->alg->name : NULL,
		.subject = res->key ? (Span){ res->subject, strlen(res->subject) } : (Span){},
		.jwt = jwt,
		.jwt_len = jwt_len,
		.error = res->reason ? verify_reason_to_string(res->reason) : NULL,
		.message = res->reason ? res->detail : NULL,
	};
	AuditVerify which = s->config->audit.verify;
	int r = 0;

	/* A deprecation is always recorded: it is how v1 clients are found. */
	if (which == AUDIT_VERIFY_ALL || (which == AUDIT_VERIFY_FAILURES && res->reason))
		r = service_record(s, &rec);
	if (r < 0 || !res->deprecated_v1 || res->reason)
		return r;
	rec.event = AUDIT_DEPRECATION;
	rec.detail = "v1 token verified";
	return service_record(s, &rec);
}

/* Refused by policy or rate, or the token device failed: nothing was decided about the JWT. */
static void record_verify_failure(Service *s, const Peer *peer, uint64_t request_id,
				  const char *jwt, size_t jwt_len, Failure *fail)
{
	AuditRecord rec = { .event = AUDIT_VERIFY_FAILED, .peer = peer,
			    .request_id = request_id, .jwt = jwt, .jwt_len = jwt_len };
	int r;

	record_failure(&rec, fail);
	r = service_record(s, &rec);
	if (r < 0)
		audit_failed(fail, r);
}

/* The names a request expects are configured keys; a typo must not read as "any key". */
static int check_expected_keys(Service *s, const VerifyExpect *expect, Failure *fail)
{
	if (expect->n_keys > VERIFY_KEYS_MAX)
		return failure_refuse(fail, "keys-too-many", "%zu keys named; the limit is %u",
				      expect->n_keys, VERIFY_KEYS_MAX);
	for (size_t i = 0; i < expect->n_keys; i++) {
		const char *name = expect->keys[i];

		if (!keyring_find(s->keyring, name))
			return failure_refuse(fail, "key-unknown", "no key named '%s'",
					      failure_echo(name, (char[FAILURE_ECHO_MAX + 4]){}));
	}
	return 0;
}

int service_verify_prepare(Service *s, const Peer *peer, uint64_t request_id, const char *jwt,
			   size_t jwt_len, const VerifyExpect *expect, time_t now, VerifyWork *w,
			   Failure *fail)
{
	const Policy *policy = NULL;
	struct timespec ts;
	int r;

	*fail = (Failure){};
	*w = (VerifyWork){ .jwt = jwt, .jwt_len = jwt_len, .expect = *expect, .now = now };
	if (s->token_down) {
		refuse(fail, SERVICE_UNAVAILABLE, "the token is unavailable; the daemon is reconnecting");
		snprintf(fail->rule, sizeof(fail->rule), "token-unavailable");
		record_verify_failure(s, peer, request_id, jwt, jwt_len, fail);
		return -EIO;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	r = authorize_verify(s->config, s->ratelimit, peer,
			     (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec, &policy, fail);
	if (r < 0) {
		record_verify_failure(s, peer, request_id, jwt, jwt_len, fail);
		return r;
	}
	r = check_expected_keys(s, expect, fail);
	if (r < 0) {
		record_verify_failure(s, peer, request_id, jwt, jwt_len, fail);
		return r;
	}
	w->gen = generation_ref(s->gen);
	return 0;
}

void service_verify_run(VerifyWork *w, Token *t, TokenSession session)
{
	w->r = verify_jwt(t, session, w->gen->keyring, w->jwt, w->jwt_len, &w->expect, w->now,
			  &w->result);
}

int service_verify_finish(Service *s, const Peer *peer, uint64_t request_id, VerifyWork *w,
			  Failure *fail)
{
	int r;

	*fail = (Failure){};
	if (w->r < 0) {
		refuse(fail, SERVICE_UNAVAILABLE, "the token failed to verify (%s)", strerror(-w->r));
		record_verify_failure(s, peer, request_id, w->jwt, w->jwt_len, fail);
		return w->r;
	}
	r = record_verify(s, peer, request_id, w->jwt, w->jwt_len, &w->result);
	if (r < 0) {
		audit_failed(fail, r);
		return r;
	}
	return 0;
}

void verify_work_done(VerifyWork *w)
{
	verify_result_done(&w->result);
	generation_unref(w->gen);
	w->gen = NULL;
}
