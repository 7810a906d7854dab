# migrate status's ETA, against stand-in helpers (stub-helper): what the
# assessment counted lands in the state; what is left is weighed by it
# and divided by the throughput measured on the accounts migrated (the
# last hour, else the last 20), with the measurement named.
. "$(dirname "$0")/lib.sh"

M=$top/$O/bin/migrate
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
stub_helpers imap-pull jmap-push
{
	plan_head eta
	cat <<EOT
limits:
  parallel_accounts: 2
  backoff_seconds: 0
accounts:
  default_domain: example.org
  list: [alice, bob, carol, dave]
phases:
  assessment:
  pilot: {accounts: [alice]}
EOT
} >"$work/eta.yaml"
stub_assessed alice 10 4000000
stub_assessed bob 20 2000000
printf 'report:{"totals": {"messages": 30, "bytes": 3000000, "sample_bytes": 500000, "sample_seconds": 0.25}}\n' \
    >"$STUB_DIR/imap-pull.carol@example.org"
# dave's report counts nothing: the stub writes none
status() { "$M" --state "$work/eta" status "$@"; }
db() { state_sql "$work/eta" "$@"; }

(cd "$work" && "$M" plan apply eta.yaml) >"$work/out" 2>&1
is "$?" 0 "the assessment and the pilot run"
is "$(status --json alice | jq -c .assessed)" '{"messages":10,"bytes":4000000}' \
    "what the assessment counted is in the state"
like "$(status alice)" "the assessment counted 10 messages, 4.0 MB" \
    "and status ACCOUNT says it"
is "$(status --json dave | jq -c .assessed)" null "no report, nothing recorded"
is "$(grep -c -- '--mode assess.*--sample-bytes 4M' "$STUB_DIR/calls")" 3 \
    "the first three assessments read a timed sample of the source"
is "$(db "SELECT kind || '=' || n FROM findings f JOIN accounts a ON a.id = f.account_id WHERE a.account = 'carol@example.org' AND kind LIKE 'sample-%' ORDER BY 1" | tr '\n' ' ')" \
    "sample-bytes=500000 sample-ms=250 " "what it read, and how long it took, is in the state"
db "DELETE FROM findings WHERE kind LIKE 'sample-%'"

# alice: her first copy 900 s ago, migrated 500 s ago, 4 MB pulled; the
# others pulled nothing (a real assessment pulls nothing, the stub's
# done event says 100 bytes)
now=$(date +%s)
db "UPDATE accounts SET copy_began = $now - 900 WHERE copy_began IS NOT NULL;
    UPDATE accounts SET bytes = 0;
    UPDATE accounts SET bytes = 4000000, finished = $now - 500
    WHERE account = 'alice@example.org'"
eta=$(status --json | jq -c .eta)
is "$(jq -c '[.accounts, .bytes, .unsized, .basis]' <<<"$eta")" \
    '[3,8000000,1,"bytes"]' \
    "left: bob, carol and dave (counted at the mean of the sized), by bytes"
is "$(jq -c '[.rate, .seconds]' <<<"$eta")" '[10000,800]' \
    "4 MB in 400 s: 10 kB/s; 8 MB (dave at the mean, 3 MB) in 800 s"
is "$(jq -c '.measured | [.accounts, .bytes, .window, .to - .from]' <<<"$eta")" \
    '[1,4000000,"last hour",400]' "it names the measurement it used"
is "$(jq -r '.waves["-"].seconds' <<<"$eta")" 800 "and gives each wave its time"
d=$(jq --argjson now "$now" '.finish - $now | floor' <<<"$eta")
if [ "$d" -ge 800 ] && [ "$d" -le 803 ]; then
	ok "and when it should be done"
else
	not_ok "and when it should be done: $d s from now"
fi
like "$(status)" "to go: 3 accounts, 8.0 MB \(1 not sized, counted at the mean\); about 13 min at 10.0 kB/s" \
    "status says it in a line"
like "$(status)" "measured on 1 account \(4.0 MB\) migrated from .* \(last hour\)" \
    "and what it measured"

# older than an hour: the last ones migrated are the measure
db "UPDATE accounts SET copy_began = $now - 9000 WHERE copy_began IS NOT NULL;
    UPDATE accounts SET finished = $now - 8000"
is "$(status --json | jq -c '.eta.measured | [.window, .to - .from]')" \
    '["last 1 migrated",1000]' "past the hour, the last migrated measure"

# nothing migrated: no ETA, and why
db "UPDATE accounts SET finished = NULL"
is "$(status --json | jq -c '.eta | [.seconds, .accounts]')" '[null,3]' \
    "nothing migrated: no ETA"
like "$(status)" "no ETA yet: no account has been migrated yet" \
    "and status says why"

# nothing migrated, but the assessment read samples: 4 MB in 4 s
db "INSERT INTO findings(account_id, kind, n) SELECT id, 'sample-bytes',
    2000000 FROM accounts WHERE account IN ('alice@example.org',
    'bob@example.org');
    INSERT INTO findings(account_id, kind, n) SELECT id, 'sample-ms', CASE
    account WHEN 'alice@example.org' THEN 1000 ELSE 3000 END FROM accounts
    WHERE account IN ('alice@example.org', 'bob@example.org')"
is "$(status --json | jq -c '.eta | [.basis, .rate, .seconds, .sample.accounts, .sample.bytes, .sample.seconds]')" \
    '["sample",1000000,8,2,4000000,4]' \
    "before any migration, a first ETA from the samples: 8 MB at 1 MB/s"
like "$(status)" "a first estimate, from the assessment's timed reads of the source: 4.0 MB in 4.0 s on 2 account" \
    "and status says what it is"
db "DELETE FROM findings WHERE kind LIKE 'sample-%'"

# no sizes at all: accounts per hour
db "UPDATE accounts SET assessed_bytes = NULL, bytes = 0,
    finished = $now - 100"
db "UPDATE accounts SET copy_began = $now - 400 WHERE copy_began IS NOT NULL"
is "$(status --json | jq -c '.eta | [.basis, .seconds]')" '["accounts",900]' \
    "without sizes it counts accounts: 1 in 300 s, 3 in 900 s"

# --- on a terminal, plan apply shows each running account --------------
# (script(1) gives it one): its helper, folder, messages and bytes of
# their totals and its rate, under the plan's ETA and the phase's bar
{ plan_database tty; sed -e 's/^state: eta/state: tty/' \
    -e 's/^name: eta/name: tty/' -e '/^database: /d' "$work/eta.yaml"; } \
    >"$work/tty.yaml"
printf 'progress:2\nprogress:2\n' >"$STUB_DIR/imap-pull.alice@example.org"
(cd "$work" && env -u MIGRATE_NO_PROGRESS TERM=xterm script -qfec \
    "'$M' plan apply tty.yaml" /dev/null) >"$work/tty.out" 2>&1
screen=$(tr '\r' '\n' <"$work/tty.out" | sed 's/\x1b\[[0-9]*[AJ]//g')
like "$screen" "^  alice@example.org +assess +INBOX +3/10 msgs 3.0 MB/10.0 MB [0-9.]+ [kM]B/s" \
    "on a terminal: an account's helper, folder, messages, bytes and rate"
like "$screen" "^assessment +\[#*\.*\] [0-9]/4 accounts" "under the phase's bar"
like "$screen" "^plan: 4 accounts to go \(.*\), eta \? \(nothing measured yet\)" \
    "and the plan's ETA, which says when nothing is measured yet"
like "$screen" "^  alice@example.org +pull +INBOX +3/10 msgs" "a pull shows the same"
done_testing
