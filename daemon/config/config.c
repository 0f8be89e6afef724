/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "hsmjwt-build.h"
#include "policy.h"

#define KEY_NAME_MAX 64

/* Bits of KeyConfig.seen: options given once at most, and whether they were given. */
enum {
	KEY_SEEN_ALG = 1u << 0,
	KEY_SEEN_PROFILE = 1u << 1,
	KEY_SEEN_MAX_LIFETIME = 1u << 2,
	KEY_SEEN_DEFAULT_LIFETIME = 1u << 3,
	KEY_SEEN_STATE = 1u << 4,
	KEY_SEEN_NOT_AFTER = 1u << 5,
	KEY_SEEN_BITS = 1u << 6,
	KEY_SEEN_CLOCK_SKEW = 1u << 7,
	KEY_SEEN_ACCEPT_V1 = 1u << 8,
	KEY_SEEN_ADD_CLAIMS = 1u << 9,
};

int config_parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
		if (strcmp(s, yes[i]) == 0)
			return *ret = true, 0;
		if (strcmp(s, no[i]) == 0)
			return *ret = false, 0;
	}
	return -EINVAL;
}
#define KID_MAX 256

typedef struct ParseState {
	Config *config;
	char *error; /* the first problem; the line number comes from inih's return */
} ParseState;

int parse_duration(const char *s, uint64_t *ret)
{
	static const struct {
		const char *suffix;
		uint64_t factor;
	} units[] = {
		{ "", 1 }, { "s", 1 }, { "min", 60 }, { "m", 60 }, { "h", 3600 }, { "d", 86400 },
	};
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	for (size_t i = 0; i < ELEMENTSOF(units); i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		if (v > UINT64_MAX / units[i].factor)
			return -ERANGE;
		*ret = v * units[i].factor;
		return 0;
	}
	return -EINVAL;
}

int parse_timestamp(const char *s, int64_t *ret)
{
	struct tm tm = {};
	const char *end;
	long long v;
	char *e;
	int off = 0;

	if (!s || !*s)
		return -EINVAL;
	if (strspn(s, "0123456789") == strlen(s)) {
		errno = 0;
		v = strtoll(s, &e, 10);
		if (errno)
			return -ERANGE;
		*ret = v;
		return 0;
	}
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return -EINVAL;
	if (strcmp(end, "Z") == 0 || strcmp(end, "z") == 0) {
		off = 0;
	} else if ((end[0] == '+' || end[0] == '-') && strlen(end) == 6 && end[3] == ':') {
		int h = (end[1] - '0') * 10 + (end[2] - '0'), m = (end[4] - '0') * 10 + (end[5] - '0');
		if (strspn(end + 1, "0123456789") != 2 || strspn(end + 4, "0123456789") != 2 ||
		    h > 23 || m > 59)
			return -EINVAL;
		off = (h * 60 + m) * 60 * (end[0] == '-' ? -1 : 1);
	} else {
		return -EINVAL;
	}
	*ret = (int64_t)timegm(&tm) - off;
	return 0;
}

