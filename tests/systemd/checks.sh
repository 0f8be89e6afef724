#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs INSIDE the booted container of tests/systemd/run.sh, as root, with the
# packages installed and /debs holding them and deploy.sh (README.md's
# block). Prints one PASS or FAIL line per check
# with what it saw; exits 1 if any failed.
set -u
fails=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() { # NAME: runs the function check_NAME, timed
	local t=$SECONDS
	echo "== $1"
	"check_$1"
	echo "   ($1: $((SECONDS - t)) s)"
}
conf=/etc/hsmjwt/hsmjwtd.conf
log=/var/log/hsmjwt/audit.jsonl
export client=some-service-user
# setpriv, not runuser: PAM would log through journald's /dev/log, and block while it is stopped.
as_client() { setpriv --reuid=$client --regid=$client --init-groups -- "$@"; }
sign() { as_client hsmjwt sign --aud Custom --uid "Custom:$1"; }
main_pid() { systemctl show -p MainPID --value hsmjwtd.service; }
# Journal entries' HSMJWT_RECORD_SHA256, one per line.
journal_hashes() {
	journalctl -q -o json SYSLOG_IDENTIFIER=hsmjwtd | jq -r 'select(.HSMJWT_RECORD_SHA256) | .HSMJWT_RECORD_SHA256'
}
line_hashes() { # FILE: the SHA-256 of each line
	while IFS= read -r l; do printf '%s' "$l" | sha256sum | cut -c1-64; done <"$1"
}
wait_inactive() { # SECONDS
	for _ in $(seq 1 $(($1 * 10))); do
		[ "$(systemctl is-active hsmjwtd.service)" != active ] && return 0
		sleep 0.1
	done
	return 1
}
set_server() { # KEY VALUE: sets (or with VALUE "" removes) a [server] key
	sed -i "/^$1 = /d" $conf
	[ -z "$2" ] || sed -i "s/^\[server\]$/[server]\n$1 = $2/" $conf
}

check_install() {
	getent passwd hsmjwt >/dev/null && pass "sysusers made hsmjwt: $(id hsmjwt)" || fail "no hsmjwt user"
	[ "$(stat -c %U:%G:%a /etc/hsmjwt)" = root:hsmjwt:750 ] && pass "tmpfiles: /etc/hsmjwt root:hsmjwt 0750" ||
		fail "/etc/hsmjwt is $(stat -c %U:%G:%a /etc/hsmjwt)"
	[ "$(systemctl is-enabled hsmjwtd.socket)" = enabled ] && pass "hsmjwtd.socket enabled" || fail "socket not enabled"
}

# README.md's block as written; editor, the PINs and the master key are the operator's part.
check_deploy() {
	useradd -m $client
	export TOKEN_USER_PIN=123456 TOKEN_SO_PIN=654321
	editor() {
		# The example's policies name users of its own: one for our client instead.
		sed -i '/^\[policy payments\]/,$d' "$1"
		printf '[policy test]\nuser = %s\nkeys = zumo\naudiences = Custom\nuser-ids = Custom:*\n' $client >>"$1"
	}
	export -f editor
	head -c 24 /dev/urandom | base64 >/root/master-key.txt
	local out
	if out=$(cd /root && bash -e /debs/deploy.sh 2>&1); then
		pass "README deployment ran as written"
	else
		fail "README deployment failed: $(echo "$out" | tail -n 3 | tr '\n' ' ')"
	fi
	[ -f /etc/logrotate.d/hsmjwtd ] && grep -q "hsmjwtctl reopen-audit" /etc/logrotate.d/hsmjwtd &&
		pass "the package installed /etc/logrotate.d/hsmjwtd" || fail "no /etc/logrotate.d/hsmjwtd"
}

