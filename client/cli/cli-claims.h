/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "hsmjwt.h"

/* The largest v1 claim set --claims-json reads: the daemon's default frame limit. */
#define CLI_CLAIMS_JSON_MAX 65536

/*
 * --claim NAME=STRING (json false) or --claim-json NAME=JSON (json true): the
 * name ends at the first '='. JSON must be a string, an integer (or a number
 * with a whole value), true, false or an array of strings. Prints why and
 * returns -EINVAL when arg is not usable.
 */
int cli_add_claim(hsmjwt_sign_request *req, const char *arg, bool json);

/*
 * Reads at most max bytes from path ("-": stdin), minus one trailing newline,
 * refusing NUL bytes (-EINVAL) and longer input (-EFBIG). The buffer is wiped
 * after use: it may hold an access token.
 */
int cli_read_file(const char *path, size_t max, char **ret);
