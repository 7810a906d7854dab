# The connections to the source, adapted as the apply goes (load.c),
# with stand-in helpers (stub-helper): the pulls start with half of
# limits.connections_per_source, grow while they end well, and halve
# when one fails for now (a helper's exit 75, as on "NO [LIMIT]" or a
# timeout); every change is in the state, migrate status and the report.
. "$(dirname "$0")/lib.sh"

M=$top/$O/bin/migrate
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
stub_helpers imap-pull jmap-push
{
	plan_head load
	cat <<'EOT'
limits:
  parallel_accounts: 4
  connections_per_source: 4
  retries: 3
  backoff_seconds: 0
accounts:
  default_domain: example.org
  list: [alice, bob, carol, dave]
phases:
  waves:
    - {name: all}
EOT
} >"$work/load.yaml"
for u in alice bob carol dave; do
	echo sleep:1 >"$STUB_DIR/imap-pull.$u@example.org"
done
(cd "$work" && "$M" plan apply load.yaml) >"$work/out" 2>&1
is "$?" 0 "four accounts, one second of pull each"
db=$work/load
is "$(state_sql "$db" "SELECT conns || ' ' || ceiling || ' ' || why FROM connections ORDER BY id LIMIT 1")" \
    "2 4 start: half the ceiling" "the pulls start with half the ceiling"
is "$(state_sql "$db" "SELECT count(*) FROM runs WHERE helper = 'imap-pull'
    AND step = 'pull' AND started < (SELECT min(ended) FROM runs WHERE
    helper = 'imap-pull' AND step = 'pull')")" 2 \
    "two pulls ran together before the first ended, not four"
is "$(state_sql "$db" "SELECT max(conns) || ' ' || count(*) FROM connections WHERE why LIKE 'grew%'")" \
    "4 2" "then the window grew as pulls ended well, to the ceiling"

# bob's pull is refused for now, twice: the window halves once for the
# pulls that were running then, and grows again while they fill it
state_wipe "$work/load"
for u in alice carol dave; do
	echo sleep:1 >"$STUB_DIR/imap-pull.$u@example.org"
done
printf 'exit:75\nexit:75\n' >"$STUB_DIR/imap-pull.bob@example.org"
(cd "$work" && "$M" plan apply load.yaml) >"$work/out" 2>&1
is "$?" 0 "bob's pull fails for now twice, then goes through"
like "$(state_sql "$db" "SELECT why FROM connections WHERE why LIKE 'cut%' ORDER BY id LIMIT 1")" \
    "^cut: imap-pull exited 75" "the failure cuts the window, and says why"
is "$(state_sql "$db" "SELECT count(*) FROM connections c WHERE why LIKE 'cut%'
    AND 2 * c.conns > 1 + (SELECT p.conns FROM connections p WHERE p.id < c.id
    ORDER BY p.id DESC LIMIT 1) AND c.conns > 1")" 0 "each cut halves it (one pull's at least)"
is "$(state_sql "$db" "SELECT count(*) FROM connections WHERE conns > ceiling OR conns < 1")" 0 \
    "never above the ceiling nor below one pull"
now=$(state_sql "$db" "SELECT conns FROM connections ORDER BY id DESC LIMIT 1")
is "$("$M" --state "$work/load" status --json | jq -r '.connections | "\(.conns) \(.ceiling)"')" \
    "$now 4" "status --json: the connections now, of the ceiling"
like "$("$M" --state "$work/load" status)" \
    "source connections: $now of 4 at most \(last change: (grew: pulls ended well|cut: .*); [12] cuts\)" \
    "status says it"
# the source slows: the first pulls' answers come in 10 ms, the later ones
# in 35 ms (no more growth) and then 100 ms (a cut, before any refusal);
# each account's assessment and pull answer alike
{
	plan_head slow
	cat <<'EOT'
limits:
  parallel_accounts: 2
  connections_per_source: 4
  retries: 0
accounts:
  default_domain: example.org
  list: [alice, bob, carol, dave]
phases:
  waves:
    - {name: all}
EOT
} >"$work/slow.yaml"
latency() {	# ACCOUNT MS: its assessment, pull and final delta
	printf 'latency:%s\n' "$2" "$2" "$2" >"$STUB_DIR/imap-pull.$1@example.org"
}
latency alice 10
latency bob 10
latency carol 35
latency dave 100
(cd "$work" && "$M" plan apply slow.yaml) >"$work/out" 2>&1
rc=$?
is "$rc" 0 "four accounts, the source slower and slower"
[ "$rc" = 0 ] || grep -E 'failed|state:|cannot' "$work/out" | head -5 |
    sed 's/^/#   /'

sdb=$work/slow
is "$(state_sql "$sdb" "SELECT group_concat(conns || ' ' || why, '; ') FROM connections")" \
    "2 start: half the ceiling; 3 grew: pulls ended well; 1 cut: the source slows: it answers in 100 ms, 10 times its quickest (10 ms)" \
    "10 ms grows the window, 35 ms holds it, 100 ms cuts it, and the state says why"
"$M" --state "$work/load" report -o "$work/r.html" >/dev/null
like "$(tr -d '\n' <"$work/r.html" | grep -o '<h3>Connections to the source</h3>.*of at most 4')" \
    "<svg.*<title>[0-9:]+: [1-4] connections</title>.*: $now of at most 4" \
    "the report draws the connections over time"
done_testing
