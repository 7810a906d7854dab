# migrate worker: a coordinator (plan apply --coordinate) and three
# workers, separate processes with a state directory each (their
# archives), standing in for hosts, migrate the mail of the demo's three
# users from Dovecot to Cyrus (t-migrate has their calendars, contacts and
# Sieve scripts), the state and the mapping in the world's PostgreSQL.
# The worker that holds alice is killed -9 after her flip: she waits for
# it, which holds her archive, until it comes back (the same name and
# directory).  The worker that holds bob is killed -9 before his push;
# when its lease runs out another worker pulls him again and finishes
# him.  The worker that holds carol is killed -9 in her flip: she too
# waits for it, which flips her when it comes back.  No account is
# worked on by two workers at once; IMAP on Cyrus shows what the source
# has, each message once.
. "$(dirname "$0")/lib.sh"

M=$top/$O/bin/migrate
DUMP=$top/tests/integration/imap-dump.py
PG=postgresql://postgres@127.0.0.1:$PG_PORT
work=$(mktemp -d /var/tmp/t-workers.XXXXXX)
db=tw_state_$$ map=tw_map_$$
pids=
trap 'for p in $pids; do kill -9 -- -"$p" 2>/dev/null; done
    cat "$work"/paused-*/pid 2>/dev/null | xargs -r kill 2>/dev/null
    [ -n "${KEEP:-}" ] || psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $db" \
    -c "DROP DATABASE IF EXISTS $map" >/dev/null 2>&1
    [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
export MIGRATE_NO_PROGRESS=1 GIT_AUTHOR_NAME=Pat GIT_AUTHOR_EMAIL=pat@example.org
for d in $db $map; do
	psql -q "$PG/postgres" -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $d" \
	    -c "CREATE DATABASE $d" >/dev/null
done
sql() { psql -qtA "$PG/$db" -c "$1"; }

umask 077
printf '%s\n' "$SRC_MASTER_PASSWORD" >"$work/master-password"
printf 'alice@example.org %s\nbob@example.org %s\ncarol@example.org %s\n' \
    "$ALICE_PASSWORD" "$BOB_PASSWORD" "$CAROL_PASSWORD" >"$work/passwords"
umask 022
# alice after her flip, bob before his push: each waits here, once,
# until its worker is killed
cat >"$work/pause" <<EOT
#!/bin/sh
case \$MIGRATE_HOOK/\$MIGRATE_ACCOUNT in
after_cutover/alice@example.org|before_push/bob@example.org) ;;
*) exit 0
esac
mkdir "$work/paused-\$MIGRATE_ACCOUNT" 2>/dev/null || exit 0
echo \$\$ >"$work/paused-\$MIGRATE_ACCOUNT/pid"
exec sleep 600
EOT
chmod +x "$work/pause"
# carol's flip to the destination waits here, once, until its worker is
# killed; the workers find their helpers in $work/bin
mkdir "$work/bin"
for f in "$top/$O/bin"/*; do ln -s "$f" "$work/bin/"; done
rm "$work/bin/map-flip"
cat >"$work/bin/map-flip" <<EOT
#!/bin/sh
case " \$* " in
*" carol@example.org destination ") mkdir "$work/paused-carol@example.org" 2>/dev/null &&
	echo \$\$ >"$work/paused-carol@example.org/pid" && exec sleep 600 ;;
esac
exec "$top/$O/bin/map-flip" "\$@"
EOT
chmod +x "$work/bin/map-flip"
cat >"$work/plan.yaml" <<EOT
name: workers
state: $work/coordinator
database: $PG/$db
mapping: $PG/$map
source:
  imap: imap://$WORLD_HOST:$SRC_IMAP_PORT
  ca_file: $WORLD_CA
  allow_plaintext: true
  auth:
    master_user: $SRC_MASTER_USER
    master_separator: "$SRC_MASTER_SEPARATOR"
    master_password: {file: $work/master-password}
destination:
  jmap: http://$WORLD_HOST:$DST_HTTP_PORT
  allow_plaintext: true
  auth:
    passwords: {file: $work/passwords}
    login: "{account}"
limits:
  parallel_accounts: 1
  connections_per_source: 6
  lease_seconds: 4
  retries: 2
  backoff_seconds: 1
hooks:
  before_push: $work/pause
  after_cutover: $work/pause
accounts:
  default_domain: example.org
  list: [alice@example.org, bob@example.org, carol]
phases:
  assessment:
  pilot:
    accounts: [alice@example.org]
  waves:
    - name: wave-1
  delta:
    passes: 1
  finalize:
EOT
for u in ALICE BOB CAROL; do
	eval "wipe \"\$${u}_PASSWORD\" \"\$${u}_DEST_LOGIN\""
done

# --- refusals ---------------------------------------------------------
sed '/^database:/d' "$work/plan.yaml" >"$work/nodb.yaml"
out=$("$M" --state "$work/w0" worker "$work/nodb.yaml" 2>&1)
is "$?" 78 "a worker without the state in PostgreSQL is refused"
like "$out" "nodb.yaml: workers share the state in PostgreSQL" "and says why"
out=$("$M" --state "$work/w0" worker "$work/plan.yaml" 2>&1)
is "$?" 78 "a worker before any plan apply is refused"
like "$out" "not the plan last applied to the state" "and says why"

# --- the coordinator, then three workers ------------------------------
start() {	# NAME: a worker in its own process group, its directory
	MIGRATE_EXEC_PATH=$work/bin setsid "$M" --state "$work/$1" worker \
	    --name "$1" "$work/plan.yaml" >>"$work/$1.out" 2>&1 &
	eval "pid_$1=\$!"
	pids="$pids $!"
}
said() {	# PATTERN: the coordinator's output once it says it (30 s)
	for _ in $(seq 300); do
		grep -q "$1" "$work/coord.out" && break
		sleep 0.1
	done
	cat "$work/coord.out"
}
setsid "$M" plan apply --coordinate "$work/plan.yaml" >"$work/coord.out" 2>&1 &
coord=$!
pids="$pids $coord"
like "$(said "wait for workers, and none runs")" \
    "phase assessment: its accounts wait for workers, and none runs: start 'migrate worker'" \
    "the coordinator alone says that its accounts wait for workers"
# a second plan apply of the same database, from another directory
sed "s|^state: .*|state: $work/second|" "$work/plan.yaml" >"$work/second.yaml"
out=$("$M" plan apply "$work/second.yaml" 2>&1)
is "$?" 75 "a second plan apply of the same database is refused (75)"
like "$out" "another 'migrate plan apply' works on the plan's database" \
    "and says why"
for w in w1 w2 w3; do start "$w"; done

kill_holder() {	# ACCOUNT STATE: kill -9 the worker paused in STATE
	local a=$1 w p
	for _ in $(seq 1200); do
		[ -s "$work/paused-$a/pid" ] && break
		sleep 0.1
	done
	# what it wrote before the pause, committed (within 200 ms): a kill
	# before would take the account back to where it was claimed
	for _ in $(seq 50); do
		[ "$(sql "SELECT state FROM accounts WHERE account = '$a'")" = "$2" ] &&
		    break
		sleep 0.1
	done
	w=$(sql "SELECT owner FROM accounts WHERE account = '$a'")
	eval "p=\${pid_$w:-}"
	[ -n "$p" ] && kill -9 -- -"$p" && wait "$p" 2>/dev/null
	kill "$(cat "$work/paused-$a/pid")" 2>/dev/null	# its own session
	echo "$w"
}

# the pilot: alice's worker killed -9 after her flip, in her
# after_cutover hook; she is past her cutover: she waits for it
home=$(kill_holder alice@example.org cutover)
like "$home" "^w[123]$" "alice is held by one worker ($home) after her flip, and it is killed"
like "$(said "alice@example.org waits for worker $home")" \
    "alice@example.org waits for worker $home, which holds its archive and is not running" \
    "once its lease ran out, the coordinator says alice waits for that worker"
is "$(sql "SELECT state, home FROM accounts WHERE
    account = 'alice@example.org'")" "cutover|$home" \
    "and no other worker took her: her archive is there"
like "$("$M" --state "$work/coordinator" status alice)" \
    "waits: for worker $home, which holds its archive and is not running" \
    "status says so"
like "$("$M" --state "$work/coordinator" status)" \
    " $home: holds 1 accounts, has the archives of [0-9]+, renewed its leases [0-9]+ s ago" \
    "and lists the workers, the dead one with what it holds"
start "$home"

# wave-1: bob's worker, in his before_push hook: killed -9
victim=$(kill_holder bob@example.org copying)
like "$victim" "^w[123]$" "bob is held by one worker ($victim), paused before his push, and it is killed"
t0=$(date +%s)
for _ in $(seq 600); do
	now=$(sql "SELECT owner FROM accounts WHERE account = 'bob@example.org'")
	[ -n "$now" ] && [ "$now" != "$victim" ] && break
	sleep 0.1
done
like "$now" "^w[123]$" "after the kill -9, another worker ($now) took bob"
[ "$now" != "$victim" ] && [ $(( $(date +%s) - t0 )) -ge 2 ]
is "$?" 0 "once the lease (4 s) ran out, not before"
for _ in $(seq 600); do
	grep -q "bob@example.org: its archive is on another worker" \
	    "$work/$now/log/apply.log" 2>/dev/null && break
	sleep 0.1
done
like "$(cat "$work/$now/log/apply.log")" \
    "bob@example.org: its archive is on another worker: pulled again here" \
    "and pulled him again, from nothing"

# carol's worker, in her flip: killed -9 with the flip not done, she
# waits for it all the same, since it may have been
flipper=$(kill_holder carol@example.org verified)
like "$flipper" "^w[123]$" "carol is held by one worker ($flipper) in her flip, and it is killed"
like "$(said "carol@example.org waits for worker $flipper")" \
    "carol@example.org waits for worker $flipper, which holds its archive and is not running" \
    "once its lease ran out, the coordinator says carol waits for that worker"
is "$(sql "SELECT state, step, home FROM accounts WHERE
    account = 'carol@example.org'")" "verified|flipping|$flipper" \
    "and no other worker took her: the flip to come was committed before it began"

# the dead come back, as for an account past its cutover whose archive
# they may hold
start "$victim"
[ "$flipper" = "$victim" ] || start "$flipper"
wait "$coord"
is "$?" 0 "the coordinator's apply completes"
tail -5 "$work/coord.out" | sed 's/^/# /'
for w in w1 w2 w3; do
	eval "p=\$pid_$w"
	wait "$p"
	is "$?" 0 "worker $w goes when the apply is over"
done

is "$("$M" --state "$work/coordinator" status --json | jq -c .totals)" \
    '{"finalized":3}' "every account finalized"
is "$("$M" --state "$PG/$db" status --json bob | jq -r '.worker.home')" "$now" \
    "status says which worker holds bob's archive"
like "$("$M" --state "$PG/$db" status bob)" "its archive is on worker $now" \
    "in words too"
is "$(sql "SELECT count(DISTINCT worker) FROM runs WHERE worker IS NOT NULL")" 3 \
    "the three workers shared the work"
# what the workers' statements kept of the accounts, kills and all
is "$("$M" --state "$PG/$db" status --json | jq -r '"\(.messages)|\(.bytes)|" +
    (.waves | [to_entries[] | .key as $w | .value | to_entries[] |
    "\($w):\(.key):\(.value)"] | sort | join(" "))')" \
    "$(sql "SELECT sum(messages) || '|' || sum(bytes) || '|' ||
    string_agg(w, ' ' ORDER BY w COLLATE \"C\") FROM (SELECT
    coalesce(wave, '-') || ':' || state || ':' || count(*) AS w,
    sum(messages) AS messages, sum(bytes) AS bytes FROM accounts
    GROUP BY wave, state) AS g")" \
    "status's census is the accounts counted"
is "$(sql "SELECT count(*) FROM runs WHERE worker IS NULL OR worker NOT IN
    ('w1', 'w2', 'w3')")" 0 "the coordinator worked on no account"
is "$(sql "SELECT count(*) FROM runs a JOIN runs b ON a.account_id =
    b.account_id AND a.worker <> b.worker AND a.started < b.ended AND
    b.started < a.ended")" 0 "no account was worked on by two workers at once"
is "$(cat "$work"/w?/log/apply.log | grep -c 'is no longer')" 0 \
    "no worker wrote over another's account"
is "$(cat "$work"/*.out | grep -c 'Sanitizer\|runtime error')" 0 \
    "no sanitizer report from the coordinator or a worker"
is "$(sql "SELECT count(*) FROM accounts WHERE owner IS NOT NULL")" 0 \
    "every lease was given back"
is "$(sql "SELECT count(*) FROM workers")" 0 "every worker said it went"
is "$(sql "SELECT count(*) > 0 FROM connections WHERE ceiling = 2 AND
    why = 'share: 3 workers alive'")" t \
    "three workers alive shared the source's 6 connections, 2 each"
is "$(git -C "$work/coordinator/audit" log --format=%B | grep -c '^flip .* -> destination')" 3 \
    "the coordinator's audit has each worker's flip"
for a in alice@example.org bob@example.org carol@example.org; do
	is "$(grep -c "^$a destination" "$work/coordinator/mapping.txt")" 1 \
	    "the coordinator's mapping.txt routes $a to the destination"
done

# --- Cyrus against the source, with IMAP ------------------------------
dump() {	# PORT PASSWORD LOGIN: what IMAP shows, raw lines
	printf '%s\n' "$2" | "$DUMP" --ca "$WORLD_CA" "$WORLD_HOST" "$1" "$3"
}
for u in ALICE BOB CAROL; do
	eval "dest=\$${u}_DEST_LOGIN pw=\$${u}_PASSWORD sep=\$${u}_SEP"
	home=$(sql "SELECT home FROM accounts WHERE account = '$dest'")
	arc=$work/$home/archives/$dest
	want=$(expected "$arc" "$sep")
	got=$(dump "$DST_IMAP_PORT" "$pw" "$dest" | dest_norm "$arc")
	if [ -n "$want" ] && [ "$want" = "$got" ]; then
		ok "$dest ($home): IMAP on Cyrus shows what the source has"
	else
		not_ok "$dest ($home): IMAP on Cyrus shows what the source has"
		diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | head -10 | sed 's/^/#   /'
	fi
	is "$(dump "$DST_IMAP_PORT" "$pw" "$dest" | sort | uniq -d | wc -l)" 0 \
	    "$dest: no message twice in a folder"
done
bob_arc=$work/$(sql "SELECT home FROM accounts WHERE account = 'bob@example.org'")/archives/bob@example.org
is "$("$top/$O/bin/migrate-archive" ls -r "$bob_arc" | wc -l)" \
    "$(dump "$SRC_IMAP_PORT" "$BOB_PASSWORD" "$BOB_LOGIN" | wc -l)" \
    "bob's archive on the worker that finished him holds every message the source shows"

done_testing
