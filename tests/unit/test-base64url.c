/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "base64url.h"
#include "tests.h"

static void enc(const char *in, const char *expected)
{
	Buf b = {};

	base64url_append(&b, in, strlen(in));
	check_int(b.error, 0);
	check_mem(b.data, b.len, expected);
	check_int(b.len, base64url_encoded_len(strlen(in)));
	buf_done(&b);
}

static void roundtrip(const char *encoded, const char *decoded)
{
	uint8_t out[64];
	size_t n = 0;

	check_int(base64url_decode(encoded, strlen(encoded), out, sizeof(out), &n), 0);
	check_mem(out, n, decoded);
}

int main(void)
{
	/* RFC 4648 section 10 vectors, padding removed (RFC 7515 section 2). */
	enc("", "");
	enc("f", "Zg");
	enc("fo", "Zm8");
	enc("foo", "Zm9v");
	enc("foob", "Zm9vYg");
	enc("fooba", "Zm9vYmE");
	enc("foobar", "Zm9vYmFy");
	/* The URL-safe alphabet: 62 and 63 are '-' and '_', never '+' and '/'. */
	enc("\xfb\xff\xbf", "-_-_");
	enc("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"0\"}",
	    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6IjAifQ");

	roundtrip("Zm9vYmFy", "foobar");
	roundtrip("Zm9vYg", "foob");
	roundtrip("-_-_", "\xfb\xff\xbf");

	uint8_t out[16];
	size_t n;
	check_int(base64url_decode("Zm9vYg==", 8, out, sizeof(out), &n), -EINVAL); /* padding */
	check_int(base64url_decode("Zm9v+g", 6, out, sizeof(out), &n), -EINVAL);   /* '+' */
	check_int(base64url_decode("Zm9vY", 5, out, sizeof(out), &n), -EINVAL);    /* length */
	check_int(base64url_decode("Zh", 2, out, sizeof(out), &n), -EINVAL); /* stray low bits */
	check_int(base64url_decode("Zm9vYmFy", 8, out, 5, &n), -ENOBUFS);
	return 0;
}
