/* SPDX-License-Identifier: MIT */
#pragma once

#include <time.h>

#include "claims.h"
#include "config.h"

/*
 * Fills in the claims add (ADD_CLAIM_*) asks for: iat and nbf are now, jti is
 * 128 bits from getrandom() in base64url. -errno if randomness failed.
 */
int claims_add_standard(ZumoClaims *c, unsigned add, time_t now);