check_activation() {
	[ "$(systemctl is-active hsmjwtd.service)" = inactive ] && pass "service not running before the first client" ||
		fail "service is $(systemctl is-active hsmjwtd.service) before any client"
	local tok
	tok=$(sign 1) && pass "signed through the socket: ${tok:0:24}..." || fail "sign failed"
	[ "$(systemctl is-active hsmjwtd.service)" = active ] && pass "service started by the socket (pid $(main_pid))" ||
		fail "service not active: $(journalctl -u hsmjwtd -q -n 5 | tr '\n' ' ')"
}

check_credentials() {
	local pid f
	pid=$(main_pid)
	f=/run/credentials/hsmjwtd.service/pin
	[ "$(ps -o user= -p "$pid")" = hsmjwt ] && pass "daemon runs as hsmjwt" || fail "daemon runs as $(ps -o user= -p "$pid")"
	tr '\0' '\n' </proc/"$pid"/environ | grep -q '^CREDENTIALS_DIRECTORY=/run/credentials/hsmjwtd.service$' &&
		[ "$(stat -c %U:%a $f)" = hsmjwt:400 ] &&
		pass "PIN as a credential: $f $(stat -c %U:%a $f) on $(stat -f -c %T /run/credentials/hsmjwtd.service)" ||
		fail "credential: $(stat -c %U:%a $f 2>&1)"
	tr '\0' '\n' </proc/"$pid"/environ | grep -q 123456 && fail "the PIN is in the environment" ||
		pass "the PIN is not in the daemon's environment"
}

check_journal_and_file() {
	local missing=0 n=0 h hashes
	sign 2 >/dev/null
	sleep 0.5
	hashes=$(journal_hashes)
	for h in $(line_hashes $log); do
		n=$((n + 1))
		grep -q "$h" <<<"$hashes" || missing=$((missing + 1))
	done
	[ $n -ge 3 ] && [ $missing = 0 ] && pass "all $n file records are in the journal (HSMJWT_RECORD_SHA256)" ||
		fail "$missing of $n file records missing from the journal"
	journalctl -q -x MESSAGE_ID=212873b1823445a49210c7010be0a811 -n 1 | grep -q . &&
		pass "issued records in the journal with their catalog entry" || fail "no issued record in the journal"
}

check_reload() {
	local pid before
	pid=$(main_pid)
	before=$(hsmjwtctl jwks | jq '.keys | length')
	# A new key made as root: [token] owner makes its files hsmjwt's, no chown.
	printf '\n[key rot]\nuri = pkcs11:token=hsmjwt;object=rot\nalg = ES256\nissuer = urn:test\nmax-lifetime = 1d\n' >>$conf
	sed -i 's/^keys = zumo$/keys = zumo rot/' $conf
	CREDENTIALS_DIRECTORY=/etc/hsmjwt hsmjwtctl generate rot >/dev/null || fail "hsmjwtctl generate rot"
	local foreign
	foreign=$(find /var/lib/softhsm/tokens -mindepth 1 ! -user hsmjwt | wc -l)
	[ "$foreign" = 0 ] && pass "every file of the token store is hsmjwt's after import-zumo and generate as root" ||
		fail "$foreign files in the token store are not hsmjwt's: $(find /var/lib/softhsm/tokens -mindepth 1 ! -user hsmjwt -printf '%u:%m %p ' | head -c 300)"
	if systemctl reload hsmjwtd; then
		sleep 0.5
		[ "$(main_pid)" = "$pid" ] && pass "systemctl reload kept pid $pid" || fail "pid changed: $pid -> $(main_pid)"
		journalctl -u hsmjwtd -q --since=-10s | grep -q "Permission denied" &&
			fail "reload: $(journalctl -u hsmjwtd -q --since=-10s | grep -m1 'Permission denied')" ||
			pass "reload read the new key (no Permission denied)"
	else
		fail "systemctl reload failed"
	fi
	as_client hsmjwt sign --aud Custom --uid Custom:rot --key rot >/dev/null &&
		pass "signed with the key made as root and reloaded" || fail "no JWT from the new key"
	echo "   jwks: $before keys before, $(hsmjwtctl jwks | jq '.keys | length') after"
}

