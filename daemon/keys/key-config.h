/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "alg.h"
#include "claim-rules.h"

/* One [key NAME] section of hsmjwtd.conf, as the keyring loads it. */

/* Rotation without downtime: publish first, activate later, retire last. */
typedef enum KeyState {
	KEY_STATE_ACTIVE,    /* signs and is published */
	KEY_STATE_PUBLISHED, /* in the JWKS, does not sign yet (or any more) */
	KEY_STATE_RETIRED,   /* neither */
} KeyState;

const char *key_state_to_string(KeyState s);
/* -EINVAL for a name that is no state. */
int key_state_from_string(const char *s, KeyState *ret);

/* How a key without a configured kid names itself. */
typedef enum KidFormat {
	KID_FORMAT_THUMBPRINT,	 /* RFC 7638 JWK thumbprint */
	KID_FORMAT_SPKI_SHA256, /* base64url(SHA-256(DER SPKI)), as kube-apiserver names keys */
} KidFormat;

const char *kid_format_to_string(KidFormat f);
/* -EINVAL for a name that is no format. */
int kid_format_from_string(const char *s, KidFormat *ret);

#define CLOCK_SKEW_DEFAULT 300u /* five minutes, as most JWT libraries allow */
#define CLOCK_SKEW_MAX 3600u

#define RSA_BITS_DEFAULT 2048u
#define RSA_BITS_MIN 2048u
#define RSA_BITS_MAX 4096u

typedef struct KeyConfig {
	char *name;
	char *uri;
	Algorithm alg;
	char *kid; /* NULL: "0" for zumo-v2, the RFC 7638 thumbprint for asymmetric keys */
	KidFormat kid_format; /* asymmetric keys without kid only */
	Profile profile;
	KeyState state;
	char *issuer;
	uint64_t default_lifetime;
	uint64_t max_lifetime;
	int64_t not_after; /* no JWT may expire later; 0: no limit */
	unsigned bits;	   /* RSA modulus size for hsmjwtctl generate */
	uint64_t clock_skew; /* tolerance for exp, nbf and iat when verifying */
	bool accept_v1;	     /* verify Mobile Services v1 JWTs, flagged as deprecated */
	unsigned add_claims;  /* ADD_CLAIM_*, zumo-v2 keys only */
	/*
	 * Active keys may share a kid only inside one verify set: a verifier
	 * then tries each, and a token of one verifies as any of them (a
	 * zumo-v2 rotation). NULL: none, the kid must be its own.
	 */
	char *verify_set;
	bool allow_extractable; /* load a key the token reports extractable or not sensitive */
	unsigned seen;	   /* bit per option, to refuse repeats */
	unsigned line;	   /* of the section in hsmjwtd.conf, for messages */
} KeyConfig;
