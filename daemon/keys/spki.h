/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "jwk.h"
#include "token.h"

/*
 * A public half as DER SubjectPublicKeyInfo (RFC 5280), the form
 * kube-apiserver's external signer API hands out. *ret is malloc'd.
 */
int spki_der(const TokenPublicKey *k, uint8_t **ret, size_t *ret_len);

/* Kubernetes' own kid: base64url(SHA-256(DER SPKI)), unpadded. */
int spki_kid(const uint8_t *der, size_t n, char ret[static JWK_THUMBPRINT_SIZE]);
