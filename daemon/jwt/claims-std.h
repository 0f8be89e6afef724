/* SPDX-License-Identifier: MIT */
#pragma once

#include <time.h>

#include "claims.h"
#include "claim-rules.h"

/*
 * Fills in the claims add (ADD_CLAIM_*) asks for: iat and nbf are now, jti is
 * 128 random bits (RFC 7519 section 4.1.7) in base64url, written to jti_buf,
 * which c->jti then points to. -errno if randomness failed.
 */
int claims_add_standard(ZumoClaims *c, unsigned add, time_t now,
			char jti_buf[static JTI_CHARS + 1]);
