# Two migrate-proxy instances in front of the real world, sharing one
# mapping in the world's PostgreSQL, as two hosts behind a load balancer
# would: a flip closes the account's sessions on both and both route its
# next login to Cyrus; a hold reaches both; migrate's own cutover of
# carol, told to one proxy's socket, holds and flips on both; a proxy cut
# off from the database catches up when it is back; with PostgreSQL
# stopped both route from their caches, refuse what they do not know
# with a temporary failure, and stop guessing after limits.mapping_stale.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxy-lib.sh"
CLIENT=$top/tests/integration/proxy-client.py
HELD=$top/tests/integration/held-session.py
RELAY=$top/tests/integration/fault-relay.py
M=$top/$O/bin/migrate
P1=31243 P2=31244 PGRELAY=31245
URL=postgresql://postgres@127.0.0.1:$PG_PORT/migrate
export MIGRATE_NO_PROGRESS=1

sql() { runuser -u postgres -- psql -qAt -h 127.0.0.1 -p "$PG_PORT" \
    -d migrate -c "$1"; }
login() {	# PORT USER PASSWORD: the client's lines on one line
	printf '%s\n' "$3" | "$CLIENT" imap "$1" none "$2" 2>&1 | tr '\n' ' '
}
relay() {	# PostgreSQL behind a relay on $PGRELAY: the second proxy's way
	"$RELAY" --target "127.0.0.1:$PG_PORT" --port "$PGRELAY" \
	    --port-file "$work/relay.port" >>"$work/relay.log" 2>&1 &
	relay_pid=$!
	pids="$pids $relay_pid"
	wait_port "$PGRELAY"
}
# wait until FILE has PATTERN, at most SECONDS; the seconds it took
wait_for() {
	local start=$(date +%s%N) i
	for i in $(seq $(($3 * 20))); do
		grep -qE "$2" "$1" 2>/dev/null && break
		sleep 0.05
	done
	echo $((($(date +%s%N) - start) / 1000000))
}
in_log() {	# LOG PATTERN SECONDS DESCRIPTION
	wait_for "$1" "$2" "$3" >/dev/null
	like "$(cat "$1")" "$2" "$4"
}

sql "DROP TABLE IF EXISTS routes, meta, pop3_uidls" 2>/dev/null
trap 'cleanup; "$top/tests/world/world" pg-start >/dev/null 2>&1' EXIT

for i in 1 2; do
	url="$URL"
	[ $i = 2 ] && url="postgresql://postgres@127.0.0.1:$PGRELAY/migrate"
	port=$(eval echo \$P$i)
	cat >"$work/proxy$i.yaml" <<EOF
hostname: proxy$i.example.org
default_domain: example.org
mapping: $url
control: $work/proxy$i.sock
limits: { mapping_stale: 4 }
listeners:
  - { protocol: imap, listen: 127.0.0.1:$port }
backends:
  source:
    imap: { address: 127.0.0.1:$SRC_IMAP_PORT, tls: starttls,
            servername: localhost, ca_file: $WORLD_CA }
  destination:
    imap: { address: 127.0.0.1:$DST_IMAP_PORT, allow_plaintext: true }
EOF
done
sed 's|mapping: .*|mapping: postgresql://me:secret@127.0.0.1/migrate|' \
    "$work/proxy1.yaml" >"$work/pw.yaml"
like "$("$P" -t -c "$work/pw.yaml" 2>&1)" \
    "pw.yaml:3:.*password in it is refused.*PGPASSFILE" \
    "a password in the database's URL is refused, with file and line"
out=$("$FLIP" --store "postgresql://me:secret@127.0.0.1:$PG_PORT/migrate" \
    --list </dev/null 2>&1)
like "$out" "password in it.*PGPASSFILE" "and so it is on map-flip's command line"
case $out in *secret*) not_ok "map-flip does not repeat the password" ;;
*) ok "map-flip does not repeat the password" ;; esac

relay
start_proxy "$work/proxy1.yaml" "$work/proxy1.log" $P1 || not_ok "proxy 1 starts"
start_proxy "$work/proxy2.yaml" "$work/proxy2.log" $P2 || not_ok "proxy 2 starts"

# --- before any flip: the tables are not even there ----------------------
like "$(login $P1 alice@example.org "$ALICE_PASSWORD")" "login OK server Dovecot" \
    "a store no flip has made yet: alice goes to the source"
is "$(sql "SELECT count(*) FROM pg_tables WHERE tablename = 'routes'")" 0 \
    "and the proxy, a reader, made no table"

# --- a flip: both proxies close bob's sessions, both route him to Cyrus --
for i in 1 2; do
	port=$(eval echo \$P$i)
	printf '%s\n' "$BOB_PASSWORD" |
	    "$HELD" imap "$port" bob@example.org >"$work/held$i.out" 2>&1 &
	eval held$i=$!