static int parse_uint(const char *s, uint64_t max, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE || *end || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

static int fail(ParseState *st, const char *fmt, ...) _printf_(2, 3);
static int fail(ParseState *st, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (st->error)
		return 0;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	st->error = strdup(msg);
	return 0; /* inih: handler failed */
}

static int set_string(ParseState *st, char **field, const char *value, const char *name)
{
	if (*field)
		return fail(st, "'%s' given twice", name);
	*field = strdup(value);
	return *field ? 1 : fail(st, "out of memory");
}

static bool key_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > KEY_NAME_MAX)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static KeyConfig *key_section(ParseState *st, const char *name)
{
	Config *c = st->config;
	KeyConfig *k;

	if (c->n_keys > 0 && strcmp(c->keys[c->n_keys - 1].name, name) == 0)
		return &c->keys[c->n_keys - 1];
	if (config_find_key(c, name)) {
		fail(st, "section [key %s] appears twice", name);
		return NULL;
	}
	if (!key_name_valid(name)) {
		fail(st, "key name '%s' must be 1-%d of A-Z a-z 0-9 . _ -", name, KEY_NAME_MAX);
		return NULL;
	}
	k = realloc(c->keys, (c->n_keys + 1) * sizeof(*k));
	if (!k) {
		fail(st, "out of memory");
		return NULL;
	}
	c->keys = k;
	k = &c->keys[c->n_keys++];
	*k = (KeyConfig){
		.alg = ALG_HS256,
		.profile = PROFILE_ZUMO_V2,
		.state = KEY_STATE_ACTIVE,
		.bits = RSA_BITS_DEFAULT,
		.clock_skew = CLOCK_SKEW_DEFAULT,
		.accept_v1 = true,
		.default_lifetime = CONFIG_DEFAULT_DEFAULT_LIFETIME,
		.max_lifetime = CONFIG_DEFAULT_MAX_LIFETIME,
	};
	k->name = strdup(name);
	if (!k->name) {
		c->n_keys--;
		fail(st, "out of memory");
		return NULL;
	}
	return k;
}

static int once(ParseState *st, KeyConfig *k, unsigned bit, const char *name)
{
	if (k->seen & bit)
		return fail(st, "'%s' given twice in [key %s]", name, k->name);
	k->seen |= bit;
	return 1;
}

static int handle_key(ParseState *st, const char *section, const char *name, const char *value)
{
	KeyConfig *k = key_section(st, section + strlen("key "));
	uint64_t v;

	if (!k)
		return 0;
	if (strcmp(name, "uri") == 0)
		return set_string(st, &k->uri, value, name);
	if (strcmp(name, "kid") == 0) {
		if (strlen(value) == 0 || strlen(value) > KID_MAX)
			return fail(st, "kid must be 1-%d bytes", KID_MAX);
		return set_string(st, &k->kid, value, name);
	}
	if (strcmp(name, "issuer") == 0)
		return set_string(st, &k->issuer, value, name);
	if (strcmp(name, "alg") == 0) {
		if (algorithm_from_string(value, &k->alg) < 0)
			return fail(st, "unsupported alg '%s' (supported: HS256 ES256 ES384 RS256 "
					"PS256 EdDSA)", value);
		return once(st, k, KEY_SEEN_ALG, name);
	}
	if (strcmp(name, "state") == 0) {
		if (key_state_from_string(value, &k->state) < 0)
			return fail(st, "unknown state '%s' (known: active published retired)", value);
		return once(st, k, KEY_SEEN_STATE, name);
	}
	if (strcmp(name, "not-after") == 0) {
		if (parse_timestamp(value, &k->not_after) < 0 || k->not_after <= 0)
			return fail(st, "not-after: '%s' is not an RFC 3339 time or Unix seconds", value);
		return once(st, k, KEY_SEEN_NOT_AFTER, name);
	}
	if (strcmp(name, "clock-skew") == 0) {
		if (parse_duration(value, &k->clock_skew) < 0 || k->clock_skew > CLOCK_SKEW_MAX)
			return fail(st, "clock-skew must be a duration up to 1h");
		return once(st, k, KEY_SEEN_CLOCK_SKEW, name);
	}
	if (strcmp(name, "accept-v1") == 0) {
		if (config_parse_bool(value, &k->accept_v1) < 0)
			return fail(st, "accept-v1 must be yes or no");
		return once(st, k, KEY_SEEN_ACCEPT_V1, name);
	}
	if (strcmp(name, "bits") == 0) {
		if (parse_uint(value, RSA_BITS_MAX, &v) < 0 || v < RSA_BITS_MIN || v % 1024)
			return fail(st, "bits must be 2048, 3072 or 4096");
		k->bits = (unsigned)v;
		return once(st, k, KEY_SEEN_BITS, name);
	}
	if (strcmp(name, "profile") == 0) {
		if (profile_from_string(value, &k->profile) < 0)
			return fail(st, "unknown profile '%s' (known: zumo-v2 standard)", value);
		return once(st, k, KEY_SEEN_PROFILE, name);
	}
	if (strcmp(name, "max-lifetime") == 0 || strcmp(name, "default-lifetime") == 0) {
		bool is_max = name[0] == 'm';

		if (parse_duration(value, &v) < 0 || v == 0 || v > CONFIG_MAX_LIFETIME_CEILING)
			return fail(st, "%s: '%s' is not a duration between 1s and 3660d", name, value);
		*(is_max ? &k->max_lifetime : &k->default_lifetime) = v;
		return once(st, k, is_max ? KEY_SEEN_MAX_LIFETIME : KEY_SEEN_DEFAULT_LIFETIME, name);
	}
	if (strcmp(name, "add-claims") == 0) {
		char err[256];

		if (config_parse_add_claims(value, &k->add_claims, err, sizeof(err)) < 0)
			return fail(st, "%s", err);
		return once(st, k, KEY_SEEN_ADD_CLAIMS, name);
	}
	return fail(st, "unknown option '%s' in [key %s]", name, k->name);
}

