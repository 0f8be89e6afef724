/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include "peer.h"
#include "service.h"

/*
 * One record per decision, written before the reply leaves (DESIGN invariant
 * 3). Records name the token only by its SHA-256 fingerprint, never the token
 * or the access token. A negative return means the record could not be
 * written, and the caller must not hand out the token.
 */

#define AUDIT_FINGERPRINT_HEX 65 /* 64 hex digits and NUL */

void audit_fingerprint(const char *token, size_t n, char ret_hex[static AUDIT_FINGERPRINT_HEX]);

int audit_issued(const Peer *peer, const Signed *s, const SignInput *in);
int audit_refused(const Peer *peer, const SignInput *in, const Failure *f);

/* Verify decisions; a valid v1 token also yields a deprecation event. */
int audit_verified(const Peer *peer, const char *token, size_t n, const VerifyResult *r);
int audit_verify_failed(const Peer *peer, const Failure *f);
