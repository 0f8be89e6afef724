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
		    CK_ATTRIBUTE *priv, CK_ULONG n_priv, CK_RV *ret_rv)
{
	CK_MECHANISM m = { mech, NULL, 0 };
	CK_OBJECT_HANDLE hpub, hpriv;

	*ret_rv = t->module->C_GenerateKeyPair(t->session, &m, pub, n_pub, priv, n_priv, &hpub, &hpriv);
	return *ret_rv == CKR_OK ? 0 : p11_rv_to_errno(*ret_rv);
}

int token_generate_key_pair(Token *t, const char *key_uri, TokenKeyType type, unsigned bits,
			    bool replace)
{
	_cleanup_(p11_kit_uri_freep) P11KitUri *uri = NULL;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG modulus_bits = bits;
	uint8_t exponent[] = { 0x01, 0x00, 0x01 }, random_id[16];
	CK_ATTRIBUTE *attrs, *label, *id;
	CK_OBJECT_HANDLE old[16];
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
	CK_ATTRIBUTE pub[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &no, sizeof(no) },
		{ CKA_VERIFY, &yes, sizeof(yes) },
		{ CKA_ENCRYPT, &no, sizeof(no) },
		{ CKA_WRAP, &no, sizeof(no) },
		label_attr,
		id_attr,
		{ 0, NULL, 0 }, /* curve or modulus size */
		{ 0, NULL, 0 }, /* RSA public exponent */
	};
	/* Every attribute explicit: SoftHSM defaults CKA_SENSITIVE to FALSE. */
	CK_ATTRIBUTE priv[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_SIGN, &yes, sizeof(yes) },
		{ CKA_DECRYPT, &no, sizeof(no) },
		{ CKA_UNWRAP, &no, sizeof(no) },
		{ CKA_DERIVE, &no, sizeof(no) },
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
		r = generate(t, mech, pub, n_pub, priv, ELEMENTSOF(priv), &rv);
		break;
	case TOKEN_KEY_RSA:
		mech = CKM_RSA_PKCS_KEY_PAIR_GEN;
		pub[n_pub++] = (CK_ATTRIBUTE){ CKA_MODULUS_BITS, &modulus_bits, sizeof(modulus_bits) };
		pub[n_pub++] = (CK_ATTRIBUTE){ CKA_PUBLIC_EXPONENT, exponent, sizeof(exponent) };
		r = generate(t, mech, pub, n_pub, priv, ELEMENTSOF(priv), &rv);
		break;
	case TOKEN_KEY_ED25519:
		mech = CKM_EC_EDWARDS_KEY_PAIR_GEN;
		pub[n_pub++] = (CK_ATTRIBUTE){ CKA_EC_PARAMS, (void *)oid_ed25519, sizeof(oid_ed25519) };
		r = generate(t, mech, pub, n_pub, priv, ELEMENTSOF(priv), &rv);
		if (r < 0 && rv != CKR_MECHANISM_INVALID) {
			pub[n_pub - 1] = (CK_ATTRIBUTE){ CKA_EC_PARAMS, (void *)name_ed25519,
							 sizeof(name_ed25519) };
			r = generate(t, mech, pub, n_pub, priv, ELEMENTSOF(priv), &rv);
		}
		break;
	default:
		return -EINVAL;
	}
	if (rv == CKR_MECHANISM_INVALID)
		return log_error_errno(EOPNOTSUPP, "Token %s cannot generate this key type (no %s); "
						   "through p11-kit remote some mechanisms are missing",
				       t->description,
				       type == TOKEN_KEY_ED25519 ? "CKM_EC_EDWARDS_KEY_PAIR_GEN" :
				       type == TOKEN_KEY_RSA ? "CKM_RSA_PKCS_KEY_PAIR_GEN" :
							       "CKM_EC_KEY_PAIR_GEN");
	if (r < 0)
		return fail_rv(rv, "C_GenerateKeyPair");
	return token_destroy_replaced(t, old, n_old);
}
