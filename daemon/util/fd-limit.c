/* SPDX-License-Identifier: MIT */
#include "fd-limit.h"

#include <errno.h>
#include <sys/resource.h>

#include "log.h"

void fd_limit_ensure(unsigned n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= n)
		return;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < n ? rl.rlim_max : n;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warning_errno(errno, "Cannot raise the open file limit to %u: %m", n);
	else if (rl.rlim_cur < n)
		log_warning("Open file limit is %llu, under the %u that [server] max-connections "
			    "needs", (unsigned long long)rl.rlim_cur, n);
}
