/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "keyring.h"
#include "token.h"

/* JWTs longer than this are refused before any work (ARCHITECTURE.md, Invariant 5). */
#define VERIFY_JWT_MAX 16384

/* Mirrors the protocol's VerifyReason numbers. */
typedef enum VerifyReason {
	VERIFY_VALID = 0,
	VERIFY_MALFORMED = 1,
	VERIFY_UNKNOWN_KID = 2,
	VERIFY_BAD_SIGNATURE = 3,
	VERIFY_EXPIRED = 4,
	VERIFY_NOT_YET_VALID = 5,
	VERIFY_WRONG_AUDIENCE = 6,
	VERIFY_WRONG_ISSUER = 7,
	VERIFY_REFUSED_ALGORITHM = 8,
	VERIFY_WRONG_SUBJECT = 9,
	VERIFY_V1_REFUSED = 10,
} VerifyReason;

/* Names a verify request may give (VerifyRequest.keys). */
#define VERIFY_KEYS_MAX 16

typedef struct VerifyExpect {
	const char *audience;	     /* NULL or "": not checked */
	const char *issuer;	     /* NULL or "": not checked */
	const char *user_id_pattern; /* NULL or "": not checked */
	char *const *keys;	     /* key names the JWT must verify with; n_keys 0: any */
	size_t n_keys;
} VerifyExpect;

typedef struct VerifyResult {
	VerifyReason reason;
	char detail[200];
	const LoadedKey *key; /* when valid */
	bool deprecated_v1;
	char *payload_json; /* when valid: the decoded payload, NUL-terminated; caller frees */
	char subject[128];  /* uid or sub, for the audit record (cut) */
} VerifyResult;

/*
 * Checks the JWT jwt[0..jwt_len) against the keyring: structure, kid,
 * algorithm (from the key), signature (inside the PKCS#11 token t), then
 * claims. Returns 0 with result->reason telling valid or why not; a negative
 * -errno only when the token device failed (the caller answers "unavailable").
 */
int verify_jwt(Token *t, TokenSession session, const Keyring *k, const char *jwt, size_t jwt_len,
	       const VerifyExpect *expect, time_t now, VerifyResult *result);
void verify_result_done(VerifyResult *r);
const char *verify_reason_to_string(VerifyReason r);