done
wait_for "$work/held1.out" ready 10 >/dev/null
wait_for "$work/held2.out" ready 10 >/dev/null
like "$(cat "$work/held1.out") $(cat "$work/held2.out")" \
    "ready Dovecot.*ready Dovecot" "bob has an IDLE session open on each proxy"
"$FLIP" --store "$URL" \
    --domain example.org bob@example.org destination </dev/null \
    >"$work/flip.out" 2>&1
is "$?" 0 "map-flip flips bob in the database"
ms1=$(wait_for "$work/held1.out" closed 10)
ms2=$(wait_for "$work/held2.out" closed 10)
like "$(cat "$work/held1.out")" closed "proxy 1 closed bob's session"
like "$(cat "$work/held2.out")" closed "proxy 2 closed bob's session"
[ "$ms1" -le 1000 ] && [ "$ms2" -le 1000 ] &&
    ok "both within a second of the commit ($ms1 ms, $ms2 ms)" ||
    not_ok "both within a second of the commit ($ms1 ms, $ms2 ms)"
wait $held1 $held2
like "$(flat "$(cat "$work/held1.out" "$work/held2.out")")" \
    "relogin Cyrus.*relogin Cyrus" "each session's new login landed on Cyrus"
like "$(cat "$work/flip.out")" '"proxy_told":true' \
    "map-flip counts the proxies told: the commit announced it"
for i in 1 2; do
	like "$(login $(eval echo \$P$i) bob "$BOB_PASSWORD")" \
	    "login OK server Cyrus" "proxy $i: bob's next login, bare, reaches Cyrus"
done
in_log "$work/proxy2.log" "bob@example.org now goes to the destination" 2 \
    "proxy 2's log says what the database told it"

# --- a hold reaches both -------------------------------------------------
"$FLIP" --store "$URL" \
    --domain example.org --control "$work/nobody.sock" --hold 30 \
    carol </dev/null >"$work/hold.out" 2>&1
is "$?" 0 "map-flip --hold through the database needs no control socket"
sleep 0.3
for i in 1 2; do
	like "$(control "$work/proxy$i.sock" stats)" "delays 2" \
	    "proxy $i holds carol's two login forms"
done
"$FLIP" --store "$URL" \
    --domain example.org --release carol </dev/null >/dev/null 2>&1
sleep 0.3
for i in 1 2; do
	like "$(control "$work/proxy$i.sock" stats)" "delays 0" \
	    "proxy $i lets them go at --release"
done

# --- migrate's cutover of carol: one proxy's socket, both proxies ---------
umask 077
printf '%s\n' "$SRC_MASTER_PASSWORD" >"$work/master-password"
printf 'carol@example.org %s\n' "$CAROL_PASSWORD" >"$work/passwords"
umask 022
cat >"$work/plan.yaml" <<EOF
state: $work/state
mapping: $URL
source:
  imap: imap://127.0.0.1:$SRC_IMAP_PORT
  ca_file: $WORLD_CA
  auth:
    master_user: $SRC_MASTER_USER
    master_separator: "$SRC_MASTER_SEPARATOR"
    master_password: {file: $work/master-password}
destination:
  jmap: http://127.0.0.1:$DST_HTTP_PORT
  allow_plaintext: true
  auth:
    passwords: {file: $work/passwords}
    login: "{account}"
proxy:
  control: $work/proxy1.sock
  hold_seconds: 30
limits:
  retries: 0
accounts:
  default_domain: example.org
  list: [carol]
phases:
  waves:
    - name: all
EOF
wipe "$CAROL_PASSWORD" "$CAROL_DEST_LOGIN"
for i in 1 2; do
	printf '%s\n' "$CAROL_PASSWORD" |
	    "$HELD" imap "$(eval echo \$P$i)" carol >"$work/carol$i.out" 2>&1 &
	eval held$i=$!
done
wait_for "$work/carol1.out" ready 10 >/dev/null
wait_for "$work/carol2.out" ready 10 >/dev/null
"$M" plan apply "$work/plan.yaml" >"$work/apply.log" 2>&1
is "$?" 0 "migrate plan apply migrates carol with the mapping in PostgreSQL" ||
    show "$work/apply.log"
wait $held1 $held2
for i in 1 2; do
	like "$(flat "$(cat "$work/carol$i.out")")" \
	    "ready Dovecot closed relogin Cyrus" \
	    "proxy $i: carol's IDLE session closed at the cutover, her new login on Cyrus"
	like "$(cat "$work/proxy$i.log")" "logins of carol@example.org held for 30s" \
	    "proxy $i held her logins through the cutover (told by the database)"
