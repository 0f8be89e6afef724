/* SPDX-License-Identifier: MIT */
#include "audit-chain.h"

#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

const char audit_chain_genesis[AUDIT_HASH_HEX] =
	"0000000000000000000000000000000000000000000000000000000000000000";

void audit_sha256_hex(const void *p, size_t n, char ret_hex[static AUDIT_HASH_HEX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	unsigned int len = 0;

	if (!EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) || len != sizeof(md)) {
		ret_hex[0] = '\0';
		return;
	}
	for (size_t i = 0; i < sizeof(md); i++) {
		ret_hex[2 * i] = hex[md[i] >> 4];
		ret_hex[2 * i + 1] = hex[md[i] & 15];
	}
	ret_hex[64] = '\0';
}

int audit_chain_parse(const char *line, size_t n, uint64_t *ret_seq,
		      char ret_prev[static AUDIT_HASH_HEX])
{
	static const char head[] = "{\"seq\":", mid[] = ",\"prev\":\"";
	const char *p = line, *end = line + n;
	uint64_t seq = 0;

	if ((size_t)(end - p) < sizeof(head) - 1 || memcmp(p, head, sizeof(head) - 1) != 0 ||
	    end[-1] != '}')
		return -EBADMSG;
	p += sizeof(head) - 1;
	/* Canonical decimal only: no sign, no leading zero, no overflow. */
	if (p == end || *p < '1' || *p > '9')
		return -EBADMSG;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (seq > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -EBADMSG;
		seq = seq * 10 + (uint64_t)(*p - '0');
	}
	if ((size_t)(end - p) < sizeof(mid) - 1 + 64 + 2 || memcmp(p, mid, sizeof(mid) - 1) != 0)
		return -EBADMSG;
	p += sizeof(mid) - 1;
	for (size_t i = 0; i < 64; i++)
		if (!strchr("0123456789abcdef", p[i]) || p[i] == '\0')
			return -EBADMSG;
	if (p[64] != '"' || p[65] != ',')
		return -EBADMSG;
	memcpy(ret_prev, p, 64);
	ret_prev[64] = '\0';
	*ret_seq = seq;
	return 0;
}
