/* SPDX-License-Identifier: MIT */
#include "hardening.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "log.h"

int harden_process(void)
{
	struct rlimit none = { 0, 0 }, cur;

	/* Under systemd LimitCORE=0 already did this, and the sandbox may forbid setrlimit. */
	bool done = getrlimit(RLIMIT_CORE, &cur) == 0 && cur.rlim_cur == 0 && cur.rlim_max == 0;
	if (!done && setrlimit(RLIMIT_CORE, &none) < 0)
		return log_error_errno(errno, "Cannot disable core dumps: %m");
	/*
	 * A PKCS#11 module talking to a remote token (p11-kit-client.so) writes to
	 * sockets without MSG_NOSIGNAL: a dead peer must be an error, not our death.
	 */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return log_error_errno(errno, "Cannot ignore SIGPIPE: %m");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return log_error_errno(errno, "Cannot clear the dumpable flag: %m");
	return 0;
}
