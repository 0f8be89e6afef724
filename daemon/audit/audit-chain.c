/* SPDX-License-Identifier: MIT */
#include "audit-chain.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

const char audit_chain_genesis[AUDIT_HASH_HEX] =
	"0000000000000000000000000000000000000000000000000000000000000000";

/*
 * Every record hashes twice (the JWT's fingerprint, the line): EVP_sha256()
 * would make each call fetch the digest from the provider again and
 * EVP_Digest() allocate and free a context. The digest is fetched once per
 * process and each thread keeps one context; both live until exit.
 */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static _Thread_local EVP_MD_CTX *sha256_ctx;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static int sha256(const void *p, size_t n, unsigned char md[static 32])
{
	unsigned int len = 0;

	if (pthread_once(&sha256_once, sha256_fetch) != 0 || !sha256_md)
		return -EIO;
	if (!sha256_ctx)
		sha256_ctx = EVP_MD_CTX_new();
	if (!sha256_ctx)
		return -ENOMEM;
	if (!EVP_DigestInit_ex2(sha256_ctx, sha256_md, NULL) ||
	    !EVP_DigestUpdate(sha256_ctx, p, n) || !EVP_DigestFinal_ex(sha256_ctx, md, &len) ||
	    len != 32)
		return -EIO;
	return 0;
}

void audit_sha256_hex(const void *p, size_t n, char ret_hex[static AUDIT_HASH_HEX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];

	if (sha256(p, n, md) < 0) {
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
