#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The real-systemd suite: boots systemd 252 as PID 1 in a systemd-nspawn
# container (tests/systemd/container.sh), installs the .debs with apt,
# deploys exactly as README.md's "Installing from packages" says (its shell
# block, run as written) and runs tests/systemd/checks.sh inside: socket
# activation, credentials, journal and file, reload, logrotate and
# reopen-audit (also while idle-exited), exit-idle, watchdog, a stalled and a
# missing journald, an upgrade under load, purge, systemd-analyze security.
#
# Usage: [HSMJWT_SD_CHECKS="install deploy ..."] tests/systemd/run.sh [DEB_DIR]
#   DEB_DIR holds hsmjwtd, hsmjwt-client and libhsmjwt1 .debs (.ci/run
#   passes tests/packaging/run.sh's); without it they are built from the
#   tree with DEB_BUILD_OPTIONS=nocheck (the suite ran already).
# Skips (exit 0, with the reason) where systemd-nspawn cannot run: not root,
# or the tools missing. Time: ~70-90 s the first time (the cached rootfs,
# /var/cache/hsmjwt-systemd), then the package build plus ~2 min of checks.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$PWD
. tests/systemd/container.sh
. scripts/deps.sh

if [ "$(id -u)" -eq 0 ]; then
	install_missing_debs "${HSMJWT_SYSTEMD_DEBS[@]}"
	# Building the packages needs the project's own dependencies too.
	[ $# -ge 1 ] || install_missing_debs
fi
why=$(sd_can_run)
if [ -n "$why" ]; then
	echo "SKIP: real-systemd suite: $why"
	exit 0
fi
t0=$SECONDS
work=$(mktemp -d /tmp/hsmjwt-systemd.XXXXXX)
chmod 0755 "$work"
trap 'sd_stop; rm -rf "$work"' EXIT
mkdir "$work/in"

if [ $# -ge 1 ]; then
	cp "$1"/hsmjwtd_*.deb "$1"/hsmjwt-client_*.deb "$1"/libhsmjwt1_*.deb "$work/in/"
else
	sd_log "building the packages (nocheck)"
	mkdir "$work/src"
	git ls-files -z --cached --others --exclude-standard |
		tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -C "$work/src" -xf -
	rm -rf "$work/src/debian"
	cp -r packaging/debian "$work/src/debian"
	if ! (cd "$work/src" && DEB_BUILD_OPTIONS="nocheck" dpkg-buildpackage -us -uc -b) \
		>"$work/build.log" 2>&1; then
		tail -n 40 "$work/build.log"
		echo "FAIL: dpkg-buildpackage"
		exit 1
	fi
	cp "$work"/hsmjwtd_*.deb "$work"/hsmjwt-client_*.deb "$work"/libhsmjwt1_*.deb "$work/in/"
fi
# The README's deployment block, as written: the first sh block after "Then
# configure". HSMJWT_README=FILE takes another README (an older one, say).
awk '/^Then configure and start it/ {f = 1} f && /^```sh$/ {b = 1; next} b && /^```$/ {exit} b' \
	"${HSMJWT_README:-README.md}" >"$work/in/deploy.sh"
[ -s "$work/in/deploy.sh" ] || { echo "FAIL: no deployment block in README.md"; exit 1; }
cp tests/systemd/checks.sh "$work/in/"

sd_rootfs
sd_boot "$work/in"
sd_log "installing $(ls "$work/in"/*.deb | wc -l) packages"
if ! sd_exec sh -c 'cd /debs && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ./*.deb' \
	>"$work/install.log" 2>&1; then
	tail -n 30 "$work/install.log"
	echo "FAIL: apt-get install of the packages"
	exit 1
fi
rc=0
sd_exec env ${HSMJWT_SD_CHECKS:+HSMJWT_SD_CHECKS="$HSMJWT_SD_CHECKS"} bash /debs/checks.sh || rc=$?
echo "real-systemd suite: $([ $rc = 0 ] && echo passed || echo FAILED) in $((SECONDS - t0)) s"
exit $rc
