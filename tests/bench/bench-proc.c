/* SPDX-License-Identifier: MIT */
/* CPU time and memory of other processes (hsmjwtd, p11-kit server), from /proc. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"
#include "cleanup.h"

/* Direct children of pid, from /proc/PID/task/PID/children; returns how many fit. */
static size_t children_of(pid_t pid, pid_t *out, size_t max)
{
	char path[64];
	_cleanup_fclose_ FILE *f = NULL;
	size_t n = 0;
	long c;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (n < max && fscanf(f, "%ld", &c) == 1)
		out[n++] = (pid_t)c;
	return n;
}

/* pid and, with tree, its descendants (breadth first); returns how many. */
static size_t collect_tree(pid_t pid, bool tree, pid_t *out, size_t max)
{
	size_t n = 1;

	out[0] = pid;
	for (size_t i = 0; tree && i < n && n < max; i++)
		n += children_of(out[i], out + n, max - n);
	return n;
}

#define TREE_MAX 256

double proc_cpu_seconds(pid_t pid, bool tree)
{
	pid_t pids[TREE_MAX];
	size_t n = collect_tree(pid, tree, pids, TREE_MAX);
	long ticks = sysconf(_SC_CLK_TCK);
	unsigned long long sum = 0;

	for (size_t i = 0; i < n; i++) {
		char path[64], buf[1024], *p;
		unsigned long long ut, st;
		_cleanup_close_ int fd = -EBADF;
		ssize_t k;

		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pids[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		k = read(fd, buf, sizeof(buf) - 1);
		if (k <= 0)
			continue;
		buf[k] = '\0';
		/* comm may hold spaces and parentheses: fields start after the last ')'. */
		p = strrchr(buf, ')');
		/* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
				&st) == 2)
			sum += ut + st;
	}
	return ticks > 0 ? (double)sum / (double)ticks : 0;
}

/* "Name:   123 kB" lines, as in /proc/PID/status and smaps_rollup. */
static long proc_field(pid_t pid, const char *file, const char *field)
{
	char path[64], line[256];
	_cleanup_fclose_ FILE *f = NULL;
	size_t n = strlen(field);
	long v = -1;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, n) == 0 && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	return v;
}

long proc_status_kib(pid_t pid, const char *field, bool tree)
{
	pid_t pids[TREE_MAX];
	size_t n = collect_tree(pid, tree, pids, TREE_MAX);
	long sum = 0;

	for (size_t i = 0; i < n; i++) {
		long v = proc_field(pids[i], "status", field);

		if (v < 0 && i == 0)
			return -1;
		if (v > 0)
			sum += v;
	}
	return sum;
}

long proc_pss_kib(pid_t pid)
{
	return proc_field(pid, "smaps_rollup", "Pss");
}

int proc_reset_peak(pid_t pid)
{
	char path[64];
	_cleanup_close_ int fd = -EBADF;

	snprintf(path, sizeof(path), "/proc/%d/clear_refs", (int)pid);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "5", 1) != 1)
		return negative_errno();
	return 0;
}

int proc_count_sockets(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char link[32];
		ssize_t k;

		if (de->d_name[0] == '.')
			continue;
		/* Only sockets: a connection may come with other fds (a pidfd of the peer). */
		k = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (k > 7 && memcmp(link, "socket:", 7) == 0)
			n++;
	}
	closedir(d);
	return n;
}

void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}
