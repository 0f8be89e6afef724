/* SPDX-License-Identifier: MIT */
#include "spki.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "base64url.h"
#include "buf.h"
#include "cleanup.h"

#define POINT_MAX (1 + 2 * 66) /* uncompressed P-521, the largest curve */

/*
 * The public halves the token hands out carry no secret: plain OpenSSL types
 * will do. The builder keeps a pointer to point, not a copy, until
 * OSSL_PARAM_BLD_to_param(): point belongs to the caller.
 */
static int ec_params(OSSL_PARAM_BLD *b, const TokenPublicKey *k, const char *curve,
		     uint8_t point[static POINT_MAX])
{
	/* Uncompressed point: 0x04 x y (SEC 1, 2.3.3). */
	if (k->x_len != k->y_len || 1 + k->x_len + k->y_len > POINT_MAX)
		return -EINVAL;
	point[0] = 0x04;
	memcpy(point + 1, k->x, k->x_len);
	memcpy(point + 1 + k->x_len, k->y, k->y_len);
	if (!OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, curve, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, point,
					      1 + k->x_len + k->y_len))
		return -ENOMEM;
	return 0;
}

int spki_der(const TokenPublicKey *k, uint8_t **ret, size_t *ret_len)
{
	const char *type = k->type == TOKEN_KEY_RSA ? "RSA" : k->type == TOKEN_KEY_ED25519 ? "ED25519"
											: "EC";
	OSSL_PARAM_BLD *b = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	uint8_t *der = NULL, point[POINT_MAX];
	int len, r = -ENOMEM;

	if (k->type == TOKEN_KEY_ED25519) {
		/* No parameters to build: the raw 32-byte point is the key. */
		pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, k->x, k->x_len);
		if (!pkey)
			return -EINVAL;
		goto encode;
	}
	b = OSSL_PARAM_BLD_new();
	if (!b)
		goto out;
	if (k->type == TOKEN_KEY_RSA) {
		BIGNUM *n = BN_bin2bn(k->n, (int)k->n_len, NULL);
		BIGNUM *e = BN_bin2bn(k->e, (int)k->e_len, NULL);

		if (n && e && OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, n) &&
		    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, e))
			params = OSSL_PARAM_BLD_to_param(b);
		BN_free(n);
		BN_free(e);
	} else if (ec_params(b, k, k->type == TOKEN_KEY_EC_P256 ? "P-256" : "P-384", point) == 0) {
		params = OSSL_PARAM_BLD_to_param(b);
	}
	if (!params)
		goto out;
	r = -EINVAL;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		goto out;
encode:
	r = -EINVAL;
	len = i2d_PUBKEY(pkey, &der);
	if (len <= 0)
		goto out;
	*ret = der;
	*ret_len = (size_t)len;
	r = 0;
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	return r;
}

int spki_kid(const uint8_t *der, size_t n, char ret[static JWK_THUMBPRINT_SIZE])
{
	uint8_t md[32];
	unsigned md_len = 0;
	_cleanup_(buf_done) Buf b = {};

	if (!EVP_Digest(der, n, md, &md_len, EVP_sha256(), NULL) || md_len != sizeof(md))
		return -EIO;
	base64url_append(&b, md, sizeof(md));
	if (!buf_cstr(&b) || b.len >= JWK_THUMBPRINT_SIZE)
		return -ENOMEM;
	memcpy(ret, b.data, b.len + 1);
	return 0;
}
