/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

/* DER OIDs for CKA_EC_PARAMS (RFC 5480, RFC 8410). */
static const uint8_t oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const uint8_t oid_p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const uint8_t oid_ed25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
/* Older tokens (SoftHSM 2.6 among them) also name the curve as a PrintableString. */
static const uint8_t name_ed25519[] = { 0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's',
					'2',  '5',  '5', '1', '9' };
