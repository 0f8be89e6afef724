/* SPDX-License-Identifier: MIT */
#include "keyring.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "base64url.h"
#include "claims.h"
#include "cleanup.h"
#include "jwk.h"
#include "spki.h"
#include "log.h"

static int choose_mechanism(Token *t, LoadedKey *lk)
{
	const AlgorithmInfo *ai = lk->alg;

	if (token_has_mechanism(t, ai->mech)) {
		lk->mech = ai->mech, lk->host_hash = ai->host_hash;
		return 0;
	}
	if (ai->fallback_mech != ai->mech && token_has_mechanism(t, ai->fallback_mech)) {
		lk->mech = ai->fallback_mech, lk->host_hash = ai->fallback_host_hash;
		log_notice("Key %s: token lacks %s, using %s with the hash made on the host",
			   lk->config->name, token_mechanism_name(ai->mech),
			   token_mechanism_name(ai->fallback_mech));
		return 0;
	}
	return log_error_errno(EOPNOTSUPP, "Key %s: the token offers no %s, needed for %s",
			       lk->config->name, token_mechanism_name(ai->mech), ai->name);
}

static int choose_verify_mechanism(Token *t, LoadedKey *lk)
{
	const AlgorithmInfo *ai = lk->alg;

	if (token_has_verify_mechanism(t, ai->mech)) {
		lk->verify_mech = ai->mech, lk->verify_host_hash = ai->host_hash;
		return 0;
	}
	if (ai->fallback_mech != ai->mech && token_has_verify_mechanism(t, ai->fallback_mech)) {
		lk->verify_mech = ai->fallback_mech, lk->verify_host_hash = ai->fallback_host_hash;
		return 0;
	}
	return -EOPNOTSUPP;
}

/* Keys that cannot verify still sign; verify requests for them get a clear refusal. */
static void load_verifier(Token *t, LoadedKey *lk, TokenObject object)
{
	static const uint8_t zero[SIGNATURE_MAX];
	int r;

	if (choose_verify_mechanism(t, lk) < 0) {
		log_warning("Key %s: the token offers no mechanism to verify %s; verify requests "
			    "naming it will fail", lk->config->name, lk->alg->name);
		return;
	}
	lk->verify_object = object;
	lk->can_verify = true;
	if (!lk->alg->symmetric)
		return;
	/* An HMAC key imported before CKA_VERIFY was set cannot verify: find out now. */
	r = keyring_verify(t, token_main_session(t), lk, "probe", 5, zero, lk->sig_len);
	if (r == -EBADMSG)
		return;
	lk->can_verify = false;
	log_warning("Key %s cannot verify (%s); run: hsmjwtctl enable-verify %s", lk->config->name,
		    r == -EPERM ? "CKA_VERIFY is FALSE" : strerror(-r), lk->config->name);
}

static int load_public(Token *t, LoadedKey *lk, Buf *jwks, bool *first)
{
	TokenPublicKey pub = {};
	TokenObject object;
	char thumb[JWK_THUMBPRINT_SIZE];
	int r;

	r = token_find_key(t, lk->config->uri, TOKEN_CLASS_PUBLIC_KEY, &object);
	if (r < 0)
		return r;
	r = token_read_public_key(t, object, lk->alg->key_type, &pub);
	if (r < 0)
		return log_error_errno(r, "Key %s: cannot read its public half", lk->config->name);
	lk->verify_object = object;
	if (lk->alg->key_type == TOKEN_KEY_RSA) {
		lk->sig_len = pub.n_len;
		if (pub.n_len < RSA_BITS_MIN / 8 || pub.n_len > SIGNATURE_MAX)
			r = log_error_errno(EINVAL, "Key %s: RSA modulus of %zu bits is outside %u..%u",
					    lk->config->name, pub.n_len * 8, RSA_BITS_MIN, RSA_BITS_MAX);
	}
	if (r >= 0)
		r = spki_der(&pub, &lk->spki, &lk->spki_len);
	if (r >= 0 && !lk->kid && lk->config->kid_format == KID_FORMAT_SPKI_SHA256) {
		r = spki_kid(lk->spki, lk->spki_len, thumb);
		if (r >= 0 && !(lk->kid = strdup(thumb)))
			r = -ENOMEM;
	}
	if (r >= 0 && !lk->kid) {
		r = jwk_thumbprint(&pub, thumb);
		if (r >= 0 && !(lk->kid = strdup(thumb)))
			r = -ENOMEM;
	}
	if (r >= 0) {
		if (!*first)
			buf_append_char(jwks, ',');
		*first = false;
		r = jwk_append(jwks, &pub, lk->kid, lk->alg->name);
	}
	token_public_key_done(&pub);
	return r;
}

