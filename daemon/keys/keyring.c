/* SPDX-License-Identifier: MIT */
#include "keyring.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"

void keyring_release_objects(Token *t, Keyring *k)
{
	for (size_t i = 0; k && i < k->n_keys; i++)
		if (k->keys[i].is_copy) {
			token_destroy_session_object(t, k->keys[i].object);
			k->keys[i].is_copy = false;
			k->keys[i].can_sign = false;
			if (k->keys[i].alg->symmetric)
				k->keys[i].can_verify = false; /* it verified with the copy */
		}
}

void keyring_forget_objects(Keyring *k)
{
	for (size_t i = 0; k && i < k->n_keys; i++) {
		k->keys[i].is_copy = false;
		k->keys[i].can_sign = false;
		k->keys[i].can_verify = false;
	}
}

Keyring *keyring_free(Keyring *k)
{
	if (!k)
		return NULL;
	for (size_t i = 0; i < k->n_keys; i++) {
		free(k->keys[i].kid);
		OPENSSL_free(k->keys[i].spki);
		free(k->keys[i].error);
		buf_done(&k->keys[i].header_b64);
	}
	free(k->keys);
	free(k->jwks);
	free(k);
	return NULL;
}

const LoadedKey *keyring_find(const Keyring *k, const char *name)
{
	for (size_t i = 0; i < k->n_keys; i++)
		if (strcmp(k->keys[i].config->name, name) == 0)
			return &k->keys[i];
	return NULL;
}

const LoadedKey *keyring_default(const Keyring *k)
{
	for (size_t i = 0; i < k->n_keys; i++)
		if (k->keys[i].can_sign)
			return &k->keys[i];
	return NULL;
}

/* DER DigestInfo prefix for SHA-256 (RFC 8017 section 9.2, note 1). */
static const uint8_t digest_info_sha256[19] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
						0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
						0x01, 0x05, 0x00, 0x04, 0x20 };
#define DIGEST_MAX (sizeof(digest_info_sha256) + EVP_MAX_MD_SIZE)

static int host_hash(HostHash h, const void **input, size_t *n, uint8_t digest[static DIGEST_MAX])
{
	size_t prefix = h == HOST_HASH_SHA256_DIGESTINFO ? sizeof(digest_info_sha256) : 0;
	unsigned int len = 0;

	if (h == HOST_HASH_NONE)
		return 0;
	memcpy(digest, digest_info_sha256, prefix);
	if (!EVP_Digest(*input, *n, digest + prefix, &len,
			h == HOST_HASH_SHA384 ? EVP_sha384() : EVP_sha256(), NULL))
		return -EIO;
	*input = digest, *n = prefix + len;
	return 0;
}

/*
 * HMAC: compute the MAC in the token and compare here in constant time. What
 * C_Verify answers for a wrong MAC differs between modules (NSS softokn:
 * CKR_DEVICE_ERROR), and the signature is the caller's choice: only C_Sign's
 * result, which does not depend on it, may say the token failed.
 */
static int verify_mac(Token *t, TokenSession session, const LoadedKey *key, const void *input,
		      size_t n, const uint8_t *sig, size_t sig_len)
{
	uint8_t mac[SIGNATURE_MAX];
	size_t len = sizeof(mac);
	int r;

	r = token_sign(t, session, key->verify_object, key->verify_mech, input, n, mac, &len);
	if (r < 0)
		return r;
	if (len != sig_len)
		return log_error_errno(EIO, "Key %s: token %s returned a %zu-byte MAC, expected %zu",
				       key->config->name, token_describe(t), len, sig_len);
	r = CRYPTO_memcmp(mac, sig, sig_len) == 0 ? 0 : -EBADMSG;
	OPENSSL_cleanse(mac, sizeof(mac));
	return r;
}

int keyring_verify(Token *t, TokenSession session, const LoadedKey *key, const void *input,
		   size_t n, const uint8_t *sig, size_t sig_len)
{
	uint8_t digest[DIGEST_MAX];
	int r;

	if (!key->can_verify)
		return -EOPNOTSUPP;
	/* A JWS signature of the wrong length is simply invalid; the token need not see it. */
	if (sig_len != key->sig_len)
		return -EBADMSG;
	if (key->alg->symmetric)
		return verify_mac(t, session, key, input, n, sig, sig_len);
	r = host_hash(key->verify_host_hash, &input, &n, digest);
	if (r < 0)
		return r;
	return token_verify(t, session, key->verify_object, key->verify_mech, input, n, sig, sig_len);
}

int keyring_sign(Token *t, TokenSession session, const LoadedKey *key, const void *input,
		 size_t n, uint8_t sig[static SIGNATURE_MAX], size_t *ret_len)
{
	uint8_t digest[DIGEST_MAX];
	size_t len = SIGNATURE_MAX;
	int r;

	r = host_hash(key->host_hash, &input, &n, digest);
	if (r < 0)
		return r;
	r = token_sign(t, session, key->object, key->mech, input, n, sig, &len);
	if (r < 0)
		return r;
	/* JWS wants exactly this length (ECDSA: r||s, each the field size). Anything else is a token bug. */
	if (len != key->sig_len)
		return log_error_errno(EIO, "Key %s: token returned a %zu-byte signature, expected %zu",
				       key->config->name, len, key->sig_len);
	*ret_len = len;
	return 0;
}
