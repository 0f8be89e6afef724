/* SPDX-License-Identifier: MIT */
#pragma once

#include "claims.h"
#include "hsmjwt.pb-c.h"

/*
 * The request's extra claims as ExtraClaim, spans into the decoded request.
 * *ret_items holds the strings of every list. Both are the caller's to free;
 * the rules are checked later, by the service.
 */
int request_map_extras(const Hsmjwt__V1__SignRequest *sr, ExtraClaim **ret_extras,
		       Span **ret_items);
