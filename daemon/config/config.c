/* SPDX-License-Identifier: MIT */
/* Loading hsmjwtd.conf: the dispatcher over the section tables, then the checks between keys. */
#include "config-table.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "hsmjwt-build.h"
#include "policy.h"

static const ConfigSection *const sections[] = {
	&config_section_server, &config_section_token, &config_section_audit,
	&config_section_claims, &config_section_key,	&config_section_policy,
};

static const ConfigSection *find_section(const char *section, const char **ret_name)
{
	for (size_t i = 0; i < ELEMENTSOF(sections); i++) {
		const ConfigSection *s = sections[i];
		size_t n = strlen(s->name);

		if (!s->named && strcmp(section, s->name) == 0) {
			*ret_name = NULL;
			return s;
		}
		if (s->named && strncmp(section, s->name, n) == 0 && section[n] == ' ') {
			*ret_name = section + n + 1;
			return s;
		}
	}
	return NULL;
}

static const ConfigOption *find_option(const ConfigSection *s, const char *key, unsigned *ret_bit)
{
	for (size_t i = 0; i < s->n_options; i++)
		if (strcmp(s->options[i].key, key) == 0) {
			*ret_bit = 1u << i;
			return &s->options[i];
		}
	return NULL;
}

/* Problems of a section as a whole are on its header line, of a key on the key's. */
static int fail(ConfigParse *p, const char *section, const char *key, const char *fmt, ...)
	_printf_(4, 5);
