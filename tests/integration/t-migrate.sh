# migrate against the real world: the demo plan (plans/demo.yaml, with
# its state, secret files and proxy moved here; the real migrate-proxy in
# front of the world; bodies compared below by this test, not by
# verify_content, which doubles Cyrus's time) from Dovecot to Cyrus, killed
# with -9 at random moments and rerun until done (dave, whom the demo
# provisions, is t-provision's), then checked on Cyrus by
# independent clients (IMAP, and Sieve with sievelib); a refused login and
# an unreachable source; no password in the state directory; a rollback
# killed -9 at random moments, then rerun.
. "$(dirname "$0")/lib.sh"

M=$top/$O/bin/migrate
ARCHIVE=$top/$O/bin/migrate-archive
DUMP=$top/tests/integration/imap-dump.py
work=$(mktemp -d /var/tmp/t-migrate.XXXXXX)
proxy=
trap '[ -n "$proxy" ] && kill "$proxy"; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
export MIGRATE_NO_PROGRESS=1

umask 077
printf '%s\n' "$SRC_MASTER_PASSWORD" >"$work/master-password"
printf 'alice@example.org %s\nbob@example.org %s\ncarol@example.org %s\n' \
    "$ALICE_PASSWORD" "$BOB_PASSWORD" "$CAROL_PASSWORD" >"$work/passwords"
umask 022
sed -e "s|^state: .*|state: $work/state|" \
    -e "s|{file: /var/tmp/migrate-world/demo/|{file: $work/|" \
    -e "s|/var/tmp/migrate-world/tls/ca.pem|$WORLD_CA|" \
    -e "s|control: /var/tmp/migrate-world/demo/proxy.sock|control: $work/proxy.sock|" \
    -e "s|verify_content: true|verify_content: false|" \
    -e "s|, dave@example.org]|]|" -e "/^provision:/,/^\$/d" \
    "$top/plans/demo.yaml" >"$work/demo.yaml"
PROXY_IMAP=27143
mkdir -p "$work/state"
cat >"$work/proxy.yaml" <<EOT
default_domain: example.org
mapping: $work/state/mapping.db
control: $work/proxy.sock
listeners:
  - { protocol: imap, listen: 127.0.0.1:$PROXY_IMAP }
backends:
  source:
    imap: { address: 127.0.0.1:$SRC_IMAP_PORT, tls: starttls,
            servername: localhost, ca_file: $WORLD_CA }
  destination:
    imap: { address: 127.0.0.1:$DST_IMAP_PORT, allow_plaintext: true }
EOT
"$top/$O/bin/migrate-proxy" -c "$work/proxy.yaml" >"$work/proxy.log" 2>&1 &
proxy=$!
for i in $(seq 100); do [ -S "$work/proxy.sock" ] && break; sleep 0.1; done

dump() {	# PORT PASSWORD LOGIN: what IMAP shows, raw lines
	printf '%s\n' "$2" | "$DUMP" --ca "$WORLD_CA" "$WORLD_HOST" "$1" "$3"
}
totals() {	# STATE
	"$M" --state "$1" status --json |
	    jq -r '.totals | to_entries | map("\(.key)=\(.value)") | join(" ")'
}

for u in ALICE BOB CAROL; do
	eval "wipe \"\$${u}_PASSWORD\" \"\$${u}_DEST_LOGIN\""
done

# --- the demo plan, killed at random moments ----------------------------
# (MIGRATE_KILLS: 12 here, more under make soak; tries: an apply that ends
# by itself before each kill must not loop)
# accounts in their cutover hold now: those whose last hold at the proxy
# was for some seconds, not the release (0 s).  (The state cannot tell:
# it is committed in batches.)
in_hold() {
	awk '/control: logins of .* held for / {
		sub(/.* logins of /, ""); split($0, f, " held for ")
		h[f[1]] = (f[2] != "0s")
	} END { n = 0; for (a in h) n += h[a]; print n }' "$work/proxy.log"
}
KILLS=${MIGRATE_KILLS:-12}
kills=0 tries=0 phases_seen= held=0
while [ "$kills" -lt "$KILLS" ] && [ "$((tries += 1))" -le $((KILLS * 5)) ]; do
	"$M" plan apply "$work/demo.yaml" >>"$work/apply.log" 2>&1 &
	bg=$!
	if [ $((kills % 3)) = 2 ]; then
		# every third kill waits for a cutover hold, up to 30 s
		for _ in $(seq 600); do
			[ "$(in_hold)" -gt 0 ] && break
			sleep 0.05
		done
	else
		sleep "$((RANDOM % 5)).$((RANDOM % 10))"
	fi
	now=$(in_hold)
	kill -9 "$bg" 2>/dev/null && kills=$((kills + 1)) &&
	    [ "$now" -gt 0 ] && held=$((held + 1))
	wait "$bg" 2>/dev/null
	phases_seen="$phases_seen $(totals "$work/state")"
	[ "$(totals "$work/state")" = "finalized=3" ] && break
