# imap-pull against scripted fake servers: what Dovecot never does.  Each
# case checks the exit code (migrate-helper(7)), that the error names the
# trouble, that nothing half-written is left as a segment, and the
# client's side of the transcript.
. "$(dirname "$0")/lib.sh"

PULL=$top/$O/bin/imap-pull
ARCHIVE=$top/$O/bin/migrate-archive
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# pull SCENARIO [imap-pull options...]: sets rc, out, errtext, transcript
pull() {
	local scenario=$1
	shift
	[ -n "${KEEP:-}" ] || rm -rf "$work/arc"
	fake_start fake-imap "$scenario"
	printf 'password=%s\n\n' "${PW:-secret}" |
	    timeout 60 "$PULL" --host 127.0.0.1 --port "$port" --tls none \
	    --allow-plaintext --user alice --archive "$work/arc" "$@" \
	    >"$work/out" 2>"$work/err"
	fake_done
}

segments() {
	ls "$work/arc/segments" 2>/dev/null | tr '\n' ' '
}

pull ok
is "$rc" 0 "ok: a minimal IMAP4rev1 server is read"
like "$out" '"event":"done".*"messages":3' "ok: three messages"
like "$out" '"kind":"empty-message"' "ok: the 0-byte message is an anomaly, and is kept"
unlike "$transcript" ' SELECT |BODY\[\]' "ok: never SELECT, never a BODY[] that sets \\Seen"
like "$out" '"kind":"size-mismatch".*"uid":1' "ok: a body that is not RFC822.SIZE long is an anomaly"
like "$out" '"kind":"name-undecodable"' "ok: a folder name that is not modified UTF-7 is an anomaly"
like "$("$ARCHIVE" ls "$work/arc" | cut -f1 | tr '\n' '|')" 'Bad&Jjo' \
    "ok: and is kept as the server spells it"
like "$transcript" 'LOGIN "alice" \*\*\*' "ok: LOGIN when AUTH=PLAIN is not offered"
like "$transcript" 'LSUB' "ok: LSUB without LIST-EXTENDED"
lines=$("$ARCHIVE" ls -r "$work/arc" | cut -f1,2,3,6 | tr '\t' ' ')
is "$lines" "INBOX 1 63 \\Seen
INBOX 2 0 
INBOX 3 70041 \$Work \\Flagged" "ok: archive holds each message, sizes and flags"
is "$("$ARCHIVE" cat "$work/arc" INBOX 3 | wc -c)" 70041 "ok: the 70 kB body comes out whole"
"$ARCHIVE" verify "$work/arc" >/dev/null
is "$?" 0 "ok: migrate-archive verify"

# --- ACLs -------------------------------------------------------------------
acls() {
	sqlite3 "$work/arc/index.db" "SELECT folder || ' ' || identifier || '=' ||
	    rights FROM folder_acls ORDER BY 1" | tr '\n' ','
}
pull acl
is "$rc" 0 "acl: a server with the ACL extension is read"
is "$(acls)" "INBOX bob=lr,INBOX team mates=lrsw," \
    "acl: who else may use each folder is recorded, the account's own entry aside"
like "$out" '"kind":"acl-unreadable".*"folder":"Bad&Jjo"' \
    "acl: an ACL the account may not read is an anomaly"
like "$transcript" 'GETACL "INBOX"' "acl: GETACL of each folder"
KEEP=1 pull acl --mode delta
last=$(ls "$work/arc/segments" | tail -1)
is "$rc $(zstd -dc "$work/arc/segments/$last" | grep -ac folder-acl)" "0 0" \
    "acl: a delta that finds the same ACLs records none again"
is "$(acls)" "INBOX bob=lr,INBOX team mates=lrsw," "acl: and they stay recorded"
pull acl --mode assess --report "$work/assess.json"
is "$(jq -c '[.totals.shared_folders, .totals.acl_entries,
    (.folders[] | select(.name == "INBOX") | .acl)]' "$work/assess.json")" \
    '[1,2,{"bob":"lr","team mates":"lrsw"}]' \
    "acl: the assessment counts the shared folders and the entries"
is "$(jq -c '[.totals.sample_bytes, (.totals.sample_seconds > 0)]' "$work/assess.json")" \
    '[0,false]' "assess: no sample of bodies unless asked"
pull acl --mode assess --report "$work/assess.json" --sample-bytes 100000
is "$(jq -c '[.totals.sample_bytes, (.totals.sample_seconds >= 0)]' "$work/assess.json")" \
    '[70104,true]' "assess --sample-bytes: the newest bodies, timed (the empty one left out)"
like "$transcript" 'UID FETCH 3,1 \(BODY.PEEK\[\]\)' "read with BODY.PEEK[], newest first"
pull ok
like "$transcript" 'LOGOUT' "ok: read to the end"
unlike "$transcript" 'GETACL' "ok: no GETACL without the extension"

