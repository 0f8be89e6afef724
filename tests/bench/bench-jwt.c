/* SPDX-License-Identifier: MIT */
/*
 * What an app signing its own tokens does per token: JSON header and
 * payload, base64url, then the signature. The claims match what the bench
 * asks hsmjwtd for (aud "Custom", uid "Custom:42", one hour), so both sides
 * sign inputs of the same size. Not thread-safe: one caller per process.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base64url.h"
#include "bench.h"
#include "buf.h"

static Buf scratch;

size_t jwt_signing_input(const BenchAlg *alg, char out[static JWT_MAX])
{
	char header[96], payload[256];
	int nh, np;

	nh = snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"0\"}",
		      alg->name);
	np = snprintf(payload, sizeof(payload),
		      "{\"exp\":%lld,\"iss\":\"urn:microsoft:windows-azure:zumo\",\"ver\":2,"
		      "\"aud\":\"Custom\",\"uid\":\"Custom:42\"}",
		      (long long)time(NULL) + 3600);
	buf_reset(&scratch);
	base64url_append(&scratch, header, (size_t)nh);
	buf_append_char(&scratch, '.');
	base64url_append(&scratch, payload, (size_t)np);
	if (scratch.error || scratch.len >= JWT_MAX)
		return 0;
	memcpy(out, scratch.data, scratch.len);
	return scratch.len;
}

size_t jwt_append_signature(char out[static JWT_MAX], size_t len, const uint8_t *sig, size_t n)
{
	buf_reset(&scratch);
	buf_append_char(&scratch, '.');
	base64url_append(&scratch, sig, n);
	if (scratch.error || len + scratch.len >= JWT_MAX)
		return 0;
	memcpy(out + len, scratch.data, scratch.len);
	return len + scratch.len;
}

int jwt_split_signature(const char *jwt, size_t len, size_t *ret_input_len, uint8_t *sig,
			size_t sig_size, size_t *ret_sig_len)
{
	const char *dot = memrchr(jwt, '.', len);

	if (!dot)
		return -EINVAL;
	*ret_input_len = (size_t)(dot - jwt);
	return base64url_decode(dot + 1, len - *ret_input_len - 1, sig, sig_size, ret_sig_len);
}
