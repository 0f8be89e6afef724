/* SPDX-License-Identifier: MIT */
/* Key-pair generation: hsmjwtctl only, never linked into hsmjwtd. */
#include <errno.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "curve-oids.h"
#include "token-internal.h"

static int generate(Token *t, CK_MECHANISM_TYPE mech, CK_ATTRIBUTE *pub, CK_ULONG n_pub,
		    CK_ATTRIBUTE *priv, CK_ULONG n_priv, CK_RV *ret_rv, CK_OBJECT_HANDLE ret[2])
{
	CK_MECHANISM m = { mech, NULL, 0 };

	*ret_rv = t->module->C_GenerateKeyPair(t->session, &m, pub, n_pub, priv, n_priv, &ret[0],
					       &ret[1]);
	return *ret_rv == CKR_OK ? 0 : p11_rv_to_errno(*ret_rv);
}

/* The private half as the module made it: not weaker than asked, or it goes again. */
static int check_created(Token *t, const char *key_uri, CK_OBJECT_HANDLE created[2])
{
	TokenKeyFlags f;
	const char *weak;
	int r;

	r = token_key_flags(t, created[1], &f);
	weak = r < 0 ? "its attributes cannot be read" : !f.sign ? "CKA_SIGN is FALSE" :
							   token_key_weakness(&f);
	if (!weak)
		return 0;
	(void)t->module->C_DestroyObject(t->session, created[1]);
	(void)t->module->C_DestroyObject(t->session, created[0]);
	return log_error_errno(EPERM, "Token %s (module %s) made the private key of %s weaker than "
				      "asked: %s; destroyed it", t->description,
			       t->module_description, key_uri, weak);
}

int token_generate_key_pair(Token *t, const char *key_uri, TokenKeyType type, unsigned bits,
			    bool replace)
{
	_cleanup_(p11_kit_uri_freep) P11KitUri *uri = NULL;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG modulus_bits = bits;
	uint8_t exponent[] = { 0x01, 0x00, 0x01 }, random_id[16];
	CK_ATTRIBUTE *attrs, *label, *id;
	CK_OBJECT_HANDLE old[16], created[2];
	CK_ULONG n, n_old = 0;
	CK_MECHANISM_TYPE mech;
	CK_RV rv = CKR_OK;
	int r;

	r = token_new_key_uri(t, key_uri, &uri, &attrs, &n, &label, &id);
	if (r < 0)
		return r;
	if (p11_kit_uri_get_attribute(uri, CKA_CLASS))
		return log_error_errno(EINVAL, "Key URI %s names a type=; a key pair needs URIs "
					       "that match both halves", key_uri);
	r = token_find_replaced(t, key_uri, attrs, n, replace, old, ELEMENTSOF(old), &n_old);
	if (r < 0)
		return r;
	if (!id && RAND_bytes(random_id, sizeof(random_id)) != 1)
		return log_error_errno(EIO, "Cannot draw a random CKA_ID");

	CK_ATTRIBUTE label_attr = { CKA_LABEL, label->pValue, label->ulValueLen };
	CK_ATTRIBUTE id_attr = { CKA_ID, id ? id->pValue : random_id,
				 id ? id->ulValueLen : sizeof(random_id) };
	/*
	 * Only what matters, then read back (check_created): tpm2-pkcs11 refuses a
	 * template that says CKA_ENCRYPT=FALSE or CKA_DECRYPT=FALSE (it ties VERIFY
	 * to encrypt and SIGN to decrypt: CKR_GENERAL_ERROR, "attr mismatch").
	 */
	CK_ATTRIBUTE pub[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &no, sizeof(no) },
		{ CKA_VERIFY, &yes, sizeof(yes) },
		label_attr,
		id_attr,
		{ 0, NULL, 0 }, /* curve or modulus size */
		{ 0, NULL, 0 }, /* RSA public exponent */
	};
	/* Sensitivity explicit: SoftHSM defaults CKA_SENSITIVE to FALSE. */
	CK_ATTRIBUTE priv[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_SIGN, &yes, sizeof(yes) },
		label_attr,
		id_attr,
	};
	CK_ULONG n_pub = ELEMENTSOF(pub) - 2;

	switch (type) {
	case TOKEN_KEY_EC_P256:
	case TOKEN_KEY_EC_P384:
		mech = CKM_EC_KEY_PAIR_GEN;
		pub[n_pub++] = (CK_ATTRIBUTE){ CKA_EC_PARAMS,
					       (void *)(type == TOKEN_KEY_EC_P256 ? oid_p256 : oid_p384),
					       type == TOKEN_KEY_EC_P256 ? sizeof(oid_p256)
									 : sizeof(oid_p384) };
		r = generate(t, mech, pub, n_pub, priv, ELEMENTSOF(priv), &rv, created);
		break;
	case TOKEN_KEY_RSA:
		mech = CKM_RSA_PKCS_KEY_PAIR_GEN;
		pub[n_pub++] = (CK_ATTRIBUTE){ CKA_MODULUS_BITS, &modulus_bits, sizeof(modulus_bits) };
		pub[n_pub++] = (CK_ATTRIBUTE){ CKA_PUBLIC_EXPONENT, exponent, sizeof(exponent) };
		r = generate(t, mech, pub, n_pub, priv, ELEMENTSOF(priv), &rv, created);
		break;
	case TOKEN_KEY_ED25519:
		mech = CKM_EC_EDWARDS_KEY_PAIR_GEN;
		pub[n_pub++] = (CK_ATTRIBUTE){ CKA_EC_PARAMS, (void *)oid_ed25519, sizeof(oid_ed25519) };
		r = generate(t, mech, pub, n_pub, priv, ELEMENTSOF(priv), &rv, created);
		if (r < 0 && rv != CKR_MECHANISM_INVALID) {
			pub[n_pub - 1] = (CK_ATTRIBUTE){ CKA_EC_PARAMS, (void *)name_ed25519,
							 sizeof(name_ed25519) };
			r = generate(t, mech, pub, n_pub, priv, ELEMENTSOF(priv), &rv, created);
		}
		break;
	default:
		return -EINVAL;
	}
	if (rv == CKR_MECHANISM_INVALID)
		return log_error_errno(EOPNOTSUPP, "Token %s (module %s) cannot generate this key type: "
						   "it offers no %s", t->description,
				       t->module_description,
				       type == TOKEN_KEY_ED25519 ? "CKM_EC_EDWARDS_KEY_PAIR_GEN" :
				       type == TOKEN_KEY_RSA ? "CKM_RSA_PKCS_KEY_PAIR_GEN" :
							       "CKM_EC_KEY_PAIR_GEN");
	if (r < 0)
		return log_error_errno(p11_rv_to_errno(rv), "C_GenerateKeyPair (%s) on token %s "
						   "(module %s) failed: %s (%s)",
				       mech == CKM_EC_KEY_PAIR_GEN ? "CKM_EC_KEY_PAIR_GEN" :
				       mech == CKM_RSA_PKCS_KEY_PAIR_GEN ? "CKM_RSA_PKCS_KEY_PAIR_GEN" :
									   "CKM_EC_EDWARDS_KEY_PAIR_GEN",
				       t->description, t->module_description, p11_rv_name(rv),
				       p11_kit_strerror(rv));
	r = check_created(t, key_uri, created);
	if (r < 0)
		return r;
	return token_destroy_replaced(t, old, n_old);
}
