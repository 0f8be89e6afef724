/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "token.h"

/* JWS algorithms (RFC 7518, RFC 8037) and how each one is done with PKCS#11. */
typedef enum Algorithm {
	ALG_HS256,
	ALG_ES256,
	ALG_ES384,
	ALG_RS256,
	ALG_PS256,
	ALG_EDDSA,
	_ALG_MAX,
} Algorithm;

typedef enum HostHash {
	HOST_HASH_NONE,
	HOST_HASH_SHA256,
	HOST_HASH_SHA384,
	HOST_HASH_SHA256_DIGESTINFO, /* SHA-256, then wrapped in its DER DigestInfo (PKCS#1 v1.5) */
} HostHash;

typedef struct AlgorithmInfo {
	const char *name; /* the JWS "alg" */
	bool symmetric;
	TokenKeyType key_type; /* asymmetric only */
	TokenMechanism mech;
	HostHash host_hash; /* hash the signing input on the host first */
	/*
	 * Used when the token lacks mech: p11-kit remote drops CKM_SHA256_RSA_PKCS_PSS,
	 * openCryptoki's soft token has no CKM_SHA256_RSA_PKCS.
	 */
	TokenMechanism fallback_mech;
	HostHash fallback_host_hash;
	size_t sig_len; /* exact JWS signature length; 0: the RSA modulus length */
} AlgorithmInfo;

const AlgorithmInfo *algorithm_info(Algorithm a);
const char *algorithm_to_string(Algorithm a);
/* -EINVAL for an unknown name; "none" is never an algorithm here. */
int algorithm_from_string(const char *s, Algorithm *ret);
