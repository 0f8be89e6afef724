/* SPDX-License-Identifier: MIT */
/* The standard claims a key may add (add-claims = iat, nbf, jti). */
#include "claims-std.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "base64url.h"
#include "cleanup.h"

int claims_add_standard(ZumoClaims *c, unsigned add, time_t now,
			char jti_buf[static JTI_CHARS + 1])
{
	_cleanup_(buf_done) Buf b = {};
	uint8_t rnd[16];
	size_t got = 0;

	if (add & ADD_CLAIM_IAT)
		c->iat = (int64_t)now;
	if (add & ADD_CLAIM_NBF)
		c->nbf = (int64_t)now;
	if (!(add & ADD_CLAIM_JTI))
		return 0;
	while (got < sizeof(rnd)) {
		ssize_t k = getrandom(rnd + got, sizeof(rnd) - got, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		got += (size_t)k;
	}
	base64url_append(&b, rnd, sizeof(rnd));
	if (b.error || b.len != JTI_CHARS)
		return b.error ? b.error : -EIO;
	memcpy(jti_buf, b.data, JTI_CHARS);
	jti_buf[JTI_CHARS] = '\0';
	c->jti = (Span){ jti_buf, JTI_CHARS };
	return 0;
}
