# jmap-pull against the world's Cyrus as a JMAP source: carol's mail, pulled
# from Dovecot and pushed to Cyrus, read back over JMAP.  The archive must
# equal what an independent client (jmap-client.py) downloads and hashes,
# and the archive the mail came from; then a delta by Email/changes after
# a user's changes, a kill -9 in the middle of a pull, and assess.
. "$(dirname "$0")/lib.sh"

PULL=$top/$O/bin/imap-pull
PUSH=$top/$O/bin/jmap-push
JPULL=$top/$O/bin/jmap-pull
ARCHIVE=$top/$O/bin/migrate-archive
CLIENT=$top/tests/integration/jmap-client.py
work=$(mktemp -d /var/tmp/t-jmap-pull.XXXXXX)
trap 'kill -9 $bg 2>/dev/null; wipe "$CAROL_PASSWORD" "$CAROL_DEST_LOGIN" >/dev/null 2>&1; rm -rf "$work"' EXIT
bg=
URL=http://$WORLD_HOST:$DST_HTTP_PORT
user=$CAROL_DEST_LOGIN

jpull() {	# ARCHIVE [options]
	local arc=$1
	shift
	printf 'password=%s\n\n' "$CAROL_PASSWORD" | "$JPULL" --url "$URL" --allow-plaintext \
	    --user "$user" --archive "$arc" "$@" >"$work/out" 2>"$work/err"
	rc=$?
}
field() { grep '"event":"done"' "$work/out" | jq -r ".$1"; }
dump() { printf '%s\n' "$CAROL_PASSWORD" | "$CLIENT" dump "$URL" "$user"; }
listing() { "$ARCHIVE" ls -r "$1" | "$CLIENT" norm-ls; }
same() {	# ARCHIVE DUMP WHAT
	if [ "$(listing "$1")" = "$(cat "$2")" ]; then ok "$3"; else
		not_ok "$3"
		diff <(listing "$1") "$2" | head -10 | sed 's/^/#   /'
	fi
}
segments() { ls "$1/segments" | grep -c '\.tar\.zst$'; }

# --- carol's mail onto Cyrus, as a migration leaves it --------------------
wipe "$CAROL_PASSWORD" "$user" >/dev/null 2>&1
printf 'password=%s\n\n' "$CAROL_PASSWORD" | "$PULL" --host "$WORLD_HOST" \
    --port "$SRC_IMAP_PORT" --ca-file "$WORLD_CA" --user "$CAROL_LOGIN" \
    --archive "$work/src" >/dev/null 2>&1
printf 'password=%s\n\n' "$CAROL_PASSWORD" | "$PUSH" --url "$URL" --allow-plaintext \
    --user "$user" --archive "$work/src" >/dev/null 2>&1
is "$?" 0 "carol's mail pulled from Dovecot and pushed to Cyrus"

# --- full ---------------------------------------------------------------------
jpull "$work/back"
is "$rc" 0 "full: exit 0"
dump >"$work/dump1"
same "$work/back" "$work/dump1" \
    "full: every email in every mailbox, byte for byte, with its flags, as an independent client reads them"
is "$(field messages)" "$(wc -l <"$work/dump1")" "full: the done event counts them"
# the archive the mail came from, by what jmap-push recorded: each body in
# each mailbox it made (a repaired, rescued body is not the archive's)
pushed() {
	sqlite3 "$work/src/index.db" "SELECT hash, mailboxes FROM push_emails WHERE state = 'done'" |
	    awk -F '|' '{ n = split($2, m, " "); for (i = 1; i <= n; i++) print m[i], $1 }' |
	    sort -u
}
pulled() {
	sqlite3 "$work/back/index.db" "SELECT f.raw, m.hash FROM messages m JOIN folders f ON f.name = m.folder" |
	    tr '|' ' ' | grep -F -f <(pushed | cut -d' ' -f2) | sort -u
}
is "$(pulled | wc -l) $(pulled | md5sum)" "$(pushed | wc -l) $(pushed | md5sum)" \
    "full: the same bodies in the same mailboxes as the archive they were pushed from"
# receivedAt: each pulled message's time is one its body had at the source
sqlite3 "$work/src/index.db" "SELECT DISTINCT hash || ' ' || time FROM messages" | sort >"$work/src.times"
sqlite3 "$work/back/index.db" "SELECT DISTINCT hash || ' ' || time FROM messages" |
    grep -F -f <(pushed | cut -d' ' -f2) | sort >"$work/back.times"
is "$(comm -23 "$work/back.times" "$work/src.times" | wc -l) $([ -s "$work/back.times" ] && echo some)" \
    "0 some" \
    "full: every email's receivedAt is the internal date it had at the source"
