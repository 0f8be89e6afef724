/* SPDX-License-Identifier: MIT */
/*
 * [policy NAME] sections of hsmjwtd.conf, parsed as strictly as the rest:
 * the table of their keys and the checks after the whole file. Adding a
 * key is one row in policy_options (plus its Policy field and its
 * documentation); see config-sections.c.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "config-table.h"
#include "glob.h"
#include "policy.h"

_Static_assert(sizeof(uid_t) == sizeof(uint32_t) && sizeof(gid_t) == sizeof(uint32_t),
	       "ids are parsed as uint32_t");

static bool name_valid(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= POLICY_NAME_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static int open_policy(ConfigParse *cp, const char *name, void **ret_obj, unsigned **ret_seen,
		       char why[static CONFIG_WHY_MAX])
{
	Config *c = cp->config;
	Policy *p;

	if (c->n_policies > 0 && strcmp(c->policies[c->n_policies - 1].name, name) == 0) {
		p = &c->policies[c->n_policies - 1];
		goto done;
	}
	for (size_t i = 0; i < c->n_policies; i++)
		if (strcmp(c->policies[i].name, name) == 0)
			return snprintf(why, CONFIG_WHY_MAX, "section appears twice"), -EEXIST;
	if (!name_valid(name))
		return snprintf(why, CONFIG_WHY_MAX, "policy name '%s' must be 1-%d of A-Z a-z 0-9 . _ -",
				name, POLICY_NAME_MAX), -EINVAL;
	if (c->n_policies >= POLICY_MAX)
		return snprintf(why, CONFIG_WHY_MAX, "more than %d [policy] sections", POLICY_MAX),
		       -E2BIG;
	p = realloc(c->policies, (c->n_policies + 1) * sizeof(*p));
	if (!p)
		return snprintf(why, CONFIG_WHY_MAX, "out of memory"), -ENOMEM;
	c->policies = p;
	p = &c->policies[c->n_policies];
	*p = (Policy){ .name = strdup(name), .line = cp->header_line };
	if (!p->name)
		return snprintf(why, CONFIG_WHY_MAX, "out of memory"), -ENOMEM;
	c->n_policies++;
done:
	*ret_obj = p;
	*ret_seen = &p->seen;
	return 0;
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


/* A list row: o->max is the longest value, o->glob whether each must be a pattern. */
static int parse_list(const ConfigOption *o, void *obj, const char *value,
		      char why[static CONFIG_WHY_MAX])
{
	char ***list = (char ***)((char *)obj + o->offset);
	size_t first = 0;
	int r;

	while (*list && (*list)[first])
		first++;
	r = split_append(list, value, o->max);
	if (r == -ENODATA)
		return snprintf(why, CONFIG_WHY_MAX, "needs at least one value"), r;
	if (r == -E2BIG)
		return snprintf(why, CONFIG_WHY_MAX, "a value is longer than %llu bytes",
				(unsigned long long)o->max), r;
	if (r == -ERANGE)
		return snprintf(why, CONFIG_WHY_MAX, "more than %d values", POLICY_LIST_MAX), r;
	if (r < 0)
		return snprintf(why, CONFIG_WHY_MAX, "out of memory"), r;
	for (size_t i = first; o->glob && (*list)[i]; i++)
		if (glob_validate((*list)[i]) < 0)
			return snprintf(why, CONFIG_WHY_MAX, "'%s' is not a valid pattern "
				       "(unterminated [, a [:class:] or a trailing \\)", (*list)[i]),
			       -EINVAL;
	return 0;
}

static void strv_freep(char ***v)
{
	for (char **i = *v; i && *i; i++)
		free(*i);
	free(*v);
}