check_logrotate() {
	sign 3 >/dev/null
	if out=$(logrotate -f /etc/logrotate.d/hsmjwtd 2>&1); then
		pass "logrotate -f (postrotate: hsmjwtctl reopen-audit) succeeded while running"
	else
		fail "logrotate while running: $out"
	fi
	sleep 0.5
	grep -q '"event":"reopen"' $log && pass "reopen record at the head of the new file" || fail "no reopen record"
	sign 4 >/dev/null
	out=$(hsmjwtctl audit verify $log.1 $log 2>&1) && pass "audit verify: $out" || fail "audit verify: $out"
}

check_exit_idle() {
	local out starts ok=0
	set_server exit-idle 5s
	systemctl restart hsmjwtd.service
	sign 10 >/dev/null && ok=$((ok + 1))
	wait_inactive 10 && pass "exited after 5 s idle: $(journalctl -u hsmjwtd -q -n 20 | grep -m1 -o 'Idle for [0-9]* s[^"]*')" ||
		fail "still running 10 s after exit-idle = 5s"
	# Rotation while nobody runs: postrotate must not fail, the chain must not break.
	if out=$(logrotate -f /etc/logrotate.d/hsmjwtd 2>&1); then
		pass "logrotate while idle-exited: $(journalctl -q -t hsmjwtctl -n 1 2>/dev/null)ok"
	else
		fail "logrotate while idle-exited: $(echo "$out" | tr '\n' ' ')"
	fi
	out=$(hsmjwtctl reopen-audit 2>&1) && pass "reopen-audit while idle-exited: $out" || fail "reopen-audit while idle-exited: $out"
	sign 11 >/dev/null && ok=$((ok + 1))
	[ "$(systemctl is-active hsmjwtd.service)" = active ] && pass "re-activated by the next client" || fail "not re-activated"
	out=$(hsmjwtctl audit verify --any-start $log.1 $log 2>&1) && pass "audit verify across the idle rotation: $out" ||
		fail "audit verify across the idle rotation: $out"
	[ $ok = 2 ] && pass "2/2 signed around the idle exit" || fail "$ok/2 signed"
}

# exit-idle below what systemd's start limit allows: refused, or else it must hold up.
check_exit_idle_min() {
	local i ok=0 out
	set_server exit-idle 1s
	systemctl stop hsmjwtd.service
	out=$(runuser -u hsmjwt -- hsmjwtd --config $conf --check-config 2>&1)
	if grep -q "exit-idle" <<<"$out"; then
		pass "exit-idle = 1s refused: $(grep -m1 exit-idle <<<"$out")"
	else
		for i in $(seq 1 12); do
			sign 2$i >/dev/null 2>&1 && ok=$((ok + 1))
			sleep 1.6
		done
		[ $ok = 12 ] && pass "exit-idle = 1s: 12/12 requests at 1.6 s" ||
			fail "exit-idle = 1s accepted, then $((12 - ok)) of 12 requests at 1.6 s refused; socket: $(systemctl is-active hsmjwtd.socket)"
	fi
	set_server exit-idle ""
	systemctl reset-failed hsmjwtd.socket hsmjwtd.service 2>/dev/null
	systemctl start hsmjwtd.socket
	systemctl show -p StartLimitBurst,StartLimitIntervalUSec,RestartUSec hsmjwtd.service | tr '\n' ' '
	echo
}

