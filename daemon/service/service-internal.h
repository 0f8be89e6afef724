/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Shared by service.c (lifecycle, generations, token state), service-sign.c
 * and service-verify.c. Nothing else includes this.
 */

#include "audit.h"
#include "keyring.h"
#include "ratelimit.h"
#include "service.h"

/*
 * The configuration and keys in force, shared with the work in flight: a
 * reload swaps in a new generation, and the old one (its session copies of
 * keys included) goes once the last job that uses it has finished.
 */
struct Generation {
	unsigned refs;
	Token *token;
	Config *config;
	Keyring *keyring;
};

struct Service {
	Generation *gen;
	Config *config;	  /* gen->config */
	Token *token;
	Keyring *keyring; /* gen->keyring */
	uint64_t jwts_issued;
	uint64_t sign_failures;	  /* the token refused or failed to sign */
	int last_sign_error;	  /* -errno of the latest failure, 0 once signing works again */
	Buf payload; /* scratch, reused by every request */
	/*
	 * The token failed as a device (removed, session lost, the p11-kit
	 * server gone, no answer in time): requests fail fast until
	 * service_reopen_token() succeeds. A refused PIN stops the retries.
	 */
	bool token_down;
	bool pin_refused;
	RateLimiter *ratelimit;
	Audit *audit;
};


Generation *generation_ref(Generation *g);
void generation_unref(Generation *g);

/* Fills *f (code and message); returns -EINVAL. */
int refuse(Failure *f, ServiceError code, const char *fmt, ...) _printf_(3, 4);
/* The audit record could not be written: the reply says so, no JWT leaves. */
void audit_failed(Failure *fail, int r);
void record_failure(AuditRecord *rec, const Failure *fail);
/* audit_record(), a refusal charged to the denial budget of its peer's uid (peer-limits.h). */
int service_record(Service *s, AuditRecord *rec);
/* By name, or the default key; refuses unknown and not active keys. */
int pick_key(Service *s, const char *name, const LoadedKey **ret, Failure *f);
/* Records a sign request's refusal; *fail becomes UNAVAILABLE if it could not be. */
void record_refusal(Service *s, const Peer *peer, const SignInput *in, const LoadedKey *key,
		    Failure *fail);

/* service-payload.c: service_sign_prepare() for a payload the client built. */
int service_payload_prepare(Service *s, const Peer *peer, SignInput *in, time_t now,
			    SignWork *w, Failure *fail);
/* Frees what service_payload_prepare() left in w. */
void payload_work_done(SignWork *w);