done
echo "# kills: $kills, $held of them with an account in its cutover hold"
[ "$held" -gt 0 ] && ok "some kills landed while an account's logins were held" ||
    not_ok "some kills landed while an account's logins were held"
"$M" plan apply "$work/demo.yaml" >>"$work/apply.log" 2>&1
rc=$?
is "$rc" 0 "after $kills kills -9 at random moments, a rerun of the demo plan completes"
[ "$rc" -eq 0 ] || tail -20 "$work/apply.log" | sed 's/^/# /'
like "$phases_seen" "copying|copied|verified|cutover" "the kills landed in the middle of the work"
is "$(totals "$work/state")" "finalized=3" "every account finalized"
for a in alice@example.org bob@example.org carol@example.org; do
	like "$(cat "$work/apply.log")" "$a: logins held [0-9.]+ s" \
	    "$a was cut over with its logins held at the proxy"
done
for u in ALICE BOB CAROL; do
	eval "login=\$${u}_LOGIN pw=\$${u}_PASSWORD"
	like "$(printf '%s\n' "$pw" | "$top/tests/integration/proxy-client.py" \
	    imap "$PROXY_IMAP" none "$login" | tr '\n' ' ')" "login OK server Cyrus" \
	    "$login logs in through the proxy as before and reaches Cyrus"
done

for u in ALICE BOB CAROL; do
	eval "login=\$${u}_LOGIN dest=\$${u}_DEST_LOGIN pw=\$${u}_PASSWORD corpus=\$${u}_CORPUS sep=\$${u}_SEP"
	arc=$work/state/archives/$dest
	bad=$(malformed "$corpus")
	is "$(failed_hashes "$arc" | wc -l) $(rescued_hashes "$arc" | wc -l)" "0 $bad" \
	    "$dest: the $bad messages with a malformed header were rescued, none left behind"
	is "$(jq '.rescued | length' "$work/state/reports/$dest.verify.json")" "$bad" \
	    "$dest: the verify report names each rescue"
	want=$(expected "$arc" "$sep")
	got=$(dump "$DST_IMAP_PORT" "$pw" "$dest" | dest_norm "$arc")
	if [ "$want" = "$got" ]; then
		ok "$dest: IMAP on Cyrus shows what the source has: folders, bodies by SHA-256, flags, dates"
	else
		not_ok "$dest: IMAP on Cyrus shows what the source has: folders, bodies by SHA-256, flags, dates"
		diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | head -10 | sed 's/^/#   /'
	fi
	is "$(dump "$DST_IMAP_PORT" "$pw" "$dest" | sort | uniq -d | wc -l)" 0 \
	    "$dest: no message twice in a folder"
	# the archive against the source itself, over IMAP
	in_arc=$("$ARCHIVE" ls -r "$arc" | wc -l)
	is "$in_arc" "$(dump "$SRC_IMAP_PORT" "$pw" "$login" | wc -l)" \
	    "$login: the archive holds every message the source shows"
	is "$(sqlite3 "$work/state/state.db" "SELECT messages >= $in_arc AND
	    bytes > 0 FROM accounts WHERE account = '$dest'")" 1 \
	    "$dest: the state counts the $in_arc messages its archive holds at least, kills or not"
