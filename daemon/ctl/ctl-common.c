/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include "cleanup.h"
#include "ctl.h"
#include "log.h"
#include "pin.h"
#include "secret.h"

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

/*
 * [token] owner, run as root: become that user, with its groups, before the
 * module is loaded, so that every file the token's store gets (SoftHSMv2
 * makes each object file 0600 for its creator) is the daemon's. Measured
 * under a real systemd: keys made by root were unreadable to hsmjwtd, and a
 * reload was refused ("Permission denied" on the .object file).
 */
static int become_owner(const Config *config)
{
	struct passwd *pw;

	if (!config->token_owner || geteuid() != 0)
		return 0;
	errno = 0;
	pw = getpwnam(config->token_owner);
	if (!pw)
		return log_error_errno(errno ? errno : ENOENT, "[token] owner: no user %s",
				       config->token_owner);
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0)
		return log_error_errno(errno, "Cannot become %s ([token] owner): %m",
				       config->token_owner);
	return 0;
}

int ctl_open_token_rw(const Config *config, Token **ret)
{
	_cleanup_erase_free_ char *pin = NULL;
	_cleanup_free_ char *source = NULL;
	Token *t = NULL;
	int r;

	/* The PIN first: its file is root's; the token's store is the owner's. */
	r = pin_read(config->pin_file, &pin, &source);
	if (r < 0)
		return r;
	r = become_owner(config);
	if (r < 0)
		return r;
	r = token_open(config->module, config->init_args, config->token_uri, true, &t);
	if (r >= 0)
		r = token_login_pin(t, pin, source);
	if (r < 0) {
		token_close(t);
		return r;
	}
	*ret = t;
	return 0;
}
