# dav-pull against the world's Radicale: every calendar and address book
# of a user, each resource byte for byte as curl GETs it; a rerun that
# changes nothing; a delta (added, changed, deleted, by sync-collection);
# a collection the server cannot read; assess; a wrong password.
. "$(dirname "$0")/lib.sh"

PULL=$top/$O/bin/dav-pull
ARCHIVE=$top/$O/bin/migrate-archive
work=$(mktemp -d /var/tmp/t-dav-pull.XXXXXX)
RAD=$WORLD_DIR/radicale/collections/collection-root/$BOB_DEST_LOGIN
trap 'rm -rf "$work" "$RAD/broken" "$RAD/calendar/added.ics"' EXIT
C=(curl -sS --max-time 30 -H 'Expect:' --user "$BOB_DEST_LOGIN:$BOB_PASSWORD")
home=${DAV_URL}$BOB_DEST_LOGIN

pull() {	# ARCHIVE [options...]
	local arc=$1
	shift
	printf 'password=%s\n\n' "${PW:-$BOB_PASSWORD}" | "$PULL" --url "$DAV_URL" --allow-plaintext \
	    --user "$BOB_DEST_LOGIN" --archive "$arc" "$@" >"$work/out" \
	    2>"$work/err"
}
done_field() { grep '"event":"done"' "$work/out" | jq -r ".$1"; }
q() { sqlite3 "$work/a/index.db" "$1"; }
# every resource of the archive against a GET by curl
same_as_source() {
	local col name hash bad=0 n=0
	while IFS='|' read -r col name hash; do
		n=$((n + 1))
		cmp -s <("$ARCHIVE" cat "$work/a" "$hash") \
		    <("${C[@]}" "${DAV_URL%/}$col$name") || bad=$((bad + 1))
	done < <(q 'SELECT collection, name, hash FROM dav_resources')
	echo "$n $bad"
}

# bob's calendar is back as seeded (an earlier run may have changed it)
ncal=$(ls "$BOB_CORPUS/dav/calendars/calendar" | wc -l)
ncard=$(ls "$BOB_CORPUS/dav/addressbooks/contacts" | wc -l)

pull "$work/a"
is "$?" 0 "dav-pull finds bob's collections from the server's root"
is "$(done_field collections) $(done_field events) $(done_field contacts)" \
    "2 $ncal $ncard" "one calendar, one address book, every seeded resource"
is "$(q "SELECT kind || ' ' || json_extract(props, '\$.displayname') FROM dav_collections ORDER BY 1" | tr '\n' ',')" \
    "addressbook Contacts,calendar Calendar," "with their kinds and display names"
is "$(same_as_source)" "$((ncal + ncard)) 0" "each resource byte for byte as curl GETs it"
is "$(q "SELECT count(*) FROM dav_collections WHERE sync_token LIKE 'http%'")" 2 \
    "each collection's sync-token is kept"

segs=$(ls "$work/a/segments" | wc -l)
pull "$work/a"
is "$(done_field fetched) $(done_field deleted) $(ls "$work/a/segments" | wc -l)" \
    "0 0 $segs" "a second pass with nothing changed fetches nothing, writes nothing"

# --- a delta at the source -----------------------------------------------
uid="added-$$@example.org"
printf 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20240101T000000Z\r\nDTSTART;VALUE=DATE:20240301\r\nSUMMARY:Added – Ünïcode\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n' \
    "$uid" >"$work/added.ics"
"${C[@]}" -o /dev/null -T "$work/added.ics" -H 'Content-Type: text/calendar' \
    "$home/calendar/added.ics"
"${C[@]}" "$home/calendar/ev-1.ics" >"$work/ev-1.orig"
sed "s/^SUMMARY:.*/SUMMARY:Changed at the source ($$)\r/" "$work/ev-1.orig" \
    >"$work/ev-1.ics"
"${C[@]}" -o /dev/null -T "$work/ev-1.ics" -H 'Content-Type: text/calendar' \
    "$home/calendar/ev-1.ics"
cp "$RAD/contacts/card-3.vcf" "$work/card-3.vcf"
"${C[@]}" -o /dev/null -X DELETE "$home/contacts/card-3.vcf"
pull "$work/a"
is "$?" 0 "the delta pass"
is "$(done_field fetched) $(done_field deleted)" "2 1" \
    "two fetched (added, changed), one deleted"
is "$(grep '"event":"progress"' "$work/out" | jq -r .listing | sort -u)" \
    sync-collection "the changes came by sync-collection from the kept tokens"
is "$(q "SELECT count(*) FROM dav_resources WHERE name = 'card-3.vcf'")" 0 \
    "the deleted contact is gone from the index"
is "$(same_as_source)" "$((ncal + ncard)) 0" \
    "and the archive equals the source again, byte for byte"
# put bob's contact and event back as they were
"${C[@]}" -o /dev/null -T "$work/card-3.vcf" -H 'Content-Type: text/vcard' \
    "$home/contacts/card-3.vcf"
"${C[@]}" -o /dev/null -T "$work/ev-1.orig" -H 'Content-Type: text/calendar' \
    "$home/calendar/ev-1.ics"
"${C[@]}" -o /dev/null -X DELETE "$home/calendar/added.ics"

# --- a collection Radicale cannot read ----------------------------------
"${C[@]}" -o /dev/null -X MKCALENDAR "$home/broken/"
printf 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x1\r\nDTSTART:garbage\r\n' \
    >"$RAD/broken/bad.ics"
pull "$work/a"
is "$?" 0 "a malformed .ics in one collection: the pass ends well"
like "$(grep '"event":"anomaly"' "$work/out" | jq -r .kind)" \
    "dav-collection-unreadable" "and says so with an anomaly"
is "$(done_field events) $(done_field contacts)" "$ncal $ncard" "the rest is done"
rm -rf "$RAD/broken"

# --- assess, and a wrong password --------------------------------------
pull "$work/r" --mode assess --report "$work/report.json"
is "$?" 0 "assess"
is "$(jq -r '.totals | "\(.collections) \(.events) \(.contacts)"' "$work/report.json")" \
    "2 $ncal $ncard" "the report counts collections, events and contacts"
[ ! -e "$work/r" ]
is "$?" 0 "assess writes no archive"
PW=wrong pull "$work/b"
is "$?" 77 "a wrong password: 77"
like "$(cat "$work/err")" "401" "it names the server's answer"

done_testing
