/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "audit-config.h"
#include "claim-rules.h"
#include "key-config.h"
#include "peer-limits.h"

/*
 * hsmjwtd.conf, INI parsed with inih. Every key is documented in
 * units/hsmjwtd.conf.example and hsmjwtd.conf(5); unknown sections and keys
 * are errors, so a typo cannot silently leave a limit at its default.
 */

#define CONFIG_DEFAULT_MAX_CONNECTIONS 1024u
/*
 * Requests waiting for or at the token, all peers together; past it they are
 * turned away at once (rule queue-full) rather than wait. A queued request
 * holds ~2 KB once its unknown fields are dropped: 8,192 are ~16 MB.
 */
#define CONFIG_DEFAULT_MAX_QUEUE 8192u
#define CONFIG_DEFAULT_REQUEST_TIMEOUT 10u
#define CONFIG_DEFAULT_READ_TIMEOUT 10u
#define CONFIG_DEFAULT_WRITE_TIMEOUT 30u
#define CONFIG_DEFAULT_IDLE_TIMEOUT 300u
#define CONFIG_MAX_SESSIONS 64u
/*
 * Default signing threads: one per CPU. Measured (docs/PERFORMANCE.md): 2
 * threads beat 1 at 16 connections for HS256 (115k vs 84k tokens/s), and
 * SoftHSM's ECDSA and RSA scale with threads.
 */
unsigned config_default_sessions(void);
#define CONFIG_DEFAULT_DEFAULT_LIFETIME 3600u /* one hour */
#define CONFIG_DEFAULT_MAX_LIFETIME 86400u    /* one day */
/* Ten years: beyond that an expiry is a mistake, not a policy. */
#define CONFIG_MAX_LIFETIME_CEILING (10ull * 366 * 86400)
#define CONFIG_MIN_FRAME 1024u
#define CONFIG_MAX_FRAME (16u * 1024u * 1024u)

typedef struct Config {
	char *path;
	char *socket_path;
	uint32_t max_frame;
	unsigned max_connections;
	PeerLimits peer_limits; /* per uid, unless a policy says otherwise */
	unsigned max_queue;	/* requests for the token, all peers */
	uint64_t exit_idle; /* seconds without connections before exiting; 0: never */
	uint64_t request_timeout; /* seconds a request may wait for the token */
	uint64_t read_timeout;	  /* seconds for a started frame to arrive whole */
	uint64_t write_timeout;	  /* seconds a client may leave its replies unread */
	uint64_t idle_timeout;	  /* seconds a connection may do nothing */
	unsigned sessions;	  /* signing threads, each with a session; 0: sign in the loop */
	char *module;	 /* a path, a p11-kit module name, or NULL: every registered module */
	char *init_args; /* C_Initialize's pReserved for a module loaded by path (NSS) */
	char *token_uri; /* RFC 7512, e.g. pkcs11:token=hsmjwt */
	char *pin_file;	 /* NULL: $CREDENTIALS_DIRECTORY/pin */
	char *token_owner; /* NULL: none; hsmjwtctl run as root opens the token as this user */
	KeyConfig *keys;
	size_t n_keys;
	char *pid_file; /* NULL: none; lets hsmjwtctl reopen-audit find the daemon */
	AuditConfig audit;
	ClaimLimits claims;
	struct Policy *policies; /* [policy NAME] in file order, see policy.h; none: deny all */
	size_t n_policies;
} Config;

/* Parses and validates path. On failure *ret_error reads "file:line: [section] key: why". */
int config_load(const char *path, Config **ret, char **ret_error);
/* The same from an open stream; path only names it in messages. */
int config_load_file(FILE *f, const char *path, Config **ret, char **ret_error);
Config *config_free(Config *c);
static inline void config_freep(Config **c)
{
	if (*c)
		config_free(*c);
}
const KeyConfig *config_find_key(const Config *c, const char *name);

/* The key a request without a key name gets: the first active one, or NULL. */
const KeyConfig *config_default_key(const Config *c);

/* yes/true/on/1 or no/false/off/0. */
int config_parse_bool(const char *s, bool *ret);
/* Decimal digits only: -EINVAL for anything else, -ERANGE outside min..max. */
int config_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret);
/* A key's add-claims, "iat, nbf, jti" in any order: -EINVAL with the reason in why. */
int config_parse_add_claims(const char *value, unsigned *ret, char *why, size_t why_size);

/* "90", "90s", "15min", "2h", "7d" -> seconds. */
int parse_duration(const char *s, uint64_t *ret);

/* "2027-01-01T00:00:00Z" (RFC 3339, UTC or an offset) or Unix seconds -> Unix seconds. */
int parse_timestamp(const char *s, int64_t *ret);
