/* SPDX-License-Identifier: MIT */
/*
 * Loading the keyring: every configured key resolved on the token, checked
 * and probed once; a key that fails is marked unusable, the others load.
 */
#include "keyring.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
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
	if (ai->fallback_mech != ai->mech)
		return log_error_errno(EOPNOTSUPP, "Key %s: token %s offers neither %s nor %s for "
						   "signing, one is needed for %s", lk->config->name,
				       token_describe(t), token_mechanism_name(ai->mech),
				       token_mechanism_name(ai->fallback_mech), ai->name);
	return log_error_errno(EOPNOTSUPP, "Key %s: token %s offers no %s for signing, needed for %s",
			       lk->config->name, token_describe(t), token_mechanism_name(ai->mech),
			       ai->name);
}

static int choose_verify_mechanism(Token *t, LoadedKey *lk)
{
	const AlgorithmInfo *ai = lk->alg;

	/* HMAC verifies by signing and comparing on the host (keyring_verify). */
	if (ai->symmetric) {
		if (!token_has_mechanism(t, ai->mech))
			return -EOPNOTSUPP;
		lk->verify_mech = ai->mech, lk->verify_host_hash = ai->host_hash;
		return 0;
	}

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

/*
 * Keys that cannot verify still sign; verify requests for them get a clear
 * refusal. HMAC keys need no probe: they verify with CKA_SIGN, which signing
 * already needs, so CKA_VERIFY and the module's C_Verify codes do not matter.
 */
static void load_verifier(Token *t, LoadedKey *lk, TokenObject object)
{
	if (choose_verify_mechanism(t, lk) < 0) {
		log_warning("Key %s: token %s offers no mechanism to verify %s; verify requests "
			    "naming it will fail", lk->config->name, token_describe(t),
			    lk->alg->name);
		return;
	}
	lk->verify_object = object;
	lk->can_verify = true;
}

/* Why a key cannot be used, kept for status, hsmjwtctl list and the refusal; logged once. */
static int key_unusable(LoadedKey *lk, int r, const char *fmt, ...) _printf_(3, 4);
static int key_unusable(LoadedKey *lk, int r, const char *fmt, ...)
{
	char why[KEY_ERROR_MAX];
	va_list ap;

	if (lk->error)
		return r;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	lk->error = strdup(why);
	if (!lk->error)
		return -ENOMEM;
	log_error("Key %s cannot be used: %s", lk->config->name, why);
	return r;
}

static const char *find_error(int r)
{
	switch (r) {
	case -ENOENT:
		return "no object on the token matches its uri";
	case -ENOTUNIQ:
		return "several objects on the token match its uri; add id=";
	case -EINVAL:
		return "its uri is not valid for this token";
	default:
		return strerror(-r);
	}
}

static int load_public(Token *t, LoadedKey *lk, Buf *jwk)
{
	TokenPublicKey pub = {};
	TokenObject object;
	char thumb[JWK_THUMBPRINT_SIZE];
	int r;

	r = token_find_key(t, lk->config->uri, TOKEN_CLASS_PUBLIC_KEY, &object);
	if (r < 0)
		return key_unusable(lk, r, "public key: %s", find_error(r));
	r = token_read_public_key(t, object, lk->alg->key_type, &pub);
	if (r < 0)
		return key_unusable(lk, r, "cannot read its public key (%s)", strerror(-r));
	lk->verify_object = object;
	if (lk->alg->key_type == TOKEN_KEY_RSA) {
		lk->sig_len = pub.n_len;
		if (pub.n_len < RSA_BITS_MIN / 8 || pub.n_len > SIGNATURE_MAX)
			r = key_unusable(lk, -EINVAL, "RSA modulus of %zu bits is outside %u..%u",
					 pub.n_len * 8, RSA_BITS_MIN, RSA_BITS_MAX);
	}
	if (r >= 0 && (r = spki_der(&pub, &lk->spki, &lk->spki_len)) < 0)
		r = key_unusable(lk, r, "cannot encode its public key as DER (%s)", strerror(-r));
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
	if (r >= 0)
		r = jwk_append(jwk, &pub, lk->kid, lk->alg->name);
	token_public_key_done(&pub);
	return r;
}

/*
 * The secret or private object must be at least as strong as the key
 * templates make it (ARCHITECTURE.md, Invariant 1): tpm2_ptool imports HMAC
 * keys with CKA_EXTRACTABLE=TRUE. Such a key is refused unless its section
 * says allow-extractable = yes; then it is loaded, flagged and recorded.
 */
static int check_object(Token *t, LoadedKey *lk, TokenObject object)
{
	TokenKeyFlags f;
	const char *weak;
	int r;

	r = token_key_flags(t, object, &f);
	if (r < 0)
		return key_unusable(lk, r, "cannot read its attributes (%s)", strerror(-r));
	if (lk->alg->symmetric && !f.hmac_type)
		return key_unusable(lk, -EINVAL, "CKA_KEY_TYPE is neither CKK_GENERIC_SECRET nor "
						 "CKK_SHA256_HMAC");
	if (!f.sign)
		return key_unusable(lk, -EPERM, "CKA_SIGN is FALSE");
	weak = token_key_weakness(&f);
	if (weak && !lk->config->allow_extractable)
		return key_unusable(lk, -EPERM, "%s, so the key could leave the token; refused "
						"(allow-extractable = yes in its [key] section "
						"accepts it)", weak);
	if (weak && !lk->weak) {
		lk->weak = true;
		log_warning("Key %s: %s; loaded because of allow-extractable = yes", lk->config->name,
			    weak);
	}
	return 0;
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
		return key_unusable(lk, r, "%s: %s", lk->alg->symmetric ? "secret key" : "private key",
				    find_error(r));
	r = check_object(t, lk, object);
	if (r < 0)
		return r;
	r = choose_mechanism(t, lk);
	if (r < 0)
		return key_unusable(lk, r, "the token offers no mechanism to sign %s (see the log)",
				    lk->alg->name);
	/* SoftHSM signs about 3x faster with a session object; the copy stays sensitive. */
	if (token_copy_to_session(t, object, &copy) >= 0) {
		object = copy;
		lk->is_copy = true;
	} else
		log_notice("Key %s: the token refused a session copy; signing with the token object",
			   lk->config->name);
	lk->object = object;
	lk->can_sign = true;
	/* Probe once now, so a key that cannot sign is reported at load, not by a request. */
	r = keyring_sign(t, token_main_session(t), lk, "probe", 5, sig, &len);
	if (r < 0) {
		lk->can_sign = false;
		return key_unusable(lk, r, "a test signature with %s failed (%s)",
				    token_mechanism_name(lk->mech), strerror(-r));
	}
	return 0;
}

static int load_key(Token *t, const KeyConfig *kc, unsigned flags, LoadedKey *lk, Buf *jwk)
{
	_cleanup_(buf_done) Buf header = {};
	int r;

	if (!lk->alg->symmetric) {
		r = load_public(t, lk, jwk);
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
				return key_unusable(lk, r, "secret key: %s", find_error(r));
			else if ((r = check_object(t, lk, verify_with)) < 0)
				return r;
		}
		load_verifier(t, lk, verify_with);
	}
	r = claims_header(&header, lk->alg->name, lk->kid);
	if (r < 0)
		return key_unusable(lk, r, "kid is not valid UTF-8");
	base64url_append(&lk->header_b64, header.data, header.len);
	buf_append_char(&lk->header_b64, '.');
	return lk->header_b64.error;
}

