/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include "buf.h"

/*
 * JSON output exactly as JavaScript's JSON.stringify writes it, because the
 * reference issuers were Node scripts (spec/zumo-v2.md): only '"', '\\' and
 * U+0000..U+001F are escaped, as \b \f \n \r \t where those exist and \u00xx
 * with lower-case hex otherwise; '/', DEL and non-ASCII stay raw UTF-8.
 */

/* 0 when s[0..n) is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF), else -EILSEQ. */
int utf8_validate(const char *s, size_t n);

/* Appends s as a quoted JSON string; -EILSEQ (nothing appended) if s is not UTF-8. */
int json_append_string(Buf *b, const char *s, size_t n);
