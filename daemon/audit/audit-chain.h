/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * The hash chain of the audit file, shared by hsmjwtd (which extends it) and
 * "hsmjwtctl audit verify" (which checks it). Every record is one line that
 * starts exactly with
 *
 *   {"seq":N,"prev":"<SHA-256 of the previous line, 64 lower-case hex>",
 *
 * where N counts records from 1 and a line is hashed without its newline.
 * The first record of a chain has seq 1 and a prev of 64 zeros.
 */

#define AUDIT_HASH_HEX 65 /* 64 hex digits and NUL */
/*
 * Records are a few hundred bytes, and by construction (AUDIT_VALUE_MAX per
 * string) never near this; the daemon refuses to write a longer one, so a
 * longer line is not one of ours.
 */
#define AUDIT_LINE_MAX (128u * 1024u)

extern const char audit_chain_genesis[AUDIT_HASH_HEX];

/* Hex SHA-256 of p[0..n): JWT fingerprints and line hashes alike. "" if OpenSSL fails. */
void audit_sha256_hex(const void *p, size_t n, char ret_hex[static AUDIT_HASH_HEX]);

/* Reads seq and prev from the start of a record line; -EBADMSG if it is not one. */
int audit_chain_parse(const char *line, size_t n, uint64_t *ret_seq,
		      char ret_prev[static AUDIT_HASH_HEX]);