static int load_signer(Token *t, LoadedKey *lk)
{
	uint8_t sig[SIGNATURE_MAX];
	TokenObject object, copy;
	size_t len;
	int r;

	r = token_find_key(t, lk->config->uri,
			   lk->alg->symmetric ? TOKEN_CLASS_SECRET_KEY : TOKEN_CLASS_PRIVATE_KEY, &object);
	if (r < 0)
		return r;
	r = choose_mechanism(t, lk);
	if (r < 0)
		return r;
	/* SoftHSM signs about 3x faster with a session object; the copy stays sensitive. */
	if (token_copy_to_session(t, object, &copy) >= 0) {
		object = copy;
		lk->is_copy = true;
	} else
		log_notice("Key %s: the token refused a session copy; signing with the token object",
			   lk->config->name);
	lk->object = object;
	lk->can_sign = true;
	/* Probe once now, so a key that cannot sign fails the start, not a request. */
	r = keyring_sign(t, token_main_session(t), lk, "probe", 5, sig, &len);
	if (r < 0)
		return log_error_errno(r, "Key %s (%s) cannot sign %s", lk->config->name,
				       lk->config->uri, lk->alg->name);
	return 0;
}

static int load_key(Token *t, const KeyConfig *kc, unsigned flags, LoadedKey *lk, Buf *jwks,
		    bool *first)
{
	_cleanup_(buf_done) Buf header = {};
	int r;

	lk->config = kc;
	lk->alg = algorithm_info(kc->alg);
	lk->sig_len = lk->alg->sig_len;
	if (kc->kid && !(lk->kid = strdup(kc->kid)))
		return -ENOMEM;
	if (!lk->alg->symmetric) {
		r = load_public(t, lk, jwks, first);
		if (r < 0)
			return r;
	}
	if ((flags & KEYRING_SIGN) && kc->state == KEY_STATE_ACTIVE) {
		r = load_signer(t, lk);
		if (r < 0)
			return r;
	}
	if (flags & KEYRING_SIGN) {
		TokenObject verify_with = lk->verify_object;

		if (lk->alg->symmetric) {
			if (lk->can_sign)
				verify_with = lk->object; /* the session copy: faster on SoftHSM */
			else if ((r = token_find_key(t, kc->uri, TOKEN_CLASS_SECRET_KEY, &verify_with)) < 0)
				return r;
		}
		load_verifier(t, lk, verify_with);
	}
	r = claims_header(&header, lk->alg->name, lk->kid);
	if (r < 0)
		return log_error_errno(r, "Key %s: kid is not valid UTF-8", kc->name);
	base64url_append(&lk->header_b64, header.data, header.len);
	buf_append_char(&lk->header_b64, '.');
	return lk->header_b64.error;
}

int keyring_load(Token *t, const KeyConfig *keys, size_t n_keys, unsigned flags, Keyring **ret)
{
	_cleanup_(buf_done) Buf jwks = {};
	Keyring *k;
	bool first = true;
	int r = 0;

	k = calloc(1, sizeof(*k));
	if (!k || !(k->keys = calloc(n_keys, sizeof(*k->keys)))) {
		free(k);
		return -ENOMEM;
	}
	buf_append_str(&jwks, "{\"keys\":[");
	for (size_t i = 0; i < n_keys && r >= 0; i++) {
		if (keys[i].state == KEY_STATE_RETIRED)
			continue;
		r = load_key(t, &keys[i], flags, &k->keys[k->n_keys++], &jwks, &first);
	}
	buf_append_str(&jwks, "]}");
	if (r >= 0 && (r = jwks.error) >= 0 && !(k->jwks = strdup(buf_cstr(&jwks))))
		r = -ENOMEM;
	if (r < 0) {
		keyring_release_objects(t, k);
		keyring_free(k);
		return r;
	}
	*ret = k;
	return 0;
}

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

static int host_hash(HostHash h, const void **input, size_t *n, uint8_t digest[static EVP_MAX_MD_SIZE])
{
	unsigned int len = 0;

	if (h == HOST_HASH_NONE)
		return 0;
	if (!EVP_Digest(*input, *n, digest, &len, h == HOST_HASH_SHA384 ? EVP_sha384() : EVP_sha256(),
			NULL))
		return -EIO;
	*input = digest, *n = len;
	return 0;
}

int keyring_verify(Token *t, TokenSession session, const LoadedKey *key, const void *input,
		   size_t n, const uint8_t *sig, size_t sig_len)
{
	uint8_t digest[EVP_MAX_MD_SIZE];
	int r;

	if (!key->can_verify)
		return -EOPNOTSUPP;
	/* A JWS signature of the wrong length is simply invalid; the token need not see it. */
	if (sig_len != key->sig_len)
		return -EBADMSG;
	r = host_hash(key->verify_host_hash, &input, &n, digest);
	if (r < 0)
		return r;
	return token_verify(t, session, key->verify_object, key->verify_mech, input, n, sig, sig_len);
}

int keyring_sign(Token *t, TokenSession session, const LoadedKey *key, const void *input,
		 size_t n, uint8_t sig[static SIGNATURE_MAX], size_t *ret_len)
{
	uint8_t digest[EVP_MAX_MD_SIZE];
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
