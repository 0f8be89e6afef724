/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One P-256 key pair per process: it survives C_Finalize, as a token's keys do. */
int mock_crypto_init(void);
/* The public point, uncompressed: 0x04 || X || Y. */
int mock_ec_point(uint8_t point[static 65]);
void mock_hmac_sha256(const uint8_t key[static 32], const void *data, size_t n,
		      uint8_t mac[static 32]);
bool mock_hmac_verify(const uint8_t key[static 32], const void *data, size_t n,
		      const uint8_t *mac, size_t mac_len);
/* CKM_ECDSA: digest in, raw r || s out. */
int mock_ecdsa_sign(const void *digest, size_t n, uint8_t sig[static 64]);
bool mock_ecdsa_verify(const void *digest, size_t n, const uint8_t *sig, size_t sig_len);