pull cut-literal
is "$rc" 75 "cut-literal: a disconnect mid-transfer exits 75"
like "$errtext" 'closed|end of file|connection' "cut-literal: says the connection ended"
is "$(segments)" "" "cut-literal: no segment left half-written"

# a checkpoint after each message: the rerun fetches only what is missing
pull cut-literal --checkpoint-messages 1
is "$rc" 75 "cut-literal again, a checkpoint after each message"
is "$(segments)" "00000001.tar.zst 00000002.tar.zst " \
    "the two messages before the cut are in complete segments"
KEEP=1 pull ok --checkpoint-messages 1
is "$rc" 0 "the rerun completes"
like "$transcript" 'UID FETCH 3 \(' "and asks only for the message it lacks"
like "$out" '"event":"done".*"messages":1,' "and fetches only that one"
is "$("$ARCHIVE" ls -r "$work/arc" | wc -l)" 3 "the archive holds all three"
# refused before it connects: no server
printf 'password=secret\n\n' | timeout 60 "$PULL" --host 127.0.0.1 --port 1 \
    --tls none --allow-plaintext --user alice --archive "$work/arc" \
    --mode full >"$work/out" 2>"$work/err"
is "$?" 64 "a second full pass is refused"
KEEP=1 pull ok --mode auto
is "$rc" 0 "--mode auto after a full pass runs"
seg_mode() {	# the mode of the archive's last segment
	tar --zstd -xOf "$(ls "$work"/arc/segments/*.tar.zst | tail -1)" \
	    manifest.jsonl | jq -r 'select(.t == "segment") | .mode'
}
is "$(seg_mode)" delta "--mode auto: a delta, once the full pass is complete"
pull ok --mode auto
is "$(seg_mode)" full "--mode auto on an empty archive: a full pass"

pull long-literal
is "$rc" 76 "long-literal: more bytes than announced exits 76"
like "$errtext" 'bad response' "long-literal: a protocol error, with the line"

pull garbage
is "$rc" 76 "garbage: exits 76"
like "$errtext" "unterminated|bad response" "garbage: names the offending response"

pull stall --timeout 2
is "$rc" 75 "stall: a silent server times out, exit 75"
like "$errtext" 'timed out|timeout' "stall: says it timed out"

pull bad-password
is "$rc" 77 "bad-password: exits 77"
like "$errtext" 'AUTHENTICATIONFAILED|Authentication failed' "bad-password: gives the server's words"
unlike "$errtext$out" 'secret' "bad-password: the password appears nowhere"

pull bye
is "$rc" 69 "bye: a server that refuses service exits 69"

pull bad-examine
is "$rc" 76 "bad-examine: a tagged BAD exits 76"

# a password never goes in clear unless told
rm -rf "$work/arc"
coproc FAKE { exec python3 "$top/tests/proto/fake-imap.py" ok "$work/transcript"; }
fpid=$FAKE_PID
read -r port <&"${FAKE[0]}"
printf 'password=secret\n\n' | "$PULL" --host 127.0.0.1 --port "$port" \
    --tls none --user alice --archive "$work/arc" >/dev/null 2>"$work/err"
rc=$?
kill "$fpid" 2>/dev/null
wait "$fpid" 2>/dev/null
is "$rc" 78 "plaintext: refused without --allow-plaintext, exit 78"
unlike "$(cat "$work/transcript")" 'LOGIN' "plaintext: no LOGIN was sent"

# bad arguments
"$PULL" --host x --user y --mode sideways </dev/null >/dev/null 2>&1
is "$?" 64 "usage: a bad --mode exits 64"
printf 'password=x\n\n' | "$PULL" --host 127.0.0.1 --port 1 --user y \
    --archive "$work/arc2" >/dev/null 2>&1
is "$?" 69 "unreachable: nothing listening exits 69"

# --- by hand on a terminal (script(1) gives stderr one): its progress ---
unlike "$(cat "$work/err")" $'\033' "off a terminal, no status line"
rm -rf "$work/arc"
printf 'password=secret\n\n' >"$work/secrets"
fake_start fake-imap ok
env -u MIGRATE_NO_PROGRESS TERM=xterm script -qfec "timeout 60 '$PULL' \
    --host 127.0.0.1 --port $port --tls none --allow-plaintext --user alice \
    --archive '$work/arc' <'$work/secrets' >'$work/out'" /dev/null \
    >"$work/tty" 2>&1
fake_done
is "$rc" 0 "on a terminal, the pull runs"
screen=$(tr '\r' '\n' <"$work/tty")
like "$screen" "^.\[Kimap-pull: .* 3/3 messages, [0-9.]+ [kM]?B of [0-9.]+ [kM]?B, [0-9.]+ [kM]?B/s" \
    "and shows its progress on stderr, one line redrawn"
like "$screen" "^.\[Kimap-pull\[alice\]: pulled: 3 messages" \
    "a log line takes the status line's place"
is "$(grep -c '"event":"done"' "$work/out")" 1 "the events still go to stdout"

done_testing
