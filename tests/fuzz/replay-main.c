/* SPDX-License-Identifier: MIT */
/*
 * Without libFuzzer (gcc builds, meson test), a fuzz target runs once over
 * every file of the corpus directories it is given: the committed seeds and
 * any crash reproducers become regression tests.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#define INPUT_MAX (1u << 20)

static int run_file(const char *path)
{
	FILE *f = fopen(path, "re");
	uint8_t *buf;
	size_t n;

	if (!f)
		return -errno;
	buf = malloc(INPUT_MAX);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, INPUT_MAX, f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

int main(int argc, char *argv[])
{
	unsigned count = 0;

	for (int i = 1; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		struct dirent *e;

		if (!d) {
			if (run_file(argv[i]) < 0) {
				fprintf(stderr, "cannot read %s\n", argv[i]);
				return 1;
			}
			count++;
			continue;
		}
		while ((e = readdir(d))) {
			char path[4096];
			struct stat st;

			snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
			if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
				continue;
			if (run_file(path) < 0) {
				fprintf(stderr, "cannot read %s\n", path);
				closedir(d);
				return 1;
			}
			count++;
		}
		closedir(d);
	}
	printf("replayed %u input(s)\n", count);
	return count ? 0 : 77;
}
