/* SPDX-License-Identifier: MIT */
#pragma once

#include "peer.h"

/*
 * A deprecation event: a client sent a v1 claim set and the daemon upgraded
 * it, as the Mobile Services runtime warned about every v1 token. Written
 * before the token's own record; a negative return means it could not be
 * written, and the caller must not hand out the token.
 */
int audit_deprecation(const Peer *peer, const char *key_name, const char *what_changed);
