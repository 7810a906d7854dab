# The archives' disk, with stand-in helpers (stub-helper): an account
# whose assessed size does not fit on the archives' file system waits
# before its pull, says why in migrate status, and goes on once it fits;
# migrate prune removes the archives of accounts finalized longer ago
# than archives.retention_days, records it in the audit, and rollback
# then needs --no-carry-back.
. "$(dirname "$0")/lib.sh"

M=$top/$O/bin/migrate
work=$(mktemp -d)
apid=
trap '[ -n "$apid" ] && kill "$apid" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
stub_helpers imap-pull jmap-push
export GIT_AUTHOR_NAME="Ann Operator" GIT_AUTHOR_EMAIL=ann@example.org
{
	plan_head disk
	cat <<'EOT'
limits:
  parallel_accounts: 2
  retries: 0
  backoff_seconds: 0
accounts:
  default_domain: example.org
  list: [alice, bob]
phases:
  assessment:
  waves:
    - {name: all}
  finalize:
EOT
} >"$work/disk.yaml"
stub_assessed alice 10 400000
stub_assessed bob 10 1000000000000000	# a petabyte: no disk has room
st() { "$M" --state "$work/disk" status --json "$1"; }

(cd "$work" && exec "$M" plan apply disk.yaml) >"$work/out" 2>&1 &
apid=$!
for i in $(seq 100); do
	[ "$(st bob 2>/dev/null | jq -r '.waiting // empty')" ] && break
	sleep 0.2
done
like "$(st bob | jq -r .waiting)" \
    '^no room for its archive: 1100\.0 TB to pull, .* free, of which 1\.1 GB is kept \(archives\.reserve\)' \
    "bob waits for room, and status --json says why"
like "$("$M" --state "$work/disk" status)" "waits: bob@example.org: no room" \
    "and so does status"
is "$(grep -c '^imap-pull	bob.*--mode full' "$STUB_DIR/calls")" 0 \
    "bob's pull has not started"
for i in $(seq 100); do
	[ "$(st alice | jq -r .state)" = migrated ] && break
	sleep 0.2
done
is "$(st alice | jq -r .state)" migrated "alice, who fits, goes on meanwhile"
kill -TERM "$apid"
wait "$apid"
is "$?" 143 "a stop while bob waits: the apply ends on the signal"
apid=
is "$(st bob | jq -r '.state + " " + (.error // "no error")')" \
    "copying no error" "bob is where he was, not failed"

# room now (as when the operator has freed some): bob goes on
state_sql "$work/disk" \
    "UPDATE accounts SET assessed_bytes = 2000 WHERE account = 'bob@example.org'"
(cd "$work" && "$M" plan apply disk.yaml) >"$work/out" 2>&1
is "$?" 0 "the rerun migrates bob and finalizes"
is "$(st bob | jq -r '.state + " " + (.waiting // "no wait")')" \
    "finalized no wait" "bob no longer waits"
is "$("$M" --state "$work/disk" status --json | jq -c .waiting)" "[]" \
    "nobody waits"

# --- prune ------------------------------------------------------------------
for u in alice bob; do
	mkdir -p "$work/disk/archives/$u@example.org/segments"
	head -c 300000 /dev/urandom \
	    >"$work/disk/archives/$u@example.org/segments/000001"
done
"$M" --state "$work/disk" prune >"$work/out" 2>"$work/err"
is "$?" 78 "prune with no retention in the plan: 78"
like "$(cat "$work/err")" "archives.retention_days" "and it says what to set"
printf 'archives:\n  retention_days: 30\n' >>"$work/disk.yaml"
"$M" --state "$work/disk" prune >"$work/out" 2>"$work/err"
is "$?" 0 "prune with 30 days"
# both were finalized by the rerun, in either order: the first is named
like "$(cat "$work/out")" \
    "^kept until its retention ends: (alice|bob)@example.org $(date -u -d '+30 days' +%Y-%m-%d)" \
    "keeps archives finalized today, and says until when"
like "$(tail -1 "$work/out")" "^0 archives pruned .*2 kept" "and prunes none"
sed -i 's/retention_days: 30/retention_days: 0/' "$work/disk.yaml"
"$M" --state "$work/disk" prune --dry-run >"$work/out" 2>"$work/err"
is "$?:$(grep -c '^would prune' "$work/out")" "0:2" \
    "--dry-run names the two archives"
[ -d "$work/disk/archives/alice@example.org" ]
is "$?" 0 "and removes nothing"
commits=$(git -C "$work/disk/audit" rev-list --count HEAD)
# an operator's name with what git keeps out of one (<, > and newlines)
GIT_AUTHOR_NAME="Ann <Ops> Operator" GIT_AUTHOR_EMAIL="<ann@example.org>" \
    "$M" --state "$work/disk" prune >"$work/out" 2>"$work/err"
is "$?" 0 "prune with 0 days, by an operator named with <>"
like "$(cat "$work/out")" "pruned alice@example.org: 3[0-9][0-9]\.[0-9] kB" \
    "says what each archive took"
[ ! -e "$work/disk/archives/alice@example.org" ] &&
    [ ! -e "$work/disk/archives/bob@example.org" ]
is "$?" 0 "the archives are gone"
is "$(git -C "$work/disk/audit" rev-list --count HEAD)" $((commits + 1)) \
    "one audit commit"
like "$(git -C "$work/disk/audit" log -1 --format=%B)" \
    "prune: alice@example.org's archive \([0-9]+ bytes\)" "naming each archive"
is "$(git -C "$work/disk/audit" log -1 --format='%an <%ae>')" \
    "Ann Ops Operator <ann@example.org>" \
    "and who pruned, the <> left out as git leaves them out"
is "$(st alice | jq -r '.pruned | type')" number "status --json: when"
"$M" --state "$work/disk" prune >"$work/out" 2>"$work/err"
like "$(cat "$work/out")" "^0 archives pruned" "a second prune has nothing to do"
"$M" --state "$work/disk" rollback alice >"$work/out" 2>"$work/err"
is "$?" 65 "rollback of a pruned account refuses to carry back (65)"
like "$(cat "$work/err")" "pruned .*--no-carry-back" "and says what does"
"$M" --state "$work/disk" rollback --no-carry-back alice >"$work/out" 2>"$work/err"
is "$?" 0 "rollback --no-carry-back flips it back"
census_is_counted "$work/disk" "after prunes and a rollback"
done_testing
