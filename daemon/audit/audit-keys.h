/* SPDX-License-Identifier: MIT */
#pragma once

#include "audit.h"
#include "keyring.h"

/*
 * After a reload: one key-change record per key that appeared, disappeared
 * (retired keys are not loaded) or changed kid, algorithm or state.
 */
void audit_keyring_changes(Audit *a, const Keyring *old, const Keyring *new);
