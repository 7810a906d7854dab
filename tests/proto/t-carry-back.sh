# carry-back against scripted servers: the fake JMAP destination holds a
# message the user received there after the flip; the fake IMAP source
# takes it (--check first, which changes nothing), refuses it (over
# quota), drops the connection inside it, and, for a message the user
# deleted, answers with another UIDVALIDITY than the pull saw.
. "$(dirname "$0")/lib.sh"

PULL=$top/$O/bin/imap-pull
PUSH=$top/$O/bin/jmap-push
BACK=$top/$O/bin/carry-back
work=$(mktemp -d)
fpid= ipid=
trap '[ -n "$fpid" ] && kill "$fpid" 2>/dev/null; rm -rf "$work"' EXIT

imap() {	# SCENARIO: a fake IMAP source, one connection, on $iport
	: >"$work/iport"
	python3 "$top/tests/proto/fake-imap.py" "$1" "$work/imap.log" \
	    >"$work/iport" &
	ipid=$!
	for i in $(seq 100); do
		[ -s "$work/iport" ] && break
		sleep 0.05
	done
	iport=$(cat "$work/iport")
}
back() {	# SCENARIO [options]: carry-back; sets rc, out, errtext, sent
	imap "$1"
	shift
	printf 'password=secret\n\n' | timeout 60 "$BACK" --archive "$work/arc" \
	    --url "http://127.0.0.1:$port" --dest-allow-plaintext --dest-user u1 --host 127.0.0.1 \
	    --port "$iport" --tls none --allow-plaintext --user alice \
	    --report "$work/report.json" "$@" >"$work/out" 2>"$work/err"
	rc=$?
	kill "$ipid" 2>/dev/null
	wait "$ipid" 2>/dev/null
	out=$(cat "$work/out")
	errtext=$(cat "$work/err")
	sent=$(cat "$work/imap.log")
}
api() {	# JSON: method calls, as u1
	curl -s --user u1:secret -H 'Content-Type: application/json' \
	    --data-binary "$1" "http://127.0.0.1:$port/api/"
}

# the archive: three messages pulled from the fake source, pushed to the
# fake destination (two of them: the 70 kB one is over its upload limit)
imap ok
printf 'password=secret\n\n' | "$PULL" --host 127.0.0.1 --port "$iport" \
    --tls none --allow-plaintext --user alice --archive "$work/arc" \
    >/dev/null 2>&1
is "$?" 0 "an archive, from the fake IMAP source"
wait "$ipid" 2>/dev/null
coproc FJ { exec python3 "$top/tests/proto/fake-jmap.py" ok "$work/jmap.log"; }
fpid=$FJ_PID
read -r port <&"${FJ[0]}"
printf 'password=secret\n\n' | "$PUSH" --url "http://127.0.0.1:$port" --allow-plaintext \
    --user u1 --archive "$work/arc" >/dev/null 2>&1
is "$(curl -s "http://127.0.0.1:$port/debug/count" | jq .emails)" 2 \
    "pushed to the fake JMAP destination"

# she receives a message there
blob=$(printf 'From: x@example.org\r\nSubject: after the flip\r\n\r\nnew\r\n' |
    curl -s --user u1:secret --data-binary @- \
    "http://127.0.0.1:$port/upload/u1/" | jq -r .blobId)
api '{"using":["urn:ietf:params:jmap:core","urn:ietf:params:jmap:mail"],
  "methodCalls":[["Email/import",{"accountId":"u1","emails":{"n":{
  "blobId":"'"$blob"'","mailboxIds":{"mb-inbox":true},
  "keywords":{"$seen":true},"receivedAt":"2024-03-05T10:11:12Z"}}},"0"]]}' \
    >/dev/null

back ok --check
is "$rc" 65 "--check: something to carry back: 65"
is "$(jq -r '[.actions[] | "\(.action) \(.folder) \(.flags)"] | join(",")' "$work/report.json")" \
    'append INBOX \Seen' "--check: the new message, to be appended to INBOX with its flag"
unlike "$sent" 'APPEND|STORE|EXPUNGE|CREATE' "--check: changes nothing"

back append-no
is "$rc" 65 "a source over its quota: 65, not everything is carried back"
like "$out" '"kind":"not-carried-back".*Quota exceeded' "the anomaly gives the source's answer"
like "$sent" 'APPEND "INBOX" \(\\Seen\) "05-Mar-2024 10:11:12 \+0000" \{53\}' \
    "the append carries the flag and the date received"
is "$(jq '.actions[0].done' "$work/report.json")" false "the report says it is not done"

back append-cut
is "$rc" 75 "a source that drops the connection inside the append: 75 (again later)"
like "$errtext" 'connection|closed' "and says the connection broke"

# she deletes one of the carried messages as well
id=$(sqlite3 "$work/arc/index.db" \
    "SELECT email_id FROM push_emails WHERE state = 'done' LIMIT 1")
api '{"using":["urn:ietf:params:jmap:core","urn:ietf:params:jmap:mail"],
  "methodCalls":[["Email/set",{"accountId":"u1","destroy":["'"$id"'"]},"0"]]}' \
    >/dev/null
back uidvalidity
is "$rc" 75 "a folder made anew at the source since the pull: 75"
like "$errtext" 'UIDVALIDITY is 43 at the source, 42 in the archive: pull again' \
    "and says to pull again"
unlike "$sent" 'STORE|EXPUNGE' "nothing is stored or expunged by UIDs of another folder"

printf 'password=wrong\n\n' | timeout 60 "$BACK" --archive "$work/arc" \
    --url "http://127.0.0.1:$port" --dest-allow-plaintext --dest-user u1 --host 127.0.0.1 \
    --port 1 --tls none --allow-plaintext --user alice >/dev/null 2>&1
is "$?" 77 "a destination that refuses the credentials: 77"

done_testing
