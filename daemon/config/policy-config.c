/* SPDX-License-Identifier: MIT */
/* [policy NAME] sections of hsmjwtd.conf, parsed as strictly as the rest. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "config.h"
#include "glob.h"
#include "policy.h"

_Static_assert(sizeof(uid_t) == sizeof(uint32_t) && sizeof(gid_t) == sizeof(uint32_t),
	       "ids are parsed as uint32_t");

enum {
	SEEN_MAX_LIFETIME = 1u << 0,
	SEEN_CREDENTIALS = 1u << 1,
	SEEN_LEGACY = 1u << 2,
	SEEN_RATE = 1u << 3,
	SEEN_BURST = 1u << 4,
	SEEN_VERIFY = 1u << 5,
};

static int fail(char **ret_error, const char *fmt, ...) _printf_(2, 3);
static int fail(char **ret_error, const char *fmt, ...)
{
	va_list ap;

	if (*ret_error)
		return 0;
	va_start(ap, fmt);
	if (vasprintf(ret_error, fmt, ap) < 0)
		*ret_error = NULL;
	va_end(ap);
	return 0; /* inih: the handler failed */
}

static bool name_valid(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= POLICY_NAME_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static Policy *policy_section(Config *c, const char *name, char **ret_error)
{
	Policy *p;

	if (c->n_policies > 0 && strcmp(c->policies[c->n_policies - 1].name, name) == 0)
		return &c->policies[c->n_policies - 1];
	for (size_t i = 0; i < c->n_policies; i++)
		if (strcmp(c->policies[i].name, name) == 0) {
			fail(ret_error, "section [policy %s] appears twice", name);
			return NULL;
		}
	if (!name_valid(name)) {
		fail(ret_error, "policy name '%s' must be 1-%d of A-Z a-z 0-9 . _ -", name,
		     POLICY_NAME_MAX);
		return NULL;
	}
	if (c->n_policies >= POLICY_MAX) {
		fail(ret_error, "more than %d [policy] sections", POLICY_MAX);
		return NULL;
	}
	p = realloc(c->policies, (c->n_policies + 1) * sizeof(*p));
	if (!p) {
		fail(ret_error, "out of memory");
		return NULL;
	}
	c->policies = p;
	p = &c->policies[c->n_policies];
	*p = (Policy){ .name = strdup(name) };
	if (!p->name) {
		fail(ret_error, "out of memory");
		return NULL;
	}
	c->n_policies++;
	return p;
}

/*
 * Splits a list at white space. A backslash keeps the next character (so
 * "\ " is a space inside a value) and stays in the value, where the glob
 * reads it the same way. Appends to *list: a list option may be repeated
 * or continued on indented lines.
 */
static int split_append(char ***list, const char *value, size_t max_len)
{
	size_t n = 0;

	while (*list && (*list)[n])
		n++;
	for (const char *s = value;;) {
		size_t len = 0;
		char **grown;

		s += strspn(s, " \t");
		if (!*s)
			return n > 0 ? 0 : -ENODATA;
		while (s[len] && s[len] != ' ' && s[len] != '\t')
			len += s[len] == '\\' && s[len + 1] ? 2 : 1;
		if (len > max_len)
			return -E2BIG;
		if (n >= POLICY_LIST_MAX)
			return -ERANGE;
		grown = realloc(*list, (n + 2) * sizeof(char *));
		if (!grown)
			return -ENOMEM;
		*list = grown;
		grown[n] = strndup(s, len);
		if (!grown[n])
			return -ENOMEM;
		grown[++n] = NULL;
		s += len;
	}
}

static int list_option(char ***list, const char *value, size_t max_len, bool globs,
		       const char *what, char **ret_error)
{
	size_t first = 0;
	int r;

	while (*list && (*list)[first])
		first++;
	r = split_append(list, value, max_len);
	if (r == -ENODATA)
		return fail(ret_error, "%s needs at least one value", what);
	if (r == -E2BIG)
		return fail(ret_error, "%s: a value is longer than %zu bytes", what, max_len);
	if (r == -ERANGE)
		return fail(ret_error, "%s: more than %d values", what, POLICY_LIST_MAX);
	if (r < 0)
		return fail(ret_error, "out of memory");
	for (size_t i = first; globs && (*list)[i]; i++)
		if (glob_validate((*list)[i]) < 0)
			return fail(ret_error, "%s: '%s' is not a valid pattern (unterminated [, "
					       "a [:class:] or a trailing \\)",
				    what, (*list)[i]);
	return 1;
}

static void strv_freep(char ***v)
{
	for (char **i = *v; i && *i; i++)
		free(*i);
	free(*v);
}

/* A decimal number below max, nothing else. */
static int parse_number(const char *s, uint64_t max, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int resolve_id(bool group, bool names, const char *w, uint32_t *ret)
{
	struct passwd *pw;
	struct group *gr;
	uint64_t v;

	/* (uid_t) -1 means "no user" to the kernel: never an identity. */
	if (parse_number(w, UINT32_MAX - 1, &v) == 0) {
		*ret = (uint32_t)v;
		return 0;
	}
	if (!names)
		return -EINVAL;
	if (group) {
		gr = getgrnam(w);
		if (!gr)
			return -ENOENT;
		*ret = gr->gr_gid;
	} else {
		pw = getpwnam(w);
		if (!pw)
			return -ENOENT;
		*ret = pw->pw_uid;
	}
	return 0;
}

/* user/uid/group/gid: names are looked up now, so a typo fails the load, not a request. */
static int id_option(Policy *p, bool group, bool names, const char *value, const char *what,
		     char **ret_error)
{
	_cleanup_(strv_freep) char **words = NULL;
	uint32_t **ids = group ? (uint32_t **)&p->gids : (uint32_t **)&p->uids;
	size_t *n = group ? &p->n_gids : &p->n_uids;
	int r = split_append(&words, value, 256);

	if (r == -ENODATA)
		return fail(ret_error, "%s needs at least one value", what);
	if (r < 0)
		return fail(ret_error, "%s: too many or too long values", what);
	for (size_t i = 0; words[i]; i++) {
		uint32_t id, *grown;

		if (!group && names && strcmp(words[i], "*") == 0) {
			p->any_user = true;
			continue;
		}
		r = resolve_id(group, names, words[i], &id);
		if (r == -EINVAL)
			return fail(ret_error, "%s: '%s' is not a number", what, words[i]);
		if (r < 0)
			return fail(ret_error, "%s: no %s named '%s'", what, group ? "group" : "user",
				    words[i]);
		if (*n >= POLICY_LIST_MAX)
			return fail(ret_error, "%s: more than %d values", what, POLICY_LIST_MAX);
		grown = realloc(*ids, (*n + 1) * sizeof(uint32_t));
		if (!grown)
			return fail(ret_error, "out of memory");
		*ids = grown;
		grown[(*n)++] = id;
	}
	return 1;
}

static int once(Policy *p, unsigned bit, const char *key, char **ret_error)
{
	if (p->seen & bit)
		return fail(ret_error, "'%s' given twice in [policy %s]", key, p->name);
	p->seen |= bit;
	return 1;
}

static int scalar_option(Policy *p, const char *key, const char *value, char **ret_error)
{
	uint64_t v;
	bool b;

	if (strcmp(key, "max-lifetime") == 0) {
		if (parse_duration(value, &v) < 0 || v == 0 || v > CONFIG_MAX_LIFETIME_CEILING)
			return fail(ret_error, "max-lifetime: '%s' is not a duration between 1s "
					       "and 3660d", value);
		p->max_lifetime = v;
		return once(p, SEEN_MAX_LIFETIME, key, ret_error);
	}
	if (strcmp(key, "verify") == 0) {
		if (config_parse_bool(value, &p->verify) < 0)
			return fail(ret_error, "verify must be yes or no, not '%s'", value);
		return once(p, SEEN_VERIFY, key, ret_error);
	}
	if (strcmp(key, "credentials") == 0 || strcmp(key, "legacy-claims") == 0) {
		if (config_parse_bool(value, &b) < 0)
			return fail(ret_error, "%s must be yes or no, not '%s'", key, value);
		if (key[0] == 'c') {
			p->credentials = b;
			return once(p, SEEN_CREDENTIALS, key, ret_error);
		}
		p->legacy_claims = b;
		return once(p, SEEN_LEGACY, key, ret_error);
	}
	if (strcmp(key, "rate") == 0) {
		if (rate_spec_parse(value, &p->rate) < 0)
			return fail(ret_error, "rate: '%s' is not N/s, N/min or N/h with N 1..%u "
					       "per second", value, RATE_MAX_PER_SECOND);
		return once(p, SEEN_RATE, key, ret_error);
	}
	if (strcmp(key, "burst") == 0) {
		if (parse_number(value, RATE_MAX_BURST, &v) < 0 || v == 0)
			return fail(ret_error, "burst must be 1..%u", RATE_MAX_BURST);
		p->burst_given = (uint32_t)v;
		return once(p, SEEN_BURST, key, ret_error);
	}
	return fail(ret_error, "unknown option '%s' in [policy %s]", key, p->name);
}

int policy_config_handle(Config *c, const char *name, const char *key, const char *value,
			 char **ret_error)
{
	Policy *p = policy_section(c, name, ret_error);

	if (!p)
		return 0;
	if (!key) /* the section header alone */
		return 1;
	if (strcmp(key, "user") == 0 || strcmp(key, "uid") == 0)
		return id_option(p, false, key[1] == 's', value, key, ret_error);
	if (strcmp(key, "group") == 0 || strcmp(key, "gid") == 0)
		return id_option(p, true, key[1] == 'r', value, key, ret_error);
	if (strcmp(key, "unit") == 0)
		return list_option(&p->units, value, POLICY_UNIT_MAX, true, key, ret_error);
	if (strcmp(key, "keys") == 0)
		return list_option(&p->keys, value, 64, false, key, ret_error);
	if (strcmp(key, "audiences") == 0)
		return list_option(&p->audiences, value, POLICY_PATTERN_MAX, true, key, ret_error);
	if (strcmp(key, "user-ids") == 0)
		return list_option(&p->user_ids, value, POLICY_PATTERN_MAX, true, key, ret_error);
	if (strcmp(key, "extra-claims") == 0)
		return list_option(&p->extra_claims, value, POLICY_PATTERN_MAX, true, key,
				   ret_error);
	return scalar_option(p, key, value, ret_error);
}

static int finish_one(Config *c, Policy *p, char **ret_error)
{
	const char *missing = !p->keys		? "keys"
			      : !p->audiences	? "audiences"
			      : !p->user_ids	? "user-ids"
						: NULL;

	if (!p->any_user && !p->n_uids && !p->n_gids && !p->units)
		return fail(ret_error, "[policy %s] matches no one: give user, uid, group, gid or "
				       "unit (user = * for every user)", p->name), -EINVAL;
	if (missing)
		return fail(ret_error, "[policy %s] must say which %s it grants (* for any)",
			    p->name, missing), -EINVAL;
	for (char **k = p->keys; *k; k++)
		if (strcmp(*k, "*") != 0 && !config_find_key(c, *k))
			return fail(ret_error, "[policy %s] grants key '%s', but there is no "
					       "[key %s]", p->name, *k, *k), -EINVAL;
	if (p->burst_given && !p->rate.cost_ns)
		return fail(ret_error, "[policy %s]: burst needs a rate", p->name), -EINVAL;
	if (p->burst_given)
		p->rate.burst = p->burst_given;
	return 0;
}

int policy_config_finish(Config *c, char **ret_error)
{
	_cleanup_free_ char *msg = NULL;

	for (size_t i = 0; i < c->n_policies; i++)
		if (finish_one(c, &c->policies[i], &msg) < 0) {
			if (asprintf(ret_error, "%s: %s", c->path, msg ? msg : "out of memory") < 0)
				*ret_error = NULL;
			return -EINVAL;
		}
	return 0;
}
