# migrate-proxy's rough edges, as real clients found them against the
# world (Dovecot the source, Cyrus the destination): the capabilities
# offered before login, a burst of wrong passwords, refusals that tell
# which server holds an account, the log's results, the third failed
# login, an HTTP 431, TLS resumption, and identifiers map-flip must not
# write.  Dovecot slows its answers to an address that keeps failing (up
# to 15 s): each part that fails logins comes from an address of its own
# (127.0.0.N), which the proxy tells Dovecot (POP3's XCLIENT aside).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxy-lib.sh"
CLIENT=$top/tests/integration/proxy-client.py
RAW=$top/tests/integration/proxy-raw.py
IMAP=29143 IMAPS=29993 POP3=29110 SIEVE=29190 SUB=29587 SUBS=29465 \
HTTP=29080 HIDE=29144 SLOW=29145 SLOWBE=29146 LOW=993

client() {	# PROTO PORT TLS USER PASSWORD [options]
	local proto=$1 port=$2 tls=$3 user=$4 pw=$5
	shift 5
	printf '%s\n' "$pw" | "$CLIENT" --ca "$WORLD_CA" "$@" "$proto" \
	    "$port" "$tls" "$user"
}
raw() {		# WHAT PORT [USER PASSWORD] [--tls implicit]
	local what=$1 port=$2 user=${3:-} pw=${4:-}
	shift $(($# < 4 ? $# : 4))
	printf '%s\n' "$pw" | python3 "$RAW" --ca "$WORLD_CA" "$@" "$what" \
	    "$port" $user
}
# the log line of the last session of PROTO, once it is written
last_result() {	# LOG PROTO
	sleep 0.3
	grep "^migrate-proxy: $2 " "$1" | tail -1 | sed 's/.*result=//'
}

common_yaml() {	# the part every proxy here shares
	cat <<EOF
hostname: proxy.example.org
default_domain: example.org
mapping: $work/mapping.db
tls:
  certificate: $WORLD_DIR/tls/server.pem
  key: $WORLD_DIR/tls/server.key
EOF
}
backends_yaml() {
	cat <<EOF
backends:
  source:
    imap: { address: 127.0.0.1:$SRC_IMAP_PORT, allow_plaintext: true,
            client_address: native }
    pop3: { address: 127.0.0.1:$SRC_POP3_PORT, allow_plaintext: true,
            client_address: native }
    sieve: { address: 127.0.0.1:$SRC_SIEVE_PORT, allow_plaintext: true }
    submission: { address: 127.0.0.1:$SRC_SUBMISSION_PORT,
                  allow_plaintext: true, client_address: native }
    # the source has no JMAP: Cyrus stands in (no account goes there)
    http: { address: 127.0.0.1:$DST_HTTP_PORT, allow_plaintext: true }
  destination:
    imap: { address: 127.0.0.1:$DST_IMAP_PORT, allow_plaintext: true }
    pop3: { address: 127.0.0.1:$DST_POP3_PORT, allow_plaintext: true }
    sieve: { address: 127.0.0.1:$DST_SIEVE_PORT, allow_plaintext: true }
    submission: { address: 127.0.0.1:$SRC_SUBMISSION_PORT,
                  allow_plaintext: true }
    http: { address: 127.0.0.1:$DST_HTTP_PORT, allow_plaintext: true }
EOF
}
{
	common_yaml
	cat <<EOF
control: $work/proxy.sock
listeners:
  - { protocol: imap, listen: 127.0.0.1:$IMAP }
  - { protocol: imap, listen: 127.0.0.1:$IMAPS, tls: implicit }
  - { protocol: pop3, listen: 127.0.0.1:$POP3 }
  - { protocol: sieve, listen: 127.0.0.1:$SIEVE }
  - { protocol: submission, listen: 127.0.0.1:$SUB, tls: starttls }
  - { protocol: submission, listen: 127.0.0.1:$SUBS, tls: implicit }
  - { protocol: http, listen: 127.0.0.1:$HTTP }
EOF
	backends_yaml
} >"$work/proxy.yaml"
"$FLIP" --store "$work/mapping.db" --domain example.org \
    carol@example.org destination >/dev/null 2>&1
# a sink for Dovecot's submission relay (127.0.0.1:9)
python3 -W ignore -m smtpd -n -c DebuggingServer 127.0.0.1:9 \
    >"$work/sink.log" 2>&1 &
pids="$pids $!"
LOG=$work/proxy.log
"$P" -c "$work/proxy.yaml" --log-level debug >>"$LOG" 2>&1 &
pids="$pids $!"
wait_port $HTTP

# --- capabilities before login: what every backend has ------------------
ehlo=$(raw ehlo $SUB)
unlike() {	# TEXT PATTERN DESCRIPTION
	if printf '%s\n' "$1" | grep -qE -- "$2"; then
		not_ok "$3"
		printf '%s\n' "$1" | head -20 | sed 's/^/#   /'
	else
		ok "$3"
	fi
}
like "$ehlo" "^250-PIPELINING" "submission: EHLO before login offers PIPELINING"
unlike "$ehlo" "SMTPUTF8|SIZE" \
    "submission: no SMTPUTF8 nor a SIZE the source's Dovecot does not have"
# the proxy's SIEVE list against the two servers' own
sieve_ext() {	# PORT: the SIEVE capability's words, one a line
	raw sievecaps "$1" | sed -n 's/^"SIEVE" "\(.*\)"$/\1/p' | tr ' ' '\n' |
	    sort
}
sieve_ext $SIEVE >"$work/px.ext"
sieve_ext $SRC_SIEVE_PORT >"$work/src.ext"
sieve_ext $DST_SIEVE_PORT >"$work/dst.ext"
is "$(comm -23 "$work/px.ext" "$work/src.ext" | tr '\n' ' ')" "" \
    "ManageSieve: every extension offered, Pigeonhole has"
is "$(comm -23 "$work/px.ext" "$work/dst.ext" | tr '\n' ' ')" "" \
    "ManageSieve: every extension offered, Cyrus has"
[ "$(wc -l <"$work/px.ext")" -ge 15 ] && ok "ManageSieve: the common ones are offered" ||
    not_ok "ManageSieve: the common ones are offered ($(wc -l <"$work/px.ext"))"
out=$(client smtp $SUB starttls bob@example.org "$BOB_PASSWORD")
like "$out" "sent OK" "submission: a message goes through"

# --- a burst of wrong passwords: refusals, not a dead backend -----------
# Dovecot answers an address that keeps failing later each time (up to
# 15 s, more than the old default backend timeout): every one of them is
# a refusal, and none counts towards the breaker.
for i in 1 2 3 4; do
	out=$(client imap $IMAP none bob@example.org "wrong-$i" --bind 127.0.0.21)
	like "$out" "login NO .*AUTHENTICATIONFAILED" \
	    "wrong password $i of a burst: refused, not 'try again later'"
done
like "$(control "$work/proxy.sock" stats)" \
    "backend source imap connections [0-9]+ connect_failures 0 .*breaker closed" \
    "a burst of refusals counts nothing towards the breaker"
like "$(last_result "$LOG" imap)" "^authentication failed" \
    "a wrong password, then the client leaves: 'authentication failed'"
out=$(client imap $IMAP none bob@example.org "$BOB_PASSWORD" --bind 127.0.0.21)
like "$out" "login OK" "the right password still logs in"

# A backend slower than the backend timeout (a relay that holds
# Dovecot's answers after its greeting for 3 s): a temporary failure
# for the client, and still no failed connection.
python3 - $SLOWBE $SRC_IMAP_PORT <<'EOF' &
import socket, sys, threading, time
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1])))
ls.listen(8)
def pipe(a, b, hold):
    first = True
    while True:
        try:
            d = a.recv(65536)
        except OSError:
            d = b""
        if not d:
            b.close()
            return
        if hold and not first:
            time.sleep(3)
        first = False
        try:
            b.sendall(d)
        except OSError:
            return
