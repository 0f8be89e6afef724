/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The option tables behind hsmjwtd.conf, for the files of daemon/config
 * only. Each section is a table of typed rows; one dispatcher (config.c)
 * finds the row, refuses repeats through the section's seen bits (bit i is
 * row i) and stores the value at the row's offset in the section's object.
 * Every failure, while parsing or after, is reported the one way
 * config_error() formats: "file:line: [section] key: why".
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cleanup.h"

#include "config.h"

/* Room for any "why" a row can give, quoted value included (lines are < INI_MAX_LINE). */
#define CONFIG_WHY_MAX 320

typedef struct ConfigOption ConfigOption;

/* A row's own parser: -errno with the reason in why, which names neither section nor key. */
typedef int (*ConfigParseFn)(const ConfigOption *o, void *obj, const char *value,
			     char why[static CONFIG_WHY_MAX]);

typedef enum ConfigType {
	CONFIG_STRING,	  /* min..max bytes (max 0: any length) */
	CONFIG_PATH,	  /* absolute; empty means none (the field stays NULL) */
	CONFIG_BOOL,	  /* config_parse_bool() */
	CONFIG_UINT,	  /* decimal min..max into a field of 4 or 8 bytes */
	CONFIG_DURATION,  /* parse_duration() min..max seconds, into uint64_t */
	CONFIG_TIMESTAMP, /* parse_timestamp(), after 1970, into int64_t */
	CONFIG_ENUM,	  /* one of name_of(0), name_of(1), ... into an enum field */
	CONFIG_CUSTOM,	  /* parse() */
} ConfigType;

struct ConfigOption {
	const char *key;
	ConfigType type;
	size_t offset; /* of the field in the section's object */
	size_t size;   /* of the field */
	uint64_t min, max;
	const char *note; /* said after the bounds: " bytes", " (0: never)" */
	const char *(*name_of)(unsigned i); /* CONFIG_ENUM: NULL past the last name */
	ConfigParseFn parse;		     /* CONFIG_CUSTOM */
	bool repeatable; /* lists: every line appends, so no "given twice" */
	bool glob;	 /* list parsers: each value must be a valid glob */
};

#define CONFIG_FIELD(type, field) .offset = offsetof(type, field), .size = sizeof(((type *)0)->field)

typedef struct ConfigParse ConfigParse;

/* Rows per section: the seen bits are an unsigned. */
#define CONFIG_OPTIONS_MAX 32

typedef struct ConfigSection {
	const char *name; /* "server"; for a named section the word before NAME: "key" */
	bool named;
	const ConfigOption *options;
	size_t n_options;
	/*
	 * The object the section's rows write into and its seen bits. A named
	 * section is created here, or continued when it is the latest one.
	 */
	int (*open)(ConfigParse *p, const char *name, void **ret_obj, unsigned **ret_seen,
		    char why[static CONFIG_WHY_MAX]);
} ConfigSection;

/* The sections of the unnamed kind keep their seen bits and first line here. */
enum { CONFIG_SERVER, CONFIG_TOKEN, CONFIG_AUDIT, CONFIG_CLAIMS, _CONFIG_SINGLE_MAX };

struct ConfigParse {
	Config *config;
	const char *path;
	FILE *f;
	unsigned line;	      /* of the line inih is handling */
	unsigned header_line; /* of the latest [section] header */
	char *error;	      /* the first failure, formatted */
	unsigned seen[_CONFIG_SINGLE_MAX];
	unsigned lines[_CONFIG_SINGLE_MAX]; /* 0: the section is not in the file */
};

extern const ConfigSection config_section_server, config_section_token, config_section_audit,
	config_section_claims, config_section_key, config_section_policy;

/*
 * The one error format. line 0: none fits; key NULL: the section as a
 * whole; section NULL: the file as a whole. -EINVAL, or -ENOMEM with
 * *ret_error NULL.
 */
int config_error(char **ret_error, const char *path, unsigned line, const char *section,
		 const char *key, const char *fmt, ...) _printf_(6, 7);

/* Whether the row named key set a bit in seen. */
bool config_option_given(const ConfigSection *s, unsigned seen, const char *key);

/* Parses value by the row's type into obj. -errno with the reason in why. */
int config_option_set(const ConfigOption *o, void *obj, const char *value,
		      char why[static CONFIG_WHY_MAX]);

/* "1s", "10min", "3660d": seconds in the largest unit that divides them. */
void format_duration(uint64_t seconds, char *buf, size_t size);

/* Cross-field checks after the whole file, reported with config_error(). */
int config_key_finish(const Config *c, KeyConfig *k, char **ret_error);
/* Two active keys with one kid: refused unless both name the same verify-set. */
int config_keys_check_kids(const Config *c, char **ret_error);
int config_policies_finish(Config *c, char **ret_error);
