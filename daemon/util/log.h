/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

#include "cleanup.h"

/*
 * Programs log each failure once, where it is handled. Lines go to stderr;
 * under systemd (JOURNAL_STREAM set) they carry "<N>" priority prefixes so
 * the journal keeps the level.
 */

void log_setup(void);
void log_set_max_level(int level);
int log_get_max_level(void);

/* Logs and returns -abs(error) so call sites can write: return log_error_errno(r, "..."). */
int log_full_errno(int level, int error, const char *fmt, ...) _printf_(3, 4);

#define log_full(level, ...) ((void)log_full_errno((level), 0, __VA_ARGS__))
#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)

/*
 * For lines a peer can cause at will (a refused connection): at most one
 * per interval. true: log now; *ret_suppressed is how many were skipped
 * since the last line, for that line to say.
 */
typedef struct LogThrottle {
	uint64_t next_usec;
	unsigned suppressed;
} LogThrottle;
bool log_throttle(LogThrottle *t, uint64_t now_usec, uint64_t interval_usec,
		  unsigned *ret_suppressed);
