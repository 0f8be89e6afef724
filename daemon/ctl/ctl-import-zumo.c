/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
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


static void restore_echo(struct termios *saved)
{
	if (saved->c_lflag)
		tcsetattr(STDIN_FILENO, TCSANOW, saved);
}

/* Reads the master key from stdin (never argv): one line, its newline dropped. */
int ctl_read_master(char buf[static MASTER_KEY_MAX + 2], size_t *ret_len)
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

/* The module takes no secret key through C_CreateObject: say what works instead. */
static void explain_refusal(const KeyConfig *kc)
{
	fprintf(stderr,
		"\nThis module cannot import the zumo key through PKCS#11. Use its own import tool:\n"
		"  1. hsmjwtctl import-zumo --derive-only 3 %s 3>KEYFILE < master\n"
		"     writes the 32-byte derived key SHA-256(master || \"JWTSig\") to descriptor 3;\n"
		"     keep KEYFILE on a tmpfs, mode 0600, and shred it right after step 2\n"
		"  2. the module's import, e.g. for tpm2-pkcs11:\n"
		"     tpm2_ptool import --algorithm hmac:sha256 --privkey KEYFILE --label TOKEN \\\n"
		"       --key-label LABEL --userpin ...; shred -u KEYFILE\n"
		"  3. hsmjwtctl adopt --check-master %s < master\n"
		"     checks the object its uri names signs like the derived key and makes it\n"
		"     non-extractable if the module allows\n", kc->name, kc->name);
}

/* --derive-only FD: the derived key to FD, for a vendor's import tool; never to a terminal. */
static int write_derived(int fd, const uint8_t key[static 32])
{
	size_t done = 0;

	if (isatty(fd))
		return log_error_errno(EINVAL, "--derive-only %d: descriptor %d is a terminal; "
					       "redirect it to a file (e.g. 3>KEYFILE)", fd, fd);
	while (done < 32) {
		ssize_t k = write(fd, key + done, 32 - done);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return log_error_errno(errno, "--derive-only %d: cannot write: %m", fd);
		done += (size_t)k;
	}
	return 0;
}

static int parse_options(int argc, char *argv[], bool *ret_replace, int *ret_fd)
{
	static const struct option options[] = {
		{ "replace", no_argument, NULL, 'r' },
		{ "derive-only", required_argument, NULL, 'd' },
		{},
	};
	char *end;
	long v;
	int c;

	*ret_replace = false;
	*ret_fd = -1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
		switch (c) {
		case 'r':
			*ret_replace = true;
			break;
		case 'd':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 3 || v > INT_MAX ||
			    fcntl((int)v, F_GETFD) < 0)
				return log_error_errno(EBADF, "--derive-only takes an open file "
							      "descriptor number from 3 up, not '%s'",
						       optarg);
			*ret_fd = (int)v;
			break;
		default:
			return -EINVAL;
		}
	}
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
	int r, fd;

	r = parse_options(argc, argv, &replace, &fd);
	if (r >= 0)
		r = ctl_key_argument(config, argc, argv, optind, "import-zumo", &kc);
	if (r < 0)
		return r;
	if (kc->profile != PROFILE_ZUMO_V2)
		return log_error_errno(EINVAL, "Key %s is not a zumo-v2 key", kc->name);
	if (fd >= 0 && replace)
		return log_error_errno(EINVAL, "--derive-only touches no token; --replace makes no sense");

	r = ctl_read_master(master, &n);
	if (r >= 0)
		r = zumo_derive_signing_key(master, n, key);
	secret_wipe(master, sizeof(master));
	if (r < 0)
		goto out;
	if (fd >= 0) {
		r = write_derived(fd, key);
		if (r >= 0)
			fprintf(stderr, "Wrote the derived key of %s (32 bytes) to descriptor %d\n",
				kc->name, fd);
		goto out;
	}
	r = ctl_open_token_rw(config, &token);
	if (r >= 0)
		r = token_import_hmac_key(token, kc->uri, key, replace);
	if (r == -EOPNOTSUPP)
		explain_refusal(kc);
	if (r >= 0)
		fprintf(stderr, "Imported key %s into token %s as %s\n", kc->name,
			token_describe(token), kc->uri);
out:
	secret_wipe(key, sizeof(key));
	token_close(token);
	return r < 0 ? r : 0;
}
