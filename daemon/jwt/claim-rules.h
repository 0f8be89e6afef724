/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

/* What a key's claim set looks like and how large a request may make it. */

#define ZUMO_ISSUER "urn:microsoft:windows-azure:zumo"

typedef enum Profile {
	PROFILE_ZUMO_V2,  /* Mobile Services v2: HS256, kid "0", exp iss ver aud uid */
	PROFILE_STANDARD, /* iss sub aud exp iat jti */
} Profile;

const char *profile_to_string(Profile p);
/* -EINVAL for a name that is no profile. */
int profile_from_string(const char *s, Profile *ret);

/* [claims]: bounds on extra claims and the payload (README "Extra claims"). */
#define CLAIMS_DEFAULT_MAX_EXTRA 32u
#define CLAIMS_DEFAULT_MAX_NAME 128u
#define CLAIMS_DEFAULT_MAX_VALUE 4096u
/* Above the largest payload the fixed members alone can make (escaped aud, uid, access token). */
#define CLAIMS_DEFAULT_MAX_PAYLOAD 65536u

typedef struct ClaimLimits {
	uint32_t max_extra;   /* extra claims per request */
	uint32_t max_name;    /* bytes of a claim name */
	uint32_t max_value;   /* bytes of a value as written in the payload */
	uint32_t max_payload; /* bytes of the payload JSON */
} ClaimLimits;

void claim_limits_init(ClaimLimits *l);

/* add-claims = iat, nbf, jti (per key; none by default, so zumo-v2 stays byte-exact). */
#define ADD_CLAIM_IAT (1u << 0)
#define ADD_CLAIM_NBF (1u << 1)
#define ADD_CLAIM_JTI (1u << 2)
