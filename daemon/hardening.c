/* SPDX-License-Identifier: MIT */
#include "hardening.h"

#include <errno.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "log.h"

int harden_process(void)
{
	struct rlimit rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) < 0)
		return log_error_errno(errno, "Cannot disable core dumps: %m");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return log_error_errno(errno, "Cannot clear the dumpable flag: %m");
	return 0;
}
