# Sourced by the integration tests: the world's endpoints and a few TAP
# helpers in shell.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-build}
eval "$("$top/tests/world/world" env)" || { echo "not ok 1 - world env"; exit 1; }
SMOKE=$top/$O/tests/integration/imap-smoke

n=0
failures=0
ok() {
	n=$((n + 1))
	echo "ok $n - $*"
}
not_ok() {
	n=$((n + 1))
	failures=$((failures + 1))
	echo "not ok $n - $*"
}
# is GOT WANT DESCRIPTION
is() {
	if [ "$1" = "$2" ]; then
		ok "$3"
	else
		not_ok "$3"
		echo "#   got: '$1'"
		echo "#  want: '$2'"
	fi
}
# show FILE: its last lines as TAP comments (what a helper said as it failed)
show() {
	tail -n 25 "$1" | sed 's/^/#   /'
}
# like TEXT PATTERN DESCRIPTION (grep -E)
like() {
	if printf '%s\n' "$1" | grep -qE -- "$2"; then
		ok "$3"
	else
		not_ok "$3"
		printf '%s\n' "$1" | head -20 | sed 's/^/#   /'
	fi
}
# unlike TEXT PATTERN DESCRIPTION: the pattern is not there
unlike() {
	if printf '%s\n' "$1" | grep -qE -- "$2"; then
		not_ok "$3"
		printf '%s\n' "$1" | grep -E -- "$2" | head -5 | sed 's/^/#   /'
	else
		ok "$3"
	fi
}
done_testing() {
	echo "1..$n"
	[ "$failures" -eq 0 ]
}
# value KEY TEXT: the value of a "key value" line
value() {
	printf '%s\n' "$2" | sed -n "s/^$1 //p"
}
# count of messages a corpus manifest holds for one folder
manifest_count() {
	awk -F '\t' -v f="$2" '$1 == f { n++ } END { print n + 0 }' \
	    "$1/manifest.tsv"
}

