/* SPDX-License-Identifier: MIT */
/* What the mock token computes, on the host with OpenSSL: it is a test double, not a token. */
#include "mock-crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

static EVP_PKEY *ec_key;

int mock_crypto_init(void)
{
	if (!ec_key)
		ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	return ec_key ? 0 : -1;
}

__attribute__((destructor)) static void mock_crypto_done(void)
{
	EVP_PKEY_free(ec_key);
	ec_key = NULL;
}

int mock_ec_point(uint8_t point[static 65])
{
	size_t len = 0;

	if (!EVP_PKEY_get_octet_string_param(ec_key, OSSL_PKEY_PARAM_PUB_KEY, point, 65, &len) ||
	    len != 65)
		return -1;
	return 0;
}

void mock_hmac_sha256(const uint8_t key[static 32], const void *data, size_t n,
		      uint8_t mac[static 32])
{
	unsigned len = 32;

	HMAC(EVP_sha256(), key, 32, data, n, mac, &len);
}

bool mock_hmac_verify(const uint8_t key[static 32], const void *data, size_t n,
		      const uint8_t *mac, size_t mac_len)
{
	uint8_t want[32];

	mock_hmac_sha256(key, data, n, want);
	return mac_len == 32 && CRYPTO_memcmp(want, mac, 32) == 0;
}

int mock_ecdsa_sign(const void *digest, size_t n, uint8_t sig[static 64])
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(ec_key, NULL);
	uint8_t der[80];
	const uint8_t *p = der;
	size_t der_len = sizeof(der);
	ECDSA_SIG *s = NULL;
	int r = -1;

	if (!ctx || EVP_PKEY_sign_init(ctx) <= 0 ||
	    EVP_PKEY_sign(ctx, der, &der_len, digest, n) <= 0)
		goto out;
	s = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	if (!s || BN_bn2binpad(ECDSA_SIG_get0_r(s), sig, 32) != 32 ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(s), sig + 32, 32) != 32)
		goto out;
	r = 0;
out:
	ECDSA_SIG_free(s);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

bool mock_ecdsa_verify(const void *digest, size_t n, const uint8_t *sig, size_t sig_len)
{
	EVP_PKEY_CTX *ctx = NULL;
	ECDSA_SIG *s = NULL;
	BIGNUM *r = NULL, *ss = NULL;
	uint8_t *der = NULL;
	int der_len;
	bool ok = false;

	if (sig_len != 64)
		return false;
	s = ECDSA_SIG_new();
	r = BN_bin2bn(sig, 32, NULL);
	ss = BN_bin2bn(sig + 32, 32, NULL);
	if (!s || !r || !ss || !ECDSA_SIG_set0(s, r, ss)) {
		BN_free(r);
		BN_free(ss);
		goto out;
	}
	der_len = i2d_ECDSA_SIG(s, &der);
	ctx = EVP_PKEY_CTX_new(ec_key, NULL);
	if (der_len > 0 && ctx && EVP_PKEY_verify_init(ctx) > 0)
		ok = EVP_PKEY_verify(ctx, der, (size_t)der_len, digest, n) == 1;
out:
	OPENSSL_free(der);
	ECDSA_SIG_free(s);
	EVP_PKEY_CTX_free(ctx);
	return ok;
}