done
like "$(cat "$work/state/mapping.txt")" "carol@example.org destination" \
    "the audit's export is still written, from the database"

# --- proxy 2 cut off: it catches up when it is back ----------------------
like "$(login $P2 alice@example.org "$ALICE_PASSWORD")" "login OK server Dovecot" \
    "proxy 2 routes alice to the source (and caches it)"
kill "$relay_pid"
in_log "$work/proxy2.log" "routing from the cache" 3 \
    "proxy 2 notices that it lost the database"
"$FLIP" --store "$URL" \
    --domain example.org alice@example.org destination </dev/null >/dev/null 2>&1
is "$?" 0 "alice flips while proxy 2 cannot hear it"
relay
in_log "$work/proxy2.log" "back in touch" 5 "proxy 2 gets back in touch"
in_log "$work/proxy2.log" "alice@example.org now goes to the destination" 2 \
    "and reads the flip it missed"
like "$(login $P2 alice@example.org "$ALICE_PASSWORD")" "login OK server Cyrus" \
    "so alice's next login on proxy 2 reaches Cyrus, not its stale entry"

# --- PostgreSQL stopped: the caches, and a temporary failure otherwise --
"$top/tests/world/world" pg-stop
in_log "$work/proxy1.log" "routing from the cache for at most 4s" 3 \
    "proxy 1 says it routes from its cache, for how long"
for i in 1 2; do
	like "$(login $(eval echo \$P$i) bob "$BOB_PASSWORD")" \
	    "login OK server Cyrus" "database down: proxy $i still routes bob (cached)"
done
like "$(login $P1 carol "$CAROL_PASSWORD")" "login OK server Cyrus" \
    "proxy 1 still routes carol, whom it looked up before"
out=$(login $P2 dave@example.org "$DAVE_PASSWORD")
like "$out" "UNAVAILABLE" "proxy 2 never looked dave up: a temporary failure, not a guess"
like "$(cat "$work/proxy2.log")" "dave@example.org: the mapping database is out of reach" \
    "its log says why"
out=$("$FLIP" --store "$URL" \
    --domain example.org dave destination </dev/null 2>&1)
is "$?" 69 "a flip with the database down fails (69), and changes nothing"
sleep 4
like "$(login $P1 bob "$BOB_PASSWORD")" "UNAVAILABLE" \
    "past limits.mapping_stale, even a cached route is refused for now"
like "$(cat "$work/proxy1.log")" "out of reach for [0-9]+s, longer than limits.mapping_stale" \
    "and the log says so"
"$top/tests/world/world" pg-start
in_log "$work/proxy1.log" "back in touch" 5 "proxy 1 reconnects when it is back"
for i in $(seq 100); do
	[ "$(grep -c "back in touch" "$work/proxy2.log")" -ge 2 ] && break
	sleep 0.05
done
is "$(grep -c "back in touch" "$work/proxy2.log")" 2 "and so does proxy 2"
like "$(login $P2 dave@example.org "$DAVE_PASSWORD")" "login OK server Dovecot" \
    "proxy 2 routes dave again, to the source"
like "$(login $P1 bob "$BOB_PASSWORD")" "login OK server Cyrus" "proxy 1 routes bob again"

# --- finalize's default, and a restore ----------------------------------
"$FLIP" --store "$URL" --list </dev/null >"$work/export.txt" 2>/dev/null
"$FLIP" --store "$URL" --default destination </dev/null >/dev/null 2>&1
is "$?" 0 "map-flip --default destination in the database"
for i in 1 2; do
	in_log "$work/proxy$i.log" "default destination; cache dropped" 2 \
	    "proxy $i drops its cache at the new default"
done
"$FLIP" --store "$URL" --restore "$work/export.txt" </dev/null \
    >"$work/restore.out" 2>&1
is "$?" 0 "map-flip --restore of the export taken before it"
in_log "$work/proxy2.log" "default source; cache dropped" 2 \
    "which puts the default back, and proxy 2 hears it"
like "$(login $P2 dave@example.org "$DAVE_PASSWORD")" "login OK server Dovecot" \
    "dave, with no row, goes to the source again"

# --- what the database holds ---------------------------------------------
is "$("$FLIP" --store "$URL" --list </dev/null 2>/dev/null | tr '\n' ' ')" \
    "alice destination alice@example.org destination bob destination bob@example.org destination carol destination carol@example.org destination " \
    "map-flip --list reads the routes from the database"
is "$(sql "SELECT value FROM meta WHERE key = 'version'")" 5 \
    "three flips, a default and a restore: five versions"
sql "DROP TABLE IF EXISTS routes, meta, pop3_uidls"
done_testing