static int handle(void *user, const char *section, const char *name, const char *value)
{
	ParseState *st = user;
	Config *c = st->config;
	uint64_t v;

	if (st->error)
		return 0;
	if (strncmp(section, "policy ", 7) == 0)
		return policy_config_handle(c, section + 7, name, value, &st->error);
	if (!name) /* a section header on its own */
		return 1;
	if (strncmp(section, "key ", 4) == 0)
		return handle_key(st, section, name, value);
	if (strcmp(section, "server") == 0) {
		if (strcmp(name, "socket") == 0)
			return set_string(st, &c->socket_path, value, name);
		if (strcmp(name, "max-frame") == 0) {
			if (parse_uint(value, CONFIG_MAX_FRAME, &v) < 0 || v < CONFIG_MIN_FRAME)
				return fail(st, "max-frame must be %u..%u bytes", CONFIG_MIN_FRAME,
					    CONFIG_MAX_FRAME);
			c->max_frame = (uint32_t)v;
			return 1;
		}
		if (strcmp(name, "pid-file") == 0)
			return set_string(st, &c->pid_file, value, name);
		if (strcmp(name, "max-connections") == 0) {
			if (parse_uint(value, 1000000, &v) < 0 || v == 0)
				return fail(st, "max-connections must be 1..1000000");
			c->max_connections = (unsigned)v;
			return 1;
		}
		if (strcmp(name, "request-timeout") == 0 || strcmp(name, "read-timeout") == 0 ||
		    strcmp(name, "write-timeout") == 0) {
			uint64_t *field = name[2] == 'q' ? &c->request_timeout :
					  name[0] == 'r' ? &c->read_timeout : &c->write_timeout;
			if (parse_duration(value, field) < 0 || *field == 0 || *field > 600)
				return fail(st, "%s must be a duration from 1s to 10min", name);
			return 1;
		}
		if (strcmp(name, "idle-timeout") == 0) {
			if (parse_duration(value, &c->idle_timeout) < 0 || c->idle_timeout == 0 ||
			    c->idle_timeout > 86400)
				return fail(st, "idle-timeout must be a duration from 1s to 1d");
			return 1;
		}
		if (strcmp(name, "exit-idle") == 0) {
			if (parse_duration(value, &c->exit_idle) < 0 || c->exit_idle > 86400)
				return fail(st, "exit-idle must be a duration up to 1d (0: never)");
			return 1;
		}
		return fail(st, "unknown option '%s' in [server]", name);
	}
	if (strcmp(section, "token") == 0) {
		if (strcmp(name, "module") == 0)
			return set_string(st, &c->module, value, name);
		if (strcmp(name, "uri") == 0)
			return set_string(st, &c->token_uri, value, name);
		if (strcmp(name, "pin-file") == 0)
			return set_string(st, &c->pin_file, value, name);
		if (strcmp(name, "sessions") == 0) {
			if (parse_uint(value, CONFIG_MAX_SESSIONS, &v) < 0)
				return fail(st, "sessions must be 0..%u", CONFIG_MAX_SESSIONS);
			c->sessions = (unsigned)v;
			c->sessions_set = true;
			return 1;
		}
		return fail(st, "unknown option '%s' in [token]", name);
	}
	if (strcmp(section, "audit") == 0) {
		const char *e = audit_config_set(&c->audit, name, value);

		return e ? fail(st, "%s: '%s'", e, name) : 1;
	}
	if (strcmp(section, "claims") == 0) {
		char err[256];

		if (config_claims_option(&c->claims, name, value, err, sizeof(err)) < 0)
			return fail(st, "%s", err);
		return 1;
	}
	return fail(st, "unknown section [%s]", section);
}