check_watchdog() {
	local w1 w2
	sign 30 >/dev/null
	[ "$(systemctl show -p WatchdogUSec --value hsmjwtd.service)" = 30s ] && pass "WatchdogSec=30s" || fail "no watchdog"
	w1=$(systemctl show -p WatchdogTimestampMonotonic --value hsmjwtd.service)
	for _ in $(seq 1 40); do
		sleep 0.5
		w2=$(systemctl show -p WatchdogTimestampMonotonic --value hsmjwtd.service)
		[ "$w1" != "$w2" ] && break
	done
	[ "$w1" != "$w2" ] && pass "watchdog pinged ($(((w2 - w1) / 1000)) ms after the first look)" || fail "no ping in 20 s"
}

# SIGSTOP journald while clients sign; resume; every record in both sinks, one recovered.
check_journal_stall() {
	local jpid n0 i ok=0 bad=0 slow=0 t rec missing=0 h hashes
	systemctl restart hsmjwtd.service
	sign 40 >/dev/null
	n0=$(wc -l <$log)
	jpid=$(pidof systemd-journald)
	kill -STOP "$jpid"
	for i in $(seq 1 250); do
		t=$(date +%s%N)
		if sign 4$i >/dev/null 2>&1; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
		[ $(($(date +%s%N) - t)) -gt 2000000000 ] && slow=$((slow + 1))
		[ $bad -ge 5 ] && break
	done
	sleep 3
	kill -CONT "$jpid"
	sleep 2 # the trail's tick tries again
	sign 49 >/dev/null && pass "signing resumed after journald did" || fail "no JWT after journald resumed"
	sleep 1
	rec=$(tail -n +$((n0 + 1)) $log | grep -c '"event":"recovered"')
	echo "   during the stall: $ok signed, $bad refused, $slow took over 2 s"
	[ $bad -ge 1 ] && [ "$rec" = 1 ] && pass "one stall, one recovered record" || fail "$rec recovered records for one stall"
	[ $slow = 0 ] && pass "no request waited on the stalled journald for over 2 s" || fail "$slow requests took over 2 s"
	hashes=$(journal_hashes)
	for h in $(tail -n +$((n0 + 1)) $log | while IFS= read -r l; do printf '%s' "$l" | sha256sum | cut -c1-64; done); do
		grep -q "$h" <<<"$hashes" || missing=$((missing + 1))
	done
	[ $missing = 0 ] && pass "every file record of the stall is in the journal" || fail "$missing file records missing from the journal"
	out=$(hsmjwtctl audit verify --any-start $log 2>&1) && pass "audit verify: $out" || fail "audit verify: $out"
}

# The service in a mount namespace without journald's socket: a start-up error naming [audit] journal.
check_no_journald() {
	local out
	mkdir -p /run/systemd/system/hsmjwtd.service.d
	printf '[Service]\nTemporaryFileSystem=/run/systemd/journal\n' >/run/systemd/system/hsmjwtd.service.d/nojournal.conf
	systemctl daemon-reload
	systemctl stop hsmjwtd.service
	systemctl start hsmjwtd.service 2>/dev/null && fail "hsmjwtd started without a journald" ||
		pass "hsmjwtd did not start without a journald ($(systemctl show -p Result --value hsmjwtd.service))"
	systemctl stop hsmjwtd.service 2>/dev/null
	out=$(journalctl -u hsmjwtd.service -q --since=-20s)
	grep -q '\[audit\] journal' <<<"$out" && pass "start-up error: $(grep -m1 '\[audit\] journal' <<<"$out" | cut -d: -f4-)" ||
		fail "no start-up error naming [audit] journal: $(grep -m1 -i 'audit trail' <<<"$out")"
	rec=$(tail -n 20 $log | grep -c '"event":"recovered"')
	rm -r /run/systemd/system/hsmjwtd.service.d
	systemctl daemon-reload
	systemctl stop hsmjwtd.service
	systemctl reset-failed hsmjwtd.service hsmjwtd.socket
	systemctl start hsmjwtd.socket
	sign 51 >/dev/null && pass "signing again with the journal back" || fail "no JWT with the journal back"
}

