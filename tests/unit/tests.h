/* SPDX-License-Identifier: MIT */
#pragma once

/* Small assert macros: a failed check prints where and exits 1; 77 means skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_TEST_SKIP 77

#define check(expr)                                                                   \
	do {                                                                          \
		if (!(expr)) {                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
			exit(EXIT_FAILURE);                                           \
		}                                                                     \
	} while (0)

#define check_int(a, b)                                                                     \
	do {                                                                                \
		long long _a = (long long)(a), _b = (long long)(b);                         \
		if (_a != _b) {                                                             \
			fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, \
				__LINE__, #a, _a, #b, _b);                                  \
			exit(EXIT_FAILURE);                                                 \
		}                                                                           \
	} while (0)

#define check_mem(p, n, expected)                                                          \
	do {                                                                               \
		const char *_e = (expected);                                               \
		size_t _n = (n);                                                           \
		if (_n != strlen(_e) || memcmp((p), _e, _n) != 0) {                        \
			fprintf(stderr, "%s:%d: got\n  %.*s\nexpected\n  %s\n", __FILE__, __LINE__, \
				(int)_n, (const char *)(p), _e);                           \
			exit(EXIT_FAILURE);                                                \
		}                                                                          \
	} while (0)
