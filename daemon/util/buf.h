/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * A growable byte buffer that remembers its first failure, so a chain of
 * appends needs one check at the end. Reset keeps the allocation: the hot
 * path reuses one buffer per request slot instead of allocating.
 */
typedef struct Buf {
	char *data;
	size_t len;
	size_t cap;
	size_t limit; /* 0: unlimited */
	int error;    /* first -errno, sticky until reset */
} Buf;

int buf_reserve(Buf *b, size_t extra);
void buf_append_slow(Buf *b, const void *p, size_t n);

/*
 * A record or a payload is a few hundred appends of a few bytes each: the
 * common case (no error, room left, under the limit) is inline, so that
 * appending a string literal compiles to a compare and a copy of known size.
 * Room means n bytes and buf_cstr's NUL, as buf_reserve() counts.
 */
static inline bool buf_has_room(const Buf *b, size_t n)
{
	return !b->error && n < b->cap - b->len &&
	       (!b->limit || (b->len <= b->limit && n <= b->limit - b->len));
}

static inline void buf_append(Buf *b, const void *p, size_t n)
{
	if (!buf_has_room(b, n)) {
		buf_append_slow(b, p, n);
		return;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static inline void buf_append_char(Buf *b, char c)
{
	if (!buf_has_room(b, 1)) {
		buf_append_slow(b, &c, 1);
		return;
	}
	b->data[b->len++] = c;
}

static inline void buf_append_str(Buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}
void buf_append_int64(Buf *b, int64_t v);

#define DECIMAL_MAX 21 /* "-9223372036854775808" and a NUL */
/* v in decimal as printf's PRIu64/PRId64 writes it, without a NUL; returns the length. */
size_t format_uint64(char out[static DECIMAL_MAX], uint64_t v);
size_t format_int64(char out[static DECIMAL_MAX], int64_t v);
/* Terminates with NUL without counting it in len; returns data or NULL on error. */
const char *buf_cstr(Buf *b);
/* Wipes the used bytes (they may have held request data) and empties. */
void buf_reset(Buf *b);
void buf_done(Buf *b);
/*
 * An empty buffer whose allocation grew past keep gets a fresh 256-byte one
 * (the old one wiped and freed), so a burst does not stay allocated.
 */
void buf_shrink(Buf *b, size_t keep);
