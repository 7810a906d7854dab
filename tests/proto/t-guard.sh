# An account's row changed under a running apply: by another command,
# or (the state in PostgreSQL) by a worker that took the account when
# this one's lease ran out.  The apply's next transition of that account
# is refused and says why; nothing is written over the change, and the
# other accounts go on.  With MIGRATE_TEST_PG, the state is there, and
# a write that fails at its commit stops the apply.
. "$(dirname "$0")/lib.sh"

M=$top/$O/bin/migrate
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
stub_helpers imap-pull jmap-push
export GIT_AUTHOR_NAME=Pat GIT_AUTHOR_EMAIL=pat@example.org

# the before_push and after_cutover hooks: bob's row, changed behind the
# apply's back by the SQL in $work/steal.sql and $work/steal-cutover.sql
cat >"$work/steal" <<EOT
#!/bin/sh
[ "\$MIGRATE_ACCOUNT" = bob@example.org ] || exit 0
if [ -f "$work/g/database" ]; then
	psql -qtA "\$(cat "$work/g/database")" -f "$work/steal\$1.sql"
else
	sqlite3 -cmd '.timeout 5000' "$work/g/state.db" <"$work/steal\$1.sql"
fi >/dev/null
EOT
: >"$work/steal-cutover.sql"
chmod +x "$work/steal"
{ plan_head g; cat <<EOT
accounts:
  default_domain: example.org
  list: [alice, bob, carol]
phases:
  waves:
    - {name: all}
hooks:
  before_push: "$work/steal"
  after_cutover: "$work/steal -cutover"
EOT
} >"$work/g.yaml"

apply() {
	(cd "$work" && "$M" plan apply g.yaml) >"$work/out" 2>&1
	rc=$?
}
bob() { state_sql "$work/g" "$1 FROM accounts WHERE account = 'bob@example.org'"; }
copied() {
	state_sql "$work/g" "SELECT count(*) FROM transitions t, accounts a
	    WHERE a.id = t.account_id AND a.account = 'bob@example.org' AND
	    t.to_state = 'copied'"
}

echo "UPDATE accounts SET state = 'held', resume = 'copying' WHERE
    account = 'bob@example.org';" >"$work/steal.sql"
apply
like "$(cat "$work/out")" \
    "bob@example.org: is no longer copying \(changed by another command, such as migrate hold" \
    "bob held under the apply, before his push: the apply says his next transition is refused, and why"
is "$(bob "SELECT state, resume")" "held|copying" \
    "and writes nothing over the change"
is "$(copied)" 0 "no transition of bob's is recorded"
is "$(state_sql "$work/g" "SELECT count(*) FROM accounts WHERE state =
    'migrated'")" 2 "alice and carol go on: migrated"
unlike "$(cat "$work/out")" "(alice|carol)@example.org: is no longer" \
    "and none of theirs is refused"

: >"$work/steal.sql"
"$M" --state "$work/g" release bob >/dev/null 2>&1
apply
is "$rc:$(bob "SELECT state")" "0:migrated" \
    "released, bob goes on at the next apply"

# held after his cutover's last step: his change into migrated, the
# last before the apply gives him back, which on PostgreSQL waits for
# the group and its guard is checked there; so may his change into
# cutover, if no group was committed since the flip: the guard is then
# that one's
state_wipe "$work/g" 2>/dev/null
echo "UPDATE accounts SET state = 'held', resume = 'cutover' WHERE
    account = 'bob@example.org';" >"$work/steal-cutover.sql"
apply
like "$(cat "$work/out")" \
    "bob@example.org: is no longer (cutover|verified) \(changed by another command, such as migrate hold" \
    "bob held before his change into migrated: it is refused, and says why"
is "$(bob "SELECT state, resume")" "held|cutover" \
    "and nothing is written over the hold"
is "$(state_sql "$work/g" "SELECT count(*) FROM transitions t, accounts a
    WHERE a.id = t.account_id AND a.account = 'bob@example.org' AND
    t.to_state = 'migrated'")" 0 "nor a transition of his into migrated"
