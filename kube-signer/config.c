/* SPDX-License-Identifier: MIT */
/*
 * kube-signer.conf: one [kube-signer] section, parsed strictly (an unknown
 * key, a repeated one or a bad value fails the start, so a typo never leaves
 * the signer open or half configured).
 */
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmjwt-build.h"
#include "kube-signer.h"
#include "log.h"

typedef struct Parse {
	KsConfig *c;
	unsigned seen;
	int error;
} Parse;

static int parse_u64(const char *v, uint64_t min, uint64_t max, uint64_t *ret)
{
	char *end;
	unsigned long long x;

	if (!*v || *v == '-' || *v == '+')
		return -EINVAL;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno || *end || x < min || x > max)
		return -EINVAL;
	*ret = x;
	return 0;
}

static int set_string(char **field, const char *v)
{
	char *s = strdup(v);

	if (!s)
		return -ENOMEM;
	free(*field);
	*field = *v ? s : (free(s), NULL);
	return 0;
}

/* Space-separated names or numbers; names are looked up now, so a typo fails the start. */
static int parse_ids(const char *v, bool group, uint32_t *ids, size_t *n)
{
	_cleanup_free_ char *copy = strdup(v);
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	*n = 0;
	for (char *w = strtok_r(copy, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
		uint64_t id;

		if (*n >= KS_ID_LIST_MAX)
			return -E2BIG;
		if (parse_u64(w, 0, UINT32_MAX - 1, &id) < 0) {
			struct passwd *pw = group ? NULL : getpwnam(w);
			struct group *gr = group ? getgrnam(w) : NULL;

			if (!pw && !gr)
				return -ENOENT;
			id = pw ? pw->pw_uid : gr->gr_gid;
		}
		ids[(*n)++] = (uint32_t)id;
	}
	return 0;
}

enum { ROW_STRING, ROW_U64, ROW_U32, ROW_UIDS, ROW_GIDS };

static const struct Row {
	const char *key;
	int type;
	size_t offset;
	uint64_t min, max;
} rows[] = {
	{ "hsmjwtd-socket", ROW_STRING, offsetof(KsConfig, hsmjwtd_socket) },
	{ "key", ROW_STRING, offsetof(KsConfig, key) },
	{ "listen", ROW_STRING, offsetof(KsConfig, listen) },
	{ "allow-uids", ROW_UIDS, 0 },
	{ "allow-gids", ROW_GIDS, 0 },
	{ "refresh-hint", ROW_U64, offsetof(KsConfig, refresh_hint), 1, 86400 },
	{ "request-timeout", ROW_U64, offsetof(KsConfig, request_timeout), 1, 300 },
	{ "handshake-timeout", ROW_U64, offsetof(KsConfig, handshake_timeout), 1, 300 },
	{ "idle-timeout", ROW_U64, offsetof(KsConfig, idle_timeout), 1, 86400 },
	{ "max-connections", ROW_U32, offsetof(KsConfig, max_connections), 1, 1024 },
	{ "max-streams", ROW_U32, offsetof(KsConfig, max_streams), 1, 1024 },
	{ "max-message", ROW_U32, offsetof(KsConfig, max_message), 1024, 1 << 20 },
};

static int set_row(KsConfig *c, const struct Row *row, const char *v)
{
	void *field = (char *)c + row->offset;
	uint64_t x;
	int r;

	switch (row->type) {
	case ROW_STRING:
		return set_string(field, v);
	case ROW_UIDS:
		c->uids_given = true;
		return parse_ids(v, false, c->allow_uids, &c->n_allow_uids);
	case ROW_GIDS:
		return parse_ids(v, true, c->allow_gids, &c->n_allow_gids);
	default:
		r = parse_u64(v, row->min, row->max, &x);
		if (r < 0)
			return r;
		if (row->type == ROW_U32)
			*(uint32_t *)field = (uint32_t)x;
		else
			*(uint64_t *)field = x;
		return 0;
	}
}

static int handle(void *userdata, const char *section, const char *key, const char *value)
{
	Parse *p = userdata;
	int r;

	if (strcmp(section, "kube-signer") != 0) {
		log_error("Section [%s] is not known (only [kube-signer])", section);
		return p->error = -EINVAL, 0;
	}
	for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
		if (strcmp(rows[i].key, key) != 0)
			continue;
		if (p->seen & (1u << i)) {
			log_error("[kube-signer] %s is given twice", key);
			return p->error = -EINVAL, 0;
		}
		p->seen |= 1u << i;
		r = set_row(p->c, &rows[i], value);
		if (r < 0) {
			log_error("[kube-signer] %s = %s: %s", key, value,
				  r == -ENOENT ? "no such user or group"
				  : r == -E2BIG ? "too many ids"
				  : rows[i].type >= ROW_U64 && rows[i].type <= ROW_U32
					  ? "not a number in the allowed range"
					  : strerror(-r));
			return p->error = r, 0;
		}
		return 1;
	}
	log_error("[kube-signer] %s is not a known key", key);
	return p->error = -EINVAL, 0;
}

int ks_config_load(const char *path, bool required, KsConfig *ret)
{
	KsConfig c = {
		.refresh_hint = 60,
		.request_timeout = 10,
		.handshake_timeout = 5,
		.idle_timeout = 600,
		.max_connections = 16,
		.max_streams = 100,
		.max_message = 16384,
	};
	Parse p = { .c = &c };
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	int r;

	if (!f && (required || errno != ENOENT)) {
		r = log_error_errno(errno, "Cannot open %s: %s", path, strerror(errno));
		ks_config_done(&c);
		return r;
	}
	if (f) {
		r = ini_parse_file(f, handle, &p);
		if (r > 0)
			log_error("%s:%d: not a key = value line", path, r);
		if (r != 0 || p.error < 0) {
			ks_config_done(&c);
			return p.error < 0 ? p.error : -EINVAL;
		}
	}
	if (!c.hsmjwtd_socket && !(c.hsmjwtd_socket = strdup(HSMJWT_DEFAULT_SOCKET))) {
		ks_config_done(&c);
		return -ENOMEM;
	}
	/* Without an allow list only root may call: kube-apiserver's usual identity. */
	if (!c.uids_given && !c.n_allow_gids) {
		c.allow_uids[0] = 0;
		c.n_allow_uids = 1;
	}
	*ret = c;
	return 0;
}

void ks_config_done(KsConfig *c)
{
	free(c->hsmjwtd_socket);
	free(c->key);
	free(c->listen);
	*c = (KsConfig){};
}