static int fail(ConfigParse *p, const char *section, const char *key, const char *fmt, ...)
{
	unsigned line = key ? p->line : p->header_line;
	char why[CONFIG_WHY_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	(void)config_error(&p->error, p->path, line, section, key, "%s", why);
	if (!p->error)
		p->error = strdup("out of memory");
	return 0; /* inih: the handler failed */
}

static int unknown_key(ConfigParse *p, const ConfigSection *s, const char *section,
		       const char *key)
{
	char known[CONFIG_WHY_MAX];
	size_t n = 0;

	for (size_t i = 0; i < s->n_options && n < sizeof(known); i++)
		n += snprintf(known + n, sizeof(known) - n, "%s%s", i ? ", " : "",
			      s->options[i].key);
	return fail(p, section, key, "unknown key (known: %s)", known);
}

static int unknown_section(ConfigParse *p, const char *section)
{
	char known[CONFIG_WHY_MAX];
	size_t n = 0;

	for (size_t i = 0; i < ELEMENTSOF(sections) && n < sizeof(known); i++)
		n += snprintf(known + n, sizeof(known) - n, "%s%s%s", i ? ", " : "",
			      sections[i]->name, sections[i]->named ? " NAME" : "");
	return fail(p, section, NULL, "unknown section (known: %s)", known);
}

/* The one dispatcher: every key of every section goes through here. */
static int handle(void *user, const char *section, const char *key, const char *value)
{
	ConfigParse *p = user;
	char why[CONFIG_WHY_MAX] = "";
	const ConfigSection *s;
	const ConfigOption *o;
	const char *name;
	unsigned *seen, bit;
	void *obj;

	if (p->error)
		return 0;
	s = find_section(section, &name);
	if (!s)
		return unknown_section(p, section);
	if (s->open(p, name, &obj, &seen, why) < 0)
		return fail(p, section, NULL, "%s", why);
	if (!key) /* a section header on its own, should inih report those */
		return 1;
	o = find_option(s, key, &bit);
	if (!o)
		return unknown_key(p, s, section, key);
	if ((*seen & bit) && !o->repeatable)
		return fail(p, section, key, "given twice");
	*seen |= bit;
	if (config_option_set(o, obj, value, why) < 0)
		return fail(p, section, key, "%s", why);
	return 1;
}

/* fgets() for inih that counts lines, so the handler knows where it is. */
static char *read_line(char *buf, int size, void *user)
{
	ConfigParse *p = user;
	char *s = fgets(buf, size, p->f);

	if (!s)
		return NULL;
	p->line++;
	/* inih skips a UTF-8 byte order mark before the first header: so do we. */
	if (p->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	if (s[strspn(s, " \t")] == '[')
		p->header_line = p->line;
	return buf;
}

/* Checks between keys and sections, once the whole file is read. */
static int apply_defaults(ConfigParse *p, char **ret_error)
{
	Config *c = p->config;
	int r;

	if (!c->token_uri)
		return config_error(ret_error, c->path, p->lines[CONFIG_TOKEN], "token", "uri",
				    "required: the token that holds the keys");
	if (c->n_keys == 0)
		return config_error(ret_error, c->path, 0, NULL, NULL, "no [key NAME] section");
	for (size_t i = 0; i < c->n_keys; i++) {
		r = config_key_finish(c, &c->keys[i], ret_error);
		if (r < 0)
			return r;
	}
	r = config_keys_check_kids(c, ret_error);
	if (r < 0)
		return r;
	if (!config_option_given(&config_section_token, p->seen[CONFIG_TOKEN], "sessions"))
		c->sessions = config_default_sessions();
	if (!c->socket_path && !(c->socket_path = strdup(HSMJWT_DEFAULT_SOCKET)))
		return -ENOMEM;
	/* No "file" line: the default file; "file =" (empty): none. */
	if (!config_option_given(&config_section_audit, c->audit.seen, "file") &&
	    !(c->audit.file = strdup(CONFIG_DEFAULT_AUDIT_FILE)))
		return -ENOMEM;
	if (!c->audit.file && !c->audit.journal)
		return config_error(ret_error, c->path, p->lines[CONFIG_AUDIT], "audit", NULL,
				    "needs a sink: a file, the journal or both");
	return config_policies_finish(c, ret_error);
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
	unsigned n = 0;

	while ((k = getline(&line, &cap, f)) >= 0) {
		n++;
		if (k > 0 && line[k - 1] == '\n')
			k--;
		if (k > INI_MAX_LINE - 2)
			return config_error(ret_error, path, n, NULL, NULL, "line longer than %d bytes "
					    "(continue a list on indented lines)", INI_MAX_LINE - 2);
	}
	rewind(f);
	return 0;
}

int config_load_file(FILE *f, const char *path, Config **ret, char **ret_error)
{
	_cleanup_(config_freep) Config *c = NULL;
	ConfigParse p = {};
	int r;

	*ret_error = NULL;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->path = strdup(path)))
		return -ENOMEM;
	c->max_frame = 64u * 1024u;
	c->max_connections = CONFIG_DEFAULT_MAX_CONNECTIONS;
	c->peer_limits = (PeerLimits){ .connections = PEER_DEFAULT_CONNECTIONS,
				       .inflight = PEER_DEFAULT_INFLIGHT,
				       .denial_records = PEER_DEFAULT_DENIAL_RECORDS };
	c->max_queue = CONFIG_DEFAULT_MAX_QUEUE;
	c->request_timeout = CONFIG_DEFAULT_REQUEST_TIMEOUT;
	c->read_timeout = CONFIG_DEFAULT_READ_TIMEOUT;
	c->write_timeout = CONFIG_DEFAULT_WRITE_TIMEOUT;
	c->idle_timeout = CONFIG_DEFAULT_IDLE_TIMEOUT;
	audit_config_defaults(&c->audit);
	claim_limits_init(&c->claims);

	r = check_line_lengths(f, path, ret_error);
	if (r < 0)
		return r;
	p = (ConfigParse){ .config = c, .path = c->path, .f = f };
	r = ini_parse_stream(read_line, &p, handle, &p);
	if (p.error) {
		*ret_error = TAKE_PTR(p.error);
		return -EINVAL;
	}
	if (r != 0)
		return config_error(ret_error, path, (unsigned)r, NULL, NULL, "syntax error");
	r = apply_defaults(&p, ret_error);
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
		return config_error(ret_error, path, 0, NULL, NULL, "%s", strerror(-r)) == -ENOMEM ?
			       -ENOMEM : r;
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
		free(c->keys[i].verify_set);
		free(c->keys[i].issuer);
	}
	free(c->keys);
	policies_free(c->policies, c->n_policies);
	free(c->path);
	free(c->socket_path);
	free(c->module);
	free(c->init_args);
	free(c->token_uri);
	free(c->pin_file);
	free(c->token_owner);
	free(c->pid_file);
	audit_config_done(&c->audit);
	free(c);
	return NULL;
}
