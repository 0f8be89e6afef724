/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Bounds on what a request may put into a JWT (ARCHITECTURE.md, Invariant 5). */
#define CLAIM_AUDIENCE_MAX 1024
#define CLAIM_USER_ID_MAX 1024
#define CLAIM_ACCESS_TOKEN_MAX 8192

typedef struct Span {
	const char *p;
	size_t n;
} Span;

typedef enum ExtraType {
	EXTRA_UNSET, /* the request named a claim but gave no value */
	EXTRA_STRING,
	EXTRA_INTEGER,
	EXTRA_BOOLEAN,
	EXTRA_STRING_LIST,
} ExtraType;

/* One extra claim; spans point into the decoded request. Rules: claims-extra.h. */
typedef struct ExtraClaim {
	Span name;
	ExtraType type;
	union {
		Span string;
		int64_t integer;
		bool boolean;
		struct {
			const Span *items;
			size_t n;
		} list;
	};
} ExtraClaim;

#define JTI_CHARS 22 /* 128 random bits in base64url */

typedef struct ZumoClaims {
	int64_t exp;
	Span audience;
	Span user_id;
	Span access_token; /* p == NULL: no credentials claim */
	/* iat and jti: always in the standard profile; in zumo-v2 by add-claims. */
	int64_t iat; /* 0: absent */
	int64_t nbf; /* 0: absent; zumo-v2 add-claims only */
	Span jti;    /* p == NULL: absent */
	const ExtraClaim *extras;
	size_t n_extras;
} ZumoClaims;

/* {"alg":<alg>,"typ":"JWT","kid":<kid>} byte for byte; kid is always a JSON string. */
int claims_header(Buf *b, const char *alg, const char *kid);

/*
 * The v2 payload, members in the spec's order:
 * exp, iss, ver, aud, uid[, urn:microsoft:credentials], then those a key adds
 * ([iat][, nbf][, jti]), then the extra claims in request order.
 * -EILSEQ when a string is not UTF-8; the buffer is then unusable until reset.
 */
int claims_zumo_payload(Buf *b, const char *issuer, const ZumoClaims *c);

/*
 * The standard profile's payload: iss, sub (the user id), aud, exp, iat,
 * jti, then the extra claims, under the same serialisation rules.
 */
int claims_standard_payload(Buf *b, const char *issuer, const ZumoClaims *c);
