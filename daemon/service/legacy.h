/* SPDX-License-Identifier: MIT */
#pragma once

#include <time.h>

#include "cleanup.h"
#include "config.h"
#include "service.h"

/*
 * The upgrade of a v1 claim set (JSON text an old issuer script built) to the
 * v2 claims, by the rules documented at SignRequest.legacy_claims_json in
 * proto/hsmjwt.proto. Parsing is jansson's, strict: one object, no repeated
 * member names, no U+0000, no lone surrogates, nothing after the object.
 */

typedef struct Legacy Legacy;

/*
 * Parses in->legacy_json and fills in the claims (audience, user id, access
 * token, extras) and in->expires_at from it. The spans point into *ret, which
 * must outlive their use. Fields the claim set carries must be empty in the
 * request. On refusal, f says which rule failed.
 */
int legacy_upgrade(const ClaimLimits *lim, const KeyConfig *kc, SignInput *in, time_t now,
		   Legacy **ret, Failure *f);
Legacy *legacy_free(Legacy *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(Legacy *, legacy_free);

/* What the upgrade changed, for the deprecation record: e.g. "ver 1 -> 2; iss filled in". */
const char *legacy_changes(const Legacy *l);
