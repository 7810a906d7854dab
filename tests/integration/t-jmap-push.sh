# jmap-push against the real Cyrus JMAP of the world: every seeded user
# pulled from Dovecot and pushed, then checked over IMAP on Cyrus by an
# independent client; reruns, kill -9, delta end to end, wrong password,
# destination down.
. "$(dirname "$0")/lib.sh"

PULL=$top/$O/bin/imap-pull
PUSH=$top/$O/bin/jmap-push
ARCHIVE=$top/$O/bin/migrate-archive
DUMP=$top/tests/integration/imap-dump.py
work=$(mktemp -d /var/tmp/t-jmap-push.XXXXXX)
trap 'rm -rf "$work"; "$top/tests/world/world" reseed bob >/dev/null' EXIT
URL=http://$WORLD_HOST:$DST_HTTP_PORT

pull() {	# PASSWORD ARCHIVE [options]
	local pw=$1 arc=$2
	shift 2
	printf 'password=%s\n\n' "$pw" | "$PULL" --host "$WORLD_HOST" \
	    --port "$SRC_IMAP_PORT" --ca-file "$WORLD_CA" --archive "$arc" \
	    "$@" >/dev/null 2>"$work/pull.err"
}
push() {	# PASSWORD ARCHIVE USER [options]
	local pw=$1 arc=$2 user=$3
	shift 3
	printf 'password=%s\n\n' "$pw" | "$PUSH" --url "$URL" --allow-plaintext --user "$user" \
	    --archive "$arc" "$@" >"$work/out" 2>"$work/err"
}
done_field() {
	grep '"event":"done"' "$work/out" | jq -r ".$1"
}
dest_dump() {	# PASSWORD LOGIN ARCHIVE
	printf '%s\n' "$1" | "$DUMP" --ca "$WORLD_CA" "$WORLD_HOST" \
	    "$DST_IMAP_PORT" "$2" | dest_norm "$3"
}

# --- every seeded user, full ---------------------------------------------
for u in ALICE BOB CAROL; do
	eval "login=\$${u}_LOGIN dest=\$${u}_DEST_LOGIN pw=\$${u}_PASSWORD corpus=\$${u}_CORPUS sep=\$${u}_SEP"
	arc=$work/$u
	wipe "$pw" "$dest"
	pull "$pw" "$arc" --user "$login"
	is "$?" 0 "$login: pulled"
	push "$pw" "$arc" "$dest" --verify-content --report "$work/$u.json"
	rc=$?
	bad=$(malformed "$corpus")
	is "$(done_field failed) $(done_field rescued)" "0 $bad" \
	    "$dest: the $bad messages Cyrus refuses (a malformed header) are rescued, none left behind"
	is "$rc" 0 "$dest: exit 0, nothing left undone"
	[ "$rc" = 0 ] || show "$work/err"
	is "$(grep -c '"kind":"rescued"' "$work/out") $(jq '.rescued | length' "$work/$u.json")" \
	    "$bad $bad" "$dest: each rescue is an anomaly and named in the report"
	is "$(done_field deleted_not_carried)" \
	    "$("$ARCHIVE" ls -r "$arc" | awk -F '\t' '$6 ~ /\\Deleted/' | wc -l)" \
	    "$dest: the copies flagged \\Deleted at the source are not carried, and counted"
	is "$(jq '[.differences[] | select(.why | startswith("not pushed") | not)] | length' "$work/$u.json")" 0 \
	    "$dest: verify finds every other email whole: mailboxes, keywords, date, size, body"
	if [ "$(expected "$arc" "$sep")" = "$(dest_dump "$pw" "$dest" "$arc")" ]; then
		ok "$dest: IMAP on Cyrus shows the same folders, bodies, flags and dates"
	else
		not_ok "$dest: IMAP on Cyrus shows the same folders, bodies, flags and dates"
		diff <(expected "$arc" "$sep") <(dest_dump "$pw" "$dest" "$arc") |
		    head -10 | sed 's/^/#   /'
	fi
done
is "$(jq -r .bodies_compared "$work/ALICE.json")" \
    "$(sqlite3 "$work/ALICE/index.db" "SELECT count(*) FROM push_emails WHERE state = 'done'")" \
    "verify compared the body of every email that was pushed"

# --- rerun: nothing new ----------------------------------------------------
before=$(dest_dump "$ALICE_PASSWORD" "$ALICE_DEST_LOGIN" "$work/ALICE" | wc -l)
push "$ALICE_PASSWORD" "$work/ALICE" "$ALICE_DEST_LOGIN"
is "$(done_field imported) $(done_field updated)" "0 0" \
    "a rerun imports and changes nothing"
is "$(grep -c '"kind":"folder-not-renamed"' "$work/out")" 0 \
    "nor takes a folder made under a plain name for a rename to do again"
is "$(dest_dump "$ALICE_PASSWORD" "$ALICE_DEST_LOGIN" "$work/ALICE" | wc -l)" "$before" \
    "and the destination holds as many messages as before"

# --- kill -9 during a push, then rerun --------------------------------------
# carol's account emptied again, pushed in small batches, killed thrice
arc=$work/killed
wipe "$CAROL_PASSWORD" "$CAROL_DEST_LOGIN"
pull "$CAROL_PASSWORD" "$arc" --user "$CAROL_LOGIN"
printf 'password=%s\n\n' "$CAROL_PASSWORD" >"$work/carol.pw"
# each kill lands once a few more emails are recorded, a random moment
# later: mid-upload, mid-request or between the request and its record
done_now() {
	sqlite3 "$arc/index.db" "SELECT count(*) FROM push_emails WHERE state = 'done'" 2>/dev/null || echo 0
}
for i in 1 2 3; do
	before=$(done_now)
	"$PUSH" --url "$URL" --allow-plaintext --user "$CAROL_DEST_LOGIN" --archive "$arc" \
	    --batch 5 <"$work/carol.pw" >/dev/null 2>&1 &
	pid=$!
	for t in $(seq 300); do
		[ "$(done_now)" -gt $((before + 10)) ] && break
		sleep 0.1
	done
	sleep "0.$((RANDOM % 10))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
