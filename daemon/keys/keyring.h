/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "alg.h"
#include "buf.h"
#include "key-config.h"
#include "token.h"

/*
 * The configured keys, resolved on the token once (C_FindObjects is O(n)):
 * handles, the mechanism each one signs with, the header encoded once, and
 * the public JWK. Retired keys are not loaded at all.
 */

#define SIGNATURE_MAX 512 /* RSA-4096 */

typedef struct LoadedKey {
	const KeyConfig *config;
	const AlgorithmInfo *alg;
	TokenObject object; /* signs: the secret or private key, a session copy if allowed */
	bool can_sign;	    /* active, and loaded with KEYRING_SIGN */
	bool is_copy;	    /* object is our session copy, destroyed with the keyring */
	TokenMechanism mech;
	HostHash host_hash;
	size_t sig_len; /* the exact JWS signature length */
	/* Verification: the secret key, or the public half; active and published keys. */
	TokenObject verify_object;
	bool can_verify;
	TokenMechanism verify_mech;
	HostHash verify_host_hash;
	char *kid;
	uint8_t *spki; /* asymmetric keys: the public half as DER SubjectPublicKeyInfo */
	size_t spki_len;
	Buf header_b64; /* base64url(header) ".", encoded once */
	/*
	 * Why this key cannot be used (not found, no mechanism, extractable...):
	 * NULL when it loaded. Such a key signs and verifies nothing, is not in
	 * the JWKS, and requests naming it are refused with this text; the
	 * other keys work.
	 */
	char *error;
	bool weak; /* extractable or not sensitive, loaded under allow-extractable = yes */
} LoadedKey;

#define KEY_ERROR_MAX 200

typedef struct Keyring {
	LoadedKey *keys;
	size_t n_keys;
	size_t n_unusable; /* keys with an error */
	char *jwks; /* {"keys":[...]}: active and published asymmetric keys */
} Keyring;

enum {
	KEYRING_SIGN = 1 << 0, /* resolve and probe the signing objects of active keys (needs login) */
};

/*
 * Resolves every key that is not retired. A key that cannot be used gets its
 * LoadedKey.error and the others load; only a token that is gone (-ENODEV,
 * -ENOTCONN) or -ENOMEM fails the whole load.
 */
int keyring_load(Token *t, const KeyConfig *keys, size_t n_keys, unsigned flags, Keyring **ret);
Keyring *keyring_free(Keyring *k);
/* Destroys the session copies this keyring made; call before keyring_free() once unused. */
void keyring_release_objects(Token *t, Keyring *k);
/* The token is gone: its handles are void; nothing may sign or verify with this keyring. */
void keyring_forget_objects(Keyring *k);
static inline void keyring_freep(Keyring **k)
{
	keyring_free(*k);
}

/* By name: NULL if unknown or retired. */
const LoadedKey *keyring_find(const Keyring *k, const char *name);
/* The first key that can sign, or NULL. */
const LoadedKey *keyring_default(const Keyring *k);

/*
 * Verifies sig over input inside the token: 0 valid, -EBADMSG invalid,
 * another -errno when the token failed.
 */
int keyring_verify(Token *t, TokenSession session, const LoadedKey *key, const void *input,
		   size_t n, const uint8_t *sig, size_t sig_len);

/* Signs input (the JWS signing input) with key; *ret_len is the exact signature length. */
int keyring_sign(Token *t, TokenSession session, const LoadedKey *key, const void *input,
		 size_t n, uint8_t sig[static SIGNATURE_MAX], size_t *ret_len);