while True:
    c, _ = ls.accept()
    u = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
    threading.Thread(target=pipe, args=(c, u, False), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c, True), daemon=True).start()
EOF
pids="$pids $!"
wait_port "$SLOWBE" || not_ok "the slow relay listens"
{
	common_yaml
	cat <<EOF
control: $work/slow.sock
timeouts: { backend: 1 }
listeners:
  - { protocol: imap, listen: 127.0.0.1:$SLOW }
EOF
	backends_yaml | sed "s/:$SRC_IMAP_PORT,/:$SLOWBE,/"
} >"$work/slow.yaml"
start_proxy "$work/slow.yaml" "$work/slow.log" $SLOW
out=$(client imap $SLOW none bob@example.org "$BOB_PASSWORD")
like "$out" "login NO .*UNAVAILABLE" \
    "a backend slower than the backend timeout: a temporary failure"
like "$(control "$work/slow.sock" stats)" \
    "backend source imap connections 1 connect_failures 0 .*breaker closed" \
    "a backend that took the connection and answered slowly is not down"
like "$(cat "$work/slow.log")" "did not answer the login in time" \
    "the log says what was slow"

# --- one wording and one time for every refusal -------------------------
timed() {	# PORT USER ADDRESS: "seconds answer"
	raw imap-timed "$1" "$2" wrong-password --bind "$3" |
	    awk '/^seconds/ { t = $2 } /^answer/ { sub(/^answer /, ""); a = $0 }
	    END { print t, a }'
}
src=$(timed $IMAP alice@example.org 127.0.0.22)
dst=$(timed $IMAP carol@example.org 127.0.0.22)
[ "${src#* }" != "${dst#* }" ] &&
    ok "without hide_auth_errors, Dovecot's and Cyrus's words differ" ||
    not_ok "without hide_auth_errors, Dovecot's and Cyrus's words differ"
{
	common_yaml
	cat <<EOF
hide_auth_errors: true
timeouts: { auth_failure: 1 }
listeners:
  - { protocol: imap, listen: 127.0.0.1:$HIDE }
EOF
	backends_yaml
} >"$work/hide.yaml"
start_proxy "$work/hide.yaml" "$work/hide.log" $HIDE
src=$(timed $HIDE alice@example.org 127.0.0.23)
dst=$(timed $HIDE carol@example.org 127.0.0.23)
is "${src#* }" "${dst#* }" \
    "hide_auth_errors: the source's and the destination's refusals, one wording"
