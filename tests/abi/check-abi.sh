#!/bin/sh
# SPDX-License-Identifier: MIT
# Checks the ABI of the built libhsmjwt against what the project promises:
# the SONAME, the exported dynamic symbols and their versions exactly as listed
# in client/lib/libhsmjwt.abi (an accidental export or a lost symbol fails), every
# function of hsmjwt.h exported, and the Debian symbols file in step.
# Usage: check-abi.sh LIBRARY SOURCE_ROOT
set -eu
lib=$1
src=$2
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! command -v nm >/dev/null || ! command -v readelf >/dev/null; then
	echo "SKIP: binutils missing"
	exit 77
fi

soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
if [ "$soname" != libhsmjwt.so.1 ]; then
	echo "FAIL: SONAME is '$soname', expected libhsmjwt.so.1"
	fail=1
fi

# Everything the library defines for the dynamic linker, with its version.
nm -D --defined-only "$lib" | awk '{ print $3 }' | LC_ALL=C sort >"$tmp/built"
grep -v '^#' "$src/client/lib/libhsmjwt.abi" | LC_ALL=C sort >"$tmp/promised"
if ! diff -u "$tmp/promised" "$tmp/built" >"$tmp/diff"; then
	echo "FAIL: exported symbols differ from client/lib/libhsmjwt.abi (- promised, + built):"
	sed -n '3,$p' "$tmp/diff"
	fail=1
fi
# Whatever the list says, only hsmjwt_* functions under a LIBHSMJWT_ node.
if grep -v -E '^(hsmjwt_[a-z0-9_]+@@LIBHSMJWT_[0-9.]+|LIBHSMJWT_[0-9.]+)$' "$tmp/built"; then
	echo "FAIL: the symbols above are not hsmjwt_* with a LIBHSMJWT_ version"
	fail=1
fi
if grep '^hsmjwt__' "$tmp/built"; then
	echo "FAIL: generated protobuf-c symbols leaked (they match the hsmjwt_* wildcard)"
	fail=1
fi

# The public header declares exactly the exported functions.
sed -n '/^[a-z]/s/^[^#(]*[ *]\(hsmjwt_[a-z0-9_]*\)(.*/\1/p' "$src/client/lib/hsmjwt.h" | LC_ALL=C sort -u >"$tmp/header"
sed -n 's/@@.*//p' "$tmp/built" | LC_ALL=C sort -u >"$tmp/names"
if ! diff -u "$tmp/header" "$tmp/names" >"$tmp/diff"; then
	echo "FAIL: functions in hsmjwt.h (-) and exported (+) differ:"
	sed -n '3,$p' "$tmp/diff"
	fail=1
fi

# The Debian symbols file names the same symbols with the same versions.
symbols=$src/packaging/debian/libhsmjwt1.symbols
if [ -f "$symbols" ]; then
	sed -n 's/^ \([^ ]*\)@\([^ ]*\) .*/\1@@\2/p' "$symbols" |
		sed 's/^\(LIBHSMJWT_[0-9.]*\)@@\1$/\1/' | LC_ALL=C sort >"$tmp/debian"
	if ! diff -u "$tmp/built" "$tmp/debian" >"$tmp/diff"; then
		echo "FAIL: packaging/debian/libhsmjwt1.symbols (+) is out of step with the library (-):"
		sed -n '3,$p' "$tmp/diff"
		fail=1
	fi
fi

[ $fail -eq 0 ] && echo "ABI OK: $soname, $(grep -c @@ "$tmp/built") symbols"
exit $fail
