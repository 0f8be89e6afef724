/* SPDX-License-Identifier: MIT */
#pragma once

/* Configuration tests: text goes through a real file and config_load(). */
#include <unistd.h>

#include "config.h"
#include "tests.h"

static char path[] = "/tmp/hsmjwt-test-config-XXXXXX";

static int load(const char *text, Config **ret, char **ret_error)
{
	FILE *f = fopen(path, "we");

	check(f);
	fputs(text, f);
	fclose(f);
	return config_load(path, ret, ret_error);
}

/* The text must be refused, with an error that contains message_part. */
static void bad(const char *text, const char *message_part)
{
	Config *c = NULL;
	char *err = NULL;

	check(load(text, &c, &err) < 0);
	check(c == NULL);
	check(err);
	if (!strstr(err, message_part)) {
		fprintf(stderr, "error '%s' lacks '%s'\n", err, message_part);
		exit(EXIT_FAILURE);
	}
	free(err);
}
