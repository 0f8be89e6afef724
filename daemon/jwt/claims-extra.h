/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include "buf.h"
#include "claims.h"
#include "claim-rules.h"
#include "failure.h"

/*
 * Extra claims: the rules every one must follow, whether it came typed in the
 * request or out of a v1 claim set (proto/hsmjwt.proto, message ExtraClaim):
 * names 1..max_name bytes of UTF-8, neither reserved nor repeated nor made of
 * digits only nor "__proto__"; values of one of the four types, UTF-8,
 * integers within +-(2^53 - 1), at most max_value bytes as JSON.
 */

/* The integers a JavaScript number holds exactly: JSON.stringify writes them as they are. */
#define JS_MAX_SAFE_INTEGER 9007199254740991LL

/* "extra claim \"name\"", or "extra claim #N" when the name is not fit to print. */
void claims_describe_extra(const ExtraClaim *e, size_t index, char ret[static 96]);

/* Checks n extra claims against the rules; on failure f names the claim and the rule. */
int claims_check_extras(const ClaimLimits *lim, const ExtraClaim *extras, size_t n, Failure *f);

/* Appends ,"name":value exactly as JSON.stringify writes it; -EILSEQ on invalid UTF-8. */
int claims_append_extra(Buf *b, const ExtraClaim *e);