static int key_defaults(const Config *c, KeyConfig *k, char **ret_error)
{
	const AlgorithmInfo *ai = algorithm_info(k->alg);

/* asprintf leaves its pointer undefined on failure: NULL it, and say "out of memory". */
#define key_error(...) \
	(asprintf(ret_error, __VA_ARGS__) < 0 ? (*ret_error = NULL, -ENOMEM) : -EINVAL)
	if (!k->uri)
		return key_error("%s: [key %s] has no uri", c->path, k->name);
	/* An asymmetric alg without a profile can only mean the standard one. */
	if (!(k->seen & KEY_SEEN_PROFILE) && !ai->symmetric)
		k->profile = PROFILE_STANDARD;
	if (k->profile == PROFILE_ZUMO_V2 && k->alg != ALG_HS256)
		return key_error("%s: [key %s]: profile zumo-v2 requires alg HS256", c->path, k->name);
	if (k->profile == PROFILE_STANDARD && !k->issuer)
		return key_error("%s: [key %s]: profile standard needs an issuer", c->path, k->name);
	if ((k->seen & KEY_SEEN_ACCEPT_V1) && k->profile != PROFILE_ZUMO_V2)
		return key_error("%s: [key %s]: accept-v1 applies to zumo-v2 keys only", c->path,
				 k->name);
	if (k->add_claims && k->profile != PROFILE_ZUMO_V2)
		return key_error("%s: [key %s]: add-claims applies to zumo-v2 keys (the standard "
				 "profile always has iat and jti)", c->path, k->name);
	if ((k->seen & KEY_SEEN_BITS) && k->alg != ALG_RS256 && k->alg != ALG_PS256)
		return key_error("%s: [key %s]: bits applies to RSA keys only", c->path, k->name);
	if (k->default_lifetime > k->max_lifetime)
		return key_error("%s: [key %s]: default-lifetime exceeds max-lifetime", c->path,
				 k->name);
	if (!k->kid && k->profile == PROFILE_ZUMO_V2 && !(k->kid = strdup("0")))
		return -ENOMEM;
	/* A symmetric key has no public half to take a thumbprint of: its name will do. */
	if (!k->kid && ai->symmetric && !(k->kid = strdup(k->name)))
		return -ENOMEM;
	if (!k->issuer && !(k->issuer = strdup(ZUMO_ISSUER)))
		return -ENOMEM;
	return 0;
}

static int apply_defaults(Config *c, char **ret_error)
{
	int r;

	if (!c->token_uri)
		return key_error("%s: [token] uri is required", c->path);
	if (c->n_keys == 0)
		return key_error("%s: no [key NAME] section", c->path);
	for (size_t i = 0; i < c->n_keys; i++) {
		r = key_defaults(c, &c->keys[i], ret_error);
		if (r < 0)
			return r;
	}
	if (!c->sessions_set)
		c->sessions = config_default_sessions();
	if (!c->socket_path && !(c->socket_path = strdup(HSMJWT_DEFAULT_SOCKET)))
		return -ENOMEM;
	/* No "file" line: the default file; "file =" (empty): none. */
	if (!(c->audit.seen & 1u) && !(c->audit.file = strdup(CONFIG_DEFAULT_AUDIT_FILE)))
		return -ENOMEM;
	if (!c->audit.file && !c->audit.journal)
		return asprintf(ret_error, "%s: [audit] needs a sink: a file, the journal or both",
				c->path),
		       -EINVAL;
	return policy_config_finish(c, ret_error);
}


