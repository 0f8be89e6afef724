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
void buf_append(Buf *b, const void *p, size_t n);
void buf_append_char(Buf *b, char c);
void buf_append_str(Buf *b, const char *s);
void buf_append_int64(Buf *b, int64_t v);
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
