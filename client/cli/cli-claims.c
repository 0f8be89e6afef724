/* SPDX-License-Identifier: MIT */
/* hsmjwt sign's --claim, --claim-json and --claims-json. */
#include "cli-claims.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "secret.h"

static int add_list(hsmjwt_sign_request *req, const char *name, const json_t *v)
{
	size_t n = json_array_size(v);
	_cleanup_free_ const char **items = calloc(n ? n : 1, sizeof(char *));

	if (!items)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		items[i] = json_string_value(json_array_get(v, i));
		if (!items[i])
			return -EINVAL;
	}
	return hsmjwt_sign_request_add_claim_string_list(req, name, items, n);
}

static int add_json(hsmjwt_sign_request *req, const char *name, const char *text)
{
	json_error_t e;
	json_t *v;
	double d;
	int r;

	v = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);
	if (!v) {
		fprintf(stderr, "hsmjwt: --claim-json %s: not valid JSON: %s\n", name, e.text);
		return -EINVAL;
	}
	switch (json_typeof(v)) {
	case JSON_STRING:
		r = hsmjwt_sign_request_add_claim_string(req, name, json_string_value(v));
		break;
	case JSON_INTEGER:
		r = hsmjwt_sign_request_add_claim_integer(req, name, json_integer_value(v));
		break;
	case JSON_REAL:
		/* As in JavaScript, 1.0 and 1e3 are integers; the daemon checks the range. */
		d = json_real_value(v);
		r = floor(d) == d && fabs(d) < 9.2e18 ? hsmjwt_sign_request_add_claim_integer(
								req, name, (int64_t)d)
						      : -EINVAL;
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		r = hsmjwt_sign_request_add_claim_boolean(req, name, json_is_true(v));
		break;
	case JSON_ARRAY:
		r = add_list(req, name, v);
		break;
	default:
		r = -EINVAL;
		break;
	}
	json_decref(v);
	if (r == -EINVAL)
		fprintf(stderr, "hsmjwt: --claim-json %s: the value must be a string, an integer, "
				"true, false or an array of strings\n", name);
	return r;
}

int cli_add_claim(hsmjwt_sign_request *req, const char *arg, bool json)
{
	_cleanup_free_ char *name = NULL;
	const char *eq = strchr(arg, '=');

	if (!eq) {
		fprintf(stderr, "hsmjwt: %s wants NAME=%s, got '%s'\n",
			json ? "--claim-json" : "--claim", json ? "JSON" : "VALUE", arg);
		return -EINVAL;
	}
	name = strndup(arg, (size_t)(eq - arg));
	if (!name)
		return -ENOMEM;
	if (json)
		return add_json(req, name, eq + 1);
	return hsmjwt_sign_request_add_claim_string(req, name, eq + 1);
}

int cli_read_file(const char *path, size_t max, char **ret)
{
	_cleanup_close_ int fd = -EBADF;
	char *buf;
	size_t n = 0;
	int r = 0;

	fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	/* Room for max, the newline, and one byte more that tells "too long" from "just fits". */
	buf = malloc(max + 3);
	if (!buf)
		return -ENOMEM;
	while (n < max + 2) {
		ssize_t k = read(fd, buf + n, max + 2 - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = negative_errno();
			break;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	if (r == 0 && n > 0 && buf[n - 1] == '\n')
		n--;
	if (r == 0 && n > max)
		r = -EFBIG;
	if (r == 0 && memchr(buf, '\0', n))
		r = -EINVAL;
	if (r == 0) {
		buf[n] = '\0';
		*ret = strdup(buf);
		if (!*ret)
			r = -ENOMEM;
	}
	secret_wipe(buf, max + 3);
	free(buf);
	return r;
}
