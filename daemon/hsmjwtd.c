/* SPDX-License-Identifier: MIT */
/* hsmjwtd: signs Mobile Services v2 JWTs with keys that never leave a PKCS#11 token. */
#include <errno.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "cleanup.h"
#include "hsmjwt-build.h"
#include "config.h"
#include "hardening.h"
#include "log.h"
#include "pidfile.h"
#include "server.h"
#include "service.h"

static void help(void)
{
	printf("Usage: hsmjwtd [--config FILE] [--check-config]\n"
	       "\n"
	       "Signs JWTs inside a PKCS#11 token for local clients on a Unix socket.\n"
	       "\n"
	       "  -c, --config FILE   configuration file (default %s)\n"
	       "      --check-config  parse and validate the configuration, then exit\n"
	       "  -h, --help          show this help\n"
	       "      --version       show the version\n"
	       "\n"
	       "The socket comes from systemd socket activation, or [server] socket when\n"
	       "started by hand. The PIN is read from [token] pin-file or\n"
	       "$CREDENTIALS_DIRECTORY/pin. Requests are granted by [policy NAME] sections\n"
	       "(none: every request is denied); SIGHUP re-reads them without dropping\n"
	       "connections and reopens the [audit] file after log rotation. See hsmjwtd(8)\n"
	       "and hsmjwtd.conf(5).\n",
	       HSMJWTD_DEFAULT_CONFIG);
}

int main(int argc, char *argv[])
{
	enum { OPT_VERSION = 256, OPT_CHECK };
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, OPT_CHECK },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{},
	};
	const char *config_path = HSMJWTD_DEFAULT_CONFIG;
	_cleanup_free_ char *error = NULL;
	bool check_only = false;
	Config *config = NULL;
	Service *service = NULL;
	int c, r, pid_fd = -EBADF;

	while ((c = getopt_long(argc, argv, "c:h", options, NULL)) >= 0) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case OPT_CHECK:
			check_only = true;
			break;
		case 'h':
			help();
			return EXIT_SUCCESS;
		case OPT_VERSION:
			printf("hsmjwtd %s\n", PACKAGE_VERSION);
			return EXIT_SUCCESS;
		default:
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hsmjwtd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	log_setup();
	/*
	 * Before anything initialises OpenSSL (our SHA-256, SoftHSM): its
	 * default init also loads the text of every error reason: 0.3 MiB of
	 * library pages and heap resident for good. Only SoftHSM prints OpenSSL
	 * errors, rarely; they keep their code ("error:0308010C:lib(6)::..."),
	 * which `openssl errstr` spells out. openssl.cnf is still loaded.
	 */
	if (!OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, NULL)) {
		log_error("Cannot initialise OpenSSL");
		return EXIT_FAILURE;
	}
	if (harden_process() < 0)
		return EXIT_FAILURE;

	r = config_load(config_path, &config, &error);
	if (r < 0) {
		log_error("Invalid configuration: %s", error ? error : "out of memory");
		(void)sd_notifyf(0, "STATUS=Invalid configuration\nERRNO=%d", -r);
		return EXIT_FAILURE;
	}
	if (check_only) {
		printf("%s: OK, %zu key(s), %zu polic%s%s\n", config_path, config->n_keys,
		       config->n_policies, config->n_policies == 1 ? "y" : "ies",
		       config->n_policies ? "" : " (every request will be denied)");
		config_free(config);
		return EXIT_SUCCESS;
	}
	if (config->pid_file) {
		r = pidfile_acquire(config->pid_file, &pid_fd);
		if (r < 0) {
			log_error_errno(r, "Cannot take pid file %s: %s", config->pid_file,
					r == -EBUSY ? "another hsmjwtd holds it" : strerror(-r));
			config_free(config);
			return EXIT_FAILURE;
		}
	}
	_cleanup_free_ char *pid_file = config->pid_file ? strdup(config->pid_file) : NULL;
	/*
	 * Before the module loads: threads it starts in C_Initialize inherit this mask.
	 * tpm2-pkcs11's D-Bus TCTI starts GLib threads; with SIGHUP unblocked there, a
	 * reload signal landed on one of them and killed the daemon. The loop takes
	 * these signals through signalfd (server.c).
	 */
	r = server_block_signals();
	if (r < 0) {
		config_free(config);
		pidfile_release(pid_file, pid_fd);
		return EXIT_FAILURE;
	}
	r = service_new(config, &service);
	if (r < 0) {
		(void)sd_notifyf(0, "STATUS=Cannot open the audit trail, the token or its keys\nERRNO=%d", -r);
		pidfile_release(pid_file, pid_fd);
		return EXIT_FAILURE;
	}
	/* The server writes the audit trail's start and stop records around its loop. */
	r = server_run(service);
	service_free(service);
	pidfile_release(pid_file, pid_fd);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
