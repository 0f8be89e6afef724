/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "config.h"

/*
 * One hsmjwtctl subcommand per file, behind a {name, fn, help} table. run()
 * returns -errno on failure (exit status 1), else the exit status.
 */
typedef struct CtlCommand {
	const char *name;
	int (*run)(const Config *config, int argc, char *argv[]);
	const char *usage;
	const char *help;
	bool no_config; /* runs without the configuration: config is NULL */
} CtlCommand;

int ctl_import_zumo(const Config *config, int argc, char *argv[]);
int ctl_audit(const Config *config, int argc, char *argv[]);
int ctl_reopen_audit(const Config *config, int argc, char *argv[]);

/* Derives the zumo signing key: SHA-256(UTF-8(master) || "JWTSig"). */
int zumo_derive_signing_key(const char *master, size_t n, uint8_t ret_key[static 32]);
