#!/bin/sh
# SPDX-License-Identifier: MIT
# Keeps the man pages in step with the programs: --help and --version work
# and agree with the project version, every option and command in --help is
# described in the program's page, every key of the example configuration in
# hsmjwtd.conf(5), every function of hsmjwt.h in libhsmjwt(3).
# Usage: check-docs.sh SOURCE_ROOT VERSION HSMJWTD HSMJWTCTL HSMJWT [HSMJWT_KUBE_SIGNER]
set -u
src=$1
version=$2
fail=0

bad()
{
	echo "FAIL: $*"
	fail=1
}

# $1 program, $2 its man page source
check_program()
{
	name=$(basename "$1")
	help=$("$1" --help) || bad "$name --help exits non-zero"
	case $help in Usage:*) ;; *) bad "$name --help does not start with Usage:" ;; esac
	v=$("$1" --version) || bad "$name --version exits non-zero"
	[ "$v" = "$name $version" ] || bad "$name --version prints '$v', expected '$name $version'"
	for opt in $(printf '%s\n' "$help" | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
		grep -qF -- "*$opt*" "$2" || bad "$name: $opt is in --help but not in $(basename "$2")"
	done
	# Commands: two-space lines under "Commands:" (see shell-completion/hsmjwt.bash).
	for cmd in $(printf '%s\n' "$help" | awk '/^Commands:/ { c = 1; next } /^[^ ]/ { c = 0 }
			c && /^  [a-z]/ { print $1 }' | sort -u); do
		grep -qE "^## $cmd( |\$)" "$2" || bad "$name: command $cmd has no '## $cmd' section in $(basename "$2")"
	done
}

check_program "$3" "$src/man/hsmjwtd.8.scd"
check_program "$4" "$src/man/hsmjwtctl.8.scd"
check_program "$5" "$src/man/hsmjwt.1.scd"
# $6, when built: hsmjwt-kube-signer, its page and its example configuration.
if [ $# -ge 6 ]; then
	check_program "$6" "$src/man/hsmjwt-kube-signer.8.scd"
	for key in $(sed -n 's/^#\{0,1\}\([a-z][a-z0-9-]*\) = .*/\1/p' "$src/units/kube-signer.conf.example" | sort -u); do
		grep -qF -- "*$key* =" "$src/man/hsmjwt-kube-signer.8.scd" ||
			bad "key $key of kube-signer.conf.example is not in hsmjwt-kube-signer.8.scd"
	done
	"$6" --check --config "$src/units/kube-signer.conf.example" >/dev/null ||
		bad "kube-signer.conf.example does not load"
fi

conf_page=$src/man/hsmjwtd.conf.5.scd
for key in $(sed -n 's/^#\{0,1\}\([a-z][a-z0-9-]*\) = .*/\1/p' "$src/units/hsmjwtd.conf.example" | sort -u); do
	grep -qF -- "*$key* =" "$conf_page" || bad "key $key of hsmjwtd.conf.example is not in hsmjwtd.conf.5.scd"
done
for section in $(sed -n 's/^\[\([a-z]*\).*\]$/\1/p' "$src/units/hsmjwtd.conf.example" | sort -u); do
	grep -qE "^# \\[${section}[] ]" "$conf_page" || bad "section [$section] is not in hsmjwtd.conf.5.scd"
done

for fn in $(sed -n '/^[a-z]/s/^[^#(]*[ *]\(hsmjwt_[a-z0-9_]*\)(.*/\1/p' "$src/client/lib/hsmjwt.h" | sort -u); do
	grep -qF -- "$fn(" "$src/man/libhsmjwt.3.scd" || bad "$fn of hsmjwt.h is not in libhsmjwt.3.scd"
done

[ $fail -eq 0 ] && echo "docs OK"
exit $fail
