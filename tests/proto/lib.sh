# Sourced by the proto tests: where things are, and TAP helpers in shell.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-build}

n=0 failures=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failures=$((failures + 1)); echo "not ok $n - $*"; }
is() {
	if [ "$1" = "$2" ]; then ok "$3"; else
		not_ok "$3"; echo "#   got: '$1'"; echo "#  want: '$2'"; fi
}
like() {
	if printf '%s\n' "$1" | grep -qE -- "$2"; then ok "$3"; else
		not_ok "$3"; printf '%s\n' "$1" | head -20 | sed 's/^/#   /'; fi
}
unlike() {
	if printf '%s\n' "$1" | grep -qE -- "$2"; then
		not_ok "$3"; printf '%s\n' "$1" | grep -E -- "$2" | head -5 |
		    sed 's/^/#   /'; else ok "$3"; fi
}
# A scripted server for one helper run, tests/proto/FAKE.py, its every
# line in $work/transcript: fake_start sets $port, fake_done waits for it
# and sets rc (the helper's, from $?), out and errtext (from $work/out and
# $work/err) and transcript.
fake_start() {	# FAKE SCENARIO
	rm -f "$work/transcript"
	coproc FAKE { exec python3 "$top/tests/proto/$1.py" "$2" \
	    "$work/transcript"; }
	fpid=$FAKE_PID
	read -r port <&"${FAKE[0]}"
}
fake_done() {
	rc=$?
	wait "$fpid" 2>/dev/null
	out=$(cat "$work/out")
	errtext=$(cat "$work/err")
	transcript=$(cat "$work/transcript" 2>/dev/null)
}
# stand-in helpers for migrate: the stub as each HELPER, the real
# map-flip, under $work/bin, and $STUB_DIR (stub-helper says what each
# does); the passwords of alice, bob, carol and dave in $work/passwords
stub_helpers() {	# HELPER...
	local h
	mkdir -p "$work/bin" "$work/ctl"
	for h in "$@"; do
		ln -s "$top/tests/proto/stub-helper" "$work/bin/$h"
	done
	ln -s "$top/$O/bin/map-flip" "$work/bin/map-flip"
	export MIGRATE_EXEC_PATH=$work/bin MIGRATE_NO_PROGRESS=1
	export STUB_DIR=$work/ctl
	(umask 077 && printf '%s\n' 'alice@example.org a' 'bob@example.org b' \
	    'carol c' 'dave d' >"$work/passwords")
}
# the stub imap-pull's assessment of ACCOUNT@example.org reports so much
stub_assessed() {	# ACCOUNT MESSAGES BYTES
	printf 'report:{"totals": {"messages": %d, "bytes": %d}}\n' "$2" "$3" \
	    >"$STUB_DIR/imap-pull.$1@example.org"
}
# With MIGRATE_TEST_PG, a PostgreSQL server's URL without its database
# (tests/integration/t-state-pg.sh sets it to the world's), each plan's
# state is in a database of its own there, made the first time: the
# plan's 'database' line.  done_testing drops them.
pg_prefix=t_$(basename "$0" .sh | tr -c 'a-z0-9\n' _)_$$_
plan_database() {	# NAME
	local db
	[ -n "${MIGRATE_TEST_PG:-}" ] || return 0
	db=$pg_prefix$(printf '%s' "$1" | tr -c 'a-z0-9' _)
	if ! psql -qtA "$MIGRATE_TEST_PG/postgres" -c "SELECT datname FROM
	    pg_database WHERE datname = '$db'" | grep -q .; then
		psql -q "$MIGRATE_TEST_PG/postgres" -c "CREATE DATABASE $db" \
		    >/dev/null || return 1
	fi
	echo "database: $MIGRATE_TEST_PG/$db"
}
# SQL on the state of DIR, its SQLite file or its database: rows as lines,
# columns joined by |
state_sql() {	# DIR SQL
	if [ -f "$1/database" ]; then
		psql -qtA "$(cat "$1/database")" -c "$2"
	else
		sqlite3 "$1/state.db" "$2"
	fi
}
# The census that status shows of the state of DIR, by wave and state,
# and its totals, are what counting the accounts gives: on PostgreSQL,
# the sums that each statement changing accounts kept (state/0016)
census_is_counted() {	# DIR WHAT
	local shown counted
	shown=$("$top/$O/bin/migrate" --state "$1" status --json | jq -r '
	    (.waves | to_entries[] | .key as $w | .value | to_entries[] |
	    "\($w)|\(.key)|\(.value)"),
	    "\(.messages)|\(.bytes)|\(.anomalies)"' | sort)
	counted=$({ state_sql "$1" "SELECT coalesce(wave, '-') || '|' ||
	    state || '|' || count(*) FROM accounts WHERE in_plan <> 0
	    GROUP BY wave, state"; state_sql "$1" "SELECT
	    coalesce(sum(messages), 0) || '|' || coalesce(sum(bytes), 0) ||
	    '|' || coalesce(sum(anomalies), 0) FROM accounts WHERE
	    in_plan <> 0"; } | sort)
	is "$shown" "$counted" "$2: status's census is the accounts counted"
}
# Start the state of DIR again: remove DIR, and its database's tables
state_wipe() {	# DIR
	[ ! -f "$1/database" ] || psql -q "$(cat "$1/database")" -c "DROP
	    SCHEMA public CASCADE; CREATE SCHEMA public" >/dev/null
	rm -rf "$1"
}
# A copy of the state of DIR, its database too
state_copy() {	# DIR NEWDIR
	local db
	cp -r "$1" "$2"
	[ -f "$1/database" ] || return 0
	db=$pg_prefix$(basename "$2" | tr -c 'a-z0-9' _)
	psql -q "$MIGRATE_TEST_PG/postgres" -c "CREATE DATABASE $db TEMPLATE
	    $(sed 's|.*/||' "$1/database")" >/dev/null
	echo "$MIGRATE_TEST_PG/$db" >"$2/database"
}
# the top of a plan NAME (state NAME) against nothing (the stubs do not
# connect)
plan_head() {	# NAME
	plan_database "$1"
	cat <<EOT
name: $1
state: $1
source:
  imap: imaps://127.0.0.1:1
  auth:
    passwords: {file: passwords}
destination:
  jmap: http://127.0.0.1:1
  allow_plaintext: true
EOT
}
done_testing() {
	local db
	[ -z "${MIGRATE_TEST_PG:-}" ] ||
	for db in $(psql -qtA "$MIGRATE_TEST_PG/postgres" -c "SELECT datname
	    FROM pg_database WHERE starts_with(datname, '$pg_prefix')"); do
		psql -q "$MIGRATE_TEST_PG/postgres" -c "DROP DATABASE $db" \
		    >/dev/null 2>&1
	done
	echo "1..$n"
	[ "$failures" -eq 0 ]
}
