/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * hsmjwtd.conf, INI parsed with inih. Every key is documented in
 * units/hsmjwtd.conf.example and hsmjwtd.conf(5); unknown sections and keys
 * are errors, so a typo cannot silently leave a limit at its default.
 */

#define CONFIG_DEFAULT_MAX_CONNECTIONS 1024u
#define CONFIG_DEFAULT_DEFAULT_LIFETIME 3600u /* one hour */
#define CONFIG_DEFAULT_MAX_LIFETIME 86400u    /* one day */
/* Ten years: beyond that an expiry is a mistake, not a policy. */
#define CONFIG_MAX_LIFETIME_CEILING (10ull * 366 * 86400)
#define CONFIG_MIN_FRAME 1024u
#define CONFIG_MAX_FRAME (16u * 1024u * 1024u)
#define ZUMO_ISSUER "urn:microsoft:windows-azure:zumo"

typedef enum Algorithm {
	ALG_HS256,
} Algorithm;

typedef enum Profile {
	PROFILE_ZUMO_V2,
} Profile;

/* [claims]: bounds on extra claims and the payload (README "Extra claims"). */
#define CLAIMS_DEFAULT_MAX_EXTRA 32u
#define CLAIMS_DEFAULT_MAX_NAME 128u
#define CLAIMS_DEFAULT_MAX_VALUE 4096u
/* Above the largest payload the fixed members alone can make (escaped aud, uid, access token). */
#define CLAIMS_DEFAULT_MAX_PAYLOAD 65536u

typedef struct ClaimLimits {
	uint32_t max_extra;   /* extra claims per request */
	uint32_t max_name;    /* bytes of a claim name */
	uint32_t max_value;   /* bytes of a value as written in the payload */
	uint32_t max_payload; /* bytes of the payload JSON */
} ClaimLimits;

/* add-claims = iat, nbf, jti (per key; none by default, so zumo-v2 stays byte-exact). */
#define ADD_CLAIM_IAT (1u << 0)
#define ADD_CLAIM_NBF (1u << 1)
#define ADD_CLAIM_JTI (1u << 2)

typedef struct KeyConfig {
	char *name;
	char *uri;
	Algorithm alg;
	char *kid;
	Profile profile;
	char *issuer;
	uint64_t default_lifetime;
	uint64_t max_lifetime;
	unsigned add_claims; /* ADD_CLAIM_* */
	unsigned seen; /* bit per option, to refuse repeats */
} KeyConfig;

typedef struct Config {
	char *path;
	char *socket_path;
	uint32_t max_frame;
	unsigned max_connections;
	char *module;	 /* NULL: the modules registered with p11-kit */
	char *token_uri; /* RFC 7512, e.g. pkcs11:token=hsmjwt */
	char *pin_file;	 /* NULL: $CREDENTIALS_DIRECTORY/pin */
	KeyConfig *keys;
	size_t n_keys;
	ClaimLimits claims;
} Config;

/* Parses and validates path. On failure *ret_error holds a message naming the line. */
int config_load(const char *path, Config **ret, char **ret_error);
Config *config_free(Config *c);
const KeyConfig *config_find_key(const Config *c, const char *name);

const char *algorithm_to_string(Algorithm a);
const char *profile_to_string(Profile p);

/* config-claims.c: [claims] options and a key's add-claims; -EINVAL with the reason in err. */
void claim_limits_init(ClaimLimits *l);
int config_claims_option(ClaimLimits *l, const char *name, const char *value, char *err,
			 size_t err_size);
int config_parse_add_claims(const char *value, unsigned *ret, char *err, size_t err_size);

/* "90", "90s", "15min", "2h", "7d" -> seconds. */
int parse_duration(const char *s, uint64_t *ret);
