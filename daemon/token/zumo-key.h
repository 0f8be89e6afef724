/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Derives the zumo signing key: SHA-256(UTF-8(master) || "JWTSig"). hsmjwtctl only. */
int zumo_derive_signing_key(const char *master, size_t n, uint8_t ret_key[static 32]);