/* Only a token that is gone, or no memory, fails the whole load; a key's own fault is its own. */
static bool fatal(int r)
{
	return r == -ENOMEM || r == -ENODEV || r == -ENOTCONN;
}

/* A key that cannot be used signs and verifies nothing and is not in the JWKS. */
static void disable(Token *t, LoadedKey *lk)
{
	if (lk->is_copy)
		token_destroy_session_object(t, lk->object);
	lk->is_copy = lk->can_sign = lk->can_verify = false;
	if (!lk->kid)
		lk->kid = strdup(lk->config->kid ? lk->config->kid : "");
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
		LoadedKey *lk = &k->keys[k->n_keys];
		_cleanup_(buf_done) Buf jwk = {};

		if (keys[i].state == KEY_STATE_RETIRED)
			continue;
		k->n_keys++;
		lk->config = &keys[i];
		lk->alg = algorithm_info(keys[i].alg);
		lk->sig_len = lk->alg->sig_len;
		if (keys[i].kid && !(lk->kid = strdup(keys[i].kid))) {
			r = -ENOMEM;
			break;
		}
		r = load_key(t, &keys[i], flags, lk, &jwk);
		if (r >= 0 && (r = jwk.error) >= 0 && jwk.len > 0) {
			if (!first)
				buf_append_char(&jwks, ',');
			first = false;
			buf_append(&jwks, jwk.data, jwk.len);
		}
		if (r < 0 && !fatal(r)) {
			if (!lk->error)
				(void)key_unusable(lk, r, "%s", strerror(-r));
			disable(t, lk);
			k->n_unusable++;
			/* Without its reason or kid the key could not be reported: out of memory. */
			r = lk->error && lk->kid ? 0 : -ENOMEM;
		}
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