static int resolve_id(bool group, bool names, const char *w, uint32_t *ret)
{
	struct passwd *pw;
	struct group *gr;
	uint64_t v;

	/* (uid_t) -1 means "no user" to the kernel: never an identity. */
	if (config_parse_uint(w, 0, UINT32_MAX - 1, &v) == 0) {
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
static int parse_ids(Policy *p, bool group, bool names, const char *value,
		     char why[static CONFIG_WHY_MAX])
{
	_cleanup_(strv_freep) char **words = NULL;
	uint32_t **ids = group ? (uint32_t **)&p->gids : (uint32_t **)&p->uids;
	size_t *n = group ? &p->n_gids : &p->n_uids;
	int r = split_append(&words, value, 256);

	if (r == -ENODATA)
		return snprintf(why, CONFIG_WHY_MAX, "needs at least one value"), r;
	if (r < 0)
		return snprintf(why, CONFIG_WHY_MAX, "too many or too long values"), r;
	for (size_t i = 0; words[i]; i++) {
		uint32_t id, *grown;

		if (!group && names && strcmp(words[i], "*") == 0) {
			p->any_user = true;
			continue;
		}
		r = resolve_id(group, names, words[i], &id);
		if (r == -EINVAL)
			return snprintf(why, CONFIG_WHY_MAX, "'%s' is not a number", words[i]), r;
		if (r < 0)
			return snprintf(why, CONFIG_WHY_MAX, "no %s named '%s'",
					group ? "group" : "user", words[i]), r;
		if (*n >= POLICY_LIST_MAX)
			return snprintf(why, CONFIG_WHY_MAX, "more than %d values", POLICY_LIST_MAX),
			       -ERANGE;
		grown = realloc(*ids, (*n + 1) * sizeof(uint32_t));
		if (!grown)
			return snprintf(why, CONFIG_WHY_MAX, "out of memory"), -ENOMEM;
		*ids = grown;
		grown[(*n)++] = id;
	}
	return 0;
}

/* The row's key says which: user and group take names, uid and gid numbers only. */
static int parse_id_row(const ConfigOption *o, void *obj, const char *value,
			char why[static CONFIG_WHY_MAX])
{
	bool group = o->key[0] == 'g';

	return parse_ids(obj, group, strcmp(o->key, group ? "group" : "user") == 0, value, why);
}

static int parse_rate(const ConfigOption *o, void *obj, const char *value,
		      char why[static CONFIG_WHY_MAX])
{
	(void)o;
	if (rate_spec_parse(value, &((Policy *)obj)->rate) < 0)
		return snprintf(why, CONFIG_WHY_MAX, "'%s' is not N/s, N/min or N/h with N 1..%u per "
				"second", value, RATE_MAX_PER_SECOND), -EINVAL;
	return 0;
}

#define ROW(k, t, field, ...) { .key = k, .type = t, CONFIG_FIELD(Policy, field), __VA_ARGS__ }
#define IDS(k, field) ROW(k, CONFIG_CUSTOM, field, .parse = parse_id_row, .repeatable = true)
#define LIST(k, field, longest, globs) \
	ROW(k, CONFIG_CUSTOM, field, .parse = parse_list, .max = longest, .glob = globs, \
	    .repeatable = true)

static const ConfigOption policy_options[] = {
	/* Match. */
	IDS("user", uids),
	IDS("uid", uids),
	IDS("group", gids),
	IDS("gid", gids),
	LIST("unit", units, POLICY_UNIT_MAX, true),
	/* Grants. */
	LIST("keys", keys, 64, false),
	LIST("audiences", audiences, POLICY_PATTERN_MAX, true),
	LIST("user-ids", user_ids, POLICY_PATTERN_MAX, true),
	LIST("extra-claims", extra_claims, POLICY_PATTERN_MAX, true),
	ROW("max-lifetime", CONFIG_DURATION, max_lifetime, .min = 1,
	    .max = CONFIG_MAX_LIFETIME_CEILING),
	ROW("credentials", CONFIG_BOOL, credentials),
	ROW("legacy-claims", CONFIG_BOOL, legacy_claims),
	ROW("verify", CONFIG_BOOL, verify),
	ROW("payload-signing", CONFIG_BOOL, payload_signing),
	ROW("rate", CONFIG_CUSTOM, rate, .parse = parse_rate),
	ROW("burst", CONFIG_UINT, burst_given, .min = 1, .max = RATE_MAX_BURST),
	/* Per-uid limits for the peers this policy matches (peer-limits.h). */
	ROW("max-connections", CONFIG_UINT, limits.connections, .min = 1, .max = PEER_LIMIT_MAX),
	ROW("max-inflight", CONFIG_UINT, limits.inflight, .min = 1, .max = PEER_LIMIT_MAX),
	ROW("denial-records", CONFIG_UINT, limits.denial_records, .min = 1, .max = PEER_LIMIT_MAX),
};
_Static_assert(ELEMENTSOF(policy_options) <= CONFIG_OPTIONS_MAX, "one seen bit per row");

const ConfigSection config_section_policy = {
	.name = "policy",
	.named = true,
	.options = policy_options,
	.n_options = ELEMENTSOF(policy_options),
	.open = open_policy,
};

static int finish_one(Config *c, Policy *p, char **ret_error)
{
	_cleanup_free_ char *section = NULL;
	const char *missing = !p->keys		? "keys"
			      : !p->audiences	? "audiences"
			      : !p->user_ids	? "user-ids"
						: NULL;

	if (asprintf(&section, "policy %s", p->name) < 0)
		return -ENOMEM;
#define policy_error(key, ...) config_error(ret_error, c->path, p->line, section, key, __VA_ARGS__)
	if (!p->any_user && !p->n_uids && !p->n_gids && !p->units)
		return policy_error(NULL, "matches no one: give user, uid, group, gid or unit "
					  "(user = * for every user)");
	if (missing)
		return policy_error(missing, "required: the policy must say which %s it grants (* "
					     "for any)", missing);
	for (char **k = p->keys; *k; k++)
		if (strcmp(*k, "*") != 0 && !config_find_key(c, *k))
			return policy_error("keys", "grants key '%s', but there is no [key %s]", *k,
					    *k);
	if (p->burst_given && !p->rate.cost_ns)
		return policy_error("burst", "needs a rate");
#undef policy_error
	if (p->burst_given)
		p->rate.burst = p->burst_given;
	return 0;
}

int config_policies_finish(Config *c, char **ret_error)
{
	int r;

	for (size_t i = 0; i < c->n_policies; i++) {
		r = finish_one(c, &c->policies[i], ret_error);
		if (r < 0)
			return r;
	}
	return 0;
}
