/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include "cleanup.h"
#include "ctl.h"
#include "keyring.h"
#include "log.h"
#include "token.h"

/* Prints the JWKS the daemon would serve, for publishing on a web server. */
int ctl_jwks(const Config *config, int argc, char *argv[])
{
	static const struct option options[] = {
		{ "login", no_argument, NULL, 'l' },
		{},
	};
	_cleanup_(token_closep) Token *token = NULL;
	_cleanup_(keyring_freep) Keyring *keyring = NULL;
	bool login = false;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
		if (c != 'l')
			return -EINVAL;
		login = true;
	}
	if (optind != argc)
		return log_error_errno(EINVAL, "jwks takes no arguments");
	/* Public halves are public objects: no PIN needed unless the token hides them. */
	r = token_open(config->module, config->init_args, config->token_uri, false, &token);
	if (r >= 0 && login)
		r = token_login(token, config->pin_file);
	if (r >= 0)
		r = keyring_load(token, config->keys, config->n_keys, 0, &keyring);
	if (r < 0)
		return r;
	printf("%s\n", keyring->jwks);
	return fflush(stdout) == 0 ? 0 : -EIO;
}