done
# alice shares Projects/Alpha with bob on Dovecot ("lrs"): alice moved in
# the pilot, bob in a wave after, and the sharing reached Cyrus when he did
out=$(python3 -c "
import imaplib
m = imaplib.IMAP4('$WORLD_HOST', $DST_IMAP_PORT)
m.login('$BOB_DEST_LOGIN', '$BOB_PASSWORD')
print(m.list('\"\"', '\"Other Users/*\"'))
print(m.myrights('\"Other Users/alice/Projects/Alpha\"'))
print(m.select('\"Other Users/alice/Projects/Alpha\"', readonly=True))")
like "$out" "Other Users/alice/Projects/Alpha" \
    "bob lists the folder alice shares with him, on Cyrus (IMAP LIST)"
like "$out" "Alpha\" lrs'" "with the rights he had on Dovecot, lrs (IMAP MYRIGHTS)"
is "$(python3 -c "
import imaplib
m = imaplib.IMAP4('$WORLD_HOST', $SRC_IMAP_PORT)
m.login('$ALICE_LOGIN', '$ALICE_PASSWORD')
print(m.select('Projects/Alpha', readonly=True)[1][0].decode())")" \
    "$(printf '%s' "$out" | sed -n "3s/.*\[b'\([0-9]*\)'\].*/\1/p")" \
    "and sees as many messages in it as alice has on Dovecot"
is "$(curl -s -u "$BOB_DEST_LOGIN:$BOB_PASSWORD" -H 'Content-Type: application/json' \
    "http://$WORLD_HOST:$DST_HTTP_PORT/jmap/" -d '{"using":
    ["urn:ietf:params:jmap:core","urn:ietf:params:jmap:mail"], "methodCalls":
    [["Mailbox/get", {"accountId": "'"$ALICE_DEST_LOGIN"'",
    "properties": ["name", "myRights"]}, "0"]]}' |
    jq -r '.methodResponses[0][1].list[] | select(.name == "Alpha") |
    [.myRights.mayReadItems, .myRights.maySetSeen, .myRights.mayAddItems] |
    map(tostring) | join(" ")')" "true true false" \
    "bob's JMAP Mailbox/get in alice's account: may read and mark seen, may not add"
is "$("$ARCHIVE" ls "$work/state/archives/$BOB_DEST_LOGIN" | grep -c '^shared/')" 0 \
    "bob's archive holds none of it: alice's folder is stored once, by her"

# the Sieve scripts, read with python3-sievelib on both servers
for u in ALICE BOB CAROL; do
	eval "login=\$${u}_LOGIN dest=\$${u}_DEST_LOGIN pw=\$${u}_PASSWORD"
	src=$(printf '%s\n' "$pw" | sieve_client "$SRC_SIEVE_PORT" "$login" list)
	is "$(printf '%s\n' "$pw" | sieve_client "$DST_SIEVE_PORT" "$dest" list)" \
	    "$src" "$dest: the destination has the source's Sieve scripts, the same one active"
	same=1
	for s in $(printf '%s\n' "$src" | cut -d' ' -f1); do
		cmp -s <(printf '%s\n' "$pw" | sieve_client "$SRC_SIEVE_PORT" "$login" get "$s") \
		    <(printf '%s\n' "$pw" | sieve_client "$DST_SIEVE_PORT" "$dest" get "$s") || same=0
	done
	is "$same" 1 "$dest: each script byte for byte"
done
# calendars and contacts, with curl on both servers
for u in ALICE BOB CAROL; do
	eval "dest=\$${u}_DEST_LOGIN pw=\$${u}_PASSWORD"
	cmp=$(dav_compare "$dest" "$pw")
	[ "${cmp% *}" -gt 0 ] && [ "${cmp#* }" = 0 ]
	is "$?" 0 "$dest: Cyrus has the source's calendar and contacts ($cmp)"
done
is "$("$M" --state "$work/state" status --json | jq '.anomalies > 0')" true \
    "status counts the anomalies"

is "$(sqlite3 "$work/state/state.db" "SELECT count(*) FROM findings WHERE
    kind = 'sample-bytes' AND n > 0 AND n <= 4194304")" 3 \
    "the assessment read a timed sample of each account on Dovecot (4 MB at most)"

# --- the report of this migration, as a browser shows it -----------------
ROWS=$top/tests/integration/report-rows.py
browse() {	# FILE: the DOM headless Chromium makes of it
	timeout 60 chromium --headless --no-sandbox --disable-gpu \
	    --user-data-dir="$work/chrome" --dump-dom "file://$1" 2>/dev/null
}
per_folder() { cut -f1 | sort | uniq -c | awk '{ n = $1; sub(/^ *[0-9]+ /, ""); print $0 "\t" n }'; }
"$M" --state "$work/state" report >/dev/null
tidy -q -e "$work/state/report.html" >"$work/tidy" 2>&1
is "$?" 0 "the report of the demo: tidy finds no error"
mkdir -p "$top/$O/test-logs"
dom=$(browse "$work/state/report.html")
is "$(printf '%s\n' "$dom" | sed -n 's/.*data-k="accounts">\([0-9]*\)<.*/\1/p')" 3 \
    "in the browser: three accounts"
