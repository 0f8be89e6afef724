/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "cleanup.h"

/*
 * Why a request was refused: every layer that can refuse fills one in, the
 * protocol layer maps code onto the wire's ErrorCode and rule onto Error.rule.
 */

/* Stable error classes; the protocol layer maps them onto its ErrorCode. */
typedef enum ServiceError {
	SERVICE_OK = 0,
	SERVICE_INVALID_REQUEST,
	SERVICE_PERMISSION_DENIED,
	SERVICE_UNAVAILABLE,
	SERVICE_INTERNAL,
	SERVICE_RATE_LIMITED,
} ServiceError;

typedef struct Failure {
	ServiceError code;
	char message[256];
	uint32_t retry_after_ms; /* SERVICE_RATE_LIMITED: when a retry may succeed */
	char rule[32]; /* the broken rule's stable name (Error.rule), or "" */
} Failure;

/*
 * A client's value quoted in a message: printable ASCII only (anything else
 * becomes '?'), cut after FAILURE_ECHO_MAX bytes with "...", so a message is
 * valid UTF-8 whatever was sent (issue 16: '%.64s' cut a name mid-character
 * and strict proto3 decoders then refused the whole response).
 */
#define FAILURE_ECHO_MAX 64
const char *failure_echo(const char *s, char buf[static FAILURE_ECHO_MAX + 4]);

/* Refuses as SERVICE_INVALID_REQUEST naming the rule; returns -EINVAL. */
int failure_refuse(Failure *f, const char *rule, const char *fmt, ...) _printf_(3, 4);
