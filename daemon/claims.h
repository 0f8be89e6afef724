/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Bounds on what a request may put into a token (DESIGN invariant 5). */
#define CLAIM_AUDIENCE_MAX 1024
#define CLAIM_USER_ID_MAX 1024
#define CLAIM_ACCESS_TOKEN_MAX 8192

typedef struct Span {
	const char *p;
	size_t n;
} Span;

typedef struct ZumoClaims {
	int64_t exp;
	Span audience;
	Span user_id;
	Span access_token; /* p == NULL: no credentials claim */
	int64_t iat;	   /* standard profile only */
	Span jti;	   /* standard profile only */
} ZumoClaims;

/* {"alg":<alg>,"typ":"JWT","kid":<kid>} byte for byte; kid is always a JSON string. */
int claims_header(Buf *b, const char *alg, const char *kid);

/*
 * The v2 payload, members in the spec's order:
 * exp, iss, ver, aud, uid[, urn:microsoft:credentials].
 * -EILSEQ when a string is not UTF-8; the buffer is then unusable until reset.
 */
int claims_zumo_payload(Buf *b, const char *issuer, const ZumoClaims *c);

/*
 * The standard profile's payload: iss, sub (the user id), aud, exp, iat,
 * jti, under the same serialisation rules.
 */
int claims_standard_payload(Buf *b, const char *issuer, const ZumoClaims *c);
