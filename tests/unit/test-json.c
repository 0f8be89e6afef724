/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "json.h"
#include "tests.h"

static void esc(const char *in, size_t n, const char *expected)
{
	Buf b = {};

	check_int(json_append_string(&b, in, n), 0);
	check_mem(b.data, b.len, expected);
	buf_done(&b);
}

static void bad(const char *in, size_t n)
{
	Buf b = {};

	check_int(json_append_string(&b, in, n), -EILSEQ);
	check_int(b.len, 0); /* nothing half-written */
	buf_done(&b);
}

int main(void)
{
	char all[32];
	Buf b = {};

	esc("", 0, "\"\"");
	esc("Custom:42", 9, "\"Custom:42\"");
	/* The spec's escapes: only '"', '\\' and U+0000..U+001F. */
	esc("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
	esc("\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\"");
	esc("\0", 1, "\"\\u0000\"");
	esc("\x1f\x0b\x01", 3, "\"\\u001f\\u000b\\u0001\"");
	/* Left raw: '/', DEL, non-ASCII, astral plane. */
	esc("a/b\x7f", 4, "\"a/b\x7f\"");
	esc("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
	esc("\xef\xbf\xbf\xf4\x8f\xbf\xbf", 7, "\"\xef\xbf\xbf\xf4\x8f\xbf\xbf\"");
	/* U+2028 and U+2029 stay raw, as JSON.stringify leaves them. */
	esc("\xe2\x80\xa8\xe2\x80\xa9", 6, "\"\xe2\x80\xa8\xe2\x80\xa9\"");

	/* Every control character, in one string, matches the \u00xx or short form. */
	for (int i = 0; i < 32; i++)
		all[i] = (char)i;
	check_int(json_append_string(&b, all, 32), 0);
	check_mem(b.data, b.len,
		  "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r"
		  "\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018"
		  "\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\"");
	buf_done(&b);

	/* Not UTF-8: an error, never repaired. */
	bad("\x80", 1);		    /* lone continuation byte */
	bad("\xc3", 1);		    /* truncated sequence */
	bad("\xc0\xaf", 2);	    /* overlong '/' */
	bad("\xe0\x80\xaf", 3);	    /* overlong, three bytes */
	bad("\xed\xa0\x80", 3);	    /* UTF-16 surrogate U+D800 */
	bad("\xf4\x90\x80\x80", 4); /* above U+10FFFF */
	bad("\xff", 1);
	bad("ok\xe2\x82", 4); /* truncated at the end */
	return 0;
}
