/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "ctl.h"
#include "log.h"
#include "secret.h"
#include "zumo-key.h"
#include "token.h"

/* Mobile Services master keys are short strings; a bigger input is a mistake. */
#define MASTER_KEY_MAX 4096

static void restore_echo(struct termios *saved)
{
	if (saved->c_lflag)
		tcsetattr(STDIN_FILENO, TCSANOW, saved);
}

/* Reads the master key from stdin (never argv): one line, its newline dropped. */
static int read_master(char buf[static MASTER_KEY_MAX + 2], size_t *ret_len)
{
	_cleanup_(restore_echo) struct termios saved = {};
	size_t n = 0;

	if (isatty(STDIN_FILENO)) {
		struct termios t;

		if (tcgetattr(STDIN_FILENO, &t) == 0) {
			saved = t;
			t.c_lflag &= ~(tcflag_t)ECHO;
			tcsetattr(STDIN_FILENO, TCSANOW, &t);
		}
		fputs("Master key: ", stderr);
	}
	while (n < MASTER_KEY_MAX + 1) {
		ssize_t k = read(STDIN_FILENO, buf + n, MASTER_KEY_MAX + 1 - n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return log_error_errno(errno, "Cannot read the master key from stdin: %m");
		}
		if (k == 0)
			break;
		n += (size_t)k;
		if (isatty(STDIN_FILENO) && buf[n - 1] == '\n')
			break;
	}
	if (isatty(STDIN_FILENO))
		fputc('\n', stderr);
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n > MASTER_KEY_MAX)
		return log_error_errno(E2BIG, "Master key longer than %d bytes", MASTER_KEY_MAX);
	if (n == 0)
		return log_error_errno(EINVAL, "No master key on stdin");
	if (memchr(buf, '\n', n))
		return log_error_errno(EINVAL, "Master key spans several lines; give one line");
	*ret_len = n;
	return 0;
}

int ctl_import_zumo(const Config *config, int argc, char *argv[])
{
	const KeyConfig *kc;
	Token *token = NULL;
	char master[MASTER_KEY_MAX + 2];
	uint8_t key[32];
	size_t n = 0;
	bool replace;
	int r;

	r = ctl_key_argument_replace(config, argc, argv, "import-zumo", &kc, &replace);
	if (r < 0)
		return r;
	if (kc->profile != PROFILE_ZUMO_V2)
		return log_error_errno(EINVAL, "Key %s is not a zumo-v2 key", kc->name);

	r = read_master(master, &n);
	if (r >= 0)
		r = zumo_derive_signing_key(master, n, key);
	secret_wipe(master, sizeof(master));
	if (r < 0)
		goto out;
	r = ctl_open_token_rw(config, &token);
	if (r >= 0)
		r = token_import_hmac_key(token, kc->uri, key, replace);
	if (r >= 0)
		fprintf(stderr, "Imported key %s into token %s as %s\n", kc->name,
			token_describe(token), kc->uri);
out:
	secret_wipe(key, sizeof(key));
	token_close(token);
	return r < 0 ? r : 0;
}
