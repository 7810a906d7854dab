# Radicale, the DAV source: PROPFIND finds the seeded calendar and address
# book, PUT and GET round trip, rights and passwords are enforced.
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
home="${DAV_URL}$ALICE_DEST_LOGIN"
C=(curl -sS --max-time 30 -H 'Expect:' --user "$ALICE_DEST_LOGIN:$ALICE_PASSWORD")

out=$("${C[@]}" -X PROPFIND -H 'Depth: 1' -H 'Content-Type: application/xml' \
    --data-binary '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getetag/></D:prop></D:propfind>' \
    "$home/calendar/")
is "$(printf '%s' "$out" | grep -o '<href>[^<]*\.ics</href>' | wc -l)" \
    "$(ls "$ALICE_CORPUS"/dav/calendars/calendar | wc -l)" \
    "PROPFIND lists every seeded event"
like "$out" 'getetag' "with their ETags"

out=$("${C[@]}" -X PROPFIND -H 'Depth: 0' --data-binary \
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/></D:prop></D:propfind>' \
    "$home/contacts/")
like "$out" 'addressbook' "the contacts collection is an address book"

out=$("${C[@]}" "$home/contacts/card-0.vcf")
like "$out" '^PHOTO;ENCODING=b;TYPE=PNG:iVBOR' "a seeded contact carries a photo"
out=$("${C[@]}" "$home/calendar/ev-0.ics")
like "$out" '^RRULE:FREQ=WEEKLY' "a seeded event recurs"
like "$out" '^RECURRENCE-ID:' "and has an exception"

uid="smoke-$$@test.example.org"
printf 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//migrate//test//EN\r\nBEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240105T100000Z\r\nSUMMARY:smoke\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n' \
    "$uid" >"$tmp/ev.ics"
code=$("${C[@]}" -o /dev/null -w '%{http_code}' -T "$tmp/ev.ics" \
    -H 'Content-Type: text/calendar' "$home/calendar/smoke.ics")
is "$code" 201 "PUT creates an event"
out=$("${C[@]}" "$home/calendar/smoke.ics")
like "$out" "^UID:$uid" "GET returns it"
code=$("${C[@]}" -o /dev/null -w '%{http_code}' -X DELETE "$home/calendar/smoke.ics")
like "$code" '^20[04]$' "DELETE removes it again"

code=$(curl -sS -o /dev/null -w '%{http_code}' --user "$ALICE_DEST_LOGIN:wrong" \
    -X PROPFIND "$home/calendar/")
is "$code" 401 "a wrong password gets 401"
code=$("${C[@]}" -o /dev/null -w '%{http_code}' -X PROPFIND \
    "${DAV_URL}$BOB_DEST_LOGIN/calendar/")
is "$code" 403 "alice cannot read bob's calendar"

done_testing
