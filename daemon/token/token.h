/* SPDX-License-Identifier: MIT */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The PKCS#11 token, reached through p11-kit. Everything that needs
 * pkcs11.h stays behind this header: the rest of the code sees opaque
 * handles. No function here reads CKA_VALUE or wraps a key (ARCHITECTURE.md,
 * Invariant 1): keys are used by handle only.
 */

typedef struct Token Token;
typedef unsigned long TokenObject;  /* a CK_OBJECT_HANDLE */
typedef unsigned long TokenSession; /* a CK_SESSION_HANDLE */

#define TOKEN_HMAC_SHA256_LEN 32

/*
 * Loads module, initialises it for multi-threaded use and selects the one
 * token matching token_uri (RFC 7512). Opens a session, read-write when rw
 * is set. module is a path (loaded directly; init_args, if any, go to
 * C_Initialize as pReserved: NSS softokn needs its configdir there), or the
 * name of a module registered with p11-kit (only that one is initialised,
 * with the module file's x-init-reserved), or NULL: every registered module
 * is initialised and searched.
 */
int token_open(const char *module, const char *init_args, const char *token_uri, bool rw,
	       Token **ret);
Token *token_close(Token *t);
static inline void token_closep(Token **t)
{
	token_close(*t);
}

/* Logs in as the user with the PIN from pin.c's sources; the PIN is wiped at once. */
int token_login(Token *t, const char *pin_file);

/* A label for logs: "hsmjwt (SoftHSM project)". */
const char *token_describe(const Token *t);
/* The module holding the token, from C_GetInfo: "Implementation of PKCS11 (SoftHSM)". */
const char *token_module_describe(const Token *t);

typedef enum TokenObjectClass {
	TOKEN_CLASS_SECRET_KEY,
	TOKEN_CLASS_PRIVATE_KEY,
	TOKEN_CLASS_PUBLIC_KEY,
} TokenObjectClass;

/* What a key pair is, for generation and for reading public halves. */
typedef enum TokenKeyType {
	TOKEN_KEY_EC_P256,
	TOKEN_KEY_EC_P384,
	TOKEN_KEY_RSA,
	TOKEN_KEY_ED25519,
} TokenKeyType;

/* Signing mechanisms, named so no other file needs pkcs11.h. */
typedef enum TokenMechanism {
	TOKEN_MECH_HMAC_SHA256,	     /* CKM_SHA256_HMAC */
	TOKEN_MECH_ECDSA,	     /* CKM_ECDSA on a digest made on the host */
	TOKEN_MECH_RSA_PKCS_SHA256,  /* CKM_SHA256_RSA_PKCS */
	TOKEN_MECH_RSA_PSS_SHA256,   /* CKM_SHA256_RSA_PKCS_PSS, salt 32 */
	TOKEN_MECH_RSA_PSS_DIGEST256, /* CKM_RSA_PKCS_PSS on a host SHA-256 digest, salt 32 */
	TOKEN_MECH_RSA_PKCS_RAW,     /* CKM_RSA_PKCS on a host-built SHA-256 DigestInfo */
	TOKEN_MECH_EDDSA,	     /* CKM_EDDSA, pure Ed25519 */
	_TOKEN_MECH_MAX,
} TokenMechanism;

/* Public halves as JWK needs them; byte strings big-endian without sign padding. */
typedef struct TokenPublicKey {
	TokenKeyType type;
	uint8_t *x, *y; /* EC: coordinates; Ed25519: x only (the point) */
	size_t x_len, y_len;
	uint8_t *n, *e; /* RSA */
	size_t n_len, e_len;
} TokenPublicKey;

void token_public_key_done(TokenPublicKey *k);

/*
 * Finds the one object of class cls the PKCS#11 URI key_uri names on this
 * token. -ENOENT when none matches, -ENOTUNIQ when several do, -EINVAL for a
 * URI that is malformed, names another token or class, or carries a PIN.
 */
int token_find_key(Token *t, const char *key_uri, TokenObjectClass cls, TokenObject *ret);

/* Whether the token offers mech for signing; mechanisms vanish behind p11-kit remote. */
bool token_has_mechanism(Token *t, TokenMechanism mech);
/* The same, for verifying. */
bool token_has_verify_mechanism(Token *t, TokenMechanism mech);
const char *token_mechanism_name(TokenMechanism mech);

/*
 * The session opened with the token, used for finding, copying and managing
 * objects; signing threads open their own (a session runs one operation at
 * a time). Session objects are visible from every session of the process.
 */
TokenSession token_main_session(const Token *t);
int token_session_open(Token *t, TokenSession *ret);
void token_session_close(Token *t, TokenSession s);

/*
 * Signs data with key inside the token, on session. *inout_len is the room
 * in sig on entry and the signature's length on return.
 */
