/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Ownership through cleanup attributes, as systemd does it: a local declared
 * with _cleanup_free_ is freed when it leaves scope unless TAKE_PTR() handed
 * it on. Secrets use _cleanup_erase_free_ (see secret.h).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _fallthrough_ __attribute__((fallthrough))
#define _unused_ __attribute__((unused))
#define _public_ __attribute__((visibility("default")))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

#define TAKE_PTR(p)                          \
	({                                   \
		__typeof__(p) _ptr_ = (p);   \
		(p) = NULL;                  \
		_ptr_;                       \
	})

#define TAKE_FD(fd)                    \
	({                             \
		int _fd_ = (fd);       \
		(fd) = -EBADF;         \
		_fd_;                  \
	})

static inline void freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Defines name##p() that calls a free function accepting NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)      \
	static inline void func##p(type *p)          \
	{                                            \
		if (*p)                              \
			func(*p);                    \
	}

static inline int negative_errno(void)
{
	/* Some libc paths leave errno at 0 on failure: never return success by accident. */
	return errno > 0 ? -errno : -EIO;
}
