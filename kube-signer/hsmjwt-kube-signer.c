/* SPDX-License-Identifier: MIT */
/*
 * hsmjwt-kube-signer: main. One listening socket (socket activation, or
 * [kube-signer] listen), one connection to hsmjwtd, one sd-event loop.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "hardening.h"
#include "hsmjwt-build.h"
#include "kube-signer.h"
#include "log.h"

#define DEFAULT_CONFIG KS_SYSCONFDIR "/hsmjwt/" KS_DEFAULT_CONFIG_NAME
#define UPSTREAM_MAX_FRAME (1u << 20) /* a KeysResponse with many RSA-4096 keys fits */
#define LISTEN_BACKLOG 64

static void help(void)
{
	printf("Usage: hsmjwt-kube-signer [--config FILE] [--check]\n\n"
	       "kube-apiserver's external service-account token signer (ExternalJWTSigner over\n"
	       "gRPC on a Unix socket), signing through hsmjwtd.\n\n"
	       "  -c, --config FILE  configuration (default %s)\n"
	       "      --check        check the configuration and exit\n"
	       "  -h, --help         this help\n"
	       "      --version      print the version\n\n"
	       "See hsmjwt-kube-signer(8).\n",
	       DEFAULT_CONFIG);
}

static bool is_abstract(int fd)
{
	struct sockaddr_un sa = {};
	socklen_t len = sizeof(sa);

	return getsockname(fd, (struct sockaddr *)&sa, &len) == 0 && sa.sun_family == AF_UNIX &&
	       len > offsetof(struct sockaddr_un, sun_path) && sa.sun_path[0] == 0;
}

/* [kube-signer] listen: a path (replaced if stale) or @name for the abstract namespace. */
static int listen_on(const char *where)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(where);
	socklen_t len;
	int fd;

	if (n >= sizeof(sa.sun_path))
		return log_error_errno(ENAMETOOLONG, "listen = %s: too long", where);
	memcpy(sa.sun_path, where, n);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (where[0] != '@'));
	if (where[0] == '@')
		sa.sun_path[0] = 0;
	else
		unlink(where);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* umask 077 for the bind: only the owner, until the operator says otherwise. */
	mode_t old = umask(077);
	int r = bind(fd, (struct sockaddr *)&sa, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0 ? -errno : 0;

	umask(old);
	if (r < 0) {
		close(fd);
		return log_error_errno(r, "Cannot listen on %s: %s", where, strerror(-r));
	}
	return fd;
}

static int take_listen_fd(const KsConfig *c)
{
	int n = sd_listen_fds(1);

	if (n < 0)
		return log_error_errno(n, "Socket activation: %s", strerror(-n));
	if (n > 1)
		return log_error_errno(EINVAL, "Socket activation passed %d sockets; expected one", n);
	if (n == 1) {
		if (sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) <= 0)
			return log_error_errno(EINVAL, "The activated socket is not a listening Unix "
					       "stream socket");
		return SD_LISTEN_FDS_START;
	}
	if (!c->listen)
		return log_error_errno(EINVAL, "Not socket-activated and no [kube-signer] listen");
	return listen_on(c->listen);
}

static void on_shut_down(void *userdata)
{
	sd_event_exit(userdata, 0);
}

static int on_signal(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata)
{
	Server *s = userdata;

	if (si->ssi_signo == SIGHUP) {
		log_notice("SIGHUP: the adapter has no state to reload (keys come from hsmjwtd on "
			   "every FetchKeys); restart it to apply a new kube-signer.conf");
		return 0;
	}
	log_info("Shutting down: GOAWAY to every connection");
	sd_notify(0, "STOPPING=1");
	server_shut_down(s, on_shut_down, sd_event_source_get_event(src));
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	const char *config_path = DEFAULT_CONFIG;
	bool check = false, config_given = false;
	_cleanup_(ks_config_done) KsConfig config = {};
	sd_event *e = NULL;
	Upstream *up = NULL;
	Server *s = NULL;
	sigset_t mask;
	int c, fd = -1, r;

	log_setup();
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			config_path = optarg;
			config_given = true;
			break;
		case 'C':
			check = true;
			break;
		case 'h':
			help();
			return 0;
		case 'V':
			printf("hsmjwt-kube-signer %s\n", PACKAGE_VERSION);
			return 0;
		default:
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hsmjwt-kube-signer takes no arguments; see --help\n");
		return 2;
	}
	if (harden_process() < 0)
		return 1;
	if (ks_config_load(config_path, config_given, &config) < 0)
		return 1;
	if (check) {
		printf("%s: OK\n", config_path);
		return 0;
	}
	fd = take_listen_fd(&config);
	if (fd < 0)
		return 1;
	/* No file mode guards an abstract socket: the allow list must be said out loud. */
	if (is_abstract(fd) && !config.uids_given && !config.n_allow_gids) {
		log_error("An abstract socket has no permissions: set allow-uids or allow-gids");
		return 1;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	r = sd_event_new(&e);
	if (r >= 0)
		r = upstream_new(e, config.hsmjwtd_socket, UPSTREAM_MAX_FRAME, &up);
	if (r >= 0)
		r = server_new(e, &config, up, fd, &s);
	if (r >= 0)
		r = sd_event_add_signal(e, NULL, SIGTERM, on_signal, s);
	if (r >= 0)
		r = sd_event_add_signal(e, NULL, SIGINT, on_signal, s);
	if (r >= 0)
		r = sd_event_add_signal(e, NULL, SIGHUP, on_signal, s);
	if (r < 0) {
		log_error_errno(r, "Cannot start: %s", strerror(-r));
		goto out;
	}
	log_info("hsmjwt-kube-signer %s ready; signing through %s%s%s", PACKAGE_VERSION,
		 config.hsmjwtd_socket, config.key ? " with key " : "", config.key ? config.key : "");
	sd_notify(0, "READY=1");
	r = sd_event_loop(e);
	if (r < 0)
		log_error_errno(r, "Event loop failed: %s", strerror(-r));
out:
	server_free(s);
	upstream_free(up);
	if (fd >= 0)
		close(fd);
	sd_event_unref(e);
	return r < 0 ? 1 : 0;
}