is "${dst#* }" "NO [AUTHENTICATIONFAILED] Authentication failed." \
    "hide_auth_errors: the proxy's own words"
python3 - "${src%% *}" "${dst%% *}" <<'EOF' && ok "hide_auth_errors: both take 1 s (${src%% *} s, ${dst%% *} s)" ||
import sys
a, b = float(sys.argv[1]), float(sys.argv[2])
sys.exit(0 if 1.0 <= a < 1.4 and 1.0 <= b < 1.4 else 1)
EOF
    not_ok "hide_auth_errors: both take 1 s (${src%% *} s, ${dst%% *} s)"

# --- the log's results --------------------------------------------------
client imap $IMAP none alice@example.org "$ALICE_PASSWORD" >/dev/null
is "$(last_result "$LOG" imap)" logout "IMAP LOGOUT (in clear): 'logout'"
client imap $IMAPS implicit alice@example.org "$ALICE_PASSWORD" >/dev/null
is "$(last_result "$LOG" imap)" logout "IMAP LOGOUT (in TLS): 'logout'"
client imap $IMAP none carol@example.org "$CAROL_PASSWORD" >/dev/null
is "$(last_result "$LOG" imap)" logout "IMAP LOGOUT to Cyrus: 'logout'"
client pop3 $POP3 none bob@example.org "$BOB_PASSWORD" >/dev/null
is "$(last_result "$LOG" pop3)" logout "POP3 QUIT: 'logout'"
client sieve $SIEVE none bob@example.org "$BOB_PASSWORD" >/dev/null
is "$(last_result "$LOG" sieve)" logout "ManageSieve LOGOUT: 'logout'"
client smtp $SUB starttls bob@example.org "$BOB_PASSWORD" >/dev/null
is "$(last_result "$LOG" submission)" logout "submission QUIT: 'logout'"
out=$(raw smtp-fail $SUBS bob@example.org wrong-password --tls implicit \
    --bind 127.0.0.24)
like "$out" "^535" "implicit TLS submission: the wrong password refused"
is "$(last_result "$LOG" submission)" "authentication failed" \
    "... and logged as that, not as a failed TLS handshake"
raw imap-rawuser $IMAP 626f62fffe6578 wrong --bind 127.0.0.25 >/dev/null
like "$(grep 'user=bob' "$LOG" | tail -1)" 'user=bob\\xff\\xfeex ' \
    "a user name that is not UTF-8 is logged escaped"
if LC_ALL=C grep -q "$(printf 'bob\377')" "$LOG"; then
	not_ok "no raw byte of it in the log"
else
	ok "no raw byte of it in the log"
fi
like "$(cat "$LOG")" "imap 127.0.0.1:[0-9]+ user=alice@example.org: backend -> splice" \
    "--log-level debug: every state change of a session"

# --- the third failed login ---------------------------------------------
out=$(raw imap-fail3 $IMAP bob@example.org wrong-password --bind 127.0.0.26)
like "$(flat "$out")" "a2 NO .* \* BYE Too many failed logins\. ?$" \
    "IMAP: the third failure, then BYE and the close"
out=$(raw pop3-fail3 $POP3 bob@example.org wrong-password --bind 127.0.0.27)
like "$(flat "$out")" "-ERR .*-ERR .*-ERR .* -ERR \[AUTH\] Too many failed logins\. ?$" \
    "POP3: the third failure, then -ERR and the close"
# Dovecot saw those from the proxy's own address: a login that works
# ends its delays there, for the tests that come after
client pop3 $POP3 none bob@example.org "$BOB_PASSWORD" >/dev/null

# --- HTTP: a 431 in the client's words ----------------------------------
out=$(python3 - $HTTP <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET /.well-known/jmap HTTP/1.1\r\nHost: x\r\nX-Big: " +
          b"a" * 100000 + b"\r\n\r\n")
out = b""
while True:
    try:
        got = s.recv(65536)
    except ConnectionResetError:
        break
    if not got:
        break
    out += got
