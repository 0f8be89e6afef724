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

typedef struct KeyConfig {
	char *name;
	char *uri;
	Algorithm alg;
	char *kid;
	Profile profile;
	char *issuer;
	uint64_t default_lifetime;
	uint64_t max_lifetime;
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
	struct Policy *policies; /* [policy NAME] in file order, see policy.h; none: deny all */
	size_t n_policies;
} Config;

/* Parses and validates path. On failure *ret_error holds a message naming the line. */
int config_load(const char *path, Config **ret, char **ret_error);
Config *config_free(Config *c);
const KeyConfig *config_find_key(const Config *c, const char *name);

const char *algorithm_to_string(Algorithm a);
const char *profile_to_string(Profile p);

/* "90", "90s", "15min", "2h", "7d" -> seconds. */
int parse_duration(const char *s, uint64_t *ret);
