/* SPDX-License-Identifier: MIT */
#include "json.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Claims and record values are mostly ASCII: eight bytes are checked at a time. */
static size_t ascii_prefix(const uint8_t *s, size_t n)
{
	size_t i = 0;
	uint64_t w;

	for (; n - i >= sizeof(w); i += sizeof(w)) {
		memcpy(&w, s + i, sizeof(w));
		if (w & UINT64_C(0x8080808080808080))
			break;
	}
	while (i < n && s[i] < 0x80)
		i++;
	return i;
}

int utf8_validate(const char *str, size_t n)
{
	const uint8_t *s = (const uint8_t *)str;
	size_t i = ascii_prefix(s, n);

	while (i < n) {
		uint8_t c = s[i];
		size_t need;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1, cp = c & 0x1f, min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2, cp = c & 0x0f, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return -EILSEQ; /* continuation byte, C0/C1 overlong lead, or > U+10FFFF */
		}
		if (n - i <= need)
			return -EILSEQ;
		for (size_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return -EILSEQ;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return -EILSEQ;
		i += need + 1;
	}
	return 0;
}

/* Bytes that stand for themselves in a JSON string and need no UTF-8 check. */
static bool plain_ascii(uint8_t c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

#define BYTES(c) (UINT64_C(0x0101010101010101) * (c))

/*
 * How many bytes from the start are plain_ascii(), eight at a time: a word
 * is plain unless a byte has its high bit set, is below 0x20 (borrows when
 * 0x20 is subtracted) or equals '"' or '\\' (is zero after the xor). The
 * tests are exact, not just likely, for bytes below 0x80.
 */
static size_t plain_prefix(const char *s, size_t n)
{
	size_t i = 0;
	uint64_t w;

	for (; n - i >= sizeof(w); i += sizeof(w)) {
		uint64_t q, bs;

		memcpy(&w, s + i, sizeof(w));
		q = w ^ BYTES('"');
		bs = w ^ BYTES('\\');
		if ((w | ((w - BYTES(0x20)) & ~w) | ((q - BYTES(1)) & ~q) |
		     ((bs - BYTES(1)) & ~bs)) & BYTES(0x80))
			break;
	}
	while (i < n && plain_ascii((uint8_t)s[i]))
		i++;
	return i;
}

int json_append_string(Buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0, i;

	/* Most values are plain ASCII throughout: then one pass and one copy suffice. */
	i = plain_prefix(s, n);
	if (i < n && utf8_validate(s + i, n - i) < 0)
		return -EILSEQ;
	buf_append_char(b, '"');
	for (; i < n; i++) {
		uint8_t c = (uint8_t)s[i];
		char esc = 0;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		/* Copy the unescaped run in one go: most strings have no escapes at all. */
		buf_append(b, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': esc = '"'; break;
		case '\\': esc = '\\'; break;
		case '\b': esc = 'b'; break;
		case '\f': esc = 'f'; break;
		case '\n': esc = 'n'; break;
		case '\r': esc = 'r'; break;
		case '\t': esc = 't'; break;
		}
		if (esc) {
			char e[2] = { '\\', esc };
			buf_append(b, e, 2);
		} else {
			char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			buf_append(b, u, 6);
		}
	}
	buf_append(b, s + run, n - run);
	buf_append_char(b, '"');
	return b->error;
}