is "$(state_sql "$work/g" "SELECT count(*) FROM accounts WHERE state =
    'migrated'")" 2 "alice and carol: migrated"
: >"$work/steal-cutover.sql"
"$M" --state "$work/g" release bob >/dev/null 2>&1
apply
is "$rc:$(bob "SELECT state")" "0:migrated" "released, bob goes on"

if [ -n "${MIGRATE_TEST_PG:-}" ]; then
	# the CPU time of an apply that waits for no one
	state_wipe "$work/g" 2>/dev/null
	: >"$work/steal.sql"
	(cd "$work" && exec /usr/bin/time -f "%U %S" -o cpu "$M" plan apply \
	    g.yaml) >"$work/out" 2>&1
	base=$(awk '{ print $1 + $2 }' "$work/cpu")
	# another worker's lease of 6 s, which it lets run out
	state_wipe "$work/g" 2>/dev/null
	echo "UPDATE accounts SET owner = 'elsewhere', lease_until =
	    extract(epoch FROM clock_timestamp()) + 6 WHERE account =
	    'bob@example.org';" >"$work/steal.sql"
	(cd "$work" && exec /usr/bin/time -f "%U %S" -o cpu "$M" plan apply \
	    g.yaml) >"$work/out" 2>&1 &
	for _ in $(seq 100); do
		grep -q 'bob@example.org: is no longer' "$work/out" && break
		sleep 0.1
	done
	like "$(cat "$work/out")" \
	    "bob@example.org: is no longer copying .*or taken by another worker when this one's lease ran out" \
	    "bob taken by another worker under the apply: his next transition is refused, and says why"
	is "$(bob "SELECT state, owner")" "copying|elsewhere" \
	    "and nothing is written over the other worker's lease"
	: >"$work/steal.sql"
	wait $!
	is "$?:$(bob "SELECT state, owner")" "0:migrated|" \
	    "once its lease ran out, the apply takes him back and ends"
	# (they did: 2.3 s of CPU time more than the apply that waits for
	# no one; 0.1 s now)
	cpu=$(awk '{ print $1 + $2 }' "$work/cpu")
	is "$(awk -v c="$cpu" -v b="$base" 'BEGIN { print (c < b + 1) }')" 1 \
	    "waiting for him, its threads did not spin (CPU: $cpu s, $base s without waiting)"

	# a write that fails at the commit (bob's transition into copied,
	# refused by a trigger): the group is lost, and the apply stops
	state_wipe "$work/g" 2>/dev/null
	cat >"$work/steal.sql" <<'EOT'
CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
    IF NEW.to_state = 'copied' AND NEW.account_id = (SELECT id FROM
    accounts WHERE account = 'bob@example.org') THEN RAISE EXCEPTION
    'refused by the test'; END IF; RETURN NEW; END $$;
CREATE TRIGGER refuse BEFORE INSERT ON transitions FOR EACH ROW
    EXECUTE FUNCTION refuse();
EOT
	(cd "$work" && timeout 60 "$M" plan apply g.yaml) >"$work/out" 2>&1
	is "$?" 75 "a commit that fails stops the apply (75)"
	like "$(cat "$work/out")" "state: a statement failed \(ERROR: +refused by the test" \
	    "the log says what failed"
	like "$(cat "$work/out")" "state: a commit failed, and what it held is lost: the apply stops; run the same command again to go on" \
	    "and that the apply stops, and what to do"
	is "$(bob "SELECT state")" copying "bob's change into copied is not there"
	: >"$work/steal.sql"
	state_sql "$work/g" "DROP TRIGGER refuse ON transitions" >/dev/null
	(cd "$work" && "$M" plan apply g.yaml) >"$work/out" 2>&1
	is "$?:$(state_sql "$work/g" "SELECT count(*) FROM accounts WHERE
	    state = 'migrated'")" "0:3" "run again, the apply ends: all migrated"
	is "$(state_sql "$work/g" "SELECT count(*) FROM transitions WHERE
	    to_state = 'migrated'")" 3 "each once"
fi
census_is_counted "$work/g" "after the refusals and the failed commit"
done_testing