is "$(printf '%s\n' "$dom" | sed -n 's/.*data-k="messages">\([0-9]*\)<.*/\1/p')" \
    "$(sqlite3 "$work/state/state.db" 'SELECT sum(assessed_messages) FROM accounts')" \
    "the message total is the state's"
timeout 60 chromium --headless --no-sandbox --disable-gpu \
    --user-data-dir="$work/chrome" --window-size=1200,3000 \
    --screenshot="$top/$O/test-logs/report-demo.png" \
    "file://$work/state/report.html" >/dev/null 2>&1
for u in ALICE BOB CAROL; do
	eval "login=\$${u}_LOGIN dest=\$${u}_DEST_LOGIN pw=\$${u}_PASSWORD corpus=\$${u}_CORPUS sep=\$${u}_SEP"
	arc=$work/state/archives/$dest
	page=$("$M" --state "$work/state" report --account "$login")
	tidy -q -e "$page" >"$work/tidy" 2>&1
	is "$?" 0 "$dest: its page, tidy finds no error"
	browse "$page" | "$ROWS" folders >"$work/rows"
	is "$(grep -v '^all folders' "$work/rows" | cut -f1 | sort)" \
	    "$("$ARCHIVE" ls "$arc" | cut -f1 | sort)" \
	    "$dest: in the browser, a reconciliation row per folder of the archive"
	# the source's side, counted again over IMAP at the source
	is "$(awk -F '\t' '$1 != "all folders" && $2 > 0 { print $1 "\t" $2 }' "$work/rows" | sort)" \
	    "$(dump "$SRC_IMAP_PORT" "$pw" "$login" | per_folder | sort)" \
	    "$dest: each folder's source messages are what IMAP shows at the source"
	# the destination's, over IMAP on Cyrus (its separator is /; one
	# folder is renamed there)
	is "$(awk -F '\t' '$1 != "all folders" && $5 > 0 { print $1 "\t" $5 }' "$work/rows" |
	    sed 's/^Back\\slash & Co\t/Back_slash _ Co (renamed)\t/' |
	    awk -F '\t' -v sep="${sep:-/}" 'BEGIN { OFS = "\t" } sep != "/" { gsub("[" sep "]", "/", $1) } { print }' | sort)" \
	    "$(dump "$DST_IMAP_PORT" "$pw" "$dest" | grep -v '^Other Users/' | per_folder | sort)" \
	    "$dest: and its destination messages what IMAP shows on Cyrus"
	is "$(awk -F '\t' '$1 == "all folders" { print $8, $9, $10 }' "$work/rows")" \
	    "0 $(malformed "$corpus") 0" \
	    "$dest: none differs, the malformed ones rescued, none refused"
	is "$(awk -F '\t' '$1 != "all folders" && $11 == "yes" && $9 > 0' "$work/rows" | wc -l)" 0 \
	    "$dest: a folder with a rescued message is not called verified"
done
git -C "$work/state/audit" fsck --strict >/dev/null 2>&1
is "$?" 0 "the audit repository is a valid git repository"
for a in alice@example.org bob@example.org carol@example.org; do
	is "$(git -C "$work/state/audit" log --format=%B | grep -c "^flip $a -> destination")" 1 \
	    "its history has the flip of $a exactly once"
done
is "$(git -C "$work/state/audit" show HEAD:mapping.txt | grep -v '^#' | grep -c ' destination$') $(git -C "$work/state/audit" show HEAD:mapping.txt | grep -c '^# default destination$')" "6 1" \
    "the mapping export routes both login forms of the three to Cyrus, and after finalize the rest too"
leaks "$work/state"
is "$?" 0 "no secret in the state directory, decompressed: git objects, SQLite, archives, logs, reports"

