/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>

#include "ctl.h"
#include "log.h"

int ctl_key_argument(const Config *config, int argc, char *argv[], int first, const char *command,
		     const KeyConfig **ret)
{
	const KeyConfig *kc;

	if (argc - first != 1)
		return log_error_errno(EINVAL, "%s takes exactly one KEYNAME", command);
	kc = config_find_key(config, argv[first]);
	if (!kc)
		return log_error_errno(ENOENT, "%s has no [key %s] section", config->path, argv[first]);
	*ret = kc;
	return 0;
}

int ctl_key_argument_replace(const Config *config, int argc, char *argv[], const char *command,
			     const KeyConfig **ret, bool *ret_replace)
{
	static const struct option options[] = {
		{ "replace", no_argument, NULL, 'r' },
		{},
	};
	int c;

	*ret_replace = false;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
		if (c != 'r')
			return -EINVAL;
		*ret_replace = true;
	}
	return ctl_key_argument(config, argc, argv, optind, command, ret);
}

int ctl_open_token_rw(const Config *config, Token **ret)
{
	Token *t = NULL;
	int r;

	r = token_open(config->module, config->init_args, config->token_uri, true, &t);
	if (r >= 0)
		r = token_login(t, config->pin_file);
	if (r < 0) {
		token_close(t);
		return r;
	}
	*ret = t;
	return 0;
}
