# Shared calendars and address books, Cyrus to Cyrus: alice shares a
# calendar with bob (read-write) and an address book with carol (read)
# by draft-pot's POST of a share-resource; dav-pull records who may use
# each, the collections go, dav-push makes them again and shares them
# with the grantees that are on the destination (--share-ready), carol's
# once she arrives (--shares-only).  Checked as bob and as carol; a share
# the source does not have is taken away before the cutover and kept
# after it.
. "$(dirname "$0")/lib.sh"

PULL=$top/$O/bin/dav-pull
PUSH=$top/$O/bin/dav-push
work=$(mktemp -d /var/tmp/t-dav-share.XXXXXX)
A=$ALICE_DEST_LOGIN APW=$ALICE_PASSWORD
DST=http://$WORLD_HOST:$DST_HTTP_PORT
CAL=$DST/dav/calendars/user/$A/team-share/
BOOK=$DST/dav/addressbooks/user/$A/crew-share/
EV='BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//migrate tests//EN
BEGIN:VEVENT
UID:share-1@example.org
DTSTAMP:20250101T090000Z
DTSTART:20250102T100000Z
DTEND:20250102T110000Z
SUMMARY:Team meeting
END:VEVENT
END:VCALENDAR'
CARD='BEGIN:VCARD
VERSION:3.0
UID:crew-1@example.org
N:Member;Crew;;;
FN:Crew Member
EMAIL:crew@example.org
END:VCARD'