# --- for the tests that push to Cyrus (t-jmap-push, t-migrate) -----------
# what a side holds, compared as tests/integration/norm-dump.py says
norm() {
	"$top/tests/integration/norm-dump.py" "$@"
}
failed_hashes() {	# ARCHIVE: the emails the destination refused
	sqlite3 -cmd '.timeout 10000' "$1/index.db" \
	    "SELECT hash FROM push_emails WHERE state = 'failed'"
}
rescued_hashes() {	# ARCHIVE: the emails carried repaired or wrapped
	sqlite3 -cmd '.timeout 10000' "$1/index.db" \
	    "SELECT hash FROM push_emails WHERE state = 'rescued'"
}
# the archive's side, without what the destination refused and without
# the copies flagged \Deleted; a rescued email by folder, date and flags
# only; folders the destination refused by name are renamed as
# jmap-push(8) says; a source separator other than '/' becomes Cyrus's '/'
expected() {	# ARCHIVE [SEPARATOR]
	local failed rescued	# read first: not beside the archive's reader
	failed=$(failed_hashes "$1"; echo NONE)
	rescued=$(rescued_hashes "$1")
	"$top/$O/bin/migrate-archive" ls -r "$1" |
	    grep -v -F -f <(printf '%s\n' "$failed") |
	    sed 's/^Back\\slash & Co\t/Back_slash _ Co (renamed)\t/' |
	    awk -F '\t' -v sep="${2:-/}" 'BEGIN { OFS = "\t" }
		sep != "/" { gsub("[" sep "]", "/", $1) } { print }' |
	    norm --union --drop-deleted --mask <(printf '%s\n' "$rescued")
}
# the destination's side (an imap-dump on standard input): a body the
# archive does not hold is a rescued one
dest_norm() {	# ARCHIVE
	local known
	known=$("$top/$O/bin/migrate-archive" ls -r "$1" | cut -f5)
	norm --mask-unknown <(printf '%s\n' "$known")
}
wipe() {	# PASSWORD LOGIN: empty a Cyrus account, as a new one is
	local s
	printf '%s\n' "$1" | "$top/tests/integration/imap-wipe.py" \
	    --ca "$WORLD_CA" "$WORLD_HOST" "$DST_IMAP_PORT" "$2"
	printf '%s\n' "$1" | sieve_client "$DST_SIEVE_PORT" "$2" setactive ""
	for s in $(printf '%s\n' "$1" |
	    sieve_client "$DST_SIEVE_PORT" "$2" list | cut -d' ' -f1); do
		printf '%s\n' "$1" | sieve_client "$DST_SIEVE_PORT" "$2" delete "$s"
	done
	# the collections dav-push makes (the source's names)
	for s in calendars/user/$2/calendar/ addressbooks/user/$2/contacts/; do
		dav_curl "$2" "$1" -o /dev/null -X DELETE \
		    "http://$WORLD_HOST:$DST_HTTP_PORT/dav/$s"
	done
}
# DAV with curl, as LOGIN with PASSWORD
dav_curl() {	# LOGIN PASSWORD curl-arguments...
	local u=$1 p=$2
	shift 2
	curl -sS --max-time 30 -H 'Expect:' --user "$u:$p" "$@"
}
dav_members() {	# LOGIN PASSWORD COLLECTION-URL: the names in it, sorted
	dav_curl "$1" "$2" -X PROPFIND -H 'Depth: 1' \
	    -H 'Content-Type: application/xml' --data-binary \
	    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>' \
	    "$3" | grep -o '<[A-Za-z:]*href>[^<]*</' | sed 's|.*>||; s|</$||' |
	    grep -v '/$' | sed 's|.*/||' | sort
}
# what must survive a server's normalizing: those properties' lines,
# unfolded, without CR or parameters, sorted (stdin to stdout)
dav_essence() {
	tr -d '\r' | sed -e ':a' -e 'N' -e '$!ba' -e 's/\n[ \t]//g' |
	    grep -E '^(UID|SUMMARY|DTSTART|RRULE|EXDATE|ATTENDEE|FN|EMAIL|TEL)[;:]' |
	    sed -E 's/^([A-Z]+)[^:]*:/\1:/' | sort
}
# A user's Radicale calendar and address book against Cyrus's: "N BAD",
# N resources compared, BAD differences (a member list counts as one)
dav_compare() {	# LOGIN PASSWORD
	local u=$1 p=$2 kind src dst n bad=0 count=0
	for kind in "calendar calendars" "contacts addressbooks"; do
		set -- $kind
		src=${DAV_URL}$u/$1/ dst=http://$WORLD_HOST:$DST_HTTP_PORT/dav/$2/user/$u/$1/
		[ "$(dav_members "$u" "$p" "$src")" = \
		    "$(dav_members "$u" "$p" "$dst")" ] || bad=$((bad + 1))
		for n in $(dav_members "$u" "$p" "$src"); do
			count=$((count + 1))
			[ "$(dav_curl "$u" "$p" "$src$n" | dav_essence)" = \
			    "$(dav_curl "$u" "$p" "$dst$n" | dav_essence)" ] ||
			    bad=$((bad + 1))
		done
	done
	echo "$count $bad"
}
sieve_client() {	# PORT LOGIN COMMAND...: python3-sievelib; password on stdin
	"$top/tests/integration/sieve-client.py" "$@"
}
malformed() {	# CORPUS: messages Cyrus refuses (a header line without a colon)
	grep -l 'This line has no colon' -r "$1/maildir" | wc -l
}
leaks() {	# DIR...: where a test secret (every password, key and token of
	# the world, and the {PLAIN} hashes made of them) is found,
	# decompressed (leak-scan); what was read goes to the TAP output
	local s d out=0
	s=$(mktemp)
	env | sed -n 's/^[A-Z0-9_]*\(PASSWORD\|_KEY\|TOKEN\)=//p' | grep . >"$s"
	for d in "$@"; do
		"$top/tests/integration/leak-scan" "$d" "$s" 2>&1 |
		    sed 's/^/# /' >&2
		[ "${PIPESTATUS[0]}" = 0 ] || out=1
	done
	rm -f "$s"
	return "$out"
}