is "$(sqlite3 "$work/back/index.db" "SELECT raw, special FROM folders WHERE special != '' ORDER BY 1")" \
    "$(sqlite3 "$work/src/index.db" "SELECT p.mailbox_id, f.special FROM folders f JOIN push_mailboxes p ON p.folder = f.name WHERE f.special != '' ORDER BY 1")" \
    "full: special-use folders keep their roles"
is "$(sqlite3 "$work/back/index.db" "SELECT raw FROM folders WHERE subscribed ORDER BY 1")" \
    "$(sqlite3 "$work/src/index.db" "SELECT p.mailbox_id FROM folders f JOIN push_mailboxes p ON p.folder = f.name WHERE f.subscribed ORDER BY 1")" \
    "full: and the subscriptions"
is "$("$ARCHIVE" verify "$work/back" >/dev/null 2>&1; echo $?)" 0 \
    "full: the archive verifies"

# --- delta, nothing changed ---------------------------------------------------
n_seg=$(segments "$work/back")
jpull "$work/back" --mode auto
is "$rc $(field full_comparison) $(field messages) $(field expunged) $(field flag_changes)" \
    "0 false 0 0 0" "delta: Email/changes says nothing changed, and nothing is done"
is "$(segments "$work/back")" "$n_seg" "delta: not even a segment is written"

# --- the user changes things, then a delta ------------------------------------
printf '%s\n' "$CAROL_PASSWORD" | "$CLIENT" change "$URL" "$user" >"$work/changed"
is "$?" 0 "the user flags, renames, files and receives"
jpull "$work/back" --mode auto
dump >"$work/dump2"
is "$rc $(field full_comparison)" "0 false" "delta: by Email/changes"
same "$work/back" "$work/dump2" \
    "delta: the archive is what the source holds now"
is "$(field messages) $(field matched) $(field expunged) $(field flag_changes)" \
    "2 1 0 1" \
    "delta: 2 new copies (filed, delivered), 1 of a body already archived; 1 flag change"
renamed=$(jq -r .renamed "$work/changed")
is "$(sqlite3 "$work/back/index.db" "SELECT count(*) FROM folders WHERE name = '$renamed renamed'") $(sqlite3 "$work/back/index.db" "SELECT count(*) FROM folders WHERE name = '$renamed'")" \
    "1 0" "delta: the renamed mailbox is the same folder under its new name"

# the world's Cyrus expunges at once (expunge_mode: immediate), so after a
# move or a deletion it cannot calculate changes from an older state: a
# real server saying cannotCalculateChanges
printf '%s\n' "$CAROL_PASSWORD" | "$CLIENT" destroy "$URL" "$user" >"$work/destroyed"
jpull "$work/back" --mode auto
dump >"$work/dump2"
is "$rc $(field full_comparison) $(field expunged) $(field messages) $(field matched)" "0 true 2 1 1" \
    "delta after a move and a deletion: Cyrus cannot calculate changes, every email is compared; the moved one leaves a folder for another, its body not fetched again; the deleted one goes"
like "$(cat "$work/err")" 'Email/changes: cannotCalculateChanges' "and the log says why"
same "$work/back" "$work/dump2" \
    "delta after a move and a deletion: the archive is what the source holds now"

# --- kill -9 in the middle, then the rerun -----------------------------------
printf 'password=%s\n\n' "$CAROL_PASSWORD" | "$JPULL" --url "$URL" --allow-plaintext \
    --user "$user" --archive "$work/killed" --checkpoint-messages 40 \
    >/dev/null 2>&1 &
bg=$!
for i in $(seq 600); do
	[ -e "$work/killed/segments/00000002.tar.zst" ] && break
	sleep 0.1
done
kill -9 "$bg"
wait "$bg" 2>/dev/null
bg=
is "$(sqlite3 "$work/killed/index.db" "SELECT value FROM meta WHERE key = 'pass.full'")" "" \
    "kill -9: killed before the pass completed"
jpull "$work/killed" --mode auto
is "$rc $(field full_comparison)" "0 true" "kill -9: the rerun continues with a full comparison"
like "$(field matched)" '^[0-9]+$' "kill -9: the rerun's done event"
same "$work/killed" "$work/dump2" \
    "kill -9: the archive then holds every email once, as the source has it"

# --- assess -------------------------------------------------------------------
printf 'password=%s\n\n' "$CAROL_PASSWORD" | "$JPULL" --url "$URL" --allow-plaintext \
    --user "$user" --mode assess --report "$work/assess.json" >/dev/null 2>&1
is "$?" 0 "assess: exit 0"
is "$(jq .totals.messages "$work/assess.json")" "$(wc -l <"$work/dump2")" \
    "assess: the report counts every email in every mailbox"
done_testing
