/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/*
 * Shell-style patterns for policies, with the meaning fnmatch(3) gives them
 * without flags in the C locale: '*' any bytes (including '/'), '?' one byte,
 * '[abc]' '[a-z]' '[!x]' '[^x]' one byte of a set, '\x' a literal x.
 * Character classes ('[:alpha:]') are not supported and refused at load.
 *
 * Our own matcher rather than fnmatch(3): the subject comes from a client
 * and glibc's fnmatch backtracks exponentially in the number of '*', while
 * this one is O(pattern x subject); and subjects are (pointer, length) spans.
 */

/* 0 when the pattern is usable; -EINVAL with an unterminated '[', a class, a trailing '\'. */
int glob_validate(const char *pattern);

bool glob_match(const char *pattern, const char *s, size_t n);

/* True when the pattern has no special characters: it can only match itself. */
bool glob_is_literal(const char *pattern);
