/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The PKCS#11 token, reached through p11-kit. Everything that needs
 * pkcs11.h stays behind this header: the rest of the code sees opaque
 * handles. No function here reads CKA_VALUE or wraps a key (DESIGN
 * invariant 1): keys are used by handle only.
 */

typedef struct Token Token;
typedef unsigned long TokenObject; /* a CK_OBJECT_HANDLE */

#define TOKEN_HMAC_SHA256_LEN 32

/*
 * Loads module_path (or, when NULL, the modules registered with p11-kit),
 * initialises it for multi-threaded use and selects the one token matching
 * token_uri (RFC 7512). Opens a session, read-write when rw is set.
 */
int token_open(const char *module_path, const char *token_uri, bool rw, Token **ret);
Token *token_close(Token *t);

/* Logs in as the user with the PIN from pin.c's sources; the PIN is wiped at once. */
int token_login(Token *t, const char *pin_file);

/* A label for logs: "hsmjwt (SoftHSM project)". */
const char *token_describe(const Token *t);

/*
 * Finds the one object the PKCS#11 URI key_uri names on this token.
 * -ENOENT when none matches, -ENOTUNIQ when several do, -EINVAL for a URI
 * that is malformed, names another token, or carries a PIN.
 */
int token_find_key(Token *t, const char *key_uri, TokenObject *ret);

/*
 * Copies a key to a session object of this session (CKA_TOKEN=FALSE, still
 * sensitive and non-extractable: the copy never leaves the token either).
 * SoftHSM signs about 3x faster with a session object than a token object.
 */
int token_copy_to_session(Token *t, TokenObject key, TokenObject *ret);

/* HMAC-SHA256 inside the token (CKM_SHA256_HMAC). */
int token_sign_hmac_sha256(Token *t, TokenObject key, const void *data, size_t n,
			   uint8_t ret_mac[static TOKEN_HMAC_SHA256_LEN]);

/*
 * Imports a 32-byte HMAC secret as a token object: CKA_SENSITIVE=TRUE,
 * CKA_EXTRACTABLE=FALSE, CKA_SIGN and CKA_VERIFY set, nothing else allowed.
 * Label and id come from key_uri. With replace, existing objects the URI
 * names are destroyed once the new one exists; without it, -EEXIST.
 */
int token_import_hmac_key(Token *t, const char *key_uri, const uint8_t secret[static 32],
			  bool replace);
