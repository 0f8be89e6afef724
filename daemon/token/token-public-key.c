/* SPDX-License-Identifier: MIT */
/* Reading a public key out of the token: the daemon publishes it, the admin tool prints it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "curve-oids.h"
#include "token-internal.h"

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
