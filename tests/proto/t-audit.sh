# The audit repository holds every transition once.  An apply of 1,500
# accounts, its helpers faked in-process, queues their lines from
# several threads at once (on PostgreSQL, from a connection each), so
# that a line may reach the queue after one numbered later: none is
# lost when the queue is committed and dropped, none is committed
# twice, and a crash's recovery drops only what was committed.  What
# the helper runs wrote of each account is all there.  With
# MIGRATE_TEST_PG, the state is in PostgreSQL.
. "$(dirname "$0")/lib.sh"

M=$top/$O/bin/migrate
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
export MIGRATE_NO_PROGRESS=1 GIT_AUTHOR_NAME=Pat GIT_AUTHOR_EMAIL=pat@example.org
N=1500

seq -f 'user%05g@example.org' 1 $N >"$work/a.csv"
awk '{ print $1, "pw" NR }' "$work/a.csv" >"$work/a.pw"
chmod 600 "$work/a.pw"
{ plan_database a; cat <<EOT
state: a
source:
  imap: imaps://127.0.0.1:1
  auth: {passwords: {file: a.pw}}
destination:
  jmap: http://127.0.0.1:1
  allow_plaintext: true
limits: {parallel_accounts: 8}
accounts: {csv: a.csv}
phases:
  assessment:
  waves:
    - {name: wave-1, batch: $((N / 2))}
    - {name: wave-2}
  delta: {passes: 1}
EOT
} >"$work/a.yaml"

(cd "$work" && MIGRATE_FAKE_HELPERS=1 "$M" plan apply a.yaml) \
    >"$work/out" 2>&1
is "$?" 0 "an apply of $N accounts, its helpers faked"
# (on PostgreSQL, the plan's accounts and their waves go in by the 500)
is "$(state_sql "$work/a" "SELECT count(*), count(DISTINCT ord), min(ord),
    max(ord) FROM accounts WHERE in_plan <> 0" | tr '|' ' ')" \
    "$N $N 0 $((N - 1))" "every account of the plan is in the state, in its place"
is "$(state_sql "$work/a" "SELECT wave, count(*) FROM accounts GROUP BY wave
    ORDER BY wave" | tr '\n|' ' :')" "wave-1:$((N / 2)) wave-2:$((N / 2)) " \
    "each in its wave"
transitions=$(state_sql "$work/a" "SELECT count(*) FROM transitions")
queued=$(state_sql "$work/a" "SELECT count(*) FROM audit_queue")
git -C "$work/a/audit" log -p --format= | grep '^+{' >"$work/lines"
is "$queued" 0 "the queue is empty at the end"
is "$(grep -c '"from":' "$work/lines")" "$transitions" \
    "every transition of the state ($transitions) is in the repository"
is "$(sort "$work/lines" | uniq -d | wc -l)" 0 "each once"

# what helper runs write waits to go together (statepend.c): none of
# it is lost, and the last of it is what the account keeps
is "$(state_sql "$work/a" "SELECT count(*), count(DISTINCT n) FROM (SELECT
    count(*) AS n FROM runs GROUP BY account_id) x" | tr '|' ' ')" "$N 1" \
    "every account has its runs, as many as the others"
is "$(state_sql "$work/a" "SELECT count(*) FROM accounts a WHERE
    coalesce(a.checkpoint, '') <> (SELECT r.helper FROM runs r WHERE
    r.account_id = a.id ORDER BY r.id DESC LIMIT 1) || ':seg:1'")" 0 \
    "each keeps its last helper's token as its checkpoint"
is "$(state_sql "$work/a" "SELECT (SELECT count(*) FROM checkpoints) -
    (SELECT count(*) FROM (SELECT DISTINCT account_id, helper FROM runs)
    x)")" 0 "and each of its helpers' tokens"
is "$(state_sql "$work/a" "SELECT count(*) FROM accounts WHERE deltas <> 1
    OR step IS NOT NULL")" 0 "its delta pass counted, no step left"
like "$(git -C "$work/a/audit" log -1 --format=%B)" \
    "^Audit-Lines: [0-9]+(-[0-9]+)?( [0-9]+(-[0-9]+)?)*$" \
    "a commit names the queued lines it holds, by ranges"

# a commit made, the queue not dropped (a crash in between): the next
# apply drops exactly the lines of the commit, and commits the others
last=$(git -C "$work/a/audit" log -1 --format=%B |
    sed -n 's/^Audit-Lines: //p')
state_sql "$work/a" "INSERT INTO audit_queue(id, kind, line) VALUES
    (999999998, 'event', '{\"left\":1}')" >/dev/null
first=${last%%[- ]*}
state_sql "$work/a" "INSERT INTO audit_queue(id, kind, line) VALUES
    ($first, 'event', '{\"again\":1}')" >/dev/null
(cd "$work" && MIGRATE_FAKE_HELPERS=1 "$M" plan apply a.yaml) \
    >"$work/out" 2>&1
git -C "$work/a/audit" log -p --format= | grep '^+{' >"$work/lines"
is "$(grep -c '"again"' "$work/lines"):$(grep -c '"left"' "$work/lines")" \
    0:1 "after a crash, the next apply commits nothing twice, and loses nothing"
is "$(state_sql "$work/a" "SELECT count(*) FROM audit_queue")" 0 \
    "and leaves the queue empty"
done_testing
