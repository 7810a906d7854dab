# dav-pull and dav-push against a scripted fake CalDAV server: a resource
# that is not iCalendar, a UID twice, one without UID (refused, then
# carried repaired), a sync-token refused, a refused PUT with its CalDAV
# precondition, a 207 that is not XML, a 500 on one
# resource, a 503, a wrong password.  Exit codes per migrate-helper(7).
. "$(dirname "$0")/lib.sh"

PULL=$top/$O/bin/dav-pull
PUSH=$top/$O/bin/dav-push
ARCHIVE=$top/$O/bin/migrate-archive
work=$(mktemp -d)
fpid=
trap '[ -n "$fpid" ] && kill "$fpid" 2>/dev/null; rm -rf "$work"' EXIT

start() {	# SCENARIO: a fresh fake server on $port
	[ -n "$fpid" ] && kill "$fpid" 2>/dev/null && wait "$fpid" 2>/dev/null
	rm -f "$work/transcript"
	coproc FAKE { exec python3 "$top/tests/proto/fake-dav.py" "$1" \
	    "$work/transcript"; }
	fpid=$FAKE_PID
	read -r port <&"${FAKE[0]}"
}
run() {	# HELPER ARCHIVE [options...]: sets rc, out, errtext
	local helper=$1 arc=$2
	shift 2
	printf 'password=%s\n\n' "${PW:-secret}" | timeout 60 "$helper" \
	    --url "http://127.0.0.1:$port/" ${CLEAR---allow-plaintext} \
	    --user alice --archive "$arc" "$@" >"$work/out" 2>"$work/err"
	rc=$?
	out=$(cat "$work/out")
	errtext=$(cat "$work/err")
}
kinds() { printf '%s\n' "$out" | grep '"event":"anomaly"' | jq -r .kind | sort | tr '\n' ' '; }

start ok
run "$PULL" "$work/a"
is "$rc" 0 "ok: the calendar is read"
like "$out" '"event":"done".*"collections":2,"events":4' "ok: two calendars, four resources"
is "$(kinds)" "dav-shared duplicate-uid invalid-icalendar no-uid " \
    "ok: a resource that is not iCalendar, a UID twice, none, and another's calendar are anomalies"
is "$(sqlite3 "$work/a/index.db" "SELECT path, shared FROM dav_collections ORDER BY 1" | tr '\n' ' ')" \
    "/cal/alice/bob-shared/|1 /cal/alice/work/|0 " \
    "ok: bob's shared calendar is recorded as shared"
unlike "$(cat "$work/transcript")" 'bob-shared/.' "ok: and none of its resources is read"
h=$(sqlite3 "$work/a/index.db" "SELECT hash FROM dav_resources WHERE name = 'a.ics'")
if cmp -s <("$ARCHIVE" cat "$work/a" "$h") \
    <(curl -sS --user alice:secret "http://127.0.0.1:$port/cal/alice/work/a.ics"); then
	ok "ok: a.ics is archived byte for byte (CRLF, UTF-8)"
else
	not_ok "ok: a.ics is archived byte for byte (CRLF, UTF-8)"
fi
run "$PULL" "$work/a"
like "$out" '"listing":"etags"' "ok: a sync-token the server refuses: listed whole"
like "$out" '"fetched":0' "ok: and nothing unchanged is fetched"
unlike "$(cat "$work/transcript")" ' - $' "ok: every request carried the credentials"

run "$PUSH" "$work/a"
is "$rc" 65 "push: a refused resource makes 65"
like "$out" '"kind":"dav-refused".*valid-calendar-data' \
    "push: the anomaly carries the server's precondition"
like "$out" '"event":"done".*"pushed":2,"repaired":1,.*"refused":1' \
    "push: the others were sent, one repaired"
like "$out" '"kind":"dav-repaired".*Missing UID' \
    "push: an event without UID, refused, is sent again with one (an anomaly)"
is "$(grep -c 'PUT /cal/alice/work/d.ics' "$work/transcript")" 2 \
    "push: refused once, taken with the UID"
is "$(sqlite3 "$work/a/index.db" "SELECT state FROM push_dav_resources WHERE name = 'd.ics'")" \
    repaired "push: recorded as repaired"