int token_sign(Token *t, TokenSession session, TokenObject key, TokenMechanism mech,
	       const void *data, size_t n, uint8_t *sig, size_t *inout_len);

/*
 * Verifies sig over data inside the token (C_VerifyInit/C_Verify): 0 when it
 * verifies, -EBADMSG when it does not, -EPERM when the key may not verify
 * (CKA_VERIFY is FALSE), a device-failure -errno (token_error_is_device_failure)
 * only for the return values that say the token or session is gone. Any other
 * error of C_Verify is logged and read as "does not verify": modules answer a
 * bad signature with codes of their own (NSS: CKR_DEVICE_ERROR), and a forged
 * JWT must never make the daemon reopen the token. HMAC keys are not verified
 * here at all (keyring_verify signs and compares on the host).
 */
int token_verify(Token *t, TokenSession session, TokenObject key, TokenMechanism mech,
		 const void *data, size_t n, const uint8_t *sig, size_t sig_len);


/* Sets CKA_VERIFY=TRUE on the secret key key_uri names (keys imported by older versions). */
int token_enable_verify(Token *t, const char *key_uri);

/*
 * Generates a key pair as token objects labelled (and id'ed) from key_uri:
 * the private half CKA_SENSITIVE=TRUE, CKA_EXTRACTABLE=FALSE, CKA_SIGN only;
 * both halves share one CKA_ID (the URI's id=, else 16 random bytes).
 * bits matters for RSA only. Without replace, -EEXIST if the URI names any
 * object already.
 */
int token_generate_key_pair(Token *t, const char *key_uri, TokenKeyType type, unsigned bits,
			    bool replace);

/* Reads a public key object's attributes (never CKA_VALUE) and checks its curve. */
int token_read_public_key(Token *t, TokenObject pub, TokenKeyType expected, TokenPublicKey *ret);

/*
 * What a secret or private key object reports about itself. An attribute the
 * module does not report counts as the weaker value (not sensitive,
 * extractable, cannot sign).
 */
typedef struct TokenKeyFlags {
	bool sensitive, extractable, sign;
	bool hmac_type; /* CKK_GENERIC_SECRET or CKK_SHA256_HMAC */
} TokenKeyFlags;

int token_key_flags(Token *t, TokenObject o, TokenKeyFlags *ret);
/* NULL for a key that is sensitive and not extractable, else which attribute is wrong. */
const char *token_key_weakness(const TokenKeyFlags *f);

/*
 * For a key imported by a vendor's tool: sets CKA_EXTRACTABLE=FALSE and
 * CKA_SENSITIVE=TRUE where the object says otherwise (PKCS#11 allows both,
 * one way only) and returns the flags read back after. The module may refuse;
 * that is logged, not an error: ret tells what the key is now.
 */
int token_harden_key(Token *t, TokenObject key, TokenKeyFlags *ret);

/* Lists every key object on the token, for hsmjwtctl list. */
typedef struct TokenKeyInfo {
	char label[128];
	char id_hex[65];
	const char *class_name; /* "secret-key", "private-key", "public-key" */
	const char *key_type;	/* "generic-secret", "ec", "rsa", "ec-edwards", ... */
	bool sensitive, extractable;
} TokenKeyInfo;

int token_list_keys(Token *t, TokenKeyInfo **ret, size_t *ret_n);

/*
 * Copies a key to a session object of this session (CKA_TOKEN=FALSE, still
 * sensitive and non-extractable: the copy never leaves the token either).
 * SoftHSM signs about 3x faster with a session object than a token object.
 */
int token_copy_to_session(Token *t, TokenObject key, TokenObject *ret);

/* Destroys a session copy made by token_copy_to_session(); never a token object. */
void token_destroy_session_object(Token *t, TokenObject o);


/*
 * Imports a 32-byte HMAC secret as a token object: CKA_SENSITIVE=TRUE,
 * CKA_EXTRACTABLE=FALSE, CKA_SIGN and CKA_VERIFY set, nothing else allowed;
 * CKK_GENERIC_SECRET, else CKK_SHA256_HMAC for modules that want that. The
 * new object is read back and destroyed if it came out weaker (-EPERM).
 * Label and id come from key_uri. With replace, existing objects the URI
 * names are destroyed once the new one exists; without it, -EEXIST.
 * -EOPNOTSUPP (logged with the module's answer) when the module takes no
 * secret key through C_CreateObject (tpm2-pkcs11).
 */
int token_import_hmac_key(Token *t, const char *key_uri, const uint8_t secret[static 32],
			  bool replace);

/*
 * A token call's -errno that says the device failed (gone, session lost, an
 * error of the device's own, no answer in time), as opposed to a refused
 * request: the token needs a look (ARCHITECTURE.md, Invariant 6).
 */
static inline bool token_error_is_device_failure(int r)
{
	return r == -ENODEV || r == -ENOTCONN || r == -EIO || r == -ETIMEDOUT;
}
