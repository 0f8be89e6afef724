/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>

#include "cleanup.h"
#include "ctl.h"
#include "log.h"
#include "token.h"

/* Keys imported before CKA_VERIFY was set cannot serve verify requests; this mends them. */
int ctl_enable_verify(const Config *config, int argc, char *argv[])
{
	_cleanup_(token_closep) Token *token = NULL;
	const KeyConfig *kc;
	int r;

	if (argc != 2)
		return log_error_errno(EINVAL, "enable-verify takes exactly one KEYNAME");
	kc = config_find_key(config, argv[1]);
	if (!kc)
		return log_error_errno(ENOENT, "%s has no [key %s] section", config->path, argv[1]);
	if (!algorithm_info(kc->alg)->symmetric)
		return log_error_errno(EINVAL, "Key %s verifies with its public half already", kc->name);
	r = token_open(config->module, config->token_uri, true, &token);
	if (r >= 0)
		r = token_login(token, config->pin_file);
	if (r >= 0)
		r = token_enable_verify(token, kc->uri);
	if (r >= 0)
		fprintf(stderr, "Key %s may now verify (CKA_VERIFY=TRUE)\n", kc->name);
	return r;
}
