/* SPDX-License-Identifier: MIT */
/* hsmjwtctl: administers hsmjwtd's keys in the PKCS#11 token directly. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "hsmjwt-build.h"
#include "config.h"
#include "ctl.h"
#include "hardening.h"
#include "log.h"

static const CtlCommand commands[] = {
	{ "import-zumo", ctl_import_zumo, "[--replace | --derive-only FD] KEYNAME",
	  "import a zumo master key (read from stdin) as KEYNAME's signing key;\n"
	  "      --derive-only writes the derived key to descriptor FD instead, for a\n"
	  "      module's own import tool (then: adopt)" },
	{ "adopt", ctl_adopt, "[--check-master] KEYNAME",
	  "check a key a module's own tool imported (with --check-master: that it is\n"
	  "      the key the master on stdin derives) and make it non-extractable" },
	{ "generate", ctl_generate, "[--replace] KEYNAME",
	  "generate KEYNAME's key pair inside the token (alg from the config)" },
	{ "jwks", ctl_jwks, "[--login]",
	  "print the public key set (JWKS) of active and published keys" },
	{ "list", ctl_list, "", "show the configured keys and the key objects on the token" },
	{ "enable-verify", ctl_enable_verify, "KEYNAME",
	  "let an HMAC key imported by an older version verify (CKA_VERIFY=TRUE)" },
	{ "check-policy", ctl_check_policy,
	  "--uid U [--gid G]... [--unit X] --aud A [--sub S] [--key K] [--lifetime N]\n"
	  "      [--credentials] [--extra-claim NAME]... [--legacy-claims]",
	  "say what hsmjwtd would decide for this peer and request, offline (no token,\n"
	  "      no PIN); exit 0 allowed, 3 invalid request, 4 permission denied" },
	{ "audit", ctl_audit, "verify [--any-start] FILE...",
	  "check the audit trail's hash chain across FILEs, oldest first\n"
	  "      (exit 0 intact, 1 broken, 3 unreadable; needs no configuration)",
	  .no_config = true },
	{ "reopen-audit", ctl_reopen_audit, "[--unit NAME]",
	  "make hsmjwtd reopen its audit file after log rotation: SIGHUP (which also\n"
	  "      reloads the configuration) through [server] pid-file, else through\n"
	  "      systemd to NAME, default hsmjwtd.service" },
};

static void help(void)
{
	printf("Usage: hsmjwtctl [--config FILE] COMMAND [ARGS...]\n\n"
	       "Administers hsmjwtd's keys in the PKCS#11 token and checks its policies.\n\n"
	       "  -c, --config FILE   configuration file (default %s)\n"
	       "  -h, --help          show this help\n"
	       "      --version       show the version\n\nCommands:\n",
	       HSMJWTD_DEFAULT_CONFIG);
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		printf("  %s %s\n      %s\n", commands[i].name, commands[i].usage, commands[i].help);
	printf("\nThe PIN comes from [token] pin-file or $CREDENTIALS_DIRECTORY/pin.\n"
	       "See hsmjwtctl(8).\n");
}

int main(int argc, char *argv[])
{
	enum { OPT_VERSION = 256 };
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{},
	};
	const char *config_path = HSMJWTD_DEFAULT_CONFIG;
	_cleanup_free_ char *error = NULL;
	Config *config = NULL;
	int c, r;

	/* "+": stop at the command, whose options are its own. */
	while ((c = getopt_long(argc, argv, "+c:h", options, NULL)) >= 0) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'h':
			help();
			return EXIT_SUCCESS;
		case OPT_VERSION:
			printf("hsmjwtctl %s\n", PACKAGE_VERSION);
			return EXIT_SUCCESS;
		default:
			return 2;
		}
	}
	if (optind >= argc) {
		help();
		return 2;
	}
	log_setup();
	if (harden_process() < 0)
		return EXIT_FAILURE;
	for (size_t i = 0; i < ELEMENTSOF(commands); i++) {
		if (strcmp(commands[i].name, argv[optind]) != 0)
			continue;
		if (commands[i].no_config) {
			r = commands[i].run(NULL, argc - optind, argv + optind);
			return r < 0 ? EXIT_FAILURE : r;
		}
		r = config_load(config_path, &config, &error);
		if (r < 0) {
			log_error("Invalid configuration: %s", error ? error : "out of memory");
			return EXIT_FAILURE;
		}
		r = commands[i].run(config, argc - optind, argv + optind);
		config_free(config);
		return r < 0 ? EXIT_FAILURE : r;
	}
	fprintf(stderr, "hsmjwtctl: unknown command '%s'; see --help\n", argv[optind]);
	return 2;
}
