# The state database's schema: made by whichever migrate opens a new state
# first, however many open it at once (an apply and the status polls
# beside it), each numbered migration once; a state newer than this
# migrate is refused, not touched.
. "$(dirname "$0")/lib.sh"

M=$top/$O/bin/migrate
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
last=$(ls "$top"/state/[0-9]*.sql | wc -l)

pids=
for i in 1 2 3 4 5 6 7 8; do
	"$M" --state "$work/s" status >"$work/out.$i" 2>&1 &
	pids="$pids $!"
done
bad=0
for p in $pids; do
	wait "$p" || bad=$((bad + 1))
done
is "$bad" 0 "eight migrates open one new state at once, and all of them work"
is "$(cat "$work"/out.* | grep -c 'schema migration')" 0 \
    "none of them runs a migration another has run"
is "$(sqlite3 "$work/s/state.db" 'PRAGMA user_version')" "$last" \
    "the schema is at the last migration ($last)"
for t in runs transitions checkpoints; do
	is "$(sqlite3 "$work/s/state.db" "SELECT \"table\" || '.' || \"to\"
	    FROM pragma_foreign_key_list('$t')")" accounts.id \
	    "$t names its account by a foreign key"
done

sqlite3 "$work/s/state.db" "PRAGMA user_version = $((last + 1))"
"$M" --state "$work/s" status >"$work/out" 2>&1
is "$?" 73 "a state of a newer schema is refused"
like "$(cat "$work/out")" "the database is of schema $((last + 1)), newer than this migrate knows" \
    "and says why"
is "$(sqlite3 "$work/s/state.db" 'PRAGMA user_version')" "$((last + 1))" \
    "and is left as it was"

# a state of schema 12 comes to 13: each account's first copy, from its
# transitions
mkdir "$work/old"
{ for n in $(seq -f %04g 12); do cat "$top"/state/$n-*.sql; done
  echo "PRAGMA user_version = 12;"
  echo "INSERT INTO accounts(id, account, login, ord, entered) VALUES
      (1, 'a@x', 'a', 0, 0), (2, 'b@x', 'b', 1, 0);
  INSERT INTO transitions(account_id, ts, from_state, to_state) VALUES
      (1, 50, 'assessed', 'copying'), (1, 70, 'failed', 'copying'),
      (1, 40, 'pending', 'assessed');"
} | sqlite3 "$work/old/state.db"
"$M" --state "$work/old" status >/dev/null 2>&1
is "$(sqlite3 "$work/old/state.db" 'PRAGMA user_version;
    SELECT id || ":" || coalesce(copy_began, "-") FROM accounts ORDER BY id' |
    tr '\n' ' ')" "$last 1:50.0 2:- " \
    "a state of schema 12 is brought to $last: when each account first copied"
done_testing
