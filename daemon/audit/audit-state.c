/* SPDX-License-Identifier: MIT */
#include "audit-state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"

int audit_state_path(const char *configured, char **ret)
{
	const char *dir = getenv("STATE_DIRECTORY");
	size_t n;

	*ret = NULL;
	if (configured)
		return (*ret = strdup(configured)) ? 0 : -ENOMEM;
	if (!dir || dir[0] != '/')
		return 0;
	/* StateDirectory= may list several, separated by colons: ours is the first. */
	n = strcspn(dir, ":");
	if (asprintf(ret, "%.*s/%s", (int)n, dir, AUDIT_STATE_NAME) < 0)
		return *ret = NULL, -ENOMEM;
	return 0;
}

static bool is_hash(const char *s)
{
	if (strlen(s) != AUDIT_HASH_HEX - 1)
		return false;
	return strspn(s, "0123456789abcdef") == AUDIT_HASH_HEX - 1;
}

int audit_state_load(const char *state_path, const char *audit_path, AuditHead *ret_head)
{
	_cleanup_fclose_ FILE *f = NULL;
	char line[4200], *p, *end, *hash, *path;
	uint64_t seq;

	f = fopen(state_path, "re");
	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f))
		return -EBADMSG;
	p = strchr(line, '\n');
	if (!p)
		return -EBADMSG;
	*p = '\0';
	errno = 0;
	seq = strtoull(line, &end, 10);
	if (errno || end == line || *end != ' ' || seq == 0)
		return -EBADMSG;
	hash = end + 1;
	path = strchr(hash, ' ');
	if (!path)
		return -EBADMSG;
	*path++ = '\0';
	if (!is_hash(hash))
		return -EBADMSG;
	if (strcmp(path, audit_path) != 0)
		return -ENOENT;
	ret_head->seq = seq;
	memcpy(ret_head->hash, hash, AUDIT_HASH_HEX);
	return 0;
}

int audit_state_save(const char *state_path, const char *audit_path, const AuditHead *head,
		     bool sync)
{
	_cleanup_free_ char *tmp = NULL, *text = NULL;
	_cleanup_close_ int fd = -EBADF;
	int n, r = 0;

	n = asprintf(&text, "%" PRIu64 " %s %s\n", head->seq, head->hash, audit_path);
	if (n < 0 || asprintf(&tmp, "%s.tmp", state_path) < 0)
		return text = tmp = NULL, -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, text, (size_t)n) != n)
		r = errno ? -errno : -EIO;
	else if (sync && fdatasync(fd) < 0)
		r = -errno;
	else if (rename(tmp, state_path) < 0)
		r = -errno;
	if (r < 0)
		(void)unlink(tmp);
	return r;
}
