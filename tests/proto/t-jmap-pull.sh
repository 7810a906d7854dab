# jmap-pull against a scripted JMAP server (a stand-in, tests/proto/fake-jmap.py):
# bodies byte for byte, a server that cannot calculate changes (a full
# comparison instead, deletions found), a download cut half way (the run
# fails, nothing half-written, the rerun completes without duplicates), a
# wrong password, an answer that is not JMAP, and an archive from IMAP.
. "$(dirname "$0")/lib.sh"

PULL=$top/$O/bin/imap-pull
PUSH=$top/$O/bin/jmap-push
JPULL=$top/$O/bin/jmap-pull
ARCHIVE=$top/$O/bin/migrate-archive
work=$(mktemp -d)
fpid=
trap '[ -n "$fpid" ] && kill "$fpid" 2>/dev/null; rm -rf "$work"' EXIT

# three messages (0 bytes, 63 bytes, 70 kB) from the fake IMAP server
coproc FI { exec python3 "$top/tests/proto/fake-imap.py" ok "$work/imap.log"; }
ipid=$FI_PID
read -r iport <&"${FI[0]}"
printf 'password=secret\n\n' | "$PULL" --host 127.0.0.1 --port "$iport" \
    --tls none --allow-plaintext --user alice --archive "$work/pristine" \
    >/dev/null 2>&1
is "$?" 0 "an archive to push, from the fake IMAP server"
wait "$ipid" 2>/dev/null

server() {	# SCENARIO: (re)start the stand-in, give it the pristine mail
	[ -n "$fpid" ] && kill "$fpid" 2>/dev/null && wait "$fpid" 2>/dev/null
	: >"$work/jmap.log"
	coproc FJ { exec python3 "$top/tests/proto/fake-jmap.py" "$1" \
	    "$work/jmap.log"; }
	fpid=$FJ_PID
	read -r port <&"${FJ[0]}"
	rm -rf "$work/pushed"
	cp -a "$work/pristine" "$work/pushed"
	printf 'password=secret\n\n' | "$PUSH" --url "http://127.0.0.1:$port" --allow-plaintext \
	    --user u1 --archive "$work/pushed" >/dev/null 2>&1
}
jpull() {	# ARCHIVE [options]
	local arc=$1
	shift
	printf 'password=%s\n\n' "${PW:-secret}" | timeout 60 "$JPULL" \
	    --url "http://127.0.0.1:$port" --allow-plaintext --user u1 --archive "$arc" "$@" \
	    >"$work/out" 2>"$work/err"
	rc=$?
	out=$(cat "$work/out")
	errtext=$(cat "$work/err")
}
field() { grep '"event":"done"' "$work/out" | jq -r ".$1"; }
listing() {	# ARCHIVE: folder, hash, flags of every message
	"$ARCHIVE" ls -r "$1" | awk -F '\t' '{ print $1, $5, tolower($6) }' |
	    sort
}
api() {	# JSON method calls
	curl -s -u u1:secret -H 'Content-Type: application/json' -d \
	    "{\"using\":[\"urn:ietf:params:jmap:core\",\"urn:ietf:params:jmap:mail\"],\"methodCalls\":$1}" \
	    "http://127.0.0.1:$port/api/"
}

server ok
jpull "$work/arc"
is "$rc" 0 "full: exit 0"
is "$(field messages) $(field full_comparison)" "2 true" \
    "full: the two emails the stand-in holds (it refused the 70 kB one)"
is "$(listing "$work/arc")" \
    "$(listing "$work/pristine" | grep -v "$(sqlite3 "$work/pushed/index.db" "SELECT hash FROM push_emails WHERE state = 'failed'")")" \
    "full: same folders, same bodies byte for byte (by SHA-256), same flags"
is "$("$ARCHIVE" verify "$work/arc" >/dev/null 2>&1; echo $?)" 0 \
    "full: the archive verifies"
listing "$work/arc" >"$work/full.list"

jpull "$work/arc" --mode delta
is "$rc" 0 "delta: exit 0"
like "$errtext" 'Email/changes: cannotCalculateChanges; comparing every email' \
    "delta: the server cannot calculate changes, so everything is compared"
is "$(field full_comparison) $(field messages) $(field expunged)" "true 0 0" \
    "delta: and nothing is new"

gone=$(api '[["Email/query",{"accountId":"u1"},"q"]]' | jq -r '.methodResponses[0][1].ids[0]')
api "[[\"Email/set\",{\"accountId\":\"u1\",\"destroy\":[\"$gone\"]},\"d\"]]" >/dev/null
jpull "$work/arc" --mode delta
is "$(field full_comparison) $(field expunged)" "true 1" \
    "delta after a deletion at the source: found by the full comparison"
is "$("$ARCHIVE" ls -r "$work/arc" | wc -l)" 1 "and the archive holds one message"

# a download cut half way: the run fails, the rerun completes
server cutdownload
jpull "$work/cut"
is "$rc" 75 "a download cut half way: exit 75 (EX_TEMPFAIL), to be retried"
is "$(ls "$work/cut/segments" 2>/dev/null | grep -c '\.part$')" 0 \
    "nothing half-written is left"
for try in 1 2 3; do
	jpull "$work/cut" --mode auto
	[ "$rc" = 0 ] && break
done
is "$rc" 0 "a rerun completes it"
jpull "$work/cut" --mode auto
is "$rc $(field messages)" "0 0" "and the next has nothing left to do"
is "$(listing "$work/cut")" "$(cat "$work/full.list")" \
    "the archive holds each email once, byte for byte"

PW=wrong jpull "$work/bad"
is "$rc" 77 "a wrong password: exit 77 (EX_NOPERM)"
unlike "$errtext$out" 'wrong' "the password is in no message"

server garbage
jpull "$work/garbage"
is "$rc" 76 "HTML instead of JSON: exit 76 (EX_PROTOCOL)"

server ok
jpull "$work/pristine" --mode auto
is "$rc" 64 "an archive imap-pull wrote: exit 64"
like "$errtext" "did not come from JMAP" "and says why"

jpull "" --mode assess --report "$work/assess.json"
is "$rc" 0 "assess: exit 0"
is "$(jq -c '[.totals.messages, ([.folders[].messages] | add)]' "$work/assess.json")" "[2,2]" \
    "assess: the report counts the emails, per folder too"
done_testing
