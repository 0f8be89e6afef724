/* SPDX-License-Identifier: MIT */
#pragma once

#include "buf.h"
#include "token.h"

/* base64url of a SHA-256: 43 characters and a NUL. */
#define JWK_THUMBPRINT_SIZE 44

/* RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order. */
int jwk_thumbprint(const TokenPublicKey *k, char ret[static JWK_THUMBPRINT_SIZE]);

/* Appends {"kty":...,key members...,"kid":kid,"alg":alg,"use":"sig"} (RFC 7517/7518, OKP per RFC 8037). */
int jwk_append(Buf *b, const TokenPublicKey *k, const char *kid, const char *alg);
