# The state in the world's PostgreSQL ('database' in the plan): an apply
# ties the state directory to its database, and a state does not move;
# status reads it from anywhere with its URL alone; eight migrates make
# one new schema once; a newer schema is refused; with PostgreSQL down,
# every command says so and nothing is written.  Then the proto tests
# that use the state most run again with their states in PostgreSQL
# (t-migrate and t-load pass there too; they are left out for time),
# and the unit test of the database layer.
. "$(dirname "$0")/lib.sh"
M=$top/$O/bin/migrate
PG=postgresql://postgres@127.0.0.1:$PG_PORT
work=$(mktemp -d)
trap 'psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS tsp_a" \
    -c "DROP DATABASE IF EXISTS tsp_b" >/dev/null 2>&1;
    [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
export MIGRATE_NO_PROGRESS=1 GIT_AUTHOR_NAME=Pat GIT_AUTHOR_EMAIL=pat@example.org
for db in tsp_a tsp_b; do
	psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $db" \
	    -c "CREATE DATABASE $db" >/dev/null
done
last=$(ls "$top"/state/[0-9]*.sql | wc -l)
sql() { psql -qtA "$PG/$1" -c "$2"; }

mkdir -p "$work/bin" "$work/ctl"
for h in imap-pull jmap-push; do
	ln -s "$top/tests/proto/stub-helper" "$work/bin/$h"
done
ln -s "$top/$O/bin/map-flip" "$work/bin/map-flip"
export MIGRATE_EXEC_PATH=$work/bin STUB_DIR=$work/ctl
(umask 077 && printf '%s\n' 'alice@example.org a' 'bob@example.org b' \
    'carol@example.org c' >"$work/passwords")
plan() {	# DATABASE-LINE
	cat <<EOT
name: pg
state: st
$1
source:
  imap: imaps://127.0.0.1:1
  auth:
    passwords: {file: passwords}
destination:
  jmap: http://127.0.0.1:1
  allow_plaintext: true
accounts:
  default_domain: example.org
  list: [alice, bob, carol]
phases:
  waves:
    - {name: all}
EOT
}
apply() {	# DATABASE-LINE: sets rc, out
	plan "$1" >"$work/pg.yaml"
	out=$(cd "$work" && "$M" plan apply pg.yaml 2>&1)
	rc=$?
}

# --- eight migrates make one new state at once ----------------------------
pids=
for i in 1 2 3 4 5 6 7 8; do
	"$M" --state "$PG/tsp_b" status >"$work/out.$i" 2>&1 &
	pids="$pids $!"
done
bad=0
for p in $pids; do
	wait "$p" || bad=$((bad + 1))
done
is "$bad" 0 "eight migrates open one new state in PostgreSQL at once"
is "$(cat "$work"/out.* | grep -c 'schema migration')" 0 \
    "none of them runs a migration another has run"
is "$(sql tsp_b "SELECT value FROM meta WHERE key = 'schema_version'")" \
    "$last" "the schema is at the last migration ($last)"
sql tsp_b "UPDATE meta SET value = '$((last + 1))' WHERE key = 'schema_version'"
out=$("$M" --state "$PG/tsp_b" status 2>&1)
is "$?" 73 "a state of a newer schema is refused"
like "$out" "the database is of schema $((last + 1)), newer than this migrate knows" \
    "and says why"

# --- an apply with its state in PostgreSQL ----------------------------------
apply "database: $PG/tsp_a"
is "$rc" 0 "a plan with 'database' applies"
is "$(cat "$work/st/database")" "$PG/tsp_a" \
    "the state directory names its database"
[ ! -e "$work/st/state.db" ] && ok "and holds no state.db" ||
    not_ok "and holds no state.db"
is "$(sql tsp_a "SELECT string_agg(account || ' ' || state, ', ' ORDER BY ord)
    FROM accounts")" \
    "alice@example.org migrated, bob@example.org migrated, carol@example.org migrated" \
    "the accounts' states are in the database"
is "$("$M" --state "$PG/tsp_a" status --json | jq -c .totals)" \
    "$("$M" --state "$work/st" status --json | jq -c .totals)" \
    "status from another host, with the database's URL alone, says the same"
like "$("$M" --state "$PG/tsp_a" status)" "git -C STATE/audit log on the host of" \
    "and says where the history is"
is "$("$M" --state "$PG/tsp_a" status --json bob | jq -r .state)" migrated \
    "an account's status through the URL"
is "$(git -C "$work/st/audit" log --format=%s | grep -c '^flip 3 accounts')" 1 \
    "the audit repository stays in the state directory"

# a row of the history names an account, checked a statement at a time
# (schema 17), as SQLite's foreign keys check it a row at a time
id=$(sql tsp_a "SELECT max(id) FROM accounts")
no=$((id + 1000))
for t in \
    "runs(account_id, helper, step, started, ended, exit)|'a', 'b', 0, 0, 0" \
    "transitions(account_id, ts, from_state, to_state)|0, 'a', 'b'" \
    "checkpoints(account_id, helper, token)|'sieve-pull', 't'"; do
	table=${t%%(*} cols=${t%%|*} vals=${t#*|}
	was=$(sql tsp_a "SELECT count(*) FROM $table")
	out=$(sql tsp_a "INSERT INTO $cols VALUES ($id, $vals),
	    ($no, $vals)" 2>&1)
	like "$out" "$table: no account has the id $no" \
	    "a $table row that names no account is refused, with its id"
	is "$(sql tsp_a "SELECT count(*) FROM $table")" "$was" \
	    "and so is its statement's other row"
done
# (its anomalies, items and findings deleted first, in the same
# transaction: they keep foreign keys; psql runs one -c as one)
like "$(sql tsp_a "DELETE FROM anomalies WHERE account_id = $id;
    DELETE FROM items WHERE account_id = $id; DELETE FROM findings WHERE
    account_id = $id; DELETE FROM accounts WHERE id = $id" 2>&1)" \
    "a deleted account is named by its history" \
    "an account that the history names is not deleted"
is "$(sql tsp_a "SELECT count(*) FROM accounts WHERE id = $id")" 1 \
    "and stays"

apply "database: $PG/tsp_b"
is "$rc" 78 "a plan that names another database for the state is refused"
like "$out" "is in the database $PG/tsp_a, and the plan names another: a state does not move" \
    "and says why"
apply ""
is "$rc" 78 "so is a plan that names none"
apply "database: $PG/tsp_a"
is "$rc" 0 "the same database again: the apply goes on"

plan "database: /var/tmp/state.sqlite" >"$work/bad.yaml"
out=$(cd "$work" && "$M" plan validate bad.yaml 2>&1)
like "$out" "bad.yaml:3:11: database: expected a PostgreSQL URL" \
    "a path for 'database' is refused, with its line"
plan "database: postgresql://migrate:s3cret@127.0.0.1:$PG_PORT/tsp_a" \
    >"$work/bad.yaml"
out=$(cd "$work" && "$M" plan validate bad.yaml 2>&1)
like "$out" "bad.yaml:3:11: .*password" "a password in its URL is refused"
unlike "$out" "s3cret" "and not repeated"
out=$("$M" --state "postgresql://migrate:s3cret@127.0.0.1:$PG_PORT/tsp_a" \
    status 2>&1)
like "$out" "password in it.*PGPASSFILE" \
    "nor on the command line"
unlike "$out" "s3cret" "which does not repeat it either"

mkdir -p "$work/sq"
cp "$work/pg.yaml" "$work/sq.yaml"
sed -i -e 's/^state: st/state: sq/' -e '/^database:/d' "$work/sq.yaml"
(cd "$work" && "$M" plan apply sq.yaml >/dev/null 2>&1)
sed -i "s|^state: sq|&\ndatabase: $PG/tsp_b|" "$work/sq.yaml"
out=$(cd "$work" && "$M" plan apply sq.yaml 2>&1)
is "$?:$(echo "$out" | grep -c 'holds a state in state.db already')" "78:1" \
    "a SQLite state is not moved to a database behind its back"

# --- PostgreSQL down ---------------------------------------------------------
"$top/tests/world/world" pg-stop >/dev/null 2>&1
out=$("$M" --state "$work/st" status 2>&1)
is "$?" 73 "PostgreSQL down: status fails"
like "$out" "state database: cannot connect" "and says which database"
apply "database: $PG/tsp_a"
is "$rc" 73 "an apply fails too, before it starts anything"
[ ! -e "$work/st/state.db" ] && ok "and no state.db is made instead" ||
    not_ok "and no state.db is made instead"
"$top/tests/world/world" pg-start >/dev/null 2>&1
apply "database: $PG/tsp_a"
is "$rc" 0 "PostgreSQL back: the apply goes on"

# --- the proto tests of the state, their states in PostgreSQL ---------------
# (and the unit test of its database layer, which runs the pipeline)
for t in t-db t-report t-eta t-disk t-finalize t-guard t-audit; do
	case $t in
	t-db) MIGRATE_TEST_PG=$PG/tsp_b "$top/$O/tests/unit/$t" ;;
	*) MIGRATE_TEST_PG=$PG O=$O bash "$top/tests/proto/$t.sh" ;;
	esac >"$work/$t.out" 2>&1
	trc=$?
	while IFS= read -r line; do
		case $line in
		"ok "*) ok "$t on PostgreSQL: ${line#ok * - }" ;;
		"not ok "*) not_ok "$t on PostgreSQL: ${line#not ok * - }" ;;
		"#"*) echo "$line" ;;
		esac
	done <"$work/$t.out"
	is "$trc" 0 "$t on PostgreSQL: ends well"
done
done_testing
