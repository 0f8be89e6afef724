/* SPDX-License-Identifier: MIT */
/*
 * Properties of the byte-exact encoders: base64url decoding is canonical
 * (what decodes re-encodes to the same text), and JSON string escaping
 * accepts exactly the well-formed UTF-8 that glibc's decoder accepts.
 */
#include <errno.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "base64url.h"
#include "fuzz.h"
#include "json.h"

static int reference_utf8_ok(const uint8_t *p, size_t n)
{
	mbstate_t st = {};
	size_t i = 0;

	while (i < n) {
		wchar_t wc;
		size_t k = mbrtowc(&wc, (const char *)p + i, n - i, &st);
		if (k == (size_t)-1 || k == (size_t)-2)
			return 0;
		if (k == 0)
			k = 1; /* an embedded NUL is one valid character */
		/* glibc decodes past U+10FFFF (0xf5..0xf7 leads); RFC 3629 ends there. */
		if ((wc >= 0xd800 && wc <= 0xdfff) || wc > 0x10ffff)
			return 0;
		i += k;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int locale_set;
	uint8_t out[1024];
	size_t n = 0;
	Buf b = {};

	if (!locale_set) {
		if (!setlocale(LC_CTYPE, "C.UTF-8"))
			abort();
		locale_set = 1;
	}
	if (size <= 1024 && base64url_decode((const char *)data, size, out, sizeof(out), &n) == 0) {
		base64url_append(&b, out, n);
		if (b.len != size || memcmp(b.data, data, size) != 0)
			__builtin_trap();
		buf_reset(&b);
	}
	if ((utf8_validate((const char *)data, size) == 0) != reference_utf8_ok(data, size))
		__builtin_trap();
	if (json_append_string(&b, (const char *)data, size) == 0) {
		/* Escaped output is ASCII controls-free and starts and ends with a quote. */
		if (b.len < 2 || b.data[0] != '"' || b.data[b.len - 1] != '"')
			__builtin_trap();
		for (size_t i = 0; i < b.len; i++)
			if ((uint8_t)b.data[i] < 0x20)
				__builtin_trap();
	}
	buf_done(&b);
	return 0;
}
