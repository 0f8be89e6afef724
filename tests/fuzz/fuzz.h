/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Every target defines this; libFuzzer or replay-main.c calls it. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
