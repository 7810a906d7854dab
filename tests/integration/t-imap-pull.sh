# imap-pull against the real servers: every seeded user in full, checked
# against what an independent client (imaplib) reads; the source left
# untouched; delta passes; kill -9 and resume; logins and TLS; assess;
# Cyrus as a second source.
. "$(dirname "$0")/lib.sh"

PULL=$top/$O/bin/imap-pull
ARCHIVE=$top/$O/bin/migrate-archive
DUMP=$top/tests/integration/imap-dump.py
work=$(mktemp -d /var/tmp/t-imap-pull.XXXXXX)
trap 'umount "$work/small" 2>/dev/null; rm -rf "$work"
    "$top/tests/world/world" reseed bob >/dev/null' EXIT

# pull PASSWORD ARCHIVE [options...]: run imap-pull on the world's Dovecot
pull() {
	local pw=$1 arc=$2
	shift 2
	printf 'password=%s\n\n' "$pw" | "$PULL" --host "$WORLD_HOST" \
	    --port "$SRC_IMAP_PORT" --ca-file "$WORLD_CA" --archive "$arc" \
	    "$@" >"$work/out" 2>"$work/err"
}
source_dump() {	# PASSWORD LOGIN [--state]
	printf '%s\n' "$1" | "$DUMP" ${3:-} --ca "$WORLD_CA" "$WORLD_HOST" \
	    "$SRC_IMAP_PORT" "$2"
}
archive_dump() {
	"$ARCHIVE" ls -r "$1" | sort
}
done_field() {	# FIELD: from the done event of the last run
	grep '"event":"done"' "$work/out" | jq -r ".$1"
}
blob_entries() {	# ARCHIVE: every body entry of every segment
	for s in "$1"/segments/*.tar.zst; do bsdtar -tf "$s"; done |
	    grep '^blob/'
}

# --- full pulls of every seeded user ----------------------------------
for u in ALICE BOB CAROL; do
	eval "login=\$${u}_LOGIN pw=\$${u}_PASSWORD corpus=\$${u}_CORPUS"
	before=$(source_dump "$pw" "$login" --state)
	pull "$pw" "$work/$u" --user "$login"
	is "$?" 0 "$login: full pull exits 0"
	is "$(done_field messages)" "$(wc -l <"$corpus/manifest.tsv")" \
	    "$login: every message of the corpus was read"
	like "$(done_field latency_ms)" '^[0-9]+(\.[0-9]+)?$' \
	    "$login: and Dovecot's median answer time is told ($(done_field latency_ms) ms)"
	if [ "$(source_dump "$pw" "$login")" = "$(archive_dump "$work/$u")" ]; then
		ok "$login: archive equals the source (folder, UID, size, date, SHA-256, flags)"
	else
		not_ok "$login: archive equals the source"
		diff <(source_dump "$pw" "$login") <(archive_dump "$work/$u") |
		    head -10 | sed 's/^/#   /'
	fi
	is "$(source_dump "$pw" "$login" --state)" "$before" \
	    "$login: the source is unchanged, \\Seen included"
	"$ARCHIVE" verify "$work/$u" >/dev/null 2>"$work/verify"
	is "$?" 0 "$login: migrate-archive verify finds every body whole"
done

# several connections: folders spread over them, one archive
pull "$ALICE_PASSWORD" "$work/ALICE3" --user "$ALICE_LOGIN" --connections 3 \
    --checkpoint-messages 40
is "$?" 0 "a pull over 3 connections exits 0"
is "$(archive_dump "$work/ALICE3")" "$(archive_dump "$work/ALICE")" \
    "and gives the same archive"
"$ARCHIVE" verify "$work/ALICE3" >/dev/null 2>&1
is "$?" 0 "which verifies"

# COMPRESS=DEFLATE changes nothing but the bytes on the wire
pull "$CAROL_PASSWORD" "$work/CAROLZ" --user "$CAROL_LOGIN" --compress
is "$?" 0 "a pull with --compress (COMPRESS=DEFLATE) exits 0"
is "$(archive_dump "$work/CAROLZ")" "$(archive_dump "$work/CAROL")" \
    "and gives the same archive"

# the archive is plain tar + zstd
seg=$work/ALICE/segments/00000001.tar.zst
like "$(tar --zstd -tvf "$seg" | head -3)" 'blob/[0-9a-f]{64}\.eml' \
    "GNU tar lists a segment"
is "$(bsdtar -tf "$seg" | tail -2 | tr '\n' ' ')" "manifest.jsonl END " \
    "a segment ends with its manifest and END"
big=$(awk -F '\t' '$5 > 20000000' "$ALICE_CORPUS/manifest.tsv" | wc -l)
bighash=$("$ARCHIVE" ls -r "$work/ALICE" | awk -F '\t' '$3 > 20000000 { print $5 }')
is "$(printf '%s\n' "$bighash" | grep -c .)" "$big" "the 20 MB message is archived"
is "$("$ARCHIVE" cat "$work/ALICE" "$bighash" | sha256sum | cut -d' ' -f1)" \
    "$bighash" "migrate-archive cat gives it back byte for byte"
is "$(blob_entries "$work/ALICE" | sort | uniq -d | wc -l)" 0 \
    "a body in several folders is stored once"
like "$(cat "$work/ALICE"/segments/*.part 2>&1)" 'No such file' \
    "no partial segment is left"

# --- full again, delta with nothing new --------------------------------
pull "$ALICE_PASSWORD" "$work/ALICE" --user "$ALICE_LOGIN"
is "$?" 64 "a second full pull is refused (use delta)"
pull "$ALICE_PASSWORD" "$work/ALICE" --user "$ALICE_LOGIN" --mode delta
is "$?" 0 "delta with nothing changed exits 0"
is "$(ls "$work/ALICE/segments" | wc -l)" 1 "and records nothing: no new segment"
pull "$ALICE_PASSWORD" "$work/none" --user "$ALICE_LOGIN" --mode delta
is "$?" 64 "delta without a full pull is refused"

# --- delta after changes (bob, put back as seeded at the end) ----------
printf '%s\n' "$BOB_PASSWORD" |
    "$top/tests/integration/imap-change.py" --ca "$WORLD_CA" "$WORLD_HOST" \
    "$SRC_IMAP_PORT" "$BOB_LOGIN" >"$work/changes"
is "$?" 0 "bob's mailbox was changed"
junk=$(jq -r .junk "$work/changes")
junk_mid=$(jq -r .junk_with_message_id "$work/changes")
pull "$BOB_PASSWORD" "$work/BOB" --user "$BOB_LOGIN" --mode delta
is "$?" 0 "delta after changes exits 0"
is "$(done_field messages)" "$((10 + junk - junk_mid))" \
    "delta downloads the 10 new messages and no body it already has"
is "$(done_field matched)" "$junk_mid" \
    "a recreated folder (new UIDVALIDITY) is matched again by content"
is "$(done_field flag_changes)" 10 "delta records the 10 flag changes"
is "$(done_field expunged)" 3 "delta records the 3 expunged messages"
like "$(cat "$work/out")" '"kind":"uidvalidity-changed".*"folder":"Junk"' \
    "the UIDVALIDITY change is reported"
like "$(cat "$work/err")" "'Reports.2024' was renamed to 'Reports 2024'" \
    "a renamed folder is recognized, not fetched again"
if [ "$(source_dump "$BOB_PASSWORD" "$BOB_LOGIN")" = "$(archive_dump "$work/BOB")" ]; then
	ok "after delta, the archive equals the source"
else
	not_ok "after delta, the archive equals the source"
	diff <(source_dump "$BOB_PASSWORD" "$BOB_LOGIN") \
	    <(archive_dump "$work/BOB") | head -10 | sed 's/^/#   /'
fi
is "$(blob_entries "$work/BOB" | sort | uniq -d | wc -l)" 0 \
    "no body is stored twice across segments"
pull "$BOB_PASSWORD" "$work/BOB" --user "$BOB_LOGIN" --mode delta
is "$(done_field messages) $(done_field flag_changes) $(done_field expunged)" \
    "0 0 0" "a second delta finds nothing"
is "$(ls "$work/BOB/segments" | wc -l)" 2 "and writes no segment"

# --- kill -9 at random points, then resume -----------------------------
before=$(source_dump "$ALICE_PASSWORD" "$ALICE_LOGIN" --state)
arc=$work/killed
for delay in 0.3 0.9 1.4; do
	printf 'password=%s\n\n' "$ALICE_PASSWORD" | "$PULL" --host "$WORLD_HOST" \
	    --port "$SRC_IMAP_PORT" --ca-file "$WORLD_CA" --archive "$arc" \
	    --user "$ALICE_LOGIN" --checkpoint-messages 25 \
	    --max-bytes-per-second 12M >/dev/null 2>&1 &
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
done
segs=$(ls "$arc/segments" | grep -c 'zst$')
if [ "$segs" -gt 0 ] && ! grep -q '"t":"pass"' <(for s in "$arc"/segments/*.zst; do bsdtar -xOf "$s" manifest.jsonl; done); then
	ok "killed runs left $segs complete segments and no finished pass"
else
	not_ok "kill -9 landed mid-run (segments: $segs)"
fi
pull "$ALICE_PASSWORD" "$arc" --user "$ALICE_LOGIN"
is "$?" 0 "the rerun after kill -9 completes"
is "$(archive_dump "$arc")" "$(archive_dump "$work/ALICE")" \
    "the resumed archive equals an uninterrupted one"
is "$(blob_entries "$arc" | sort | uniq -d | wc -l)" 0 \
    "no body stored twice after resuming"
"$ARCHIVE" verify "$arc" >/dev/null 2>&1
is "$?" 0 "the resumed archive verifies"
is "$(source_dump "$ALICE_PASSWORD" "$ALICE_LOGIN" --state)" "$before" \
    "killed and resumed runs changed nothing on the source"

# --- a full disk: an error, nothing half-written, and a rerun goes on ----
mkdir -p "$work/small"
if mount -t tmpfs -o size=3m tmpfs "$work/small" 2>/dev/null; then
	pull "$ALICE_PASSWORD" "$work/small/a" --user "$ALICE_LOGIN" \
	    --checkpoint-messages 30
	is "$?" 75 "a full disk exits 75"
	like "$(cat "$work/err")" 'No space left' "and says so"
	is "$(ls "$work/small/a/segments" | grep -c part)" 0 \
	    "no partial segment is left"
	"$ARCHIVE" verify "$work/small/a" >/dev/null 2>&1
	is "$?" 0 "what was written verifies"
	cp -a "$work/small/a" "$work/big"
	umount "$work/small"
	pull "$ALICE_PASSWORD" "$work/big" --user "$ALICE_LOGIN"
	is "$?" 0 "with room again, the rerun completes"
	is "$(archive_dump "$work/big")" "$(archive_dump "$work/ALICE")" \
	    "and the archive is whole"
else
	for t in 1 2 3 4 5 6; do
		n=$((n + 1))
		echo "ok $n # SKIP cannot mount a small tmpfs here"
	done
fi

# --- logins and TLS -----------------------------------------------------
pull "$SRC_MASTER_PASSWORD" "$work/m1" --user "$ALICE_LOGIN" \
    --auth-user "$SRC_MASTER_USER" --mode assess
is "$?" 0 "master user by SASL PLAIN authorization identity"
pull "$SRC_MASTER_PASSWORD" "$work/m2" --user "$ALICE_LOGIN" \
    --auth-user "$SRC_MASTER_USER" --master-separator "$SRC_MASTER_SEPARATOR" \
    --auth login --mode assess
is "$?" 0 "master user in Dovecot's user*master LOGIN form"
pull "$CAROL_PASSWORD" "$work/c" --user carol --mode assess
is "$?" 0 "a bare login (carol) works"
pull "wrong-$ALICE_PASSWORD" "$work/w" --user "$ALICE_LOGIN"
is "$?" 77 "a wrong password exits 77"
unlike() {
	if printf '%s\n' "$1" | grep -qF -- "$2"; then not_ok "$3"; else ok "$3"; fi
}
unlike "$(cat "$work/err" "$work/out")" "$ALICE_PASSWORD" \
    "and the password shows nowhere"
printf 'password=%s\n\n' "$ALICE_PASSWORD" | "$PULL" --host "$WORLD_HOST" \
    --port "$SRC_IMAP_PORT" --ca-file "$WORLD_ROGUE_CA" --user "$ALICE_LOGIN" \
    --mode assess >/dev/null 2>"$work/err"
is "$?" 69 "STARTTLS with a certificate from another CA is refused (69)"
like "$(cat "$work/err")" 'certificate' "and says why"
printf 'password=%s\n\n' "$ALICE_PASSWORD" | "$PULL" --host "$WORLD_HOST" \
    --port "$SRC_IMAPS_PORT" --tls implicit --ca-file "$WORLD_CA" \
    --user "$ALICE_LOGIN" --mode assess >/dev/null 2>&1
is "$?" 0 "implicit TLS (IMAPS) works"

# --- assess -------------------------------------------------------------
pull "$ALICE_PASSWORD" "$work/x" --user "$ALICE_LOGIN" --mode assess \
    --report "$work/report.json" --size-limit 10M
is "$?" 0 "assess exits 0"
is "$(jq .totals.messages "$work/report.json")" \
    "$(wc -l <"$ALICE_CORPUS/manifest.tsv")" "the report counts every message"
is "$(jq .totals.bytes "$work/report.json")" \
    "$(source_dump "$ALICE_PASSWORD" "$ALICE_LOGIN" | awk -F '\t' '{ s += $3 } END { print s }')" \
    "the report counts every byte"
is "$(jq -r '.folders[] | select(.name == "Empty") | .messages' "$work/report.json")" \
    0 "the empty folder is in the report"
like "$(jq -r '.anomalies[].kind' "$work/report.json" | sort -u | tr '\n' ' ')" \
    'empty-folder.*over-size-limit' "empty folders and big messages are anomalies"
is "$(ls "$work/x" 2>/dev/null | wc -l)" 0 "assess writes no archive"

# --- folder selection ---------------------------------------------------
selected() {	# options...: the folders an assess reads
	pull "$ALICE_PASSWORD" "$work/sel" --user "$ALICE_LOGIN" --mode assess \
	    --report "$work/sel.json" "$@" &&
	    jq -r '.folders[].name' "$work/sel.json" | sort | tr '\n' '|'
}
is "$(selected --include 'Archive*')" "Archive|Archive/2019|Archive/2020|" \
    "--include takes only the folders that match"
is "$(selected --include 'Archive*' --exclude '*/2019')" "Archive|Archive/2020|" \
    "--exclude leaves out what matches"
is "$(selected --subscribed-only | grep -c 'Old Stuff')" 0 \
    "--subscribed-only leaves out the unsubscribed 'Old Stuff'"
like "$(selected)" 'Junk.*Old Stuff' "without options, both are read"
is "$(selected --skip-special-use '\Junk' | grep -c Junk)" 0 \
    "--skip-special-use \\Junk leaves Junk out"

# --- Cyrus as a second source -------------------------------------------
cyrus() {	# PYTHON: run with `m`, an imaplib session as carol on Cyrus
	python3 -c "import imaplib, ssl, sys
m = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))
m.starttls(ssl.create_default_context(cafile=sys.argv[3]))
m.login(sys.argv[4], open(sys.argv[5]).readline().rstrip())
$1
m.logout()" "$WORLD_HOST" "$DST_IMAP_PORT" "$WORLD_CA" "$CAROL_DEST_LOGIN" \
	    "$work/carol.pw"
}
cyrus_pull() {	# [options]: imap-pull from Cyrus over IMAPS
	printf 'password=%s\n\n' "$CAROL_PASSWORD" | "$PULL" --host localhost \
	    --port "$DST_IMAPS_PORT" --tls implicit --ca-file "$WORLD_CA" \
	    --user "$CAROL_DEST_LOGIN" --archive "$work/cyrus" "$@" \
	    >"$work/out" 2>&1
}
printf '%s\n' "$CAROL_PASSWORD" >"$work/carol.pw"
cyrus "m.create('PullTest')
for i, fl in enumerate(['(\\\\Seen)', '()', '(\\\\Flagged \$Work)']):
    m.append('PullTest', fl, '\"0%d-Jan-2020 10:00:00 +0000\"' % (i + 1),
             b'From: x@example.org\r\nSubject: cyrus %d\r\n\r\nbody %d\r\n' % (i, i))"
cyrus "m.setacl('PullTest', 'bob@example.org', 'lrsw')"
cyrus_pull
is "$?" 0 "a full pull from Cyrus (IMAPS) exits 0"
is "$(sqlite3 "$work/cyrus/index.db" "SELECT folder || ' ' || identifier ||
    '=' || rights FROM folder_acls")" "PullTest bob@example.org=lrsw" \
    "Cyrus has ACL: who else may use a folder is recorded, carol's own entry aside"
cyr=$(printf '%s\n' "$CAROL_PASSWORD" | "$DUMP" --ca "$WORLD_CA" "$WORLD_HOST" \
    "$DST_IMAP_PORT" "$CAROL_DEST_LOGIN")
like "$cyr" 'PullTest.*Flagged' "the messages went into Cyrus"
is "$(archive_dump "$work/cyrus")" "$cyr" "the Cyrus archive equals what imaplib reads"
cyrus "m.select('PullTest')
m.uid('STORE', '2', '+FLAGS', '(\\\\Answered)')"
cyrus_pull --mode delta
is "$(done_field flag_changes)" 1 "a delta from Cyrus (CONDSTORE) sees one flag change"
cyrus "m.delete('PullTest')"

done_testing