/*
 * inih reads a line into INI_MAX_LINE bytes (200 in Debian's build) and
 * parses the rest of a longer one as a line of its own, which could turn
 * the tail of a long value into an option. Refuse such lines instead.
 */
static int check_line_lengths(FILE *f, const char *path, char **ret_error)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	ssize_t k;
	int n = 0;

	while ((k = getline(&line, &cap, f)) >= 0) {
		n++;
		if (k > 0 && line[k - 1] == '\n')
			k--;
		if (k > INI_MAX_LINE - 2) {
			if (asprintf(ret_error, "%s:%d: line longer than %d bytes (continue a list "
					       "on indented lines)", path, n, INI_MAX_LINE - 2) < 0)
				*ret_error = NULL;
			return -EINVAL;
		}
	}
	rewind(f);
	return 0;
}

int config_load_file(FILE *f, const char *path, Config **ret, char **ret_error)
{
	_cleanup_(config_freep) Config *c = NULL;
	ParseState st = {};
	int r;

	*ret_error = NULL;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->path = strdup(path)))
		return -ENOMEM;
	c->max_frame = 64u * 1024u;
	c->max_connections = CONFIG_DEFAULT_MAX_CONNECTIONS;
	c->request_timeout = CONFIG_DEFAULT_REQUEST_TIMEOUT;
	c->read_timeout = CONFIG_DEFAULT_READ_TIMEOUT;
	c->write_timeout = CONFIG_DEFAULT_WRITE_TIMEOUT;
	c->idle_timeout = CONFIG_DEFAULT_IDLE_TIMEOUT;
	audit_config_defaults(&c->audit);
	claim_limits_init(&c->claims);

	r = check_line_lengths(f, path, ret_error);
	if (r < 0)
		return r;
	st.config = c;
	r = ini_parse_file(f, handle, &st);
	if (st.error) {
		if (asprintf(ret_error, "%s:%d: %s", path, r, st.error) < 0)
			*ret_error = NULL;
		free(st.error);
		return -EINVAL;
	}
	if (r != 0) {
		if (asprintf(ret_error, "%s:%d: syntax error", path, r) < 0)
			*ret_error = NULL;
		return -EINVAL;
	}
	r = apply_defaults(c, ret_error);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(c);
	return 0;
}

int config_load(const char *path, Config **ret, char **ret_error)
{
	_cleanup_fclose_ FILE *f = NULL;
	int r;

	*ret_error = NULL;
	f = fopen(path, "re");
	if (!f) {
		r = negative_errno();
		if (asprintf(ret_error, "%s: %s", path, strerror(-r)) < 0)
			*ret_error = NULL;
		return r;
	}
	return config_load_file(f, path, ret, ret_error);
}

unsigned config_default_sessions(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1u : n > (long)CONFIG_MAX_SESSIONS ? CONFIG_MAX_SESSIONS : (unsigned)n;
}

const KeyConfig *config_find_key(const Config *c, const char *name)
{
	for (size_t i = 0; i < c->n_keys; i++)
		if (strcmp(c->keys[i].name, name) == 0)
			return &c->keys[i];
	return NULL;
}

const KeyConfig *config_default_key(const Config *c)
{
	for (size_t i = 0; i < c->n_keys; i++)
		if (c->keys[i].state == KEY_STATE_ACTIVE)
			return &c->keys[i];
	return NULL;
}

Config *config_free(Config *c)
{
	if (!c)
		return NULL;
	for (size_t i = 0; i < c->n_keys; i++) {
		free(c->keys[i].name);
		free(c->keys[i].uri);
		free(c->keys[i].kid);
		free(c->keys[i].issuer);
	}
	free(c->keys);
	policies_free(c->policies, c->n_policies);
	free(c->path);
	free(c->socket_path);
	free(c->module);
	free(c->token_uri);
	free(c->pin_file);
	free(c->pid_file);
	audit_config_done(&c->audit);
	free(c);
	return NULL;
}
