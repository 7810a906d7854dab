# jmap-push against a scripted JMAP server: small limits honoured, a body
# over the upload limit refused alone, a rerun that imports nothing, a
# crash between request and record reconciled without duplicates, and
# HTTP 500, HTML instead of JSON, 429, 401.
. "$(dirname "$0")/lib.sh"

PULL=$top/$O/bin/imap-pull
PUSH=$top/$O/bin/jmap-push
work=$(mktemp -d)
fpid=
trap '[ -n "$fpid" ] && kill "$fpid" 2>/dev/null; rm -rf "$work"' EXIT

# an archive of three messages (0 bytes, 63 bytes, 70 kB), from the fake
# IMAP server
coproc FI { exec python3 "$top/tests/proto/fake-imap.py" ok "$work/imap.log"; }
ipid=$FI_PID
read -r iport <&"${FI[0]}"
printf 'password=secret\n\n' | "$PULL" --host 127.0.0.1 --port "$iport" \
    --tls none --allow-plaintext --user alice --archive "$work/pristine" \
    >/dev/null 2>&1
is "$?" 0 "an archive to push, from the fake IMAP server"
wait "$ipid" 2>/dev/null

server() {	# SCENARIO: (re)start the fake JMAP server
	[ -n "$fpid" ] && kill "$fpid" 2>/dev/null && wait "$fpid" 2>/dev/null
	: >"$work/jmap.log"
	coproc FJ { exec python3 "$top/tests/proto/fake-jmap.py" "$1" \
	    "$work/jmap.log"; }
	fpid=$FJ_PID
	read -r port <&"${FJ[0]}"
}
push() {	# [options]
	printf 'password=%s\n\n' "${PW:-secret}" | timeout 60 "$PUSH" \
	    --url "http://127.0.0.1:$port" ${CLEAR---allow-plaintext} \
	    --user "${JUSER:-u1}" --archive "$work/arc" "$@" >"$work/out" \
	    2>"$work/err"
	rc=$?
	out=$(cat "$work/out")
	errtext=$(cat "$work/err")
}
field() { grep '"event":"done"' "$work/out" | jq -r ".$1"; }
count() { curl -s "http://127.0.0.1:$port/debug/count" | jq -r ".$1"; }
done_rows() {
	sqlite3 "$work/arc/index.db" "SELECT count(*) FROM push_emails WHERE state = 'done'"
}
fresh() { rm -rf "$work/arc"; cp -a "$work/pristine" "$work/arc"; }

server ok
fresh
push
is "$rc" 65 "ok: exit 65, one message is left undone"
is "$(field imported) $(field failed)" "2 1" "ok: two imported, the 70 kB one refused"
like "$out" '"kind":"not-imported".*maxSizeUpload' \
    "ok: the refusal is an anomaly that names the limit"
is "$(count emails)" 2 "ok: the server holds two emails"
is "$(jq -r 'select(.request) | .request[] | select(.[0] == "Email/import") | .[1]' "$work/jmap.log" | sort -n | tail -1)" 2 \
    "ok: no Email/import carries more than maxObjectsInSet (2)"
like "$(jq -r 'select(.request) | .request | length' "$work/jmap.log" | sort -n | tail -1)" '^[12]$' \
    "ok: no request carries more than maxCallsInRequest (2)"
like "$(count mailboxes | tr -d '\n ')" '"Bad&Jjo","Empty","Inbox"' \
    "ok: folders became mailboxes; INBOX is the inbox"

push
is "$(field imported) $(count emails)" "0 2" "rerun: nothing imported twice"

# a run killed after sending but before recording: "sending" in the index
sqlite3 "$work/arc/index.db" "UPDATE push_emails SET state = 'sending', email_id = NULL WHERE state = 'done'"
push
is "$(field imported) $(field matched)" "0 2" \
    "crash: both found on the server by size, date and body, not imported again"
is "$(count emails)" 2 "crash: no duplicate"
is "$(done_rows)" 2 "crash: both recorded as done"

push --verify --report "$work/verify.json"
is "$(jq '[.differences[] | select(.why | startswith("not pushed") | not)] | length' "$work/verify.json")" 0 \
    "verify: everything pushed is there as it should be"
is "$(jq -c '[.delta, (.folders[] | [.folder, .source_messages, .checked, .equal, .not_pushed, .destination_messages, .destination_bytes])]' "$work/verify.json")" \
    '[false,["Bad&Jjo",0,0,0,0,0,0],["Empty",0,0,0,0,0,0],["INBOX",3,3,2,1,2,63]]' \
    "verify: a row per folder, the empty ones too: source, checked, equal, refused, destination"

# a Bearer token instead of a user and password
printf 'token=t0ken\n\n' | "$PUSH" --url "http://127.0.0.1:$port" --allow-plaintext \
    --archive "$work/arc" >"$work/out" 2>"$work/err"
is "$(field imported) $(field matched)" "0 0" "token: a Bearer token is accepted"

# http:// only when asked for, with a password or a token
: >"$work/jmap.log"
CLEAR= push
is "$rc" 78 "plaintext: a password over http:// is refused (78)"
like "$errtext" "refusing to send a password over http://" \
    "plaintext: and the reason given"
printf 'token=t0ken\n\n' | "$PUSH" --url "http://127.0.0.1:$port" \
    --archive "$work/arc" >"$work/out" 2>"$work/err"
