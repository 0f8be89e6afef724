/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
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
	/* Optional standard claims (a key's add-claims); 0 / "": absent. */
	int64_t iat;
	int64_t nbf;
	char jti[JTI_CHARS + 1];
	const ExtraClaim *extras;
	size_t n_extras;
} ZumoClaims;

/* {"alg":"HS256","typ":"JWT","kid":<kid>} byte for byte. */
int claims_zumo_header(Buf *b, const char *kid);

/*
 * The v2 payload, members in the spec's order:
 * exp, iss, ver, aud, uid[, urn:microsoft:credentials], then those a key adds
 * ([iat][, nbf][, jti]), then the extra claims in request order.
 * -EILSEQ when a string is not UTF-8; the buffer is then unusable until reset.
 */
int claims_zumo_payload(Buf *b, const char *issuer, const ZumoClaims *c);
