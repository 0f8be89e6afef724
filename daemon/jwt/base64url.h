/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* RFC 4648 section 5 alphabet, no padding (RFC 7515 section 2). */
static inline size_t base64url_encoded_len(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

void base64url_append(Buf *b, const void *data, size_t n);

/* Decodes unpadded base64url; -EINVAL on a character outside the alphabet,
 * padding, or a length that no encoding produces. */
int base64url_decode(const char *s, size_t n, uint8_t *out, size_t out_size, size_t *ret_len);
