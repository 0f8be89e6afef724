/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Makes jansson wipe every block it frees: parsed claim sets and JWTs hold
 * access tokens. Idempotent; call it before the first jansson call (jansson
 * asks for that; both allocators being malloc's, a late call is still safe).
 */
void jansson_use_wiping_allocator(void);