is "$?" 78 "plaintext: a token over http:// too"
is "$(cat "$work/jmap.log")" "" "plaintext: the server heard nothing"

# --account: the account to act on must be one the session lists
push --account u1
is "$rc" 65 "account: an account the session lists is used"
push --account someone-else
is "$rc" 77 "account: one it does not list is refused (77)"
like "$errtext" "no mail account 'someone-else'" "account: and named"

# RFC 9404: small bodies in Blob/upload calls, not one HTTP upload each
server blobext
fresh
push --verify --report "$work/verify.json"
is "$(field imported) $(field failed)" "2 1" "blobext: two imported, the big one refused"
is "$(jq -r 'select(.upload) | .upload' "$work/jmap.log" | wc -l)" 0 \
    "blobext: no HTTP upload: the small bodies went in Blob/upload"
is "$(jq -r 'select(.request) | .request[] | select(.[0] == "Blob/upload") | .[1]' "$work/jmap.log" | awk '{ s += $1 } END { print s }')" 2 \
    "blobext: the two small bodies went in Blob/upload calls"
is "$(jq '[.differences[] | select(.why | startswith("not pushed") | not)] | length' "$work/verify.json")" 0 \
    "blobext: and verify finds them whole"

server http500
fresh
push
is "$rc" 75 "http500: a server error exits 75"
like "$errtext" 'HTTP 500' "http500: and says so"
is "$(done_rows)" 0 "http500: nothing recorded as done"

server garbage
fresh
push
is "$rc" 76 "garbage: HTML instead of JMAP exits 76"
like "$errtext" 'not JMAP' "garbage: and says so"
is "$(done_rows)" 0 "garbage: nothing recorded as done"

# a method error: one the server calls passing (RFC 8620 3.6.2) is a
# temporary failure, any other a protocol error; both named
server unavailable
fresh
push
is "$rc" 75 "unavailable: serverUnavailable for Mailbox/get exits 75"
like "$errtext" 'Mailbox/get: the server answered serverUnavailable \(as the scenario says\)' \
    "unavailable: and says what the server answered"
server badargs
fresh
push
is "$rc" 76 "badargs: invalidArguments exits 76"
like "$errtext" 'answered invalidArguments' "badargs: and says so"

# sharing in the draft's vocabulary, keyed by principal id
server share
fresh
sqlite3 "$work/arc/index.db" "INSERT INTO folder_acls(folder, identifier,
    rights) VALUES ('INBOX', 'bob@example.org', 'lrswipkxtea'),
    ('INBOX', 'ghost', 'lr'), ('Empty', 'bob', 'lrsd'),
    ('Empty', 'ghost', 'lr')"
JUSER=u1@example.org push
is "$(field shares.set) $(field shares.pending | jq -c .)" '2 ["ghost"]' \
    "share: two mailboxes shared; ghost, no principal yet, pending"
share() { curl -s "http://127.0.0.1:$port/debug/share" | jq -c "$1"; }
is "$(share '.Inbox."p-bob" | [to_entries[] | select(.value) | .key] | sort')" \
    '["mayAddItems","mayCreateChild","mayDelete","mayReadItems","mayRemoveItems","mayRename","maySetKeywords","maySetSeen","mayShare","maySubmit"]' \
    "share: bob's full rights are every MailboxRights right"
is "$(share '.Empty."p-bob" | [to_entries[] | select(.value) | .key] | sort')" \
    '["mayReadItems","mayRemoveItems","maySetSeen"]' \
    "share: a bare 'bob' is bob@ the account's domain; RFC 2086 'd' is t and e"
is "$(share '.Inbox | keys')" '["p-bob"]' "share: the pending one is left out"
is "$(jq -r 'select(.request) | .request[] | select(.[0] == "Principal/query") | .[0]' "$work/jmap.log" | wc -l)" 2 \
    "share: each identifier is looked up once"
JUSER=u1@example.org push --verify-only
is "$(field shares)" null "share: --verify-only does not look at the sharing"
JUSER=u1@example.org push
is "$(field shares.set)" 0 "share: a rerun writes no sharing that is already there"
sqlite3 "$work/arc/index.db" "DELETE FROM folder_acls WHERE folder = 'INBOX'"
JUSER=u1@example.org push
is "$(field shares.set) $(share '.Inbox') $(share '.Empty | keys | length')" \
    "1 null 1" "share: a folder the source no longer shares loses its sharing, alone"
JUSER=u1@example.org push
is "$(field shares.set)" 0 "share: and once only"
printf 'ghost ghost@example.org\nbob\n' >"$work/ready"
JUSER=u1@example.org push --share-ready "$work/ready" --shares-only
is "$rc" 78 "share: a bad --share-ready file fails the run (EX_CONFIG)"
like "$errtext" "ready:2: not \"SOURCE DESTINATION\"" "share: and names its line"

server ratelimit
fresh
push
is "$(field imported)" 2 "ratelimit: 429 with Retry-After is waited out"
like "$errtext" 'asks to wait' "ratelimit: and said"

server badpass
fresh
PW=wrong push
is "$rc" 77 "badpass: a refused login exits 77"
case "$errtext$out" in
*wrong*) not_ok "badpass: the password shows nowhere" ;;
*) ok "badpass: the password shows nowhere" ;;
esac

done_testing