like "$out" '"differences":0' "push: the verify compares what was sent: no difference"
run "$PUSH" "$work/a"
like "$out" '"event":"done".*"pushed":0,"repaired":0,"unchanged":3' \
    "push: a rerun sends the repaired one no more"
like "$(cat "$work/transcript")" 'PUT /cal/alice/work/a.ics alice' "push: under the source's name"
unlike "$(cat "$work/transcript")" 'MKCALENDAR|bob-shared' "push: the shared calendar is not written"

# sharing said as Stalwart says it: an RFC 3744 ACL, no invite
start acl
run "$PULL" "$work/s"
is "$(sqlite3 "$work/s/index.db" "SELECT json_extract(props, '$.shares') FROM dav_collections WHERE path = '/cal/alice/work/'")" \
    '[{"access":"read","who":"bob"},{"access":"read","who":"carol"}]' \
    "acl: the grants to bob and carol are read, the owner's left out"
like "$(printf '%s\n' "$out" | grep dav-share-not-carried | jq -r .text | sort | tr '\n' ' ')" \
    "^authenticated may read: only grants to one account are carried carol may also change who shares it: carried as read-write" \
    "acl: the grant to every authenticated user and carol's right to share are anomalies"
: >"$work/ready"
run "$PUSH" "$work/s" --share-ready "$work/ready"
like "$out" '"shares":\{"set":0,"pending":\["bob","carol"\],"ready":0\}' \
    "acl: bob and carol not on the destination yet: pending"
unlike "$(cat "$work/transcript")" '^ACL ' "acl: and nothing is written"
printf 'bob bob\ncarol carol\n' >"$work/ready"
run "$PUSH" "$work/s" --share-ready "$work/ready"
like "$out" '"shares":\{"set":1,"pending":\[\],"ready":2\}' "acl: once they are there, set"
like "$(cat "$work/transcript")" '^ACL /cal/alice/work/ alice' "acl: by the ACL method"
is "$(grep -o '<D:href>[^<]*</D:href>\|<D:read/>\|<D:write/>' "$work/transcript.acl" | tr -d '\n')" \
    '<D:href>/p/bob/</D:href><D:read/><D:href>/p/carol/</D:href><D:read/>' \
    "acl: a grant of read to each one's principal, nothing else"
lines=$(wc -l <"$work/transcript")
run "$PUSH" "$work/s" --share-ready "$work/ready" --shares-only
like "$out" '"shares":\{"set":0,' "acl: a rerun finds it there and writes nothing"
is "$(grep -c '^ACL ' "$work/transcript")" 1 "acl: one ACL in all"
unlike "$(tail -n +"$((lines + 1))" "$work/transcript")" '^PUT ' \
    "acl: --shares-only sends no resource"

start not-xml
run "$PULL" "$work/b"
is "$rc" 76 "not-xml: a 207 that is not XML is a protocol error (76)"
like "$errtext" 'not a DAV multistatus' "not-xml: and says so"
start get-500
run "$PULL" "$work/c"
is "$rc" 0 "get-500: one resource the server fails on: the pass ends well"
like "$(kinds)" "dav-resource-unreadable" "get-500: with an anomaly"
like "$out" '"fetched":3' "get-500: the others are read"
start get-503
run "$PULL" "$work/d"
is "$rc" 75 "get-503: a busy server: 75 (again later)"
ls "$work/d/segments/"*.tar.zst >/dev/null 2>&1
is "$?" 2 "get-503: and no segment is written"
PW=wrong run "$PULL" "$work/e"
is "$rc" 77 "a wrong password: 77"
unlike "$out$errtext" 'secret' "the password is in no output"

# a password over http:// only when asked for: nothing is sent without
start ok
for h in "$PULL" "$PUSH"; do
	CLEAR= run "$h" "$work/a"
	is "$rc" 78 "${h##*/}: http:// without --allow-plaintext: 78"
	like "$errtext" "refusing to send a password over http://" \
	    "${h##*/}: and says why"
done
is "$(cat "$work/transcript" 2>/dev/null)" "" \
    "the server got no request, so no password"

done_testing
