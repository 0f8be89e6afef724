/* SPDX-License-Identifier: MIT */
#include "alg.h"

#include <errno.h>
#include <string.h>

#include "cleanup.h"

static const AlgorithmInfo table[_ALG_MAX] = {
	[ALG_HS256] = { "HS256", true, 0, TOKEN_MECH_HMAC_SHA256, HOST_HASH_NONE,
			TOKEN_MECH_HMAC_SHA256, HOST_HASH_NONE, 32 },
	/* SoftHSM has no CKM_ECDSA_SHA256: hash here, sign the digest; r||s is already JWS form. */
	[ALG_ES256] = { "ES256", false, TOKEN_KEY_EC_P256, TOKEN_MECH_ECDSA, HOST_HASH_SHA256,
			TOKEN_MECH_ECDSA, HOST_HASH_SHA256, 64 },
	[ALG_ES384] = { "ES384", false, TOKEN_KEY_EC_P384, TOKEN_MECH_ECDSA, HOST_HASH_SHA384,
			TOKEN_MECH_ECDSA, HOST_HASH_SHA384, 96 },
	/* openCryptoki's soft token: no CKM_SHA256_RSA_PKCS; CKM_RSA_PKCS pads a host DigestInfo. */
	[ALG_RS256] = { "RS256", false, TOKEN_KEY_RSA, TOKEN_MECH_RSA_PKCS_SHA256, HOST_HASH_NONE,
			TOKEN_MECH_RSA_PKCS_RAW, HOST_HASH_SHA256_DIGESTINFO, 0 },
	[ALG_PS256] = { "PS256", false, TOKEN_KEY_RSA, TOKEN_MECH_RSA_PSS_SHA256, HOST_HASH_NONE,
			TOKEN_MECH_RSA_PSS_DIGEST256, HOST_HASH_SHA256, 0 },
	[ALG_EDDSA] = { "EdDSA", false, TOKEN_KEY_ED25519, TOKEN_MECH_EDDSA, HOST_HASH_NONE,
			TOKEN_MECH_EDDSA, HOST_HASH_NONE, 64 },
};

const AlgorithmInfo *algorithm_info(Algorithm a)
{
	return (unsigned)a < _ALG_MAX ? &table[a] : NULL;
}

const char *algorithm_to_string(Algorithm a)
{
	return (unsigned)a < _ALG_MAX ? table[a].name : NULL;
}

int algorithm_from_string(const char *s, Algorithm *ret)
{
	for (size_t i = 0; i < _ALG_MAX; i++)
		if (strcmp(table[i].name, s) == 0) {
			*ret = (Algorithm)i;
			return 0;
		}
	return -EINVAL;
}
