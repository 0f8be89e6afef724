/* SPDX-License-Identifier: MIT */
#include "jwk.h"

#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

#include "base64url.h"
#include "cleanup.h"
#include "json.h"

static const char *curve_name(TokenKeyType t)
{
	switch (t) {
	case TOKEN_KEY_EC_P256:
		return "P-256";
	case TOKEN_KEY_EC_P384:
		return "P-384";
	case TOKEN_KEY_ED25519:
		return "Ed25519";
	default:
		return NULL;
	}
}

static void member_b64(Buf *b, const char *name, const uint8_t *p, size_t n, bool first)
{
	if (!first)
		buf_append_char(b, ',');
	buf_append_char(b, '"');
	buf_append_str(b, name);
	buf_append_str(b, "\":\"");
	base64url_append(b, p, n);
	buf_append_char(b, '"');
}

static void member_str(Buf *b, const char *name, const char *v, bool first)
{
	if (!first)
		buf_append_char(b, ',');
	buf_append_char(b, '"');
	buf_append_str(b, name);
	buf_append_str(b, "\":");
	if (json_append_string(b, v, strlen(v)) < 0 && !b->error)
		b->error = -EILSEQ; /* a kid that is not UTF-8 spoils the whole document */
}

/* The required members, already in RFC 7638's lexicographic order. */
static int append_required(Buf *b, const TokenPublicKey *k)
{
	switch (k->type) {
	case TOKEN_KEY_EC_P256:
	case TOKEN_KEY_EC_P384:
		member_str(b, "crv", curve_name(k->type), true);
		member_str(b, "kty", "EC", false);
		member_b64(b, "x", k->x, k->x_len, false);
		member_b64(b, "y", k->y, k->y_len, false);
		break;
	case TOKEN_KEY_RSA:
		member_b64(b, "e", k->e, k->e_len, true);
		member_str(b, "kty", "RSA", false);
		member_b64(b, "n", k->n, k->n_len, false);
		break;
	case TOKEN_KEY_ED25519:
		member_str(b, "crv", "Ed25519", true);
		member_str(b, "kty", "OKP", false);
		member_b64(b, "x", k->x, k->x_len, false);
		break;
	default:
		return -EINVAL;
	}
	return b->error;
}

int jwk_thumbprint(const TokenPublicKey *k, char ret[static JWK_THUMBPRINT_SIZE])
{
	_cleanup_(buf_done) Buf json = {}, out = {};
	unsigned char md[32];
	unsigned int len = 0;
	int r;

	buf_append_char(&json, '{');
	r = append_required(&json, k);
	if (r < 0)
		return r;
	buf_append_char(&json, '}');
	if (json.error)
		return json.error;
	if (!EVP_Digest(json.data, json.len, md, &len, EVP_sha256(), NULL))
		return -EIO;
	base64url_append(&out, md, len);
	if (out.error || out.len + 1 > JWK_THUMBPRINT_SIZE)
		return -ENOMEM;
	memcpy(ret, out.data, out.len);
	ret[out.len] = '\0';
	return 0;
}

int jwk_append(Buf *b, const TokenPublicKey *k, const char *kid, const char *alg)
{
	int r;

	buf_append_char(b, '{');
	r = append_required(b, k);
	if (r < 0)
		return r;
	member_str(b, "kid", kid, false);
	member_str(b, "alg", alg, false);
	member_str(b, "use", "sig", false);
	buf_append_char(b, '}');
	return b->error;
}
