#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The packaging check CI runs after scripts/test, on Debian 12 as root:
#  1. the versions in meson.build, debian/changelog, the RPM spec and the
#     Python and Node.js clients agree,
#     and the spec parses (rpmspec -P);
#  2. a clean export of the tree (tracked and new files, nothing ignored),
#     with packaging/debian copied to debian/, builds with
#     dpkg-buildpackage -us -uc -b (the package's build runs the test suite);
#  3. lintian reports no error and no warning;
#  4. the packages install with apt, and tests/packaging/smoke.sh passes
#     against the installed binaries;
#  5. they are purged again, so reruns start clean (KEEP_INSTALLED=1 keeps
#     them; KEEP_WORK=1 keeps the build directory).
# Usage: tests/packaging/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/deps.sh

packages=(hsmjwtd hsmjwt-client libhsmjwt1 libhsmjwt-dev python3-hsmjwt hsmjwt-kube-signer)
t0=$SECONDS
step() { echo "== [$((SECONDS - t0))s] $*"; }
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || fail "run as root: the packages are installed with apt-get"
step "installing what is missing"
install_missing_debs "${HSMJWT_DEBS[@]}" "${HSMJWT_PACKAGING_DEBS[@]}"

step "versions and the RPM spec"
version=$(sed -n "s/^  version : '\([^']*\)',$/\1/p" meson.build)
deb_version=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
rpm_version=$(rpmspec -q --srpm --qf '%{VERSION}' packaging/rpm/hsmjwt.spec 2>/dev/null)
[ -n "$version" ] || fail "cannot read the version from meson.build"
[ "${deb_version%-*}" = "$version" ] || fail "debian/changelog has $deb_version, meson.build $version"
[ "$rpm_version" = "$version" ] || fail "hsmjwt.spec has $rpm_version, meson.build $version"
rpmspec -P packaging/rpm/hsmjwt.spec >/dev/null
py_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' client/python/pyproject.toml)
py_module_version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' client/python/hsmjwt/__init__.py)
node_version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' client/node/package.json)
[ "$py_version" = "$version" ] && [ "$py_module_version" = "$version" ] ||
	fail "client/python has $py_version ($py_module_version in __init__.py), meson.build $version"
[ "$node_version" = "$version" ] || fail "client/node/package.json has $node_version, meson.build $version"

work=$(mktemp -d /tmp/hsmjwt-packaging.XXXXXX)
# The policy tests run clients from the build tree under other uids.
chmod 0755 "$work"
cleanup() {
	if [ "${KEEP_INSTALLED:-0}" != 1 ]; then
		apt-get purge -y -qq "${packages[@]}" >/dev/null 2>&1 || true
	fi
	if [ "${KEEP_WORK:-0}" = 1 ]; then
		echo "build directory kept: $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

step "clean export to $work/src"
mkdir "$work/src"
git ls-files -z --cached --others --exclude-standard |
	tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -C "$work/src" -xf -
rm -rf "$work/src/debian"
cp -r packaging/debian "$work/src/debian"

step "dpkg-buildpackage -us -uc -b"
b0=$SECONDS
if ! (cd "$work/src" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
	tail -n 60 "$work/build.log"
	fail "dpkg-buildpackage failed (KEEP_WORK=1 keeps $work/build.log)"
fi
grep -E '^(Ok|Fail|Skipped):' "$work/build.log" | tr -s ' ' | paste -sd ' ' | sed 's/^/package test suite: /'
echo "package build took $((SECONDS - b0))s"
changes=("$work"/hsmjwt_*.changes)

step "lintian"
# Errors and warnings fail; info and pedantic tags are shown for the record,
# and so are the overridden tags (O:) with their reasons (N:), in a second
# pass, as --show-overrides would make --fail-on count them too.
lintian --fail-on error,warning --display-info --pedantic "${changes[0]}" || fail "lintian"
lintian --fail-on none --show-overrides "${changes[0]}" | grep -E '^[ON]:' || true
echo "lintian: no errors, no warnings"

step "apt-get install ./*.deb"
apt-get purge -y -qq "${packages[@]}" >/dev/null 2>&1 || true
debs=()
for p in "${packages[@]}"; do
	deb=$work/${p}_${deb_version}_$(dpkg --print-architecture).deb
	[ -e "$deb" ] || deb=$work/${p}_${deb_version}_all.deb # Architecture: all
	debs+=("$deb")
done
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${debs[@]}" \
	>"$work/install.log" 2>&1; then
	cat "$work/install.log"
	fail "apt-get install"
fi

step "smoke test of the installed packages"
tests/packaging/smoke.sh

if [ "${KEEP_INSTALLED:-0}" != 1 ]; then
	step "purge"
	apt-get purge -y -qq "${packages[@]}" >/dev/null
	for p in "${packages[@]}"; do
		! dpkg-query -W -f='${db:Status-Abbrev}\n' "$p" 2>/dev/null | grep -q '^.[^n]' ||
			fail "$p is still installed after purge"
	done
	[ ! -e /usr/sbin/hsmjwtd ] || fail "/usr/sbin/hsmjwtd is left after purge"
	[ ! -d /etc/hsmjwt ] || [ -n "$(ls -A /etc/hsmjwt)" ] || fail "purge left an empty /etc/hsmjwt"
fi
echo "packaging: all checks passed in $((SECONDS - t0))s"
