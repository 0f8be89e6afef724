/* SPDX-License-Identifier: MIT */
/* buf_shrink(): a burst does not stay allocated, the limit and errors stay. */
#include <errno.h>

#include "buf.h"
#include "tests.h"

int main(void)
{
	Buf b = { .limit = 100000 };
	char big[8192];

	memset(big, 'x', sizeof(big));

	/* A small buffer stays for reuse, emptied or not. */
	buf_append_str(&b, "request");
	buf_shrink(&b, 4096);
	check_mem(b.data, b.len, "request");
	buf_reset(&b);
	buf_shrink(&b, 4096);
	check(b.data != NULL && b.cap <= 4096);

	/* A big one stays while it holds something... */
	buf_append(&b, big, sizeof(big));
	check(b.cap > 4096);
	buf_shrink(&b, 4096);
	check_int(b.len, sizeof(big));
	check(b.data != NULL);

	/* ...and becomes small once empty, keeping its limit. */
	buf_reset(&b);
	buf_shrink(&b, 4096);
	check(b.data != NULL);
	check_int(b.cap, 256);
	check_int(b.limit, 100000);
	buf_append_str(&b, "next");
	check_mem(b.data, b.len, "next");

	/* A failed buffer keeps its error (and its allocation) until reset. */
	buf_append(&b, big, sizeof(big));
	buf_reset(&b);
	b.error = -ENOMEM;
	buf_shrink(&b, 4096);
	check_int(b.error, -ENOMEM);
	check(b.data != NULL);

	buf_done(&b);
	return 0;
}
