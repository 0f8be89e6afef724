/* SPDX-License-Identifier: MIT */
#include "buf.h"

#include <errno.h>
#include <stdlib.h>

#include "secret.h"

/* The first allocation, and what buf_shrink leaves. */
#define BUF_MIN_CAP 256u

int buf_reserve(Buf *b, size_t extra)
{
	size_t want, cap;
	char *p;

	if (b->error)
		return b->error;
	if (extra > SIZE_MAX - b->len - 1)
		return (b->error = -ENOMEM);
	want = b->len + extra + 1; /* room for buf_cstr's NUL */
	if (b->limit && want > b->limit + 1)
		return (b->error = -E2BIG);
	if (want <= b->cap)
		return 0;
	cap = b->cap ? b->cap : BUF_MIN_CAP;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? want : cap * 2;
	/* realloc would leave a copy of request data behind unwiped. */
	p = malloc(cap);
	if (!p)
		return (b->error = -ENOMEM);
	if (b->data) {
		memcpy(p, b->data, b->len);
		secret_wipe(b->data, b->cap);
		free(b->data);
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

void buf_append_slow(Buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* By hand: snprintf costs more than the record field it formats, several per JWT. */
static size_t format_decimal(char out[static DECIMAL_MAX], uint64_t v, bool negative)
{
	char tmp[DECIMAL_MAX];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (negative)
		tmp[--i] = '-';
	memcpy(out, tmp + i, sizeof(tmp) - i);
	return sizeof(tmp) - i;
}

size_t format_uint64(char out[static DECIMAL_MAX], uint64_t v)
{
	return format_decimal(out, v, false);
}

size_t format_int64(char out[static DECIMAL_MAX], int64_t v)
{
	return format_decimal(out, v < 0 ? -(uint64_t)v : (uint64_t)v, v < 0);
}

void buf_append_int64(Buf *b, int64_t v)
{
	char tmp[DECIMAL_MAX];

	buf_append(b, tmp, format_int64(tmp, v));
}

const char *buf_cstr(Buf *b)
{
	if (buf_reserve(b, 0) < 0)
		return NULL;
	b->data[b->len] = '\0';
	return b->data;
}

void buf_reset(Buf *b)
{
	if (b->data)
		secret_wipe(b->data, b->len);
	b->len = 0;
	b->error = 0;
}

void buf_done(Buf *b)
{
	if (b->data) {
		secret_wipe(b->data, b->cap);
		free(b->data);
	}
	*b = (Buf){};
}

void buf_shrink(Buf *b, size_t keep)
{
	char *p;

	if (b->len > 0 || b->error || b->cap <= keep || keep < BUF_MIN_CAP)
		return;
	/* A fresh small block rather than none: data stays non-NULL once allocated. */
	p = malloc(BUF_MIN_CAP);
	if (!p)
		return; /* the big block still works */
	secret_wipe(b->data, b->cap);
	free(b->data);
	b->data = p;
	b->cap = BUF_MIN_CAP;
}
