/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
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

/* [audit]: where records go and how durable they are before the reply leaves. */
typedef enum AuditSync {
	AUDIT_SYNC_ALWAYS, /* fdatasync() before any token of the batch leaves */
	AUDIT_SYNC_BATCH,  /* fdatasync() about once per AUDIT_BATCH_INTERVAL_USEC */
	AUDIT_SYNC_NONE,   /* write(2) only; the kernel writes back when it likes */
} AuditSync;

#define CONFIG_DEFAULT_AUDIT_FILE "/var/log/hsmjwt/audit.jsonl"

typedef struct AuditConfig {
	char *file;   /* NULL: no file sink */
	bool journal; /* records also go to the systemd journal */
	AuditSync sync;
	unsigned seen; /* bit per option, to refuse repeats */
} AuditConfig;

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
	char *pid_file; /* NULL: none; lets hsmjwtctl reopen-audit find the daemon */
	AuditConfig audit;
} Config;

/* Parses and validates path. On failure *ret_error holds a message naming the line. */
int config_load(const char *path, Config **ret, char **ret_error);
Config *config_free(Config *c);
const KeyConfig *config_find_key(const Config *c, const char *name);

/* config-audit.c: one [audit] option; NULL on success, else what is wrong. */
const char *audit_config_set(AuditConfig *a, const char *name, const char *value);
void audit_config_defaults(AuditConfig *a);
void audit_config_done(AuditConfig *a);
const char *audit_sync_to_string(AuditSync s);

const char *algorithm_to_string(Algorithm a);
const char *profile_to_string(Profile p);

/* "90", "90s", "15min", "2h", "7d" -> seconds. */
int parse_duration(const char *s, uint64_t *ret);
