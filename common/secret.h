/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <string.h>
#include <stdlib.h>

/* explicit_bzero is not elided by the optimiser, unlike a memset before free. */
static inline void secret_wipe(void *p, size_t n)
{
	if (p && n)
		explicit_bzero(p, n);
}

/* Frees a NUL-terminated secret string after wiping it. */
static inline void erase_and_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static inline void erase_and_freep(char **s)
{
	erase_and_free(*s);
}
#define _cleanup_erase_free_ _cleanup_(erase_and_freep)

/* Constant-time compare: a secret's length may be public, its bytes are not. */
static inline int secret_equal(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	unsigned char d = 0;

	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}