sys.stdout.write(out.decode(errors="replace"))
EOF
)
like "$out" "^HTTP/1.1 431" "HTTP: a 100 kB header is a 431"
unlike "$out" "callback|on_url|on_header|HPE_" \
    "... that says what was too long, not the parser's internals"

# --- TLS: no resumption, as migrate-proxy(8) says -----------------------
resumed() {	# TLS VERSION: "Reused" or "New" on the second connection
	local v=$1
	rm -f "$work/sess"
	for i in 1 2; do
		echo "a LOGOUT" | openssl s_client -connect 127.0.0.1:$IMAPS \
		    -CAfile "$WORLD_CA" -servername localhost "$v" \
		    $([ $i = 1 ] && echo -sess_out || echo -sess_in) \
		    "$work/sess" -ign_eof 2>/dev/null | grep -E '^(New|Reused),'
	done | tail -1 | cut -d, -f1
}
is "$(resumed -tls1_2)" New "TLS 1.2: a session ticket is not taken back"
is "$(resumed -tls1_3)" New "TLS 1.3: a session ticket is not taken back"

# --- started as root with user: nobody ----------------------------------
# a port below 1024 bound as root, then the user for good; a reload as
# that user that cannot read the configuration keeps the one running;
# a mapping store that first appears after the switch, in a directory
# nobody may not write, is read as that user
if [ "$(id -u)" = 0 ]; then
	lowmap=$work/lowmap
	mkdir -m 755 "$lowmap"
	chmod 711 "$work"	# nobody may pass, not list
	{
		common_yaml | sed "s|^mapping: .*|mapping: $lowmap/mapping.db|"
		cat <<EOF
user: nobody
control: $work/low.sock
listeners:
  - { protocol: imap, listen: 127.0.0.1:$LOW }
EOF
		backends_yaml
	} >"$work/low.yaml"
	chmod 600 "$work/low.yaml"
	start_proxy "$work/low.yaml" "$work/low.log" $LOW
	pid=$(pgrep -n -f "migrate-proxy -c $work/low.yaml")
	nobody="$(id -u nobody) $(id -u nobody) $(id -u nobody) $(id -u nobody)"
	is "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status")" \
	    "$nobody" "user: nobody: real, effective, saved and fs uid are nobody's"
	is "$(awk '/^Gid:/ { print $2 } /^NoNewPrivs:/ { print $2 }' "/proc/$pid/status" | tr '\n' ' ')" \
	    "$(id -g nobody) 1 " "its group is nobody's, and it cannot gain privileges"
	like "$(client imap $LOW none bob@example.org "$BOB_PASSWORD")" \
	    "server Dovecot" "as nobody it still listens on port $LOW and logs in"
	kill -HUP "$pid"
	sleep 0.5
	like "$(flat "$(cat "$work/low.log")")" "running as nobody .*reload.*(Permission denied|cannot)" \
	    "a reload it cannot read is logged, with the reason"
	like "$(client imap $LOW none bob@example.org "$BOB_PASSWORD")" \
	    "server Dovecot" "and the running configuration stays"
	"$FLIP" --store "$lowmap/mapping.db" --control "$work/low.sock" \
	    carol@example.org destination >/dev/null 2>&1
	like "$(client imap $LOW none carol@example.org "$CAROL_PASSWORD")" \
	    "server Cyrus" "a store flipped after the switch is read as nobody"
	like "$(client imap $LOW none bob@example.org "$BOB_PASSWORD")" \
	    "server Dovecot" "and an account it does not name stays at the source"
else
	ok "# SKIP not root: user: needs root to switch"
fi

# --- a kick: a FIN, not a reset ----------------------------------------
# A kicked client that was still sending reads to the end and a FIN.  It
# floods NOOPs without reading, so that the proxy stops reading it (a
# plain backend: the fast path) and closes with its bytes unread, after
# the 5 s a peer that does not read gets.  A reset would also throw away
# what the proxy had queued for it.
flood $IMAP 7
like "$(control "$work/proxy.sock" "kick carol@example.org")" "^ok 1" \
    "kick: the flooding session is closed"
wait $held
like "$(flat "$(cat "$work/flood.out")")" "end: eof.*sent|sent.*end: eof" \
    "a kicked client that was sending reads an end, not a reset"

# --- map-flip writes only what the proxy can route ----------------------
for bad in "al ice@example.org" "al\"ice@example.org" 'al\ice@example.org'; do
	"$FLIP" --store "$work/mapping.db" "$bad" destination >/dev/null 2>&1
	is "$?" 64 "map-flip refuses '$bad' (exit 64)"
done
is "$("$FLIP" --store "$work/mapping.db" --list | grep -c ice)" 0 \
    "... and the store holds none of them"

done_testing
