/* SPDX-License-Identifier: MIT */
#include "glob.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "cleanup.h"

/*
 * Parses the bracket expression that starts after the '[' at p[*i], tells
 * whether byte c is in it and moves *i past the closing ']'. Returns
 * -EINVAL for what glob_validate refuses.
 */
static int bracket(const char *p, size_t *i, unsigned char c, bool *ret_in)
{
	size_t j = *i;
	bool negate = false, in = false, first = true;

	if (p[j] == '!' || p[j] == '^') {
		negate = true;
		j++;
	}
	for (;;) {
		unsigned char lo, hi;

		if (p[j] == '\0')
			return -EINVAL;
		if (p[j] == ']' && !first)
			break;
		if (p[j] == '[' && (p[j + 1] == ':' || p[j + 1] == '=' || p[j + 1] == '.'))
			return -EINVAL;
		if (p[j] == '\\' && p[++j] == '\0')
			return -EINVAL;
		lo = hi = (unsigned char)p[j++];
		if (p[j] == '-' && p[j + 1] != ']' && p[j + 1] != '\0') {
			j++;
			if (p[j] == '\\' && p[++j] == '\0')
				return -EINVAL;
			hi = (unsigned char)p[j++];
		}
		if (lo <= c && c <= hi)
			in = true;
		first = false;
	}
	*i = j + 1;
	*ret_in = in != negate;
	return 0;
}

int glob_validate(const char *pattern)
{
	for (size_t i = 0; pattern[i];) {
		bool in;

		if (pattern[i] == '[') {
			i++;
			if (bracket(pattern, &i, 0, &in) < 0)
				return -EINVAL;
		} else if (pattern[i] == '\\') {
			if (pattern[i + 1] == '\0')
				return -EINVAL;
			i += 2;
		} else {
			i++;
		}
	}
	return 0;
}

bool glob_is_literal(const char *pattern)
{
	return !strpbrk(pattern, "*?[\\");
}

/* Does the single-byte element at p[*i] ('?', a set, an escape or a literal) match c? */
static bool element(const char *p, size_t *i, unsigned char c)
{
	bool in = false;

	switch (p[*i]) {
	case '?':
		(*i)++;
		return true;
	case '[':
		(*i)++;
		/* Validated at load; an invalid set matches nothing rather than crash. */
		return bracket(p, i, c, &in) == 0 && in;
	case '\\':
		(*i)++;
		_fallthrough_;
	default:
		return (unsigned char)p[(*i)++] == c;
	}
}

bool glob_match(const char *pattern, const char *s, size_t n)
{
	/* Backtrack only to the last '*': each retry moves on one byte, so O(|p| * n). */
	size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;

	while (si < n) {
		size_t next = pi;

		if (pattern[pi] == '*') {
			while (pattern[pi] == '*')
				pi++;
			star_p = pi;
			star_s = si;
			continue;
		}
		if (pattern[pi] != '\0' && element(pattern, &next, (unsigned char)s[si])) {
			pi = next;
			si++;
			continue;
		}
		if (star_p == SIZE_MAX)
			return false;
		pi = star_p;
		si = ++star_s;
	}
	while (pattern[pi] == '*')
		pi++;
	return pattern[pi] == '\0';
}