# --- a rollback killed at random moments (2, or MIGRATE_ROLLBACK_KILLS) -
# nothing changed on Cyrus since the cutover: the rollback carries nothing
# back, flips carol to the source, and Dovecot holds what it held
RB=${MIGRATE_ROLLBACK_KILLS:-2}
if [ "$RB" -gt 0 ]; then
	before=$(dump "$SRC_IMAP_PORT" "$CAROL_PASSWORD" "$CAROL_LOGIN" | sort)
	rkills=0
	for _ in $(seq "$RB"); do
		"$M" --state "$work/state" rollback carol@example.org \
		    >>"$work/rollback.log" 2>&1 &
		bg=$!
		sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
		kill -9 "$bg" 2>/dev/null && rkills=$((rkills + 1))
		wait "$bg" 2>/dev/null
	done
	echo "# rollback kills: $rkills"
	"$M" --state "$work/state" rollback carol@example.org \
	    >"$work/rerun.log" 2>&1
	rc=$?
	cat "$work/rerun.log" >>"$work/rollback.log"
	# a rollback that ended before its kill leaves the rerun nothing
	[ "$rc" = 65 ] && grep -q "carol@example.org is rolled_back: there is nothing to roll back" \
	    "$work/rerun.log" && rc=0
	is "$rc" 0 "after $rkills kills -9 of a rollback, a rerun completes (or finds it done)"
	[ "$rc" -eq 0 ] || tail -15 "$work/rollback.log" | sed 's/^/#   /'
	like "$(printf '%s\n' "$CAROL_PASSWORD" |
	    "$top/tests/integration/proxy-client.py" imap "$PROXY_IMAP" none \
	    "$CAROL_LOGIN" | tr '\n' ' ')" "login OK server Dovecot" \
	    "carol logs in through the proxy and reaches Dovecot again"
	is "$(dump "$SRC_IMAP_PORT" "$CAROL_PASSWORD" "$CAROL_LOGIN" | sort)" \
	    "$before" "Dovecot holds what it held, each message once"
fi

# --- a refused login; an unreachable source ------------------------------
# (no sieve in these plans: the steps are skipped)
cat >"$work/wrong.yaml" <<EOT
state: $work/state2
source:
  imap: imaps://$WORLD_HOST:$SRC_IMAPS_PORT
  ca_file: $WORLD_CA
  auth:
    passwords: {file: passwords}
destination:
  jmap: http://$WORLD_HOST:$DST_HTTP_PORT
  allow_plaintext: true
limits:
  parallel_accounts: 3
  retries: 2
  backoff_seconds: 1
accounts:
  default_domain: example.org
  list: [alice@example.org, bob@example.org, carol]
phases:
  waves:
    - name: all
EOT
umask 077
printf 'alice@example.org %s\nbob@example.org %s\ncarol wrong-%s\n' \
    "$ALICE_PASSWORD" "$BOB_PASSWORD" "$CAROL_PASSWORD" >"$work/passwords"
umask 022
# a destination that holds mail the new state does not know of fails
# verification (it is not the source's); start from empty accounts
for u in ALICE BOB CAROL; do
	eval "wipe \"\$${u}_PASSWORD\" \"\$${u}_DEST_LOGIN\""
done
"$M" plan validate "$work/wrong.yaml" >/dev/null 2>"$work/err"
is "$?" 0 "a plan with per-account source passwords validates"
"$M" plan apply "$work/wrong.yaml" >"$work/out" 2>&1
is "$?" 75 "a refused login: the apply stops after the phase (exit 75)"
is "$("$M" --state "$work/state2" status --json carol | jq -r '.state + " " + .error_class')" \
    "failed permanent" "carol's refused login: failed, not retried"
like "$("$M" --state "$work/state2" status --json carol | jq -r .error)" \
    'imap-pull exited 77' "and the error says so"
is "$("$M" --state "$work/state2" status --json alice | jq -r .state)" migrated \
    "the others went on"
sed -e "s|^state: .*|state: $work/state3|" -e "s|:$SRC_IMAPS_PORT|:9|" \
    -e 's/backoff_seconds: 1/backoff_seconds: 0/' \
    "$work/wrong.yaml" >"$work/down.yaml"
"$M" plan apply "$work/down.yaml" >"$work/out" 2>&1
is "$?" 75 "an unreachable source: exit 75"
is "$("$M" --state "$work/state3" status --json alice | jq -r '.state + " " + .error_class + " " + (.attempts | tostring)')" \
    "failed retryable 3" "the account is failed (retryable), after its retries"

done_testing
