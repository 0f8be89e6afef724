#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A real systemd (PID 1) in a systemd-nspawn container, for tests/systemd/run.sh.
# PID 1 of the host need not be systemd: --register=no --keep-unit
# --console=pipe make nspawn work without one. The root file system is a
# minbase Debian 12 made once with mmdebstrap and cached under
# $HSMJWT_SD_CACHE; each boot runs on a throwaway overlay of it
# (--volatile=overlay), so nothing a check does survives the container.
#
# Sourced, it defines:
#   sd_can_run          prints why this machine cannot run the suite, or nothing
#   sd_rootfs           makes (first run, ~70-90 s) or finds the cached rootfs
#   sd_boot DIR         boots it, /debs inside bound read-only to DIR
#   sd_exec CMD...      runs CMD as root inside (nsenter into all namespaces)
#   sd_stop             powers it off (kills it after 30 s)
HSMJWT_SD_CACHE=${HSMJWT_SD_CACHE:-/var/cache/hsmjwt-systemd}
HSMJWT_SD_SUITE=bookworm
# What the packages depend on, and the tools the checks use, baked into the
# cached image so that installing the .debs needs no network.
HSMJWT_SD_PKGS=systemd,systemd-sysv,dbus,procps,jq,logrotate,ca-certificates,softhsm2,p11-kit,p11-kit-modules,opensc,libinih1,libprotobuf-c1,libjansson4,libssl3,openssl,util-linux
SD_RUN=${SD_RUN:-/run/hsmjwt-systemd-test}
SD_ENV=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	HOME=/root LANG=C.UTF-8 TERM=dumb SYSTEMD_PAGER= SYSTEMD_COLORS=0)

sd_log() { echo "[systemd-suite $(date +%T)] $*" >&2; }

sd_mirror() {
	sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | tr ' ' '\n' |
		grep -v security | head -1
	[ ! -f /etc/apt/sources.list ] ||
		awk '$1 == "deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list
}

sd_can_run() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "not root (systemd-nspawn needs root)"
	elif ! command -v systemd-nspawn >/dev/null || ! command -v mmdebstrap >/dev/null; then
		echo "systemd-container or mmdebstrap is not installed (scripts/deps.sh installs them as root)"
	elif [ -z "$(sd_mirror | head -1)" ]; then
		echo "no Debian mirror in the host's apt sources"
	fi
}

sd_rootfs() {
	local key mirror
	mirror=$(sd_mirror | head -1)
	key=$(printf '%s %s %s' "$HSMJWT_SD_SUITE" "$mirror" "$HSMJWT_SD_PKGS" | sha256sum | cut -c1-12)
	SD_ROOTFS=$HSMJWT_SD_CACHE/rootfs-$HSMJWT_SD_SUITE-$key
	[ -d "$SD_ROOTFS" ] && return 0
	sd_log "creating $SD_ROOTFS with mmdebstrap (first run only)"
	mkdir -p "$HSMJWT_SD_CACHE"
	rm -rf "$SD_ROOTFS.tmp"
	if ! mmdebstrap --variant=minbase --include="$HSMJWT_SD_PKGS" "$HSMJWT_SD_SUITE" "$SD_ROOTFS.tmp" \
		"deb $mirror $HSMJWT_SD_SUITE main" "deb $mirror $HSMJWT_SD_SUITE-updates main" \
		"deb ${mirror%/debian}/debian-security $HSMJWT_SD_SUITE-security main" \
		>"$HSMJWT_SD_CACHE/mmdebstrap.log" 2>&1; then
		tail -20 "$HSMJWT_SD_CACHE/mmdebstrap.log" >&2
		return 1
	fi
	: >"$SD_ROOTFS.tmp/etc/machine-id" # systemd makes a fresh one at each boot
	echo hsmjwt-test >"$SD_ROOTFS.tmp/etc/hostname"
	mv "$SD_ROOTFS.tmp" "$SD_ROOTFS"
}

sd_boot() {
	local debs=$1 nspawn_pid state p
	sd_stop
	mkdir -p "$SD_RUN"
	SD_LEADER=
	setsid bash -c 'echo $$ >"$0"; exec "$@"' "$SD_RUN/nspawn.pid" systemd-nspawn \
		-D "$SD_ROOTFS" --volatile=overlay --boot --machine=hsmjwt-test --console=pipe \
		--register=no --keep-unit --bind-ro="$debs:/debs" >"$SD_RUN/console.log" 2>&1 </dev/null &
	for _ in $(seq 1 300); do
		sleep 0.2
		nspawn_pid=$(cat "$SD_RUN/nspawn.pid" 2>/dev/null || true)
		[ -n "$nspawn_pid" ] || continue
		kill -0 "$nspawn_pid" 2>/dev/null || { cat "$SD_RUN/console.log" >&2; return 1; }
		for p in $(pgrep -P "$nspawn_pid" || true); do
			[ "$(ps -o comm= -p "$p" 2>/dev/null)" = systemd ] && SD_LEADER=$p
		done
		[ -n "$SD_LEADER" ] && break
	done
	[ -n "$SD_LEADER" ] || { sd_log "no systemd in the container after 60 s"; return 1; }
	for _ in $(seq 1 300); do
		state=$(sd_exec timeout 60 systemctl is-system-running --wait 2>/dev/null || true)
		case $state in running | degraded) break ;; esac
		sleep 0.2
	done
	sd_log "systemd booted in the container (host pid $SD_LEADER): $state"
	case $state in running | degraded) ;; *) return 1 ;; esac
}

sd_exec() { nsenter -t "$SD_LEADER" -a -- "${SD_ENV[@]}" "$@"; }

sd_stop() {
	local pid
	pid=$(cat "$SD_RUN/nspawn.pid" 2>/dev/null || true)
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || { rm -rf "$SD_RUN"; return 0; }
	[ -z "${SD_LEADER:-}" ] || sd_exec systemctl --no-block poweroff >/dev/null 2>&1 || true
	for _ in $(seq 1 150); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		sleep 3
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -rf "$SD_RUN"
}
