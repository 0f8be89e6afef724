/* SPDX-License-Identifier: MIT */
/* The policy glob against glibc's fnmatch(3) (flags 0, C locale) as the reference. */
#include <errno.h>
#include <fnmatch.h>
#include <stdint.h>

#include "cleanup.h"
#include "glob.h"
#include "tests.h"

static void same_as_fnmatch(const char *pattern, const char *s)
{
	bool want = fnmatch(pattern, s, 0) == 0;

	if (glob_match(pattern, s, strlen(s)) != want) {
		fprintf(stderr, "glob_match('%s', '%s') != fnmatch (%d)\n", pattern, s, want);
		exit(EXIT_FAILURE);
	}
}

static void table(void)
{
	static const char *const patterns[] = {
		"", "*", "**", "?", "Custom", "Custom:*", "Custom:?", "*:*", "Face*k", "*book",
		"a*b*c", "*a*a*a*b", "[abc]", "[!abc]", "[^abc]", "[a-c]x", "[]a]", "[!]a]",
		"[a-]", "[-a]", "\\*", "a\\?b", "[\\]]", "x[a\\-z]y", "*/*", "é*", "[é]",
		"Custom:[0-9]*", "??*",
	};
	static const char *const subjects[] = {
		"", "a", "b", "c", "d", "x", "-", "]", "*", "?", "ab", "abc", "aXbYc", "Custom",
		"Custom:", "Custom:4", "Custom:42", "Facebook", "Faceboo", "book", "aaab", "aaa",
		"a*b", "a?b", "axb", "ax", "a-x", "x-y", "xay", "xzy", "a/b", "/", "é", "éa",
		"Custom:x", "abacabab", "bx",
	};

	for (size_t i = 0; i < ELEMENTSOF(patterns); i++) {
		check_int(glob_validate(patterns[i]), 0);
		for (size_t j = 0; j < ELEMENTSOF(subjects); j++)
			same_as_fnmatch(patterns[i], subjects[j]);
	}
}

/* Random small patterns and subjects over an alphabet full of special cases. */
static void random_pairs(void)
{
	static const char *const atoms[] = { "a", "b", "*", "?", "[ab]", "[!a]", "\\*", "-", "[a-b]", "/" };
	static const char subject_bytes[] = "ab*-/";
	uint32_t seed = 12345;

	for (int round = 0; round < 20000; round++) {
		char pattern[64] = "", s[16];
		unsigned n_atoms, n;

		seed = seed * 1103515245u + 12345u;
		n_atoms = (seed >> 16) % 6;
		for (unsigned k = 0; k < n_atoms; k++) {
			seed = seed * 1103515245u + 12345u;
			strcat(pattern, atoms[(seed >> 16) % ELEMENTSOF(atoms)]);
		}
		seed = seed * 1103515245u + 12345u;
		n = (seed >> 16) % 7;
		for (unsigned k = 0; k < n; k++) {
			seed = seed * 1103515245u + 12345u;
			s[k] = subject_bytes[(seed >> 16) % (sizeof(subject_bytes) - 1)];
		}
		s[n] = '\0';
		check_int(glob_validate(pattern), 0);
		same_as_fnmatch(pattern, s);
	}
}

int main(void)
{
	char big[1025];

	table();
	random_pairs();

	/* Spans: the length counts, not a NUL. */
	check(!glob_match("Cust*", "Custom", 3));
	check(glob_match("Cust*", "Custom", 4));
	check(glob_match("Cus", "Custom", 3));

	check_int(glob_validate("[abc"), -EINVAL);
	check_int(glob_validate("[[:alpha:]]"), -EINVAL);
	check_int(glob_validate("abc\\"), -EINVAL);
	check_int(glob_validate("[a\\"), -EINVAL);
	check(glob_is_literal("Custom:42"));
	check(!glob_is_literal("Custom:*"));
	check(!glob_is_literal("a\\b"));

	/* The pattern that makes backtracking matchers exponential stays cheap here. */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	check(!glob_match("*a*a*a*a*a*a*a*a*a*a*b", big, sizeof(big) - 1));
	check(glob_match("*a*a*a*a*a*a*a*a*a*a*", big, sizeof(big) - 1));
	return 0;
}
