/* SPDX-License-Identifier: MIT */
/*
 * hsmjwtctl reopen-audit: after log rotation, makes hsmjwtd reopen its audit
 * file by sending it SIGHUP. The daemon is found through [server] pid-file
 * (whose lock tells a live daemon from a stale file), or else asked of
 * systemd, which knows the service's main process.
 *
 * A daemon that is not running has nothing open: that is success, since
 * its next start continues the chain from the head it saved ([audit]
 * head-file). Failing there made logrotate's postrotate fail for every
 * idle-exited daemon (measured under a real systemd: "No main process to
 * kill").
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>

#include "cleanup.h"
#include "ctl.h"
#include "log.h"
#include "pidfile.h"

static int signal_pid_file(const char *path)
{
	pid_t pid;
	int r;

	r = pidfile_read_live(path, &pid);
	if (r == -ESRCH || r == -ENOENT) {
		printf("hsmjwtd is not running (no live daemon holds %s): nothing to reopen.\n", path);
		return 0;
	}
	if (r == -EPERM)
		return log_error_errno(r, "%s names a pid that does not hold its lock; not "
				       "signalling it", path);
	if (r < 0)
		return log_error_errno(r, "Cannot read pid file %s: %m", path);
	if (kill(pid, SIGHUP) < 0)
		return log_error_errno(errno, "Cannot signal hsmjwtd (pid %d): %m", (int)pid);
	printf("Asked hsmjwtd (pid %d) to reopen its audit file.\n", (int)pid);
	return 0;
}

static int signal_unit(const char *unit)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus *bus = NULL;
	int r;

	r = sd_bus_open_system(&bus);
	if (r < 0)
		return log_error_errno(r, "Cannot reach systemd over D-Bus: %m");
	/* Like "systemctl kill --kill-whom=main --signal=SIGHUP UNIT". */
	r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
			       "org.freedesktop.systemd1.Manager", "KillUnit", &error, NULL, "ssi",
			       unit, "main", SIGHUP);
	if (r < 0 && sd_bus_error_has_name(&error, "org.freedesktop.systemd1.NoSuchProcess")) {
		printf("%s is not running: nothing to reopen.\n", unit);
		r = 0;
	} else if (r < 0)
		log_error("Cannot signal %s: %s", unit, error.message ? error.message : strerror(-r));
	else
		printf("Asked %s to reopen its audit file.\n", unit);
	sd_bus_error_free(&error);
	sd_bus_flush_close_unref(bus);
	return r < 0 ? r : 0;
}

int ctl_reopen_audit(const Config *config, int argc, char *argv[])
{
	static const struct option options[] = {
		{ "unit", required_argument, NULL, 'u' },
		{},
	};
	const char *unit = "hsmjwtd.service";
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
		if (c != 'u')
			return -EINVAL;
		unit = optarg;
	}
	if (optind != argc)
		return log_error_errno(EINVAL, "reopen-audit takes no arguments");
	if (config->pid_file)
		return signal_pid_file(config->pid_file);
	if (sd_booted() <= 0)
		return log_error_errno(ESRCH, "No [server] pid-file in %s, and systemd is not "
				       "running: cannot find hsmjwtd", config->path);
	return signal_unit(unit);
}