as_alice() { dav_curl "$A" "$APW" "$@"; }
cleanup() {
	as_alice -o /dev/null -X DELETE "$CAL"
	as_alice -o /dev/null -X DELETE "$BOOK"
	rm -rf "$work"
}
trap cleanup EXIT
share() {	# URL WHO ACCESS: as alice, draft-pot's POST
	as_alice -o /dev/null -w '%{http_code}' -X POST \
	    -H 'Content-Type: application/davsharing+xml' --data-binary \
	    "<?xml version=\"1.0\"?><D:share-resource xmlns:D=\"DAV:\"><D:sharee><D:href>mailto:$2</D:href><D:share-access><D:$3/></D:share-access></D:sharee></D:share-resource>" \
	    "$1"
}
# Where LOGIN reads alice's collection URL: Cyrus sends a sharee to its
# own name for it (a 301), whose PROPFIND body curl -L would not resend
seen_at() {	# LOGIN PASSWORD URL
	local to
	to=$(dav_curl "$1" "$2" -o /dev/null -w '%{redirect_url}' -X PROPFIND \
	    -H 'Depth: 0' "$3")
	echo "${to:-$3}"
}
# what LOGIN may do on alice's collection URL (privileges, sorted), or
# the HTTP status when the answer is no 207
rights() {	# LOGIN PASSWORD URL
	local out code
	out=$(dav_curl "$1" "$2" -w '\n%{http_code}' -X PROPFIND \
	    -H 'Depth: 0' -H 'Content-Type: application/xml' --data-binary \
	    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:current-user-privilege-set/></D:prop></D:propfind>' \
	    "$(seen_at "$@")")
	code=${out##*$'\n'}
	if [ "$code" != 207 ]; then
		echo "$code"
		return
	fi
	printf '%s\n' "${out%$'\n'*}" | grep -o '<D:privilege><D:[a-z-]*/>' |
	    sed 's/.*<D://; s|/>||' | sort -u | tr '\n' ' '
}
pull() {
	printf 'password=%s\n\n' "$APW" | "$PULL" --url "$DST/dav/" \
	    --allow-plaintext --user "$A" --collection "$CAL" \
	    --collection "$BOOK" --archive "$work/a" >"$work/out" 2>"$work/err"
}
push() {	# READY-LINES [options]
	printf '%s' "$1" >"$work/ready"
	shift
	printf 'password=%s\n\n' "$APW" | "$PUSH" --url "$DST/dav/" \
	    --allow-plaintext --user "$A" --archive "$work/a" \
	    --share-ready "$work/ready" "$@" >"$work/out" 2>"$work/err"
}
shares_done() { grep '"event":"done"' "$work/out" | jq -c .shares; }

# --- the source: alice's calendar and address book, shared ---------------
cleanup_now() { as_alice -o /dev/null -X DELETE "$CAL"; as_alice -o /dev/null -X DELETE "$BOOK"; }
cleanup_now
is "$(as_alice -o /dev/null -w '%{http_code}' -X MKCALENDAR "$CAL")" 201 \
    "alice makes a calendar"
is "$(printf '%s\n' "$EV" | sed 's/$/\r/' | as_alice -o /dev/null -w '%{http_code}' \
    -T - -H 'Content-Type: text/calendar' "${CAL}ev.ics")" 201 "with an event"
is "$(as_alice -o /dev/null -w '%{http_code}' -X MKCOL -H 'Content-Type: application/xml' \
    --data-binary '<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:A="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/><A:addressbook/></D:resourcetype></D:prop></D:set></D:mkcol>' \
    "$BOOK")" 201 "and an address book"
is "$(printf '%s\n' "$CARD" | sed 's/$/\r/' | as_alice -o /dev/null -w '%{http_code}' \
    -T - -H 'Content-Type: text/vcard' "${BOOK}card.vcf")" 201 "with a card"
is "$(share "$CAL" "$BOB_DEST_LOGIN" read-write) $(share "$BOOK" "$CAROL_DEST_LOGIN" read)" \
    "204 204" "she shares the calendar with bob, the address book with carol"
like "$(rights "$BOB_DEST_LOGIN" "$BOB_PASSWORD" "$CAL")" 'bind.*read.*write-content' \
    "bob may read and write the calendar on the source"

# --- pulled: who may use each ----------------------------------------------
pull
is "$?" 0 "pulled"
is "$(sqlite3 "$work/a/index.db" "SELECT name, json_extract(props, '$.shares') FROM dav_collections ORDER BY name" | tr '\n' ' ')" \
    "crew-share|[{\"access\":\"read\",\"who\":\"$CAROL_DEST_LOGIN\"}] team-share|[{\"access\":\"read-write\",\"who\":\"$BOB_DEST_LOGIN\"}] " \
    "the archive has each collection's grantee and access"

# --- the destination, fresh: bob is there, carol not yet ------------------
cleanup_now
is "$(rights "$BOB_DEST_LOGIN" "$BOB_PASSWORD" "$CAL")" 404 "gone: bob sees nothing"
push "$BOB_DEST_LOGIN $BOB_DEST_LOGIN
"
is "$?" 0 "pushed, with bob on the destination"
is "$(shares_done)" "{\"set\":1,\"pending\":[\"$CAROL_DEST_LOGIN\"],\"ready\":1}" \
    "the calendar's sharing is set, the address book's waits for carol"
like "$(rights "$BOB_DEST_LOGIN" "$BOB_PASSWORD" "$CAL")" 'bind.*read.*write-content' \
    "bob may read and write the calendar on the destination"
like "$(dav_curl "$BOB_DEST_LOGIN" "$BOB_PASSWORD" -L "${CAL}ev.ics")" 'SUMMARY:Team meeting' \
    "bob reads alice's event"
unlike "$(rights "$CAROL_DEST_LOGIN" "$CAROL_PASSWORD" "$BOOK")" 'read' \
    "carol may not read the address book yet"

# --- carol arrives -------------------------------------------------------
push "$BOB_DEST_LOGIN $BOB_DEST_LOGIN
$CAROL_DEST_LOGIN $CAROL_DEST_LOGIN
" --shares-only
is "$?" 0 "the sharing alone, pushed again"
is "$(shares_done)" '{"set":1,"pending":[],"ready":2}' "the address book's sharing is set"
r=$(rights "$CAROL_DEST_LOGIN" "$CAROL_PASSWORD" "$BOOK")
is "$(echo "$r" | grep -qw read && echo read) $(echo "$r" | grep -Eq 'write-content|bind' && echo write)" \
    "read " "carol may read the address book, not write in it ($r)"
like "$(dav_curl "$CAROL_DEST_LOGIN" "$CAROL_PASSWORD" -L "${BOOK}card.vcf")" 'FN:Crew Member' \
    "carol reads alice's card"
push "$BOB_DEST_LOGIN $BOB_DEST_LOGIN
$CAROL_DEST_LOGIN $CAROL_DEST_LOGIN
" --shares-only
is "$(shares_done)" '{"set":0,"pending":[],"ready":2}' "a rerun finds both there and writes nothing"

# --- a share the source does not have -----------------------------------
share "$CAL" "$CAROL_DEST_LOGIN" read >/dev/null
push "$BOB_DEST_LOGIN $BOB_DEST_LOGIN
$CAROL_DEST_LOGIN $CAROL_DEST_LOGIN
" --shares-only --after-cutover
like "$(rights "$CAROL_DEST_LOGIN" "$CAROL_PASSWORD" "$CAL")" 'read' \
    "after the cutover, what the user shared there stays"
push "$BOB_DEST_LOGIN $BOB_DEST_LOGIN
$CAROL_DEST_LOGIN $CAROL_DEST_LOGIN
" --shares-only
unlike "$(rights "$CAROL_DEST_LOGIN" "$CAROL_PASSWORD" "$CAL")" 'read' \
    "before it, the destination mirrors the source: carol's share is taken away"
like "$(rights "$BOB_DEST_LOGIN" "$BOB_PASSWORD" "$CAL")" 'write-content' \
    "and bob's stays"

done_testing
