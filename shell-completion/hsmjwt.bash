# SPDX-License-Identifier: MIT
# bash completion for hsmjwt(1) and hsmjwtctl(8); installed under both names.
#
# Commands and options are read from the program's own --help, so a new
# command or option completes without touching this file. The --help layout
# this relies on: option lines "  -x, --long ARG" outside the command list,
# and a "Commands:" block where a line indented by two spaces starts a
# command's usage ("  NAME [--opt ARG] ARG"), deeper lines starting with "["
# or "-" continue it, and other deeper lines describe it.

# Prints one line per word that may come next:
#   "--option" or "--option PLACEHOLDER"   an option (and its argument);
#                                          short options too ("-s PATH")
#   "word"                                 a command or sub-command
#   "@PLACEHOLDER"                         a positional argument
# $2 empty: the global options and the commands; $2 a command: its own words.
_hsmjwt_help()
{
	"$1" --help 2>/dev/null | awk -v want="$2" '
		function words(from,    i, o, a, short) {
			for (i = from; i <= NF; i++) {
				if ($i ~ /^-[a-zA-Z0-9],$/) {
					short = substr($i, 1, 2)
				} else if ($i ~ /^\[?--[a-z]/) {
					o = $i; sub(/^\[/, "", o); sub(/[]|=].*$/, "", o); sub(/,$/, "", o)
					a = ""
					# "--opt ARG", "[--opt ARG]", "[--opt NAME=VALUE]..."
					if ($i !~ /]$/ && $(i + 1) ~ /^[A-Z][A-Z_=-]*[].]*$/) {
						a = $(i + 1); sub(/[].]+$/, "", a); i++
					}
					print o (a == "" ? "" : " " a)
					if (short != "") print short (a == "" ? "" : " " a)
					short = ""
				} else if ($i ~ /^\[?[A-Z][A-Z_-]*(\.\.\.)?]*$/) {
					a = $i; gsub(/[][.]/, "", a); print "@" a
				}
			}
		}
		/^Commands:/ { in_cmds = 1; next }
		/^[^ ]/ { in_cmds = 0 }
		!in_cmds {
			if (want == "" && $0 ~ /^ +-/) words(1)
			next
		}
		/^  [^ ]/ {
			cur = $1; usage = 1
			if (want == "") print cur
			else if (cur == want) {
				if ($2 ~ /^[a-z][a-z0-9-]*$/) print $2
				words(2)
			}
			next
		}
		/^   +[[-]/ { if (usage && cur == want) words(1); next }
		{ usage = 0 }
	' | sort -u
}

# Key names from the configuration named by -c/--config, else the default one.
_hsmjwt_keys()
{
	local conf=/etc/hsmjwt/hsmjwtd.conf i
	for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
		case ${COMP_WORDS[i]} in
		-c | --config) conf=${COMP_WORDS[i + 1]} ;;
		--config=*) conf=${COMP_WORDS[i]#--config=} ;;
		esac
	done
	[ -r "$conf" ] || return 0
	sed -n 's/^[[:space:]]*\[key[[:space:]]\{1,\}\([^]]*\)\].*/\1/p' "$conf" 2>/dev/null
}

# Completes the value of a placeholder from --help: FILE, PATH, NAME, KEYNAME.
_hsmjwt_value()
{
	case $1 in
	FILE | PATH) _filedir ;;
	NAME | KEYNAME) mapfile -t COMPREPLY < <(compgen -W "$(_hsmjwt_keys)" -- "$cur") ;;
	*) COMPREPLY=() ;;
	esac
}

_hsmjwt()
{
	local cur prev words cword
	_init_completion -n = || return

	local prog=$1 cmd="" cmd_at=0 i w list arg
	list=$(_hsmjwt_help "$prog" "")
	# The command is the first word that is neither an option nor its argument.
	for ((i = 1; i < cword; i++)); do
		w=${words[i]}
		if [[ $w == -* ]]; then
			[[ $w != *=* ]] && awk -v o="$w" '$1 == o && NF == 2 { f = 1 } END { exit !f }' \
				<<<"$list" && ((i++))
			continue
		fi
		cmd=$w
		cmd_at=$i
		break
	done
	[ -n "$cmd" ] && list=$(_hsmjwt_help "$prog" "$cmd")

	arg=$(awk -v o="$prev" '$1 == o && NF == 2 { print $2; exit }' <<<"$list")
	if [[ $prev == -* && -n $arg ]]; then
		_hsmjwt_value "$arg"
	elif [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(awk '/^-/ { print $1 }' <<<"$list")" -- "$cur")
	elif [ -z "$cmd" ]; then
		mapfile -t COMPREPLY < <(compgen -W "$(grep '^[a-z]' <<<"$list")" -- "$cur")
	elif ((cmd_at + 1 == cword)) && grep -q '^[a-z]' <<<"$list"; then
		mapfile -t COMPREPLY < <(compgen -W "$(grep '^[a-z]' <<<"$list")" -- "$cur")
	elif arg=$(sed -n 's/^@//p' <<<"$list" | head -n 1) && [ -n "$arg" ]; then
		_hsmjwt_value "$arg"
	fi
} &&
	complete -F _hsmjwt hsmjwt hsmjwtctl
