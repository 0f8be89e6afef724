/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "token-internal.h"

/* DER OIDs for CKA_EC_PARAMS (RFC 5480, RFC 8410). */
static const uint8_t oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const uint8_t oid_p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const uint8_t oid_ed25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
/* Older tokens (SoftHSM 2.6 among them) also name the curve as a PrintableString. */
static const uint8_t name_ed25519[] = { 0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's',
					'2',  '5',  '5', '1', '9' };

static size_t field_size(TokenKeyType type)
{
	return type == TOKEN_KEY_EC_P256 ? 32 : type == TOKEN_KEY_EC_P384 ? 48 : 32;
}

void token_public_key_done(TokenPublicKey *k)
{
	free(k->x);
	free(k->y);
	free(k->n);
	free(k->e);
	*k = (TokenPublicKey){};
}

static int get_attribute(Token *t, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, uint8_t **ret,
			 size_t *ret_len)
{
	CK_ATTRIBUTE a = { type, NULL, 0 };
	_cleanup_free_ uint8_t *buf = NULL;
	CK_RV rv;

	rv = t->module->C_GetAttributeValue(t->session, o, &a, 1);
	if (rv != CKR_OK)
		return fail_rv(rv, "C_GetAttributeValue");
	if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > 4096)
		return log_error_errno(EINVAL, "Token returned an unusable attribute length");
	buf = malloc(a.ulValueLen + 1);
	if (!buf)
		return -ENOMEM;
	a.pValue = buf;
	rv = t->module->C_GetAttributeValue(t->session, o, &a, 1);
	if (rv != CKR_OK)
		return fail_rv(rv, "C_GetAttributeValue");
	*ret = TAKE_PTR(buf);
	*ret_len = a.ulValueLen;
	return 0;
}

/* Unwraps a DER OCTET STRING if p holds exactly one; tokens differ in whether they wrap. */
static int unwrap_octet_string(const uint8_t *p, size_t n, size_t want, const uint8_t **ret,
			       size_t *ret_len)
{
	size_t len, hdr = 2;

	if (n == want) {
		*ret = p, *ret_len = n;
		return 0;
	}
	if (n < 2 || p[0] != 0x04)
		return -EBADMSG;
	len = p[1];
	if (len == 0x81 && n >= 3)
		len = p[2], hdr = 3;
	else if (len & 0x80)
		return -EBADMSG;
	if (hdr + len != n || len != want)
		return -EBADMSG;
	*ret = p + hdr, *ret_len = len;
	return 0;
}

static int dup_bytes(const uint8_t *p, size_t n, uint8_t **ret, size_t *ret_len)
{
	/* Integers in JWK carry no leading zero octets (RFC 7518 section 6.3.1). */
	while (n > 1 && *p == 0)
		p++, n--;
	*ret = malloc(n);
	if (!*ret)
		return -ENOMEM;
	memcpy(*ret, p, n);
	*ret_len = n;
	return 0;
}

static bool curve_matches(const uint8_t *params, size_t n, TokenKeyType type)
{
	switch (type) {
	case TOKEN_KEY_EC_P256:
		return n == sizeof(oid_p256) && memcmp(params, oid_p256, n) == 0;
	case TOKEN_KEY_EC_P384:
		return n == sizeof(oid_p384) && memcmp(params, oid_p384, n) == 0;
	case TOKEN_KEY_ED25519:
		return (n == sizeof(oid_ed25519) && memcmp(params, oid_ed25519, n) == 0) ||
		       (n == sizeof(name_ed25519) && memcmp(params, name_ed25519, n) == 0);
	default:
		return false;
	}
}

static int read_ec(Token *t, CK_OBJECT_HANDLE o, TokenKeyType type, TokenPublicKey *k)
{
	_cleanup_free_ uint8_t *params = NULL, *point = NULL;
	size_t params_len, point_len, fs = field_size(type), raw_len;
	const uint8_t *raw;
	int r;

	r = get_attribute(t, o, CKA_EC_PARAMS, &params, &params_len);
	if (r < 0)
		return r;
	if (!curve_matches(params, params_len, type))
		return log_error_errno(EINVAL, "The public key is on another curve than the configured alg");
	r = get_attribute(t, o, CKA_EC_POINT, &point, &point_len);
	if (r < 0)
		return r;
	if (type == TOKEN_KEY_ED25519) {
		if (unwrap_octet_string(point, point_len, 32, &raw, &raw_len) < 0)
			return log_error_errno(EBADMSG, "Malformed Ed25519 CKA_EC_POINT");
		k->x = malloc(32);
		if (!k->x)
			return -ENOMEM;
		memcpy(k->x, raw, 32);
		k->x_len = 32;
		return 0;
	}
	/* Uncompressed point: 0x04 || X || Y, each coordinate exactly the field size. */
	if (unwrap_octet_string(point, point_len, 1 + 2 * fs, &raw, &raw_len) < 0 || raw[0] != 0x04)
		return log_error_errno(EBADMSG, "Malformed EC CKA_EC_POINT");
	k->x = malloc(fs);
	k->y = malloc(fs);
	if (!k->x || !k->y)
		return -ENOMEM;
	memcpy(k->x, raw + 1, fs);
	memcpy(k->y, raw + 1 + fs, fs);
	k->x_len = k->y_len = fs;
	return 0;
}

int token_read_public_key(Token *t, TokenObject pub, TokenKeyType expected, TokenPublicKey *ret)
{
	TokenPublicKey k = { .type = expected };
	_cleanup_free_ uint8_t *n = NULL, *e = NULL;
	size_t n_len, e_len;
	int r;

	if (expected == TOKEN_KEY_RSA) {
		r = get_attribute(t, pub, CKA_MODULUS, &n, &n_len);
		if (r >= 0)
			r = get_attribute(t, pub, CKA_PUBLIC_EXPONENT, &e, &e_len);
		if (r >= 0)
			r = dup_bytes(n, n_len, &k.n, &k.n_len);
		if (r >= 0)
			r = dup_bytes(e, e_len, &k.e, &k.e_len);
	} else {
		r = read_ec(t, pub, expected, &k);
	}
	if (r < 0) {
		token_public_key_done(&k);
		return r;
	}
	*ret = k;
	return 0;
}

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
