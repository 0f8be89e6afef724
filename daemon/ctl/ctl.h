/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "config.h"
#include "token.h"

/*
 * One hsmjwtctl subcommand per file, behind a {name, fn, help} table. run
 * returns -errno (exit status 1) or the exit status, 0 for success.
 */
typedef struct CtlCommand {
	const char *name;
	int (*run)(const Config *config, int argc, char *argv[]);
	const char *usage;
	const char *help;
	bool no_config; /* runs without the configuration: config is NULL */
} CtlCommand;

int ctl_import_zumo(const Config *config, int argc, char *argv[]);
int ctl_generate(const Config *config, int argc, char *argv[]);
int ctl_jwks(const Config *config, int argc, char *argv[]);
int ctl_list(const Config *config, int argc, char *argv[]);
int ctl_enable_verify(const Config *config, int argc, char *argv[]);
int ctl_check_policy(const Config *config, int argc, char *argv[]);
int ctl_audit(const Config *config, int argc, char *argv[]);
int ctl_reopen_audit(const Config *config, int argc, char *argv[]);
int ctl_adopt(const Config *config, int argc, char *argv[]);

/* Mobile Services master keys are short strings; a bigger input is a mistake. */
#define MASTER_KEY_MAX 4096
/* Reads the master key from stdin (never argv): one line, its newline dropped. */
int ctl_read_master(char buf[static MASTER_KEY_MAX + 2], size_t *ret_len);

/* The [key NAME] a command names: the one argument left at argv[first]. */
int ctl_key_argument(const Config *config, int argc, char *argv[], int first, const char *command,
		     const KeyConfig **ret);
/* [--replace] KEYNAME: the commands that create a key. */
int ctl_key_argument_replace(const Config *config, int argc, char *argv[], const char *command,
			     const KeyConfig **ret, bool *ret_replace);
/* Opens the token read-write and logs in, for the commands that change keys. */
int ctl_open_token_rw(const Config *config, Token **ret);
