# pop3-uidl against a scripted fake POP3 server: ids matched by content
# whatever the server's order, a 0-byte message and one without
# Message-ID, a message the archive lacks; a refused login, a mailbox in
# use, no UIDL, no TOP, an answer that is not POP3, a connection cut in
# the middle of a listing; map-flip --pop3-uidls joining both sides into
# the mapping store.  Exit codes per pop3-uidl(8); the server is
# only read; nothing recorded is lost on a failure.
. "$(dirname "$0")/lib.sh"

PULL=$top/$O/bin/imap-pull
UIDL=$top/$O/bin/pop3-uidl
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

coproc FI { exec python3 "$top/tests/proto/fake-imap.py" ok "$work/imap.log"; }
ipid=$FI_PID
read -r iport <&"${FI[0]}"
printf 'password=secret\n\n' | "$PULL" --host 127.0.0.1 --port "$iport" \
    --tls none --allow-plaintext --user alice --archive "$work/a" \
    >/dev/null 2>&1
is "$?" 0 "an archive of three messages, from the fake IMAP server"
wait "$ipid" 2>/dev/null

run() {	# SCENARIO [options...]: sets rc, out, errtext, transcript
	local scenario=$1
	shift
	fake_start fake-pop3 "$scenario"
	printf 'password=%s\n\n' "${PW:-secret}" |
	    timeout 60 "$UIDL" --host 127.0.0.1 --port "$port" --tls none \
	    --allow-plaintext --user alice --archive "$work/a" "$@" \
	    >"$work/out" 2>"$work/err"
	fake_done
}
recorded() {
	sqlite3 "$work/a/index.db" "SELECT uidl || ' ' || hash FROM pop3_uidls
	    WHERE side = 'source' ORDER BY k" | tr '\n' ' '
}
hash_of() {	# UID: the archive's body of INBOX's message UID
	sqlite3 "$work/a/index.db" "SELECT hash FROM messages WHERE folder =
	    'INBOX' AND uid = $1"
}

run ok
is "$rc" 0 "ok: exit 0"
like "$out" '"event":"done".*"messages":4,"matched":3' \
    "ok: four POP3 messages, three matched"
is "$(recorded)" "u-3 $(hash_of 3) u-1 $(hash_of 1) u-2 $(hash_of 2) " \
    "ok: each id with its own body (no Message-ID, 0 bytes), in POP3's order"
like "$out" '"kind":"pop3-unmatched".*u-new' "ok: the message the archive lacks is an anomaly"
unlike "$transcript" 'RETR|DELE|secret' "ok: no RETR, no DELE, and the password in no command logged"
before=$(recorded)

run pipelining --timeout 5
is "$rc $(recorded)" "0 $before" \
    "pipelining: with PIPELINING the same ids are recorded"
like "$transcript" '\(3 TOPs in before the first answer\)' \
    "pipelining: the TOP commands go ahead of their answers"

# the destination's ids, then the two joined into the mapping store
run dest --side destination
is "$rc" 0 "dest: the destination's ids are recorded too"
"$top/$O/bin/map-flip" --store "$work/mapping.db" --control "$work/none.sock" \
    --pop3-uidls "$work/a" alice@example.org destination </dev/null \
    >"$work/out" 2>"$work/err"
is "$?" 0 "map-flip --pop3-uidls: the flip goes through"
is "$(sqlite3 "$work/mapping.db" "SELECT account, dest, src FROM pop3_uidls
    ORDER BY dest" | tr '\n' ' ')" \
    "alice@example.org|d-1|u-1 alice@example.org|d-2|u-2 alice@example.org|d-3|u-3 " \
    "map-flip --pop3-uidls: each destination id stands for its source id, by body"
like "$(cat "$work/err")" '3 POP3 ids of the source kept' "and says how many"
"$top/$O/bin/map-flip" --store "$work/mapping.db" --control "$work/none.sock" \
    --pop3-uidls "$work/none" alice@example.org destination </dev/null \
    >/dev/null 2>"$work/err"
is "$?" 66 "map-flip --pop3-uidls without an archive: 66"
segs=$(ls "$work/a/segments" | grep -c 'tar.zst$')

run bad-pass
is "$rc" 77 "bad-pass: a refused login exits 77"
run in-use
is "$rc" 75 "in-use: [IN-USE] exits 75 (run again)"
like "$errtext" 'IN-USE' "in-use: and says why"
run no-uidl
is "$rc" 69 "no-uidl: a server without unique ids exits 69"
like "$errtext" 'keeps no unique ids' "no-uidl: and says so"
run no-top
is "$rc" 69 "no-top: a server without TOP exits 69"
run garbage
is "$rc" 76 "garbage: an answer that is not POP3 exits 76"
run cut
is "$rc" 75 "cut: a connection cut in a listing exits 75"
is "$(recorded)" "$before" "and after every failure, what was recorded stays"
is "$(ls "$work/a/segments" | grep -c 'tar.zst$')" "$segs" \
    "and no segment was written by a failed run"
printf 'password=secret\n\n' | "$UIDL" --host 127.0.0.1 --user alice \
    --archive "$work/none" >/dev/null 2>"$work/err"
is "$?" 66 "no archive: exits 66"
like "$(cat "$work/err")" 'pull the account first' "no archive: and says what to do"

done_testing
