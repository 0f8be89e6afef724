#!/bin/bash
# SPDX-License-Identifier: MIT
# Drives shell-completion/hsmjwt.bash the way bash does on <Tab>, with
# bash-completion loaded and the built hsmjwt and hsmjwtctl first on PATH, so
# what is checked is the real --help of the real programs.
# Usage: test-completion.sh COMPLETION_SCRIPT (PATH must find the programs)
set -u
bc=/usr/share/bash-completion/bash_completion
[ -r "$bc" ] || { echo "SKIP: bash-completion is not installed"; exit 77; }
# shellcheck source=/dev/null
. "$bc"
# shellcheck source=/dev/null
. "$1"
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Completes the line as typed (the cursor at its end); prints the candidates.
complete_line()
{
	local line=$1
	COMP_LINE=$line
	COMP_POINT=${#line}
	read -r -a COMP_WORDS <<<"$line"
	[[ $line == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_hsmjwt "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'
}

expect()
{
	local got
	got=$(complete_line "$1")
	if [ "$got" != "$2" ]; then
		echo "FAIL: '$1' completes to '$got', expected '$2'"
		fail=1
	fi
}

# For lists that grow with every new command: these words must be among them.
expect_among()
{
	local got w
	got=" $(complete_line "$1") "
	for w in $2; do
		if [[ $got != *" $w "* ]]; then
			echo "FAIL: '$1' completes to '$got', which lacks '$w'"
			fail=1
		fi
	done
}

printf '[token]\nuri = pkcs11:token=t\n\n[key zumo]\nuri = x\n\n[key  second.key]\nuri = y\n' >"$tmp/conf"
: >"$tmp/access-token"

expect_among "hsmjwt " "sign keys"
expect "hsmjwt si" "sign"
expect "hsmjwt --" "--help --socket --version"
expect "hsmjwt sign --a" "--access-token --access-token-file --aud"
expect "hsmjwt --socket $tmp/sock sign --li" "--lifetime"
expect "hsmjwt -s $tmp/sock sign --uid u --ex" "--expires-at"
expect "hsmjwt sign --access-token-file $tmp/acc" "$tmp/access-token"
expect "hsmjwt sign --aud " ""
expect "hsmjwt sign --claim " ""
expect "hsmjwt sign --claims-json $tmp/acc" "$tmp/access-token"
expect_among "hsmjwtctl " "import-zumo generate jwks list"
expect "hsmjwtctl jwks --" "--login"
expect "hsmjwtctl -c $tmp/conf generate " "second.key zumo"
expect "hsmjwtctl --c" "--config"
expect "hsmjwtctl --config $tmp/co" "$tmp/conf"
expect "hsmjwtctl --config $tmp/conf import-zumo " "second.key zumo"
expect "hsmjwtctl -c $tmp/conf import-zumo --replace z" "zumo"
expect "hsmjwtctl import-zumo --r" "--replace"

[ $fail -eq 0 ] && echo "completion OK"
exit $fail
