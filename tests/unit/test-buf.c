/* SPDX-License-Identifier: MIT */
/* Buf's inline appends and the hand-written decimals that replaced snprintf. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>

#include "buf.h"
#include "tests.h"

static void decimal(int64_t v)
{
	char got[DECIMAL_MAX], want[32];
	size_t n = format_int64(got, v);

	snprintf(want, sizeof(want), "%" PRId64, v);
	check_mem(got, n, want);
	n = format_uint64(got, (uint64_t)v);
	snprintf(want, sizeof(want), "%" PRIu64, (uint64_t)v);
	check_mem(got, n, want);
}

static void limited(void)
{
	Buf b = { .limit = 8 };

	buf_append_str(&b, "12345678");
	check_int(b.error, 0);
	check_int(b.len, 8);
	/* The inline path has room in the allocation but must still honour the limit. */
	buf_append_char(&b, '9');
	check_int(b.error, -E2BIG);
	check_int(b.len, 8);
	/* Sticky: later appends that would fit are refused too, until reset. */
	buf_reset(&b);
	check_int(b.error, 0);
	buf_append(&b, "abc", 3);
	check_mem(buf_cstr(&b), b.len, "abc");
	buf_done(&b);
}

static void growing(void)
{
	Buf b = {};
	char big[1000];

	memset(big, 'x', sizeof(big));
	for (int i = 0; i < 10; i++)
		buf_append(&b, big, sizeof(big));
	buf_append_char(&b, 'y');
	check_int(b.error, 0);
	check_int(b.len, 10001);
	check(b.cap > b.len);
	check(b.data[10000] == 'y');
	buf_done(&b);
}

int main(void)
{
	static const int64_t values[] = { 0, 1, -1, 9, 10, 99, 100, 1795914653, -1795914653,
					  INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1 };

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		decimal(values[i]);
	for (int64_t v = 1; v > 0 && v < INT64_MAX / 3; v = v * 3 + 1)
		decimal(v), decimal(-v);
	limited();
	growing();
	return 0;
}