done
sending=$(sqlite3 "$arc/index.db" "SELECT count(*) FROM push_emails WHERE state = 'sending'")
left=$(sqlite3 "$arc/index.db" "SELECT count(*) FROM push_emails WHERE state = 'done'")
if [ "$left" -gt 0 ] &&
    [ "$left" -lt "$(expected "$arc" "$CAROL_SEP" | wc -l)" ]; then
	ok "the kills landed mid-push ($left emails done, $sending sending)"
else
	not_ok "the kills landed mid-push ($left emails done, $sending sending)"
fi
push "$CAROL_PASSWORD" "$arc" "$CAROL_DEST_LOGIN" --verify --report "$work/killed.json"
is "$(jq '[.differences[] | select(.why | startswith("not pushed") | not)] | length' "$work/killed.json")" 0 \
    "after kill -9 ($sending emails left mid-request), the rerun leaves none missing or different"
if [ "$(expected "$arc" "$CAROL_SEP")" = "$(dest_dump "$CAROL_PASSWORD" "$CAROL_DEST_LOGIN" "$arc")" ]; then
	ok "and IMAP on Cyrus shows each message once"
else
	not_ok "and IMAP on Cyrus shows each message once"
	diff <(expected "$arc" "$CAROL_SEP") <(dest_dump "$CAROL_PASSWORD" "$CAROL_DEST_LOGIN" "$arc") |
	    head -10 | sed 's/^/#   /'
fi
printf '%s\n' "$CAROL_PASSWORD" | "$DUMP" --ca "$WORLD_CA" "$WORLD_HOST" \
    "$DST_IMAP_PORT" "$CAROL_DEST_LOGIN" | cut -f1,5 | sort | uniq -d >"$work/dups"
is "$(wc -l <"$work/dups")" 0 "no body twice in a folder on the destination"

# --- delta end to end ----------------------------------------------------
printf '%s\n' "$BOB_PASSWORD" |
    "$top/tests/integration/imap-change.py" --ca "$WORLD_CA" "$WORLD_HOST" \
    "$SRC_IMAP_PORT" "$BOB_LOGIN" >"$work/changes"
# and a move: the first message of Trash into Archive
printf '%s\n' "$BOB_PASSWORD" >"$work/bob.pw"
python3 - "$WORLD_CA" "$WORLD_HOST" "$SRC_IMAP_PORT" "$BOB_LOGIN" \
    "$work/bob.pw" <<'EOF'
import imaplib, ssl, sys
ca, host, port, user, pwfile = sys.argv[1:]
m = imaplib.IMAP4(host, int(port))
m.starttls(ssl.create_default_context(cafile=ca))
m.login(user, open(pwfile).readline().rstrip('\n'))
m.select('Trash')
assert m.uid('COPY', '1', 'Archive')[0] == 'OK'
m.uid('STORE', '1', '+FLAGS', '(\\Deleted)')
m.uid('EXPUNGE', '1')    # only it: Trash holds other \Deleted ones
m.logout()
EOF
pull "$BOB_PASSWORD" "$work/BOB" --user "$BOB_LOGIN" --mode delta
is "$?" 0 "bob: delta pulled"
start=$(date +%s%N)
push "$BOB_PASSWORD" "$work/BOB" "$BOB_DEST_LOGIN" --delete-removed \
    --verify-delta --report "$work/delta.json"
is "$?" 0 "bob: delta pushed"
is "$(jq '.checked, (.differences | length)' "$work/delta.json" | tr '\n' ' ')" \
    "21 0 " "--verify-delta reads back the 21 emails the delta imported or changed, all as they should be"
is "$(done_field imported)" 10 "the 10 new messages are imported"
is "$(done_field updated)" 11 \
    "the 10 flag changes and the move between folders are applied"
is "$(done_field removed)" 3 "the 3 expunged messages are removed (--delete-removed)"
if [ "$(expected "$work/BOB")" = "$(dest_dump "$BOB_PASSWORD" "$BOB_DEST_LOGIN" "$work/BOB")" ]; then
	ok "bob: after the delta, IMAP on Cyrus shows what the source has"
else
	not_ok "bob: after the delta, IMAP on Cyrus shows what the source has"
	diff <(expected "$work/BOB") <(dest_dump "$BOB_PASSWORD" "$BOB_DEST_LOGIN" "$work/BOB") |
	    head -10 | sed 's/^/#   /'
fi
like "$(printf '%s\n' "$BOB_PASSWORD" | "$DUMP" --ca "$WORLD_CA" "$WORLD_HOST" \
    "$DST_IMAP_PORT" "$BOB_DEST_LOGIN" | cut -f1 | sort -u | tr '\n' '|')" \
    '\|Reports 2024\|' "the renamed folder is renamed on the destination"

# --- failures ---------------------------------------------------------------
push "wrong" "$work/ALICE" "$ALICE_DEST_LOGIN"
is "$?" 77 "a wrong password exits 77"
like "$(cat "$work/err")" '401' "and says the server refused it"
printf 'password=x\n\n' | "$PUSH" --url "http://$WORLD_HOST:1" --allow-plaintext --user x \
    --archive "$work/ALICE" >/dev/null 2>"$work/err"
is "$?" 69 "a destination that is down exits 69"

done_testing
