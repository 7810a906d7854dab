# The connections to the source found as the apply goes, on the real
# world: Dovecot behind fault-relay.py, which lets one connection through
# at a time and greets any other with "* BYE [UNAVAILABLE]", as a server
# with a per-client limit does.  migrate starts three pulls at once, is
# refused, halves its window, settles at the limit without the refusals
# piling up, and moves every account; IMAP on Cyrus then shows what
# Dovecot has, each message once.
. "$(dirname "$0")/lib.sh"

M=$top/$O/bin/migrate
DUMP=$top/tests/integration/imap-dump.py
work=$(mktemp -d /var/tmp/t-load.XXXXXX)
rpid=
trap '[ -n "$rpid" ] && kill "$rpid"; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
export MIGRATE_NO_PROGRESS=1
dump() {	# PORT PASSWORD LOGIN: what IMAP shows, raw lines
	printf '%s\n' "$2" | "$DUMP" --ca "$WORLD_CA" "$WORLD_HOST" "$1" "$3"
}

"$top/tests/integration/fault-relay.py" --target "127.0.0.1:$SRC_IMAP_PORT" \
    --port-file "$work/port" --max-conns 1 --log "$work/relay.log" &
rpid=$!
for i in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
relay=$(cat "$work/port")

umask 077
printf 'alice@example.org %s\nbob@example.org %s\ncarol %s\n' \
    "$ALICE_PASSWORD" "$BOB_PASSWORD" "$CAROL_PASSWORD" >"$work/passwords"
umask 022
cat >"$work/load.yaml" <<EOT
state: $work/state
source:
  imap: imap://$WORLD_HOST:$relay
  ca_file: $WORLD_CA
  auth:
    passwords: {file: passwords}
destination:
  jmap: http://$WORLD_HOST:$DST_HTTP_PORT
  allow_plaintext: true
limits:
  parallel_accounts: 3
  connections_per_source: 6
  retries: 6
  backoff_seconds: 1
accounts:
  default_domain: example.org
  list: [alice@example.org, bob@example.org, carol]
phases:
  waves:
    - name: all
EOT
for u in ALICE BOB CAROL; do
	eval "wipe \"\$${u}_PASSWORD\" \"\$${u}_DEST_LOGIN\""
done
"$M" plan apply "$work/load.yaml" >"$work/out" 2>&1
is "$?" 0 "the apply through a source that takes one connection at a time"
is "$("$M" --state "$work/state" status --json | jq -r .totals.migrated)" 3 \
    "every account migrated"
db=$work/state/state.db
is "$(sqlite3 "$db" "SELECT conns FROM connections ORDER BY id LIMIT 1")" 3 \
    "it started with three connections, half of six"
like "$(sqlite3 "$db" "SELECT why FROM connections WHERE why LIKE 'cut%' ORDER BY id LIMIT 1")" \
    "^cut: imap-pull exited [0-9]+: .*(UNAVAILABLE|Too many connections)" \
    "was refused, and cut its window, saying why"
refused=$(grep -c 'over the limit' "$work/relay.log")
cuts=$(sqlite3 "$db" "SELECT count(*) FROM connections WHERE why LIKE 'cut%'")
failed=$(sqlite3 "$db" "SELECT count(*) FROM runs WHERE helper = 'imap-pull' AND exit != 0")
echo "# relay refused $refused connections; $cuts cuts; $failed pulls failed for now"
[ "$refused" -ge 1 ] && [ "$refused" -le 6 ]
is "$?" 0 "the refusals did not pile up: $refused, for three accounts"
is "$(sqlite3 "$db" "SELECT count(*) FROM connections WHERE id > (SELECT min(id)
    FROM connections WHERE why LIKE 'cut%') AND conns > 2")" 0 \
    "after the first cut it stays at the limit or one pull above (the probe)"
like "$("$M" --state "$work/state" status)" "source connections: [12] of 6 at most" \
    "status shows where it settled"
for u in ALICE BOB CAROL; do
	eval "login=\$${u}_LOGIN dest=\$${u}_DEST_LOGIN pw=\$${u}_PASSWORD sep=\$${u}_SEP"
	arc=$work/state/archives/$dest
	is "$("$top/$O/bin/migrate-archive" ls -r "$arc" | wc -l)" \
	    "$(dump "$SRC_IMAP_PORT" "$pw" "$login" | wc -l)" \
	    "$login: the archive holds every message Dovecot shows"
	want=$(expected "$arc" "$sep")
	got=$(dump "$DST_IMAP_PORT" "$pw" "$dest" | dest_norm "$arc")
	if [ "$want" = "$got" ]; then
		ok "$dest: IMAP on Cyrus shows what Dovecot has"
	else
		not_ok "$dest: IMAP on Cyrus shows what Dovecot has"
		diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | head -10 |
		    sed 's/^/#   /'
	fi
	is "$(dump "$DST_IMAP_PORT" "$pw" "$dest" | sort | uniq -d | wc -l)" 0 \
	    "$dest: no message twice in a folder"
done
done_testing