# dpkg -i again while clients sign: the socket stays, no client is refused.
check_upgrade_under_load() {
	local sock_before sock_after i failed=0 total=0 pid
	sign 60 >/dev/null
	pid=$(main_pid)
	sock_before=$(systemctl show -p ActiveEnterTimestampMonotonic --value hsmjwtd.socket)
	rm -f /tmp/load.*
	for i in $(seq 1 10); do
		(n=0; f=0; end=$((SECONDS + 60)); while [ ! -e /tmp/load.stop ] && [ $SECONDS -lt $end ]; do
			n=$((n + 1)); sign 6$i$n >/dev/null 2>&1 || f=$((f + 1))
		done; echo "$n $f" >/tmp/load.$i) &
	done
	sleep 1
	DEBIAN_FRONTEND=noninteractive dpkg -i /debs/hsmjwtd_*.deb >/tmp/dpkg.log 2>&1 || fail "dpkg -i: $(tail -n 3 /tmp/dpkg.log)"
	sleep 1
	touch /tmp/load.stop
	wait
	for i in $(seq 1 10); do
		read -r n f </tmp/load.$i
		total=$((total + n)); failed=$((failed + f))
	done
	sock_after=$(systemctl show -p ActiveEnterTimestampMonotonic --value hsmjwtd.socket)
	[ "$sock_before" = "$sock_after" ] && pass "hsmjwtd.socket not restarted by the upgrade" ||
		fail "hsmjwtd.socket restarted by the upgrade ($sock_before -> $sock_after)"
	[ "$(main_pid)" != "$pid" ] && [ "$(main_pid)" != 0 ] && pass "the running daemon was restarted (pid $pid -> $(main_pid))" ||
		fail "the daemon was not restarted onto the new package (pid $pid -> $(main_pid))"
	[ $failed = 0 ] && pass "$total requests from 10 clients during dpkg -i, none failed" ||
		fail "$failed of $total requests failed during dpkg -i"
}

check_security() {
	local line score
	line=$(systemd-analyze security hsmjwtd.service --no-pager | tail -n 1)
	score=$(grep -o '[0-9]*\.[0-9]' <<<"$line" | head -1)
	awk -v s="$score" 'BEGIN { exit !(s <= 0.5) }' && pass "$line" || fail "$line (over 0.5)"
	# What is left, for README.md's table.
	systemd-analyze security hsmjwtd.service --no-pager | grep '✗' | sed 's/^/   /'

}

check_purge() {
	local out
	systemctl stop hsmjwtd.socket hsmjwtd.service
	out=$(DEBIAN_FRONTEND=noninteractive apt-get purge -y -q hsmjwtd hsmjwt-client libhsmjwt1 2>&1)
	[ -d /etc/hsmjwt ] && pass "/etc/hsmjwt kept (holds $(ls /etc/hsmjwt | tr '\n' ' '))" || fail "/etc/hsmjwt removed"
	[ ! -e /etc/systemd/system/sockets.target.wants/hsmjwtd.socket ] && pass "enable symlink removed" || fail "symlink left"
	grep -q "/var/log/hsmjwt is kept" <<<"$out" && [ -d /var/log/hsmjwt ] &&
		pass "purge says: $(grep -m1 '/var/log/hsmjwt' <<<"$out")" ||
		fail "purge left /var/log/hsmjwt ($(ls /var/log/hsmjwt | tr '\n' ' ')) without a word"
	[ ! -e /var/lib/hsmjwt ] && pass "/var/lib/hsmjwt removed" || fail "/var/lib/hsmjwt left"
}

# HSMJWT_SD_CHECKS="install deploy ..." runs only those (in this order).
for c in ${HSMJWT_SD_CHECKS:-install deploy activation credentials journal_and_file reload logrotate \
	exit_idle exit_idle_min watchdog journal_stall no_journald upgrade_under_load security purge}; do
	check $c
done
echo "failures: $fails"
[ $fails = 0 ]
